// A standalone boot program given as the image (memtest86+, iPXE, a firmware updater, a PXE
// tool): what it is, which firmware it runs on, and what the technician will see on the
// machine's screen, read from its bytes. A program for the other firmware is refused at DHCP
// with why, instead of the machine's "Exec format error"; a loader that cannot run without the
// folder around it (pxelinux.0, syslinux.efi, a GRUB, a shim) is served with that folder.
import { promises as fsp } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { FirstStageFirmware } from '../boot/boot-plan.js';
import { DiskFileSource } from '../files/published.js';
import { parseEfiProgram, sourceReader } from './efi-signature.js';
import { identifyLoader, type LoaderKind } from './netboot-loaders.js';
import { folderTree } from './tree.js';

export interface ProgramFacts {
  /** "memtest86+ (a memory test)", "iPXE", "an EFI program". */
  what: string;
  /** The firmware it runs on; undefined when its bytes do not say. */
  runsOn?: FirstStageFirmware[];
  /** What the machine's screen shows once it runs. */
  onScreen: string;
  /** A loader that reads its modules and menus from beside it: serve its folder instead. */
  needsFolder?: { kind: LoaderKind; folder: string; firmware: FirstStageFirmware };
}

const HEAD = 512 * 1024;
const FOLDER_LOADERS: ReadonlySet<LoaderKind> = new Set(['pxelinux', 'lpxelinux', 'syslinux-efi', 'grub', 'shim']);
const NOTHING_MORE = "it fetches nothing more from PXE Kit, so PXE Kit's part ends when it is delivered";

async function head(path: string): Promise<Buffer> {
  const fh = await fsp.open(path, 'r');
  try {
    const buf = Buffer.alloc(HEAD);
    const { bytesRead } = await fh.read(buf, 0, HEAD, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

async function peMachine(path: string): Promise<FirstStageFirmware | undefined> {
  const src = await DiskFileSource.open(path);
  try {
    const info = await parseEfiProgram(sourceReader(src), src.size).catch(() => undefined);
    return info && info.subsystem === 10 ? (['x64', 'ia32', 'arm64'] as const).find((m) => m === info.machine) : undefined;
  } finally {
    await src.close();
  }
}

/** What a program image is, from its bytes; `kind` is what identify.ts said (kernel, efi, pxe). */
export async function programFacts(path: string, kind: 'kernel' | 'efi' | 'pxe'): Promise<ProgramFacts | undefined> {
  const b = await head(path);
  const pe = b.subarray(0, 2).toString('latin1') === 'MZ' ? await peMachine(path) : undefined;
  if (/memtest86/i.test(b.toString('latin1'))) {
    // memtest86+ 6 ships a BIOS image (x86 boot header only) and an EFI one (with a PE header).
    return {
      what: 'memtest86+ (a memory test)',
      runsOn: pe ? [pe] : ['bios'],
      onScreen: `the memtest86+ test screen, counting passes; ${NOTHING_MORE}`,
    };
  }
  if (kind === 'kernel') return undefined; // a Linux kernel: its own recipe
  const loader = await identifyLoader(folderTree(dirname(path)), { name: basename(path), path: basename(path), type: 'file', size: (await fsp.stat(path)).size });
  if (loader && FOLDER_LOADERS.has(loader.kind)) {
    return { what: loader.what, runsOn: [loader.firmware], onScreen: 'its menu, read from the folder beside it', needsFolder: { kind: loader.kind, folder: dirname(path), firmware: loader.firmware } };
  }
  if (loader?.kind === 'ipxe' || /ipxe|undionly|snponly/i.test(basename(path))) {
    return { what: 'iPXE', runsOn: kind === 'pxe' ? ['bios'] : pe ? [pe] : undefined, onScreen: "iPXE's messages, then whatever its built-in script does" };
  }
  if (kind === 'efi') return { what: 'an EFI program', runsOn: pe ? [pe] : undefined, onScreen: `whatever the program shows; ${NOTHING_MORE}` };
  return { what: 'a PXE program', runsOn: ['bios'], onScreen: `whatever the program shows; ${NOTHING_MORE}` };
}

export const RUNS_ON_WORDS: Record<FirstStageFirmware, string> = { bios: 'BIOS', x64: 'UEFI x64', ia32: 'UEFI ia32', arm64: 'UEFI ARM64' };
