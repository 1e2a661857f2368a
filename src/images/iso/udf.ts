// The UDF tree (ECMA-167 parts 3-4, OSTA UDF 1.02-2.60). Windows install media keep their
// real tree here (the ISO 9660 side only has a README), and files over 4 GiB (install.wim)
// are only whole here. Path: Anchor (sector 256) -> Volume Descriptor Sequence (Partition,
// Logical Volume with its partition maps) -> File Set Descriptor -> root File Entry ->
// File Identifier Descriptors. Type 2 "*UDF Metadata Partition" maps (UDF 2.50+) are
// followed through the metadata file's extents; sparable maps are read as physical, which
// is exact for images (no defects were ever remapped).
import { IsoError } from './errors.js';
import { readAllExtents } from './extents.js';
import { type RandomAccess, SECTOR, readAt } from './source.js';
import type { Extent, EntryType, RawEntry, Tree } from './types.js';
import { TAG, type LongAd, decodeCs0, decodeDstring, expectTag, longAd, tagId, udfTime } from './udf-format.js';

type PartitionMap =
  | { kind: 'physical'; num: number; start: number; length: number }
  | { kind: 'metadata'; phys: number; file: Extent[] }
  | { kind: 'unsupported'; what: string };

const MAX_VDS_SECTORS = 512;
const MAX_ADS = 1 << 20;
const MAX_AED_HOPS = 4096;
const MAX_DIR_BYTES = 32 * 1024 * 1024;

interface Icb {
  fileType: number;
  size: number;
  mtime?: Date;
  extents: Extent[];
}

export class UdfTree implements Tree {
  readonly kind = 'udf' as const;
  private constructor(
    private readonly src: RandomAccess,
    private readonly maps: PartitionMap[],
    private readonly rootIcb: LongAd,
    readonly volumeId: string,
  ) {}

  /** undefined when there is no UDF anchor; throws IsoError when there is one but the volume is damaged. */
  static async open(src: RandomAccess): Promise<UdfTree | undefined> {
    const avdp = await findAnchor(src);
    if (!avdp) return undefined;
    const { partitions, lvd } = await readVds(src, avdp.readUInt32LE(16), avdp.readUInt32LE(20));
    if (!lvd) throw new IsoError('corrupt', 'corrupt: the UDF volume descriptor sequence has no Logical Volume Descriptor');
    const bs = lvd.readUInt32LE(212);
    if (bs !== SECTOR) throw new IsoError('unsupported', `unsupported: UDF logical block size ${bs} (only ${SECTOR})`);
    const maps = await readMaps(src, lvd, partitions);
    const fsdAd = longAd(lvd, 248);
    const tree = new UdfTree(src, maps, fsdAd, decodeDstring(lvd.subarray(84, 212)));
    const fsd = await tree.readBlock(fsdAd.ref, fsdAd.lbn, 'UDF file set descriptor');
    expectTag(fsd, [TAG.FILE_SET], fsdAd.lbn, 'UDF file set descriptor');
    return new UdfTree(src, maps, longAd(fsd, 400), tree.volumeId);
  }

  async root(): Promise<RawEntry> {
    const icb = await this.readIcb(this.rootIcb.ref, this.rootIcb.lbn);
    if (icb.fileType !== 4) throw new IsoError('corrupt', `corrupt: the UDF root (block ${this.rootIcb.lbn}) is not a directory (type ${icb.fileType})`);
    return { name: '', type: 'directory', size: icb.size, mtime: icb.mtime, extents: icb.extents, key: `udf:${this.rootIcb.ref}:${this.rootIcb.lbn}` };
  }

