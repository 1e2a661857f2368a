// The first-stage programs a netboot tree holds (a distribution's netboot archive, a rescue
// tool's folder, a WDS-style Boot\ tree), found by what they are, not by what they are called:
// the name only says where to look; the bytes say whether a file is pxelinux, a GRUB with a
// network stack, syslinux.efi, a shim, iPXE or some other PXE or EFI program, and for which
// firmware. DHCP then hands each machine the tree's own loader for its firmware, as dnsmasq
// with --tftp-root does, instead of PXE Kit's iPXE.
import type { ArchFamily } from '../boot/client.js';
import type { ByteSource } from '../files/published.js';
import { parseEfiProgram, sourceReader } from './efi-signature.js';
import { parseGrubImage } from './grub-image.js';
import { PXE_EXTENSIONS, PXE_MAX_SIZE } from './identify.js';
import type { ImageTree, TreeEntry } from './tree.js';

/** The firmware families a tree can carry loaders for (HTTP boot and iPXE are handled by the policy). */
export type LoaderFirmware = Extract<ArchFamily, 'bios' | 'x64' | 'ia32' | 'arm64'>;
export const LOADER_FIRMWARES: readonly LoaderFirmware[] = ['bios', 'x64', 'ia32', 'arm64'];

export type LoaderKind = 'pxelinux' | 'lpxelinux' | 'syslinux-efi' | 'grub' | 'shim' | 'ipxe' | 'wds' | 'pxe-program' | 'efi-program';

export interface NetbootLoader {
  firmware: LoaderFirmware;
  kind: LoaderKind;
  /** Tree-relative path, as the tree spells it. */
  path: string;
  size: number;
  /** What it is, in words: "pxelinux (syslinux 6.04)", "GRUB with tftp (prefix /grub)". */
  what: string;
  /** GRUB: the tree-relative directory it reads grub.cfg from ('' = the root). */
  grubPrefix?: string;
  /** shim: the second stage it loads from its own directory, when the tree has it. */
  secondStage?: string;
}

export interface LoaderScan {
  loaders: NetbootLoader[];
  /** Entries looked at; the search stops at SCAN_MAX_ENTRIES (a tree of tools and ISOs is not walked to the end). */
  scanned: number;
  truncated: boolean;
}

/** Loaders sit near the top of a tree: Debian's at debian-installer/amd64/, WDS's at Boot/x64/. */
const SCAN_MAX_DEPTH = 4;
export const SCAN_MAX_ENTRIES = 20_000;
const HEAD = 256 * 1024;
/** iPXE's EFI builds say "iPXE" far into the file (Debian's ipxe.efi at ~520 KB): EFI programs are read this far. */
const EFI_STRINGS = 2 * 1024 * 1024;
/** Debian's BIOS iPXE builds are compressed (no "iPXE" inside): their usual names say it. */
const IPXE_BIOS_NAMES = /^(undionly|ipxe|snponly)\.(kpxe|kkpxe|pxe|kkkpxe)$/i;
/** Windows Deployment Services' BIOS programs (pxeboot.n12, wdsnbp.com...); other .com files (etfsboot.com, a CD boot sector) are not PXE programs. */
const WDS_BIOS_NAMES = /^(pxeboot\.(n12|com|0)|wdsnbp\.(com|0)|abortpxe\.com)$/i;

/** Which loader a firmware gets when a tree holds several: a shim (boots with Secure Boot on or off) first. */
const PREFERENCE: Record<LoaderKind, number> = {
  shim: 0,
  pxelinux: 1,
  grub: 2,
  'syslinux-efi': 3,
  lpxelinux: 4,
  wds: 5,
  ipxe: 6,
  'pxe-program': 7,
  'efi-program': 8,
};

function contains(b: Buffer, s: string): boolean {
  return b.includes(Buffer.from(s, 'latin1'));
}

async function readHead(src: ByteSource, n: number): Promise<Buffer> {
  const buf = Buffer.alloc(Math.min(n, src.size));
  let off = 0;
  while (off < buf.length) {
    const r = await src.read(buf, off, buf.length - off, off);
    if (r <= 0) break;
    off += r;
  }
  return buf.subarray(0, off);
}

/** A GRUB prefix as a tree-relative directory: "(tftp)/grub" -> "grub", "/debian-installer/amd64/grub" -> "debian-installer/amd64/grub". */
export function treePrefix(prefix: string | undefined, loaderDir: string): string {
  if (!prefix) return loaderDir; // no prefix built in: GRUB reads from the directory it was loaded from
  const p = prefix.replace(/^\([^)]*\)/, '').replace(/\\/g, '/');
  return p.split('/').filter((s) => s && s !== '.').join('/');
}

function dirOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

