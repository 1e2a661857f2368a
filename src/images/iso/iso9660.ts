// Directory trees of ECMA-119: the primary tree (plain names, or Rock Ridge names when the
// root's "." record carries SUSP), and the Joliet tree (UCS-2 names, supplementary descriptor).
// Files larger than 4 GiB (ISO level 3) are split over consecutive records with the
// multi-extent flag (§9.1.6 bit 7); we join them into one entry with several extents.
import { IsoError } from './errors.js';
import { type RandomAccess, SECTOR, checkRange, readAt } from './source.js';
import { type SuspInfo, isSymlinkMode, parseSusp } from './susp.js';
import type { Extent, RawEntry, Tree, TreeKind } from './types.js';
import { type VolumeInfo, decodeUcs2 } from './volumes.js';

const FLAG_HIDDEN = 0x01;
const FLAG_DIRECTORY = 0x02;
const FLAG_MULTI_EXTENT = 0x80;
// Directories of real discs are a few sectors; Windows media's largest ~100 KiB.
const MAX_DIR_BYTES = 32 * 1024 * 1024;
const MAX_MULTI_EXTENTS = 4096;

interface DirRecord {
  sector: number;
  offset: number;
  lba: number;
  size: number;
  flags: number;
  mtime?: Date;
  name: Buffer;
  sua: Buffer;
}

export class Iso9660Tree implements Tree {
  private constructor(
    private readonly src: RandomAccess,
    private readonly vol: VolumeInfo,
    readonly kind: TreeKind,
    /** Rock Ridge SUSP skip length; undefined when the tree has no Rock Ridge. */
    private readonly rrSkip: number | undefined,
  ) {}

  /** The primary tree; Rock Ridge is used when the root's "." record starts with SP and carries RR entries. */
  static async primary(src: RandomAccess, vol: VolumeInfo): Promise<Iso9660Tree> {
    const plain = new Iso9660Tree(src, vol, 'iso9660', undefined);
    const root = parseRecord(vol.root, 0, vol.root.length, -1);
    if (root.flags & FLAG_DIRECTORY && root.size > 0) {
      checkRange(src, root.lba * vol.blockSize, SECTOR, 'root directory');
      const first = await readAt(src, root.lba * vol.blockSize, Math.min(SECTOR, root.size), 'root directory');
      const dot = parseRecord(first, 0, first.length, root.lba);
      if (dot.sua.length >= 7 && dot.sua.toString('latin1', 0, 2) === 'SP' && dot.sua[4] === 0xbe && dot.sua[5] === 0xef) {
        const info = await parseSusp(src, dot.sua, vol.blockSize, 0);
        const rr = ['RR', 'ER', 'PX', 'NM', 'SL', 'TF'].some((s) => info.sigs.has(s));
        if (rr) return new Iso9660Tree(src, vol, 'rockridge', info.skip ?? 0);
      }
    }
    return plain;
  }

  static joliet(src: RandomAccess, vol: VolumeInfo): Iso9660Tree {
    return new Iso9660Tree(src, vol, 'joliet', undefined);
  }

  async root(): Promise<RawEntry> {
    const r = parseRecord(this.vol.root, 0, this.vol.root.length, -1);
    if (!(r.flags & FLAG_DIRECTORY)) throw new IsoError('corrupt', 'corrupt: the root directory record is not flagged as a directory');
    return { name: '', type: 'directory', size: r.size, mtime: r.mtime, extents: [this.extent(r.lba, r.size)], key: `iso:${r.lba}` };
  }

  async readDir(dir: RawEntry): Promise<RawEntry[]> {
    const ext = dir.extents[0];
    if (dir.type !== 'directory' || !ext || ext.kind !== 'image') throw new IsoError('not-a-directory', 'not a directory');
    if (ext.length > MAX_DIR_BYTES) throw new IsoError('limit', `limit: directory at sector ${ext.pos / SECTOR} claims ${ext.length} bytes`);
    const data = await readAt(this.src, ext.pos, ext.length, 'directory');
    const records = parseDirectory(data, ext.pos / SECTOR);
    const out: RawEntry[] = [];
    let pending: { entry: RawEntry; name: Buffer } | undefined;
    for (const r of records) {
      if (r.name.length === 1 && r.name[0] <= 1) continue; // "." and ".."
      // A multi-extent file continues with records of the same name (ECMA-119 §6.5.1).
      if (pending && pending.name.equals(r.name) && !(r.flags & FLAG_DIRECTORY)) {
        if (pending.entry.extents.length >= MAX_MULTI_EXTENTS) throw new IsoError('limit', `limit: more than ${MAX_MULTI_EXTENTS} extents for one file`);
        pending.entry.extents.push(this.extent(r.lba, r.size));
        pending.entry.size += r.size;
        if (!(r.flags & FLAG_MULTI_EXTENT)) pending = undefined;
        continue;
      }
      pending = undefined;
      const entry = await this.toEntry(r);
      if (!entry) continue;
      out.push(entry);
      if (r.flags & FLAG_MULTI_EXTENT && entry.type === 'file') pending = { entry, name: r.name };
    }
    return dir.name === '' ? this.hideRelocationDir(out) : out;
  }