  async readDir(dir: RawEntry): Promise<RawEntry[]> {
    if (dir.type !== 'directory') throw new IsoError('not-a-directory', 'not a directory');
    const data = await readAllExtents(this.src, dir.extents, MAX_DIR_BYTES, 'UDF directory');
    const out: RawEntry[] = [];
    let off = 0;
    while (off + 38 <= data.length) {
      if (tagId(data, off) !== TAG.FID) {
        throw new IsoError('corrupt', `corrupt: UDF directory ${dir.key} has no valid file identifier descriptor at byte ${off}`);
      }
      const chars = data[off + 18];
      const lfi = data[off + 19];
      const icb = longAd(data, off + 20);
      const liu = data.readUInt16LE(off + 36);
      const total = (38 + liu + lfi + 3) & ~3;
      if (off + 38 + liu + lfi > data.length) throw new IsoError('corrupt', `corrupt: UDF file identifier at byte ${off} of ${dir.key} runs past the directory`);
      const nameBytes = data.subarray(off + 38 + liu, off + 38 + liu + lfi);
      off += total;
      if (chars & 0x0c) continue; // parent entry (0x08) or deleted (0x04)
      const name = decodeCs0(nameBytes);
      if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
        throw new IsoError('corrupt', `corrupt: UDF directory ${dir.key} has an entry with an invalid name`);
      }
      const fe = await this.readIcb(icb.ref, icb.lbn);
      const type: EntryType = fe.fileType === 4 ? 'directory' : fe.fileType === 5 ? 'file' : fe.fileType === 12 ? 'symlink' : 'other';
      const entry: RawEntry = { name, type, size: fe.size, mtime: fe.mtime, hidden: (chars & 1) !== 0, extents: fe.extents, key: `udf:${icb.ref}:${icb.lbn}` };
      if (type === 'symlink') entry.target = await this.symlinkTarget(fe);
      out.push(entry);
    }
    return out;
  }

  private async symlinkTarget(fe: Icb): Promise<string> {
    const data = await readAllExtents(this.src, fe.extents, 64 * 1024, 'UDF symlink');
    const parts: string[] = [];
    let root = false;
    // ECMA-167 4/14.16: path components (type, length, version, identifier).
    for (let o = 0; o + 4 <= data.length; ) {
      const t = data[o];
      const l = data[o + 1];
      const id = data.subarray(o + 4, o + 4 + l);
      o += 4 + l;
      if (t === 1 || t === 2) root = true;
      else if (t === 3) parts.push('..');
      else if (t === 4) parts.push('.');
      else if (t === 5) parts.push(decodeCs0(id));
    }
    return (root ? '/' : '') + parts.join('/');
  }

  private blockPos(ref: number, lbn: number): number {
    const m = this.maps[ref];
    if (!m) throw new IsoError('corrupt', `corrupt: UDF reference to partition ${ref}, which the volume does not have`);
    if (m.kind === 'physical') {
      if (lbn >= m.length) throw new IsoError('corrupt', `corrupt: UDF block ${lbn} lies outside partition ${ref} (${m.length} blocks)`);
      return (m.start + lbn) * SECTOR;
    }
    if (m.kind === 'unsupported') throw new IsoError('unsupported', `unsupported: UDF ${m.what} partition`);
    const [e] = sliceExtents(m.file, lbn * SECTOR, SECTOR);
    if (!e || e.kind !== 'image') throw new IsoError('corrupt', `corrupt: UDF metadata block ${lbn} is not recorded`);
    return e.pos;
  }

  /** A run of `length` bytes from block `lbn` of partition `ref`, as image extents. */
  private mapExtent(ref: number, lbn: number, length: number): Extent[] {
    const m = this.maps[ref];
    if (m?.kind === 'metadata') return sliceExtents(m.file, lbn * SECTOR, length);
    const pos = this.blockPos(ref, lbn);
    return [{ kind: 'image', pos, length }];
  }

  private async readBlock(ref: number, lbn: number, what: string): Promise<Buffer> {
    return readAt(this.src, this.blockPos(ref, lbn), SECTOR, what);
  }

  /** File Entry or Extended File Entry (ECMA-167 4/14.9, 4/14.17) and its allocation descriptors. */
  async readIcb(ref: number, lbn: number): Promise<Icb> {
    const b = await this.readBlock(ref, lbn, 'UDF file entry');
    const id = expectTag(b, [TAG.FILE_ENTRY, TAG.EXT_FILE_ENTRY], lbn, 'UDF file entry');
    return parseIcb(b, id === TAG.EXT_FILE_ENTRY, ref, lbn, (r, l, n) => this.mapExtent(r, l, n), (r, l) => this.readBlock(r, l, 'UDF allocation extent'));
  }
}

