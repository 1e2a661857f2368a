// The volume descriptor set at sector 16 (ECMA-119 §8): primary, supplementary (Joliet when
// its escape sequence says UCS-2), El Torito's boot record, the terminator, and the UDF
// volume recognition sequence (BEA01/NSR02/NSR03/TEA01, ECMA-167 2/9) that bridge discs
// put right after the ISO terminator.
import { IsoError } from './errors.js';
import { type RandomAccess, SECTOR, readAt } from './source.js';

export interface VolumeInfo {
  volumeId: string;
  blockSize: number;
  /** Volume space size in logical blocks (ECMA-119 8.4.8): the volume is blocks × blockSize bytes. */
  blocks: number;
  /** The 34-byte directory record of the root directory. */
  root: Buffer;
}

export interface VolumeDescriptors {
  primary?: VolumeInfo;
  joliet?: VolumeInfo & { level: 1 | 2 | 3 };
  /** El Torito boot catalog sector, from the boot record's "EL TORITO SPECIFICATION". */
  bootCatalog?: number;
  /** An NSR02/NSR03 descriptor was seen: the disc says it carries UDF. */
  udfRecognised: boolean;
}

const FIRST = 16;
// Real discs have 3-6 descriptors; 64 bounds a scan over garbage.
const MAX_DESCRIPTORS = 64;

export async function readVolumeDescriptors(src: RandomAccess): Promise<VolumeDescriptors> {
  if (src.size < (FIRST + 1) * SECTOR) {
    throw new IsoError('not-iso', `not an ISO 9660/UDF image: the file is ${src.size} bytes, too small to hold a volume descriptor at sector ${FIRST}`);
  }
  const out: VolumeDescriptors = { udfRecognised: false };
  let sawAny = false;
  for (let s = FIRST; s < FIRST + MAX_DESCRIPTORS && (s + 1) * SECTOR <= src.size; s++) {
    const d = await readAt(src, s * SECTOR, SECTOR, 'volume descriptor');
    const id = d.toString('latin1', 1, 6);
    if (id === 'CD001') {
      sawAny = true;
      const type = d[0];
      if (type === 255) continue; // terminator: a UDF recognition sequence may follow
      if (type === 0) readBootRecord(d, out);
      else if (type === 1 && !out.primary) out.primary = volumeInfo(d, s, false);
      else if (type === 2 && !out.joliet) {
        const level = jolietLevel(d);
        if (level) out.joliet = { ...volumeInfo(d, s, true), level };
      }
    } else if (id === 'BEA01' || id === 'NSR02' || id === 'NSR03' || id === 'BOOT2' || id === 'CDW02') {
      sawAny = true;
      if (id.startsWith('NSR')) out.udfRecognised = true;
    } else if (id === 'TEA01') {
      break;
    } else {
      if (!sawAny) throw new IsoError('not-iso', `not an ISO 9660/UDF image: no volume descriptor at sector ${FIRST}`);
      break;
    }
  }
  return out;
}

function readBootRecord(d: Buffer, out: VolumeDescriptors): void {
  if (d.toString('latin1', 7, 30) === 'EL TORITO SPECIFICATION') out.bootCatalog = d.readUInt32LE(0x47);
}

function jolietLevel(d: Buffer): 1 | 2 | 3 | undefined {
  // Escape sequences at 88..119 (ECMA-119 §8.5.6); Joliet uses "%/@", "%/C" or "%/E".
  const esc = d.toString('latin1', 88, 120);
  if (esc.includes('%/E')) return 3;
  if (esc.includes('%/C')) return 2;
  if (esc.includes('%/@')) return 1;
  return undefined;
}

function volumeInfo(d: Buffer, sector: number, ucs2: boolean): VolumeInfo {
  const blockSize = d.readUInt16LE(128);
  if (blockSize !== 512 && blockSize !== 1024 && blockSize !== 2048) {
    throw new IsoError('corrupt', `corrupt: volume descriptor at sector ${sector} has logical block size ${blockSize}`);
  }
  const raw = d.subarray(40, 72);
  const volumeId = (ucs2 ? decodeUcs2(raw) : raw.toString('latin1')).replace(/[\s\0]+$/, '');
  const root = Buffer.from(d.subarray(156, 190));
  if (root[0] < 34) throw new IsoError('corrupt', `corrupt: volume descriptor at sector ${sector} has a root directory record of length ${root[0]}`);
  return { volumeId, blockSize, blocks: d.readUInt32LE(80), root };
}

/** UCS-2 big-endian (Joliet, UDF 16-bit CS0). */
export function decodeUcs2(b: Buffer): string {
  let s = '';
  for (let i = 0; i + 1 < b.length; i += 2) s += String.fromCharCode(b.readUInt16BE(i));
  return s;
}
