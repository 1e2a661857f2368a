// Reading ISO 9660 / Joliet / Rock Ridge / UDF images in place, with their El Torito boot images.
export { IsoImage, type IsoOpenOptions } from './image.js';
export { IsoError, type IsoErrorCode } from './errors.js';
export type { Entry, EntryType, Extent, TreeKind } from './types.js';
export type { BootEntry, BootImage, BootInfo } from './eltorito.js';
export { PLATFORM_BIOS, PLATFORM_EFI } from './eltorito.js';
export type { RandomAccess } from './source.js';