async function parseIcb(
  b: Buffer,
  extended: boolean,
  ref: number,
  lbn: number,
  map: (ref: number, lbn: number, length: number) => Extent[],
  readBlock: (ref: number, lbn: number) => Promise<Buffer>,
): Promise<Icb> {
  const fileType = b[27];
  const adType = b.readUInt16LE(34) & 7;
  const big = b.readBigUInt64LE(56);
  if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new IsoError('corrupt', `corrupt: UDF file entry at block ${lbn} has size ${big}`);
  const size = Number(big);
  const mtime = udfTime(b, extended ? 92 : 84);
  const lea = b.readUInt32LE(extended ? 208 : 168);
  const lad = b.readUInt32LE(extended ? 212 : 172);
  const base = (extended ? 216 : 176) + lea;
  if (lea > SECTOR || lad > SECTOR || base + lad > b.length) throw new IsoError('corrupt', `corrupt: UDF file entry at block ${lbn} has descriptors past its block`);
  if (adType === 3) {
    // Embedded: small files and directories live inside the entry itself.
    if (size > lad) throw new IsoError('corrupt', `corrupt: UDF file entry at block ${lbn} embeds ${lad} bytes but claims ${size}`);
    return { fileType, size, mtime, extents: size ? [{ kind: 'inline', data: Buffer.from(b.subarray(base, base + size)) }] : [] };
  }
  if (adType !== 0 && adType !== 1) throw new IsoError('unsupported', `unsupported: UDF allocation descriptor type ${adType} at block ${lbn}`);
  const adLen = adType === 0 ? 8 : 16;
  const extents: Extent[] = [];
  let total = 0;
  let area = b.subarray(base, base + lad);
  const seen = new Set<string>();
  let count = 0;
  outer: for (let hops = 0; ; hops++) {
    for (let o = 0; o + adLen <= area.length; o += adLen) {
      if (++count > MAX_ADS) throw new IsoError('limit', `limit: UDF file entry at block ${lbn} has more than ${MAX_ADS} extents`);
      const raw = area.readUInt32LE(o);
      const len = raw & 0x3fffffff;
      const type = raw >>> 30;
      if (len === 0) break outer;
      const aLbn = area.readUInt32LE(o + 4);
      const aRef = adType === 0 ? ref : area.readUInt16LE(o + 8);
      if (type === 3) {
        // Continuation: the rest of the list is in an Allocation Extent Descriptor.
        const key = `${aRef}:${aLbn}`;
        if (seen.has(key) || hops >= MAX_AED_HOPS) throw new IsoError('limit', `limit: UDF allocation extents of block ${lbn} loop or chain too far`);
        seen.add(key);
        const aed = await readBlock(aRef, aLbn);
        expectTag(aed, [TAG.ALLOC_EXTENT], aLbn, 'UDF allocation extent');
        const l = aed.readUInt32LE(20);
        if (24 + l > aed.length) throw new IsoError('corrupt', `corrupt: UDF allocation extent at block ${aLbn} overflows its block`);
        area = aed.subarray(24, 24 + l);
        continue outer;
      }
      const take = Math.min(len, size - total);
      if (take <= 0) break outer;
      if (type === 0) extents.push(...map(aRef, aLbn, take));
      else extents.push({ kind: 'zero', length: take }); // allocated-not-recorded or sparse: reads as zeros
      total += take;
    }
    break;
  }
  if (total < size) throw new IsoError('corrupt', `corrupt: UDF file entry at block ${lbn} records ${total} bytes but claims ${size}`);
  return { fileType, size, mtime, extents };
}

/** The sub-extents covering [offset, offset+length) of an extent list. */
function sliceExtents(extents: readonly Extent[], offset: number, length: number): Extent[] {
  const out: Extent[] = [];
  let base = 0;
  for (const e of extents) {
    const elen = e.kind === 'inline' ? e.data.length : e.length;
    const from = Math.max(offset, base);
    const to = Math.min(offset + length, base + elen);
    if (from < to) {
      const inner = from - base;
      if (e.kind === 'image') out.push({ kind: 'image', pos: e.pos + inner, length: to - from });
      else if (e.kind === 'zero') out.push({ kind: 'zero', length: to - from });
      else out.push({ kind: 'inline', data: e.data.subarray(inner, inner + to - from) });
    }
    base += elen;
    if (base >= offset + length) break;
  }
  const got = out.reduce((n, e) => n + (e.kind === 'inline' ? e.data.length : e.length), 0);
  if (got < length) throw new IsoError('corrupt', `corrupt: UDF metadata partition is shorter than a reference into it`);
  return out;
}

/** ECMA-167 3/8.4.2: the anchor is at sector 256, else at the last sector, else 256 before it. */
async function findAnchor(src: RandomAccess): Promise<Buffer | undefined> {
  const last = Math.floor(src.size / SECTOR) - 1;
  for (const s of [256, last, last - 256]) {
    if (s < 256 || (s + 1) * SECTOR > src.size) continue;
    const b = await readAt(src, s * SECTOR, SECTOR, 'UDF anchor');
    if (tagId(b) === TAG.AVDP && b.readUInt32LE(12) === s) return b;
  }
  return undefined;
}

