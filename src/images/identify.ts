// What a file IS, from its content, before PXE Kit offers to serve it: an ISO (ISO 9660 or
// UDF), a Linux kernel (a bzImage with the x86 boot header "HdrS", or a PE/arm64/RISC-V
// Image with the Linux EFI stub), an iPXE script, an EFI program, a PXE program (no magic:
// its extension and a size a PXE ROM can load), a Windows WIM. Anything else is refused
// with what it looks like, in words a technician knows ("random data", "a text file").
import { promises as fsp } from 'node:fs';
import { extname } from 'node:path';

/** 'netboot': an archive of a netboot folder (src/images/netboot-archive.ts); identifyBytes never says it, the archive check does. */
export type ServableKind = 'iso' | 'kernel' | 'ipxe-script' | 'efi' | 'pxe' | 'netboot';

export type Identity =
  | { ok: true; kind: ServableKind; what: string }
  /** `what` is what it looks like ("a text file"); `reason` the whole refusal with the fix. */
  | { ok: false; what: string; reason: string };

export const PXE_EXTENSIONS = new Set(['.pxe', '.kpxe', '.kkpxe', '.0', '.com', '.n12']);
/** A PXE program is loaded below 640 KiB by the PXE ROM (at 0x7c00): anything bigger cannot be one. */
export const PXE_MAX_SIZE = 512 * 1024;
const PXE_MIN_SIZE = 1024;
const HEAD = 64 * 1024;
const WHAT_SERVES = 'PXE Kit serves ISO images, Linux kernels (vmlinuz), iPXE scripts, EFI programs and PXE programs';

const SUBSYSTEMS: Record<number, string> = { 2: 'a Windows program (.exe)', 3: 'a Windows console program (.exe)', 10: 'EFI', 11: 'EFI', 12: 'EFI', 13: 'EFI' };

function ascii(b: Buffer, at: number, len: number): string {
  return b.length >= at + len ? b.toString('latin1', at, at + len) : '';
}

/** The PE header offset of an "MZ" ... "PE\0\0" file, else undefined. */
function peOffset(b: Buffer): number | undefined {
  if (b.length < 0x40 || ascii(b, 0, 2) !== 'MZ') return undefined;
  const off = b.readUInt32LE(0x3c);
  return off + 0x5e <= b.length && ascii(b, off, 4) === 'PE\0\0' ? off : undefined;
}

/** The PE's subsystem (10 = EFI application), from the optional header. */
function peSubsystem(b: Buffer, off: number): number | undefined {
  const opt = off + 24;
  if (opt + 0x46 > b.length) return undefined;
  return b.readUInt16LE(opt + 0x44); // same offset in PE32 and PE32+
}