/** What one file is, as a first stage; undefined when it is not one. */
export async function identifyLoader(tree: ImageTree, e: TreeEntry): Promise<NetbootLoader | undefined> {
  const name = e.name.toLowerCase();
  const ext = name.includes('.') ? name.slice(name.lastIndexOf('.')) : '';
  const isEfiName = ext === '.efi';
  const isPxeName = PXE_EXTENSIONS.has(ext);
  if (!isEfiName && !isPxeName) return undefined;
  if (e.size < 512) return undefined;
  const src = await tree.openFile(e.path).catch(() => undefined);
  if (!src) return undefined;
  try {
    if (isEfiName) {
      const info = await parseEfiProgram(sourceReader(src), src.size).catch(() => undefined);
      if (!info || info.subsystem !== 10) return undefined;
      const firmware = (['x64', 'ia32', 'arm64'] as const).find((m) => m === info.machine);
      if (!firmware) return undefined;
      const base = { firmware, path: e.path, size: e.size };
      const grub = await parseGrubImage(sourceReader(src), src.size).catch(() => undefined);
      if (grub) {
        const prefix = treePrefix(grub.prefix, dirOf(e.path));
        if (!grub.netBoot) return { ...base, kind: 'efi-program', what: `GRUB without a network protocol (it cannot read from the network; prefix ${grub.prefix ?? 'none'})` };
        return { ...base, kind: 'grub', grubPrefix: prefix, what: `GRUB with ${grub.modules.includes('http') ? 'tftp and http' : 'tftp'} (reads ${prefix ? `${prefix}/` : ''}grub.cfg)` };
      }
      if (info.vendorCerts.length || info.sections.includes('.vendor_cert')) {
        return { ...base, kind: 'shim', what: `shim${info.signatures.length ? ' (signed)' : ''}: loads grub${firmware === 'x64' ? 'x64' : firmware === 'ia32' ? 'ia32' : 'aa64'}.efi from its own folder` };
      }
      const head = await readHead(src, EFI_STRINGS);
      if (contains(head, 'SYSLINUX') || contains(head, 'ldlinux.e64') || contains(head, 'ldlinux.e32')) return { ...base, kind: 'syslinux-efi', what: 'syslinux.efi (reads pxelinux.cfg/)' };
      if (contains(head, 'iPXE') || contains(head, 'ipxe.org')) return { ...base, kind: 'ipxe', what: 'iPXE' };
      if (/^(bootmgfw|wdsmgfw)\.efi$/.test(name)) return { ...base, kind: 'wds', what: 'Windows boot manager' };
      return { ...base, kind: 'efi-program', what: 'an EFI program' };
    }
    // PXE programs have no magic: a size a PXE ROM can load, and what their bytes say.
    if (e.size > PXE_MAX_SIZE) return undefined;
    const head = await readHead(src, HEAD);
    if (head[0] === 0x7f || head.subarray(0, 2).toString('latin1') === 'MZ') return undefined;
    const base = { firmware: 'bios' as const, path: e.path, size: e.size };
    if (contains(head, 'PXELINUX') || contains(head, 'pxelinux')) {
      const http = name.startsWith('lpxelinux') || contains(head, 'lwIP');
      return { ...base, kind: http ? 'lpxelinux' : 'pxelinux', what: http ? 'lpxelinux (pxelinux with HTTP)' : 'pxelinux (reads pxelinux.cfg/)' };
    }
    if (contains(head, 'iPXE') || IPXE_BIOS_NAMES.test(name)) return { ...base, kind: 'ipxe', what: 'iPXE for BIOS' };
    if (WDS_BIOS_NAMES.test(name)) return { ...base, kind: 'wds', what: 'Windows PXE boot program' };
    if (ext === '.com') return undefined;
    return { ...base, kind: 'pxe-program', what: 'a PXE program' };
  } finally {
    await src.close();
  }
}

/** Every first stage near the top of the tree, bounded (see SCAN_MAX_ENTRIES). */
export async function scanLoaders(tree: ImageTree): Promise<LoaderScan> {
  const loaders: NetbootLoader[] = [];
  let scanned = 0;
  let truncated = false;
  const queue: { dir: string; depth: number }[] = [{ dir: '', depth: 0 }];
  while (queue.length) {
    const { dir, depth } = queue.shift()!;
    const list = await tree.list(dir);
    for (const e of list) {
      if (++scanned > SCAN_MAX_ENTRIES) {
        truncated = true;
        return { loaders, scanned: scanned - 1, truncated };
      }
      if (e.type === 'directory' && depth + 1 < SCAN_MAX_DEPTH) queue.push({ dir: e.path, depth: depth + 1 });
      else if (e.type === 'file') {
        const l = await identifyLoader(tree, e);
        if (l) loaders.push(l);
      }
    }
  }
  // A shim boots the GRUB beside it: name it.
  for (const l of loaders) {
    if (l.kind !== 'shim') continue;
    const grub = loaders.find((g) => g.kind === 'grub' && g.firmware === l.firmware && dirOf(g.path) === dirOf(l.path));
    if (grub) l.secondStage = grub.path;
  }
  return { loaders, scanned, truncated };
}

/** The loader each firmware gets: the given one, else the preferred kind, nearest the root. A shim without its GRUB is passed over. */
export function chooseLoaders(loaders: NetbootLoader[]): Partial<Record<LoaderFirmware, NetbootLoader>> {
  const out: Partial<Record<LoaderFirmware, NetbootLoader>> = {};
  for (const fw of LOADER_FIRMWARES) {
    const usable = loaders.filter((l) => l.firmware === fw && (l.kind !== 'shim' || l.secondStage) && !(l.kind === 'efi-program' && /GRUB without/.test(l.what)));
    usable.sort((a, b) => PREFERENCE[a.kind] - PREFERENCE[b.kind] || a.path.split('/').length - b.path.split('/').length || a.path.localeCompare(b.path));
    if (usable[0]) out[fw] = usable[0];
  }
  return out;
}

export const FIRMWARE_WORDS: Record<LoaderFirmware, string> = { bios: 'BIOS', x64: 'UEFI x64', ia32: 'UEFI ia32', arm64: 'UEFI ARM64' };
