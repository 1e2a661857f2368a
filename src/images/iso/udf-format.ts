// Low-level UDF (ECMA-167 / OSTA UDF) field decoding: descriptor tags, OSTA compressed
// unicode, timestamps, allocation descriptors.
import { IsoError } from './errors.js';
import { decodeUcs2 } from './volumes.js';

export const TAG = {
  AVDP: 2,
  VDP: 3,
  PARTITION: 5,
  LOGICAL_VOLUME: 6,
  TERMINATOR: 8,
  FILE_SET: 256,
  FID: 257,
  ALLOC_EXTENT: 258,
  FILE_ENTRY: 261,
  EXT_FILE_ENTRY: 266,
} as const;

/** Tag identifier of a descriptor at `off`, or undefined when its checksum (ECMA-167 3/7.2.3) is wrong. */
export function tagId(b: Buffer, off = 0): number | undefined {
  if (off + 16 > b.length) return undefined;
  let sum = 0;
  for (let i = 0; i < 16; i++) if (i !== 4) sum += b[off + i];
  if ((sum & 0xff) !== b[off + 4]) return undefined;
  const version = b.readUInt16LE(off + 2);
  if (version !== 2 && version !== 3) return undefined;
  return b.readUInt16LE(off);
}

export function tagLocation(b: Buffer, off = 0): number {
  return b.readUInt32LE(off + 12);
}

/** Requires a descriptor with one of `ids` recorded for block `lbn`; returns its id. */
export function expectTag(b: Buffer, ids: readonly number[], lbn: number | undefined, what: string): number {
  const id = tagId(b);
  if (id === undefined || !ids.includes(id)) {
    throw new IsoError('corrupt', `corrupt: ${what} at block ${lbn ?? '?'} has no valid descriptor tag (found ${id ?? 'bad checksum'})`);
  }
  if (lbn !== undefined && tagLocation(b) !== lbn) {
    throw new IsoError('corrupt', `corrupt: ${what} at block ${lbn} says it belongs at block ${tagLocation(b)}`);
  }
  return id;
}

/** OSTA CS0 (UDF 2.1.1): first byte 8 = one byte per char, 16 = UCS-2 big-endian. */
export function decodeCs0(b: Buffer): string {
  if (b.length === 0) return '';
  const comp = b[0];
  if (comp === 8 || comp === 254) return b.toString('latin1', 1);
  if (comp === 16 || comp === 255) return decodeUcs2(b.subarray(1));
  throw new IsoError('corrupt', `corrupt: UDF name with unknown compression id ${comp}`);
}

/** dstring: fixed field whose last byte is the used length. */
export function decodeDstring(b: Buffer): string {
  const len = b[b.length - 1];
  if (len === 0 || len >= b.length) return '';
  try {
    return decodeCs0(b.subarray(0, len)).replace(/\0+$/, '');
  } catch {
    return '';
  }
}

/** ECMA-167 1/7.3 timestamp. */
export function udfTime(b: Buffer, o: number): Date | undefined {
  const tt = b.readUInt16LE(o);
  const year = b.readInt16LE(o + 2);
  const [mo, d, h, mi, s] = [b[o + 4], b[o + 5], b[o + 6], b[o + 7], b[o + 8]];
  if (year === 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return undefined;
  let tz = tt & 0xfff;
  if (tz & 0x800) tz -= 0x1000;
  if (tz === -2047 || (tt >> 12) !== 1) tz = 0; // unspecified, or not local time
  return new Date(Date.UTC(year, mo - 1, d, h, mi, s, b[o + 9] * 10) - tz * 60 * 1000);
}

export interface LongAd {
  length: number;
  type: number;
  lbn: number;
  ref: number;
}

export function longAd(b: Buffer, o: number): LongAd {
  const raw = b.readUInt32LE(o);
  return { length: raw & 0x3fffffff, type: raw >>> 30, lbn: b.readUInt32LE(o + 4), ref: b.readUInt16LE(o + 8) };
}