  /** mkisofs' "rr_moved" holds only relocated (RE) stand-ins, which we hide: hide it too when it is empty. */
  private async hideRelocationDir(rootKids: RawEntry[]): Promise<RawEntry[]> {
    if (this.kind !== 'rockridge') return rootKids;
    const i = rootKids.findIndex((k) => k.type === 'directory' && (k.name === 'rr_moved' || k.name === '.rr_moved'));
    if (i < 0 || (await this.readDir(rootKids[i])).length > 0) return rootKids;
    return rootKids.filter((_, j) => j !== i);
  }

  private extent(lba: number, size: number): Extent {
    return { kind: 'image', pos: lba * this.vol.blockSize, length: size };
  }

  private async toEntry(r: DirRecord): Promise<RawEntry | undefined> {
    let rr: SuspInfo | undefined;
    if (this.rrSkip !== undefined) rr = await parseSusp(this.src, r.sua, this.vol.blockSize, this.rrSkip);
    if (rr?.relocated) return undefined; // shown where its CL stand-in is
    let name = rr?.name;
    if (name === undefined) {
      name = this.kind === 'joliet' ? decodeUcs2(r.name) : r.name.toString('latin1');
      name = name.replace(/;\d*$/, '');
      if (this.kind !== 'joliet' && !(r.flags & FLAG_DIRECTORY)) name = name.replace(/\.$/, '');
    }
    if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
      throw new IsoError('corrupt', `corrupt: directory record at sector ${r.sector} offset ${r.offset} has an invalid name`);
    }
    const hidden = (r.flags & FLAG_HIDDEN) !== 0;
    if (rr?.childLink !== undefined) {
      // Rock Ridge deep-directory relocation: the real directory lives at CL; its "." record has the size.
      const lba = rr.childLink;
      const first = await readAt(this.src, lba * this.vol.blockSize, Math.min(SECTOR, 256), 'relocated directory');
      const dot = parseRecord(first, 0, first.length, lba);
      return { name, type: 'directory', size: dot.size, mtime: r.mtime, hidden, extents: [this.extent(lba, dot.size)], key: `iso:${lba}` };
    }
    if (r.flags & FLAG_DIRECTORY) {
      return { name, type: 'directory', size: r.size, mtime: r.mtime, hidden, extents: [this.extent(r.lba, r.size)], key: `iso:${r.lba}` };
    }
    if (isSymlinkMode(rr?.mode) || (rr?.target !== undefined && rr.mode === undefined)) {
      return { name, type: 'symlink', size: 0, mtime: r.mtime, hidden, target: rr?.target ?? '', extents: [], key: `iso:${r.lba}:${name}` };
    }
    return { name, type: 'file', size: r.size, mtime: r.mtime, hidden, extents: r.size ? [this.extent(r.lba, r.size)] : [], key: `iso:${r.lba}:${name}` };
  }
}

/** Splits a directory's data into records; records never cross a 2048-byte sector (§6.8.1.1). */
function parseDirectory(data: Buffer, firstSector: number): DirRecord[] {
  const out: DirRecord[] = [];
  for (let base = 0; base < data.length; base += SECTOR) {
    const end = Math.min(base + SECTOR, data.length);
    let off = base;
    while (off < end) {
      const len = data[off];
      if (len === 0) break; // rest of the sector is padding
      out.push(parseRecord(data, off, end, firstSector + base / SECTOR));
      off += len;
    }
  }
  return out;
}

function parseRecord(data: Buffer, off: number, end: number, sector: number): DirRecord {
  const len = data[off];
  const at = `directory record at sector ${sector} offset ${off % SECTOR}`;
  if (len < 34 || off + len > end) throw new IsoError('corrupt', `corrupt: ${at} has length ${len}`);
  const nameLen = data[off + 32];
  if (nameLen === 0 || 33 + nameLen > len) throw new IsoError('corrupt', `corrupt: ${at} has a name of ${nameLen} bytes in a ${len}-byte record`);
  const suaStart = off + 33 + nameLen + (nameLen % 2 === 0 ? 1 : 0);
  return {
    sector,
    offset: off % SECTOR,
    lba: data.readUInt32LE(off + 2),
    size: data.readUInt32LE(off + 10),
    flags: data[off + 25],
    mtime: recordDate(data, off + 18),
    name: data.subarray(off + 33, off + 33 + nameLen),
    sua: data.subarray(Math.min(suaStart, off + len), off + len),
  };
}

/** ECMA-119 §9.1.5: years since 1900, month, day, h, m, s, offset from GMT in 15-minute units. */
function recordDate(b: Buffer, o: number): Date | undefined {
  const [y, mo, d, h, mi, s] = [b[o], b[o + 1], b[o + 2], b[o + 3], b[o + 4], b[o + 5]];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return undefined;
  const tz = b.readInt8(o + 6);
  return new Date(Date.UTC(1900 + y, mo - 1, d, h, mi, s) - tz * 15 * 60 * 1000);
}
