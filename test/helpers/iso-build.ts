// Builds real ISO images for the ISO reader's tests with the real mastering tools
// (xorriso, genisoimage), plus the small byte surgery the damage tests need.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { ByteSource } from '../../src/files/published.js';
import { rng } from '../fuzz/mutator.js';

export type TreeSpec = Record<string, string | Buffer | { symlink: string }>;

/** A temp dir removed when the test ends. */
export function tempDir(t: { after: (fn: () => void) => void }, prefix = 'pxk-iso-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

export function writeTree(root: string, spec: TreeSpec): void {
  for (const [rel, v] of Object.entries(spec)) {
    const p = join(root, rel);
    mkdirSync(dirname(p), { recursive: true });
    if (typeof v === 'object' && !Buffer.isBuffer(v)) symlinkSync(v.symlink, p);
    else writeFileSync(p, v);
  }
}

export interface BuildOptions {
  tool?: 'xorriso' | 'genisoimage';
  /** Rock Ridge (xorriso's mkisofs mode adds it unless told --norock). */
  rockRidge?: boolean;
  joliet?: boolean;
  /** genisoimage only. */
  udf?: boolean;
  isoLevel?: 1 | 2 | 3 | 4;
  volumeId?: string;
  /** El Torito BIOS no-emulation image, relative to the source dir. */
  bios?: string;
  /** El Torito UEFI (platform 0xEF) ESP image, relative to the source dir. */
  uefi?: string;
  extra?: string[];
}

/** Runs the mastering tool; throws with its stderr on failure. */
export function buildIso(srcDir: string, out: string, o: BuildOptions = {}): string {
  const tool = o.tool ?? 'xorriso';
  // -stdio_sync off: xorriso otherwise fsyncs every 32 MiB, which triples the time of the 4 GiB test.
  const args: string[] = tool === 'xorriso' ? ['-stdio_sync', 'off', '-as', 'mkisofs'] : ['-quiet'];
  if (o.rockRidge) args.push('-R');
  else if (tool === 'xorriso') args.push('--norock');
  if (o.joliet) args.push('-J', '-joliet-long');
  if (o.udf) args.push('-udf');
  // genisoimage refuses files of 4 GiB and more without this; its UDF tree then has the whole file.
  if (o.udf && o.isoLevel === 3) args.push('-allow-limited-size');
  if (o.isoLevel) args.push('-iso-level', String(o.isoLevel));
  if (o.volumeId) args.push('-V', o.volumeId);
  if (o.bios) args.push('-b', o.bios, '-no-emul-boot', '-boot-load-size', '4');
  if (o.uefi) args.push(...(o.bios ? ['-eltorito-alt-boot'] : []), '-e', o.uefi, '-no-emul-boot');
  args.push(...(o.extra ?? []), '-o', out, srcDir);
  execFileSync(tool, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  return out;
}

/**
 * A FAT12 image of `bytes` bytes (a multiple of 512) with a real BIOS parameter block and
 * empty FATs/root: enough for firmware-style size detection. mkfs.vfat is not installed
 * on CI, and the reader only needs the boot sector.
 */
export function fatImage(bytes: number): Buffer {
  const img = Buffer.alloc(bytes);
  const sectors = bytes / 512;
  img.set([0xeb, 0x3c, 0x90], 0);
  img.write('PXKTEST ', 3, 'latin1');
  img.writeUInt16LE(512, 11); // bytes per sector
  img[13] = 4; // sectors per cluster
  img.writeUInt16LE(1, 14); // reserved sectors
  img[16] = 2; // FATs
  img.writeUInt16LE(512, 17); // root entries
  if (sectors < 0x10000) img.writeUInt16LE(sectors, 19);
  else img.writeUInt32LE(sectors, 32);
  img[21] = 0xf8;
  img.writeUInt16LE(8, 22); // sectors per FAT
  img.write('EFI        FAT12   ', 43, 'latin1');
  img[510] = 0x55;
  img[511] = 0xaa;
  for (const fat of [1, 9]) img.set([0xf8, 0xff, 0xff], fat * 512);
  return img;
}

/** Deterministic bytes (xorshift), so failures reproduce. */
export function patternBytes(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

export function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

// ---- byte surgery on built images (buffers) ----

export const SECTOR = 2048;

export interface RecordRef {
  /** Byte offset of the record in the image. */
  at: number;
  len: number;
  name: Buffer;
  lba: number;
  size: number;
  flags: number;
  /** Byte offset of its System Use area in the image. */
  sua: number;
}

/** The records of the first sector of the primary root directory. */
export function rootRecords(iso: Buffer): RecordRef[] {
  const root = iso.readUInt32LE(16 * SECTOR + 156 + 2);
  return dirRecords(iso, root);
}

export function dirRecords(iso: Buffer, lba: number): RecordRef[] {
  const out: RecordRef[] = [];
  let o = lba * SECTOR;
  const end = o + SECTOR;
  while (o < end && iso[o] !== 0) {
    const len = iso[o];
    const nl = iso[o + 32];
    out.push({ at: o, len, name: iso.subarray(o + 33, o + 33 + nl), lba: iso.readUInt32LE(o + 2), size: iso.readUInt32LE(o + 10), flags: iso[o + 25], sua: o + 33 + nl + (nl % 2 ? 0 : 1) });
    o += len;
  }
  return out;
}

export function findRecord(iso: Buffer, isoName: string): RecordRef {
  const r = rootRecords(iso).find((x) => x.name.toString('latin1') === isoName);
  if (!r) throw new Error(`no record ${isoName} in the root`);
  return r;
}

/** Writes a both-endian 32-bit field (ECMA-119 7.3.3). */
export function setBoth32(b: Buffer, at: number, v: number): void {
  b.writeUInt32LE(v, at);
  b.writeUInt32BE(v, at + 4);
}

/**
 * Turns `first` into a two-extent file: its record gets the multi-extent flag and a copy
 * of it, pointing at `second`'s data, is inserted right after it. The file then reads as
 * first's bytes followed by second's (ECMA-119 6.5.1), in two places on the disc.
 */
export function joinAsMultiExtent(iso: Buffer, first: string, second: string): void {
  const a = findRecord(iso, first);
  const b = findRecord(iso, second);
  const copy = Buffer.from(iso.subarray(a.at, a.at + a.len));
  setBoth32(copy, 2, b.lba);
  setBoth32(copy, 10, b.size);
  const recs = rootRecords(iso);
  const last = recs[recs.length - 1];
  const usedEnd = last.at + last.len;
  const sectorEnd = Math.floor(a.at / SECTOR) * SECTOR + SECTOR;
  if (usedEnd + copy.length > sectorEnd) throw new Error('no room in the root directory sector');
  iso.copy(iso, a.at + a.len + copy.length, a.at + a.len, usedEnd);
  copy.copy(iso, a.at + a.len);
  iso[a.at + 25] |= 0x80;
}

/** Replaces the Volume Descriptor Set with a UDF-only recognition sequence (BEA01, NSR02, TEA01). */
export function makeUdfOnly(iso: Buffer): void {
  let s = 16;
  while (iso.toString('latin1', s * SECTOR + 1, s * SECTOR + 6) !== 'TEA01') s++;
  iso.fill(0, 16 * SECTOR, (s + 1) * SECTOR);
  ['BEA01', 'NSR02', 'TEA01'].forEach((id, i) => {
    iso[(16 + i) * SECTOR] = 0;
    iso.write(id, (16 + i) * SECTOR + 1, 'latin1');
    iso[(16 + i) * SECTOR + 6] = 1;
  });
}

/** The fuzzer's seeded PRNG (mulberry32), for the ISO tests' own fuzz loops. */
export const prng = rng;

// ---- checking bytes read through the reader ----

export async function collect(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** read() at seeded random offsets/lengths and stream() of ranges match the original bytes. */
export async function assertSameBytes(src: ByteSource, want: Buffer, seed = 1): Promise<void> {
  assert.equal(src.size, want.length);
  const rnd = prng(seed);
  const whole = Buffer.alloc(want.length);
  let off = 0;
  while (off < want.length) {
    const n = await src.read(whole, off, want.length - off, off);
    assert.ok(n > 0);
    off += n;
  }
  assert.ok(whole.equals(want), 'whole read differs');
  for (let i = 0; i < 40 && want.length > 0; i++) {
    const pos = Math.floor(rnd() * want.length);
    const len = 1 + Math.floor(rnd() * Math.min(70_000, want.length - pos));
    const b = Buffer.alloc(len);
    const n = await src.read(b, 0, len, pos);
    assert.equal(n, len);
    assert.ok(b.equals(want.subarray(pos, pos + len)), `read at ${pos}+${len} differs`);
    if (i % 4 === 0) {
      const end = Math.min(want.length - 1, pos + len - 1);
      assert.ok((await collect(src.stream(pos, end))).equals(want.subarray(pos, end + 1)), `stream ${pos}-${end} differs`);
    }
  }
  assert.equal(await src.read(Buffer.alloc(4), 0, 4, want.length), 0);
  assert.ok((await collect(src.stream(0, want.length - 1))).equals(want));
}


/** Byte offset of the UDF root directory's File Entry (found by scanning for the Partition and File Set descriptors). */
export function udfRootEntryPos(iso: Buffer): number {
  let partStart: number | undefined;
  for (let s = 16; s * SECTOR + SECTOR <= iso.length; s++) {
    const id = iso.readUInt16LE(s * SECTOR);
    if (id === 5 && partStart === undefined) partStart = iso.readUInt32LE(s * SECTOR + 188);
    if (id === 256 && partStart !== undefined) return (partStart + iso.readUInt32LE(s * SECTOR + 404)) * SECTOR;
  }
  throw new Error('no UDF file set descriptor');
}

// ---- UDF surgery: turn genisoimage's plain File Entries into the other forms a reader meets ----

/** CRC-ITU-T (x^16+x^12+x^5+1, init 0), the UDF descriptor CRC (ECMA-167 3/7.2.6). */
function crc16(b: Buffer): number {
  let crc = 0;
  for (const byte of b) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** Recomputes a descriptor's CRC over `bodyLength` bytes after the tag, and the tag checksum. */
export function sealTag(b: Buffer, at: number, bodyLength: number): void {
  b.writeUInt16LE(bodyLength, at + 10);
  b.writeUInt16LE(crc16(b.subarray(at + 16, at + 16 + bodyLength)), at + 8);
  let sum = 0;
  for (let i = 0; i < 16; i++) if (i !== 4) sum += b[at + i];
  b[at + 4] = sum & 0xff;
}

export interface UdfFe {
  /** Byte offset of the File Entry. */
  at: number;
  lbn: number;
  partStart: number;
  lea: number;
  lad: number;
}

/** The File Entry (tag 261) whose first short_ad points at image sector `dataSector`. */
export function udfEntryForData(iso: Buffer, dataSector: number): UdfFe {
  let partStart: number | undefined;
  for (let s = 16; s * SECTOR + SECTOR <= iso.length; s++) {
    const at = s * SECTOR;
    const id = iso.readUInt16LE(at);
    if (id === 5 && partStart === undefined) partStart = iso.readUInt32LE(at + 188);
    if (id !== 261 || partStart === undefined || (iso.readUInt16LE(at + 34) & 7) !== 0) continue;
    const lea = iso.readUInt32LE(at + 168);
    const lad = iso.readUInt32LE(at + 172);
    if (lad >= 8 && partStart + iso.readUInt32LE(at + 176 + lea + 4) === dataSector) return { at, lbn: s - partStart, partStart, lea, lad };
  }
  throw new Error(`no UDF file entry for data at sector ${dataSector}`);
}

/** Moves a small file's data into its File Entry (ICB flag 3, "embedded"). */
export function udfEmbed(iso: Buffer, fe: UdfFe, data: Buffer): void {
  const ad = fe.at + 176 + fe.lea;
  iso.fill(0, ad, fe.at + SECTOR);
  data.copy(iso, ad);
  iso.writeUInt32LE(data.length, fe.at + 172);
  iso.writeUInt16LE((iso.readUInt16LE(fe.at + 34) & ~7) | 3, fe.at + 34);
  sealTag(iso, fe.at, 176 + fe.lea + data.length - 16);
}

/**
 * Rewrites a file's allocation as long_ads: `firstSectors` sectors in the entry, the rest
 * through an Allocation Extent Descriptor written at partition block `aedLbn` (which must be
 * free). `sparseFirst` marks the first extent "allocated, not recorded" (reads as zeros).
 */
export function udfLongAdsWithAed(iso: Buffer, fe: UdfFe, firstSectors: number, aedLbn: number, o: { sparseFirst?: boolean; aedPointsToItself?: boolean } = {}): void {
  const ad = fe.at + 176 + fe.lea;
  const rawLen = iso.readUInt32LE(ad);
  const len = rawLen & 0x3fffffff;
  const lbn = iso.readUInt32LE(ad + 4);
  const first = firstSectors * SECTOR;
  const longAd = (at: number, type: number, l: number, block: number): void => {
    iso.fill(0, at, at + 16);
    iso.writeUInt32LE(((type << 30) | l) >>> 0, at);
    iso.writeUInt32LE(block, at + 4);
    iso.writeUInt16LE(0, at + 8);
  };
  iso.fill(0, ad, fe.at + SECTOR);
  longAd(ad, o.sparseFirst ? 1 : 0, first, lbn);
  longAd(ad + 16, 3, SECTOR, aedLbn);
  iso.writeUInt32LE(32, fe.at + 172);
  iso.writeUInt16LE((iso.readUInt16LE(fe.at + 34) & ~7) | 1, fe.at + 34);
  sealTag(iso, fe.at, 176 + fe.lea + 32 - 16);
  // The AED: tag 258, previous AED location, L_AD, then the rest of the list.
  const aed = (fe.partStart + aedLbn) * SECTOR;
  iso.fill(0, aed, aed + SECTOR);
  iso.writeUInt16LE(258, aed);
  iso.writeUInt16LE(2, aed + 2);
  iso.writeUInt32LE(aedLbn, aed + 12);
  if (o.aedPointsToItself) longAd(aed + 24, 3, SECTOR, aedLbn);
  else longAd(aed + 24, 0, len - first, lbn + firstSectors);
  iso.writeUInt32LE(16, aed + 20);
  sealTag(iso, aed, 24 + 16 - 16);
}

/** Rewrites a File Entry (tag 261) as an Extended File Entry (tag 266, ECMA-167 4/14.17). */
export function udfToExtended(iso: Buffer, fe: UdfFe): void {
  const old = Buffer.from(iso.subarray(fe.at, fe.at + SECTOR));
  const n = iso.subarray(fe.at, fe.at + SECTOR);
  n.fill(0);
  old.copy(n, 0, 0, 56); // tag, ICB tag, uid .. record length
  n.writeUInt16LE(266, 0);
  old.copy(n, 56, 56, 64); // information length
  old.copy(n, 64, 56, 64); // object size
  old.copy(n, 72, 64, 72); // logical blocks recorded
  old.copy(n, 80, 72, 84); // access time
  old.copy(n, 92, 84, 96); // modification time
  old.copy(n, 104, 84, 96); // creation time
  old.copy(n, 116, 96, 108); // attribute time
  old.copy(n, 128, 108, 112); // checkpoint
  old.copy(n, 136, 112, 128); // extended attribute ICB
  old.copy(n, 168, 128, 168); // implementation id, unique id
  old.copy(n, 208, 168, 176); // L_EA, L_AD
  old.copy(n, 216, 176, 176 + fe.lea + fe.lad);
  sealTag(iso, fe.at, 216 + fe.lea + fe.lad - 16);
}

/**
 * Makes a UDF 1.02 image look like UDF 2.50 with a Metadata Partition (type 2 map): a
 * metadata file (type 250) at partition block `metaFileLbn` maps metadata blocks onto the
 * physical partition (identically, in two extents split at block `splitAt`), and every ICB
 * reference (file set, root, each FID in `dirs`) is pointed at the metadata partition.
 */
export function udfToMetadataPartition(iso: Buffer, dirs: Array<{ pos: number; length: number }>, metaFileLbn: number, splitAt: number): void {
  let lvdAt = -1;
  let partStart = -1;
  let partLen = 0;
  let fsdAt = -1;
  for (let s = 16; s * SECTOR + SECTOR <= iso.length && (lvdAt < 0 || partStart < 0 || fsdAt < 0); s++) {
    const at = s * SECTOR;
    const id = iso.readUInt16LE(at);
    if (id === 6 && lvdAt < 0) lvdAt = at;
    if (id === 5 && partStart < 0) [partStart, partLen] = [iso.readUInt32LE(at + 188), iso.readUInt32LE(at + 192)];
    if (id === 256 && partStart >= 0) fsdAt = at;
  }
  if (lvdAt < 0 || fsdAt < 0) throw new Error('no UDF logical volume / file set descriptor');
  // 1. The type 2 map, after the type 1 map; the file set now lives in partition reference 1.
  const tableLen = iso.readUInt32LE(lvdAt + 264);
  const physNum = iso.readUInt16LE(lvdAt + 440 + 4);
  const m = lvdAt + 440 + tableLen;
  iso.fill(0, m, m + 64);
  iso[m] = 2;
  iso[m + 1] = 64;
  iso.write('*UDF Metadata Partition', m + 5, 'latin1');
  iso.writeUInt16LE(0x0250, m + 28);
  iso.writeUInt16LE(1, m + 36);
  iso.writeUInt16LE(physNum, m + 38);
  iso.writeUInt32LE(metaFileLbn, m + 40);
  iso.writeUInt32LE(metaFileLbn, m + 44);
  iso.writeUInt32LE(0xffffffff, m + 48);
  iso.writeUInt32LE(32, m + 52);
  iso.writeUInt16LE(1, m + 56);
  iso.writeUInt32LE(tableLen + 64, lvdAt + 264);
  iso.writeUInt32LE(iso.readUInt32LE(lvdAt + 268) + 1, lvdAt + 268);
  iso.writeUInt16LE(1, lvdAt + 248 + 8);
  sealTag(iso, lvdAt, 440 + tableLen + 64 - 16);
  iso.writeUInt16LE(1, fsdAt + 400 + 8);
  sealTag(iso, fsdAt, 512 - 16);
  // 2. Every FID's ICB now names partition reference 1.
  for (const d of dirs) {
    for (let o = d.pos; o + 38 <= d.pos + d.length; ) {
      const liu = iso.readUInt16LE(o + 36);
      const total = (38 + liu + iso[o + 19] + 3) & ~3;
      iso.writeUInt16LE(1, o + 20 + 8);
      sealTag(iso, o, total - 16);
      o += total;
    }
  }
  // 3. The metadata file: an Extended File Entry of type 250 with two short_ads.
  const fe = (partStart + metaFileLbn) * SECTOR;
  iso.fill(0, fe, fe + SECTOR);
  iso.writeUInt16LE(266, fe);
  iso.writeUInt16LE(3, fe + 2);
  iso.writeUInt32LE(metaFileLbn, fe + 12);
  iso.writeUInt16LE(4, fe + 16 + 4); // strategy 4
  iso.writeUInt16LE(1, fe + 16 + 8); // max entries
  iso[fe + 16 + 11] = 250;
  const bytes = partLen * SECTOR;
  iso.writeBigUInt64LE(BigInt(bytes), fe + 56);
  iso.writeBigUInt64LE(BigInt(bytes), fe + 64);
  iso.writeUInt32LE(16, fe + 212);
  iso.writeUInt32LE(splitAt * SECTOR, fe + 216);
  iso.writeUInt32LE(0, fe + 220);
  iso.writeUInt32LE(bytes - splitAt * SECTOR, fe + 224);
  iso.writeUInt32LE(splitAt, fe + 228);
  sealTag(iso, fe, 216 + 16 - 16);
}
