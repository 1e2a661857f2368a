// El Torito boot catalog (El Torito spec 1.0, §2): a validation entry, the initial/default
// entry (its platform is the validation entry's), then section headers (0x90 more follow,
// 0x91 last) each with its entries. Platform 0x00 is BIOS, 0xEF is UEFI.
//
// UEFI quirk: the catalog's sector count is a 16-bit count of 512-byte sectors, so an ESP
// image over 32 MiB cannot be described, and mastering tools often write 1 or 0 there. The
// image is a FAT file system, so its real size is in the FAT boot sector: we read that.
import { IsoError } from './errors.js';
import { type RandomAccess, SECTOR, readAt } from './source.js';

export interface BootEntry {
  platform: number;
  bootable: boolean;
  /** 0 no emulation, 1-3 floppy, 4 hard disk. */
  mediaType: number;
  loadSegment: number;
  /** Sector count from the catalog, in 512-byte virtual sectors. */
  sectorCount: number;
  /** The image's first 2048-byte sector in the ISO. */
  loadRba: number;
}

export interface BootImage extends BootEntry {
  /** Byte size of the boot image: from the FAT boot sector (UEFI) when readable, else sectorCount × 512. */
  size: number;
  sizeSource: 'catalog' | 'fat';
}

export interface BootInfo {
  catalogSector?: number;
  bios?: BootImage;
  uefi?: BootImage;
  entries: BootEntry[];
}

export const PLATFORM_BIOS = 0x00;
export const PLATFORM_EFI = 0xef;
// A catalog of real media has a handful of entries; bound a crafted one.
const MAX_CATALOG_BYTES = 4 * SECTOR;

export async function readBootCatalog(src: RandomAccess, sector: number): Promise<BootInfo> {
  const size = Math.min(MAX_CATALOG_BYTES, src.size - sector * SECTOR);
  if (size < 64) throw new IsoError('truncated', `truncated: El Torito boot catalog at sector ${sector} lies past the end of the file (size ${src.size})`);
  const cat = await readAt(src, sector * SECTOR, size, 'El Torito boot catalog');
  if (cat[0] !== 0x01 || cat[30] !== 0x55 || cat[31] !== 0xaa) {
    throw new IsoError('corrupt', `corrupt: El Torito boot catalog at sector ${sector} has no validation entry`);
  }
  let sum = 0;
  for (let i = 0; i < 32; i += 2) sum = (sum + cat.readUInt16LE(i)) & 0xffff;
  if (sum !== 0) throw new IsoError('corrupt', `corrupt: El Torito validation entry at sector ${sector} has a bad checksum`);
  const entries: BootEntry[] = [entry(cat, 32, cat[1])];
  let o = 64;
  // Section headers; each is followed by its entries (and their 0x44 extension records).
  while (o + 32 <= cat.length && (cat[o] === 0x90 || cat[o] === 0x91)) {
    const last = cat[o] === 0x91;
    const platform = cat[o + 1];
    let n = cat.readUInt16LE(o + 2);
    o += 32;
    while (n > 0 && o + 32 <= cat.length) {
      if (cat[o] === 0x44) {
        o += 32;
        continue;
      }
      entries.push(entry(cat, o, platform));
      n--;
      o += 32;
    }
    if (last) break;
  }
  const info: BootInfo = { catalogSector: sector, entries };
  const usable = (e: BootEntry): boolean => e.bootable && (e.loadRba + 1) * SECTOR <= src.size;
  const bios = entries.find((e) => e.platform === PLATFORM_BIOS && usable(e));
  const uefi = entries.find((e) => e.platform === PLATFORM_EFI && usable(e));
  if (bios) info.bios = { ...bios, size: bios.sectorCount * 512, sizeSource: 'catalog' };
  if (uefi) info.uefi = await sizeFromFat(src, uefi);
  return info;
}

function entry(cat: Buffer, o: number, platform: number): BootEntry {
  return {
    platform,
    bootable: cat[o] === 0x88,
    mediaType: cat[o + 1] & 0x0f,
    loadSegment: cat.readUInt16LE(o + 2),
    sectorCount: cat.readUInt16LE(o + 6),
    loadRba: cat.readUInt32LE(o + 8),
  };
}

async function sizeFromFat(src: RandomAccess, e: BootEntry): Promise<BootImage> {
  const bs = await readAt(src, e.loadRba * SECTOR, 512, 'UEFI boot image');
  const bytesPerSector = bs.readUInt16LE(11);
  const total = bs.readUInt16LE(19) || bs.readUInt32LE(32);
  const fatLike = bs[510] === 0x55 && bs[511] === 0xaa && [512, 1024, 2048, 4096].includes(bytesPerSector) && total > 0;
  const fatSize = bytesPerSector * total;
  if (fatLike && e.loadRba * SECTOR + fatSize <= src.size) return { ...e, size: fatSize, sizeSource: 'fat' };
  return { ...e, size: e.sectorCount * 512, sizeSource: 'catalog' };
}