/** Shannon entropy in bits per byte. */
function entropy(b: Buffer): number {
  if (!b.length) return 0;
  const counts = new Array<number>(256).fill(0);
  for (const x of b) counts[x]++;
  let h = 0;
  for (const c of counts) {
    if (!c) continue;
    const p = c / b.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/** Mostly printable text (UTF-8 or Latin-1), no NULs. */
function isText(b: Buffer): boolean {
  if (!b.length) return false;
  let printable = 0;
  for (const x of b) {
    if (x === 0) return false;
    if (x === 9 || x === 10 || x === 13 || (x >= 32 && x < 127) || x >= 0x80) printable++;
  }
  return printable / b.length > 0.97;
}

/** What a file that is not a boot image looks like, from its first bytes; `advice` says what to do with it, when there is something. */
export function looksLike(head: Buffer, size: number): { what: string; advice?: string } {
  if (size === 0) return { what: 'an empty file' };
  const m = (s: string, at = 0) => ascii(head, at, s.length) === s;
  const bom = m('\xef\xbb\xbf') ? 3 : 0;
  const text = head.subarray(bom, 512).toString('utf8').trimStart().toLowerCase();
  if (m('MSWIM\0\0\0')) return { what: 'a Windows image (WIM)', advice: 'a WIM boots only with the rest of Windows setup: add the Windows ISO it came from' };
  if (m('PK\x03\x04') || m('PK\x05\x06')) return { what: 'a zip archive', advice: 'unpack it and pick the ISO or kernel inside' };
  if (m('\x1f\x8b')) return { what: 'a gzip-compressed file', advice: 'an initrd goes with a kernel; a compressed kernel must be unpacked first' };
  if (m('\xfd7zXZ\0')) return { what: 'an xz-compressed file', advice: 'unpack it first (an initrd goes with a kernel)' };
  if (m('\x28\xb5\x2f\xfd')) return { what: 'a zstd-compressed file', advice: 'unpack it first (an initrd goes with a kernel)' };
  if (m('BZh')) return { what: 'a bzip2-compressed file', advice: 'unpack it first' };
  if (m("7z\xbc\xaf'\x1c")) return { what: 'a 7-Zip archive', advice: 'unpack it and pick the ISO or kernel inside' };
  if (m('Rar!')) return { what: 'a RAR archive', advice: 'unpack it and pick the ISO or kernel inside' };
  if (m('070701') || m('070702') || m('070707')) return { what: 'an initramfs (cpio archive)', advice: 'add it as the initrd of its kernel' };
  if (m('ustar', 257)) return { what: 'a tar archive', advice: 'unpack it and pick the ISO or kernel inside' };
  if (m('\x7fELF')) return { what: 'a Linux program (ELF)', advice: 'an uncompressed vmlinux cannot be network-booted: use the vmlinuz next to it' };
  if (m('%PDF')) return { what: 'a PDF document' };
  if (m('\x89PNG')) return { what: 'a PNG picture' };
  if (m('\xff\xd8\xff')) return { what: 'a JPEG picture' };
  if (m('GIF8')) return { what: 'a GIF picture' };
  if (m('QFI\xfb')) return { what: 'a virtual machine disk (qcow2)', advice: 'PXE Kit serves installer ISOs, not disk images' };
  if (m('KDMV') || m('conectix')) return { what: 'a virtual machine disk', advice: 'PXE Kit serves installer ISOs, not disk images' };
  if (m('hsqs')) return { what: 'a squashfs file system', advice: 'serve the ISO it came from' };
  if (m('koly', Math.max(0, size - 512)) || m('x\x01s\r')) return { what: 'a macOS disk image (DMG)' };
  if (m('\xd0\xcf\x11\xe0')) return { what: 'an Office document' };
  if (text.startsWith('<!doctype html') || text.startsWith('<html') || /<html[\s>]/.test(text.slice(0, 400))) {
    return { what: 'an HTML page', advice: 'a download that failed often saves the error page: download the image again' };
  }
  if (text.startsWith('<?xml')) return { what: 'an XML file' };
  if (text.startsWith('#!')) return { what: 'a shell script', advice: 'an iPXE script must start with "#!ipxe"' };
  if (isText(head)) return { what: 'a text file', advice: 'an iPXE script must start with "#!ipxe"' };
  const pe = peOffset(head);
  if (pe !== undefined) {
    const sub = peSubsystem(head, pe);
    return { what: (sub !== undefined && SUBSYSTEMS[sub] && SUBSYSTEMS[sub] !== 'EFI' ? SUBSYSTEMS[sub] : 'a Windows program (.exe)'), advice: 'machines cannot boot Windows programs' };
  }
  if (m('MZ')) return { what: 'a DOS program' };
  if (head.length >= 512 && head[510] === 0x55 && head[511] === 0xaa) return { what: 'a disk image (MBR)', advice: 'PXE Kit serves installer ISOs, not disk images' };
  if (head.length >= 4096 && entropy(head) > 7.5) return { what: 'random data', advice: 'it is not an image (or it is encrypted or damaged): download the image again' };
  return { what: 'data PXE Kit does not recognise' };
}

/** Identifies from the bytes: `head` is the file's start (64 KiB is plenty), `sector16` the 6 bytes at 32768 (ISO/UDF). */
export function identifyBytes(head: Buffer, size: number, fileName: string, sector16?: Buffer): Identity {
  if (sector16 && sector16.length >= 6 && ['CD001', 'BEA01', 'NSR02', 'NSR03'].includes(sector16.toString('latin1', 1, 6))) {
    return { ok: true, kind: 'iso', what: sector16.toString('latin1', 1, 6) === 'CD001' ? 'an ISO image (ISO 9660)' : 'an ISO image (UDF)' };
  }
  const bom = ascii(head, 0, 3) === '\xef\xbb\xbf' ? 3 : 0;
  if (head.subarray(bom, 64).toString('latin1').trimStart().startsWith('#!ipxe')) return { ok: true, kind: 'ipxe-script', what: 'an iPXE script' };
  // x86 Linux: the boot protocol header, also in EFI-stub kernels (which are PE files too).
  if (ascii(head, 0x202, 4) === 'HdrS') return { ok: true, kind: 'kernel', what: peOffset(head) !== undefined ? 'a Linux kernel (bzImage with EFI stub)' : 'a Linux kernel (bzImage)' };
  const pe = peOffset(head);
  // arm64 "ARM\x64" / RISC-V "RSC\x05" Image headers at 0x38 (behind an MZ stub when built with the EFI stub).
  if (['ARMd', 'RSC\x05'].includes(ascii(head, 0x38, 4))) return { ok: true, kind: 'kernel', what: pe !== undefined ? 'a Linux kernel (Image with EFI stub)' : 'a Linux kernel (Image)' };
  // EFI zboot kernels (a PE that unpacks the kernel) say "zimg" at 4.
  if (pe !== undefined && ascii(head, 4, 4) === 'zimg') return { ok: true, kind: 'kernel', what: 'a Linux kernel (EFI zboot)' };
  if (pe !== undefined) {
    const sub = peSubsystem(head, pe);
    if (sub !== undefined && SUBSYSTEMS[sub] === 'EFI') return { ok: true, kind: 'efi', what: 'an EFI program' };
  }
  const ext = extname(fileName).toLowerCase();
  if (PXE_EXTENSIONS.has(ext)) {
    const like = looksLike(head, size);
    const plain = like.what === 'data PXE Kit does not recognise' || like.what === 'random data' || like.what === 'a disk image (MBR)';
    if (plain && size >= PXE_MIN_SIZE && size <= PXE_MAX_SIZE && !isText(head)) return { ok: true, kind: 'pxe', what: 'a PXE program' };
    const why = !plain ? `it is ${like.what}` : size < PXE_MIN_SIZE ? `it is only ${size} bytes` : size > PXE_MAX_SIZE ? `it is ${(size / 1048576).toFixed(1)} MB, more than a PXE ROM can load (${PXE_MAX_SIZE / 1024} KB)` : 'it is text';
    return { ok: false, what: like.what, reason: `named like a PXE program (${ext}), but ${why}. ${WHAT_SERVES}.` };
  }
  const like = looksLike(head, size);
  const advice = like.advice ? `: ${like.advice}` : '';
  if (ext === '.iso') return { ok: false, what: like.what, reason: `not an ISO 9660/UDF image: it looks like ${like.what}${advice}. ${WHAT_SERVES}.` };
  return { ok: false, what: like.what, reason: `it looks like ${like.what}, not a boot image${advice}. ${WHAT_SERVES}.` };
}

/** Reads what is needed (the start, and sector 16) and identifies the file. Throws only when it cannot be read. */
export async function identifyFile(path: string): Promise<Identity> {
  const fh = await fsp.open(path, 'r');
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { ok: false, what: 'not a regular file', reason: 'it is not a regular file' };
    const head = Buffer.alloc(Math.min(HEAD, st.size));
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    const s16 = Buffer.alloc(6);
    const r16 = st.size >= 16 * 2048 + 6 ? (await fh.read(s16, 0, 6, 16 * 2048)).bytesRead : 0;
    return identifyBytes(head.subarray(0, bytesRead), st.size, path, r16 === 6 ? s16 : undefined);
  } finally {
    await fh.close();
  }
}

/** A refusal as one sentence for errors: "garbage.iso is not an image: it looks like random data…". */
export class NotAnImage extends Error {
  constructor(
    readonly path: string,
    readonly identity: Extract<Identity, { ok: false }>,
  ) {
    super(refusal(path, identity));
    this.name = 'NotAnImage';
  }
}

/** "garbage.iso is not a usable ISO: not an ISO 9660/UDF image: it looks like random data…", "notes.txt cannot be served: it looks like a text file…". */
export function refusal(path: string, identity: Extract<Identity, { ok: false }>): string {
  return /\.iso$/i.test(path) && identity.reason.startsWith('not an ISO') ? `${path} is not a usable ISO: ${identity.reason}` : `${path} cannot be served: ${identity.reason}`;
}
