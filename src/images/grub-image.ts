// What a GRUB EFI image carries built in, read from the file: its modules, its prefix (the
// directory it reads grub.cfg from) and its embedded configuration. A signed GRUB cannot load
// modules under Secure Boot, so what is built in is all it can do: a GRUB without the "tftp"
// module cannot read anything from the network. Debian's and Ubuntu's install media carry such
// a GRUB (gcdx64.efi, prefix /boot/grub: tried in OVMF, it stops at "disk `tftp,…' not found");
// Debian's network GRUB (grubnetx64.efi, prefix /grub) has it.
//
// Layout (grub-mkimage): the modules live in a PE section named "mods" that starts with
// { u32 magic "mimg", u32 padding, u64 offset, u64 size }; from `offset` come records of
// { u32 type, u32 size (with this header) } and their bodies. Type 0 is a module (an ELF object
// whose ".modname" section holds its name), 2 the embedded configuration, 3 the prefix.
import type { ReadAt } from './efi-signature.js';

export interface GrubImageInfo {
  modules: string[];
  /** "/grub", "/boot/grub", "/EFI/fedora"; undefined when none is built in. */
  prefix?: string;
  /** The configuration built into the image ("normal (memdisk)/grub.cfg" and the like). */
  embeddedConfig?: string;
  /** It has the network stack and a protocol to read files with: it can boot from PXE Kit. */
  netBoot: boolean;
}

const MODS_MAGIC = 0x676d696d; // "mimg"
const OBJ_ELF = 0;
const OBJ_CONFIG = 2;
const OBJ_PREFIX = 3;
// grub-mkimage images carry a few MB of modules; anything far larger is not one.
const MAX_MODS_SECTION = 64 * 1024 * 1024;

/** Reads a GRUB EFI image's built-in modules and prefix; undefined when the file is not one. */
export async function parseGrubImage(readAt: ReadAt, size: number): Promise<GrubImageInfo | undefined> {
  const section = await modsSection(readAt, size);
  if (!section) return undefined;
  const mods = await readAt(section.offset, section.size);
  if (mods.length < 24 || mods.readUInt32LE(0) !== MODS_MAGIC) return undefined;
  const start = Number(mods.readBigUInt64LE(8));
  const end = Math.min(mods.length, Number(mods.readBigUInt64LE(16)));
  const info: GrubImageInfo = { modules: [], netBoot: false };
  for (let p = start; p + 8 <= end; ) {
    const type = mods.readUInt32LE(p);
    const len = mods.readUInt32LE(p + 4);
    if (len < 8 || p + len > end) break;
    const body = mods.subarray(p + 8, p + len);
    if (type === OBJ_ELF) {
      const name = elfModuleName(body);
      if (name) info.modules.push(name);
    } else if (type === OBJ_CONFIG) info.embeddedConfig = cString(body);
    else if (type === OBJ_PREFIX) info.prefix = cString(body) || undefined;
    p += len;
  }
  info.netBoot = info.modules.includes('efinet') && (info.modules.includes('tftp') || info.modules.includes('http'));
  return info;
}

async function modsSection(readAt: ReadAt, size: number): Promise<{ offset: number; size: number } | undefined> {
  if (size < 0x40) return undefined;
  const dos = await readAt(0, 0x40);
  if (dos.toString('latin1', 0, 2) !== 'MZ') return undefined;
  const pe = dos.readUInt32LE(0x3c);
  if (pe + 24 > size) return undefined;
  const head = await readAt(pe, 24);
  if (head.toString('latin1', 0, 4) !== 'PE\0\0') return undefined;
  const count = head.readUInt16LE(6);
  const optSize = head.readUInt16LE(20);
  const table = await readAt(pe + 24 + optSize, Math.min(count, 96) * 40);
  for (let i = 0; i + 40 <= table.length; i += 40) {
    if (table.toString('latin1', i, i + 8).replace(/\0+$/, '') !== 'mods') continue;
    const rawSize = table.readUInt32LE(i + 16);
    const rawPtr = table.readUInt32LE(i + 20);
    if (rawSize > MAX_MODS_SECTION || rawPtr + rawSize > size) return undefined;
    return { offset: rawPtr, size: rawSize };
  }
  return undefined;
}

/** The name in an ELF64 (little-endian) object's ".modname" section. */
function elfModuleName(elf: Buffer): string | undefined {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) return undefined;
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const shstrndx = elf.readUInt16LE(0x3e);
  if (shentsize < 64 || shstrndx >= shnum || shoff + shnum * shentsize > elf.length) return undefined;
  const sh = (i: number) => {
    const o = shoff + i * shentsize;
    return { name: elf.readUInt32LE(o), offset: Number(elf.readBigUInt64LE(o + 24)), size: Number(elf.readBigUInt64LE(o + 32)) };
  };
  const names = sh(shstrndx);
  for (let i = 0; i < shnum; i++) {
    const s = sh(i);
    if (names.offset + s.name >= elf.length) continue;
    if (cString(elf.subarray(names.offset + s.name)) !== '.modname') continue;
    if (s.offset + s.size > elf.length) return undefined;
    return cString(elf.subarray(s.offset, s.offset + s.size));
  }
  return undefined;
}

function cString(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.toString('utf8', 0, nul < 0 ? b.length : nul);
}