async function readVds(src: RandomAccess, length: number, location: number): Promise<{ partitions: Map<number, { start: number; length: number }>; lvd?: Buffer }> {
  const partitions = new Map<number, { start: number; length: number }>();
  let lvd: Buffer | undefined;
  let sectors = Math.min(Math.floor(length / SECTOR), MAX_VDS_SECTORS);
  let s = location;
  const seen = new Set<number>();
  for (let i = 0; i < MAX_VDS_SECTORS && sectors > 0; i++, sectors--) {
    if (seen.has(s)) break;
    seen.add(s);
    const b = await readAt(src, s * SECTOR, SECTOR, 'UDF volume descriptor');
    const id = tagId(b);
    if (id === undefined || id === TAG.TERMINATOR) break;
    if (id === TAG.PARTITION) partitions.set(b.readUInt16LE(22), { start: b.readUInt32LE(188), length: b.readUInt32LE(192) });
    else if (id === TAG.LOGICAL_VOLUME) lvd = b;
    if (id === TAG.VDP) {
      // The sequence continues elsewhere (ECMA-167 3/10.3).
      sectors = Math.min(Math.floor(b.readUInt32LE(20) / SECTOR), MAX_VDS_SECTORS) + 1;
      s = b.readUInt32LE(24);
      continue;
    }
    s++;
  }
  return { partitions, lvd };
}

async function readMaps(src: RandomAccess, lvd: Buffer, partitions: Map<number, { start: number; length: number }>): Promise<PartitionMap[]> {
  const count = lvd.readUInt32LE(268);
  const tableLen = lvd.readUInt32LE(264);
  if (count > 16 || 440 + tableLen > lvd.length) throw new IsoError('corrupt', `corrupt: UDF logical volume has ${count} partition maps in ${tableLen} bytes`);
  const maps: PartitionMap[] = [];
  const physical = (num: number): PartitionMap => {
    const p = partitions.get(num);
    if (!p) throw new IsoError('corrupt', `corrupt: UDF partition map names partition ${num}, which has no Partition Descriptor`);
    return { kind: 'physical', num, ...p };
  };
  let o = 440;
  for (let i = 0; i < count; i++) {
    if (o + 2 > 440 + tableLen) throw new IsoError('corrupt', 'corrupt: UDF partition map table ends early');
    const type = lvd[o];
    const len = lvd[o + 1];
    if (len < 6 || o + len > 440 + tableLen) throw new IsoError('corrupt', `corrupt: UDF partition map ${i} has length ${len}`);
    if (type === 1) maps.push(physical(lvd.readUInt16LE(o + 4)));
    else if (type === 2 && len >= 64) {
      const ident = lvd.toString('latin1', o + 5, o + 28).replace(/\0+$/, '');
      if (ident === '*UDF Sparable Partition') maps.push(physical(lvd.readUInt16LE(o + 38)));
      else if (ident === '*UDF Metadata Partition') maps.push({ kind: 'metadata', phys: lvd.readUInt16LE(o + 38), file: [] });
      else if (ident === '*UDF Virtual Partition') maps.push({ kind: 'unsupported', what: 'virtual (VAT, write-once media)' });
      else maps.push({ kind: 'unsupported', what: `"${ident}"` });
    } else maps.push({ kind: 'unsupported', what: `type ${type}` });
    o += len;
  }
  // Resolve metadata partitions: their blocks are the bytes of the metadata file, a file
  // entry in the physical partition with the same partition number.
  for (let i = 0; i < maps.length; i++) {
    const m = maps[i];
    if (m.kind !== 'metadata') continue;
    const physRef = maps.findIndex((x) => x.kind === 'physical' && x.num === m.phys);
    const p = partitions.get(m.phys);
    if (physRef < 0 || !p) throw new IsoError('corrupt', `corrupt: UDF metadata partition refers to partition ${m.phys}, which is missing`);
    const mapOff = 440 + lvdMapOffset(lvd, i);
    const fileLbn = lvd.readUInt32LE(mapOff + 40);
    const tmp = new Map<number, PartitionMap>([[physRef, maps[physRef]]]);
    const b = await readAt(src, (p.start + fileLbn) * SECTOR, SECTOR, 'UDF metadata file entry');
    const id = expectTag(b, [TAG.FILE_ENTRY, TAG.EXT_FILE_ENTRY], fileLbn, 'UDF metadata file entry');
    const icb = await parseIcb(
      b,
      id === TAG.EXT_FILE_ENTRY,
      physRef,
      fileLbn,
      (r, l, n) => {
        const pm = tmp.get(r);
        if (!pm || pm.kind !== 'physical') throw new IsoError('corrupt', 'corrupt: UDF metadata file points outside its partition');
        return [{ kind: 'image', pos: (pm.start + l) * SECTOR, length: n }];
      },
      (_r, l) => readAt(src, (p.start + l) * SECTOR, SECTOR, 'UDF allocation extent'),
    );
    maps[i] = { kind: 'metadata', phys: m.phys, file: icb.extents };
  }
  return maps;
}

function lvdMapOffset(lvd: Buffer, index: number): number {
  let o = 0;
  for (let i = 0; i < index; i++) o += lvd[440 + o + 1];
  return o;
}
