// A netboot folder (or an archive of one) as an image: the tree is served read-only as the
// machine's TFTP and HTTP root, as dnsmasq's --tftp-root serves it, and DHCP hands each machine
// the tree's own first stage for its firmware (pxelinux.0, a shim + GRUB, syslinux.efi...).
// What PXE Kit adds over a plain TFTP root: it reads the tree's menus, so a machine's session
// shows the kernel and initrd it fetches, is handed off when an entry's files are delivered,
// and a missing file is named with the menu that named it; and the loaders' searches for
// per-machine configurations are known as the normal probes they are.
import { basename } from 'node:path';
import { promises as fsp } from 'node:fs';
import type { PublishedFile } from '../files/published.js';
import type { PlanFile, PlanFirmware } from '../boot/boot-plan.js';
import { folderTree, type ImageTree } from './tree.js';
import { chooseLoaders, FIRMWARE_WORDS, identifyLoader, LOADER_FIRMWARES, scanLoaders, type LoaderFirmware, type LoaderScan, type NetbootLoader } from './netboot-loaders.js';
import { findIndexed, indexFolder, openIndexed, type FolderIndex } from './netboot-index.js';
import { readGrubMenus, readSyslinuxMenus, type MenuEntry, type MenuReading } from './netboot-menus.js';
import { archiveFormat, unpackArchive } from './netboot-archive.js';
import type { FileRole } from '../files/roles.js';

/** Loaders given by the technician (`--boot-file bios=PATH,uefi=PATH`), tree-relative. */
export type BootFileChoice = Partial<Record<LoaderFirmware, string>>;

/** Per-machine configurations read per loader: beyond this many, the rest are read when asked for. */
const PER_MACHINE_CONFIGS_MAX = 256;

export interface NetbootReading {
  /** The loader's menus as a machine without its own configuration reads them. */
  common: MenuReading;
  /** Per-machine configurations ("01-52-54-00-12-34-56" -> what it names). */
  perMac: Map<string, MenuReading>;
}

export interface OpenedNetboot {
  /** The folder served (an archive's unpacked folder). */
  root: string;
  /** The archive it came from, when it was one. */
  archive?: string;
  index: FolderIndex;
  scan: LoaderScan;
  loaders: Partial<Record<LoaderFirmware, NetbootLoader>>;
  /** What each firmware's loader reads, by firmware. */
  readings: Partial<Record<LoaderFirmware, NetbootReading>>;
  /** Plain words: links out of the tree, menus naming missing files, firmware with no loader. */
  notes: string[];
}

const MISSING_WORDS: Record<string, string> = { config: 'the configuration', support: "the loader's module", program: 'the program', kernel: 'the kernel', initrd: 'the initrd' };

/** Where each kind of loader looks for configurations, and its per-machine names. */
function configSearch(l: NetbootLoader): { dir: string; perMac: (name: string) => string | undefined } | undefined {
  const dir = l.path.includes('/') ? l.path.slice(0, l.path.lastIndexOf('/')) : '';
  if (l.kind === 'pxelinux' || l.kind === 'lpxelinux' || l.kind === 'syslinux-efi') {
    const cfgDir = dir ? `${dir}/pxelinux.cfg` : 'pxelinux.cfg';
    return { dir: cfgDir, perMac: (n) => (/^01(-[0-9a-f]{2}){6}$/i.test(n) ? n.slice(3).toLowerCase() : undefined) };
  }
  if (l.kind === 'grub') {
    return { dir: l.grubPrefix ?? '', perMac: (n) => (/^grub\.cfg-01(-[0-9a-f]{2}){6}$/i.test(n) ? n.slice(12).toLowerCase() : undefined) };
  }
  return undefined;
}

async function readLoaderMenus(tree: ImageTree, l: NetbootLoader, shimGrub?: NetbootLoader): Promise<NetbootReading | undefined> {
  const target = l.kind === 'shim' ? shimGrub : l;
  if (!target) return undefined;
  const search = configSearch(target);
  if (!search) return undefined;
  const baseDir = target.path.includes('/') ? target.path.slice(0, target.path.lastIndexOf('/')) : '';
  // readSyslinuxMenus takes the configs as pxelinux names them, against its folder (baseDir); these
  // are tree-relative. Given as they are, a loader in a folder (boot/bios/pxelinux.0) had its menu
  // looked for at boot/bios/boot/bios/pxelinux.cfg/default: none found, nothing to hand off on.
  const fromBase = (c: string) => (baseDir && c.startsWith(`${baseDir}/`) ? c.slice(baseDir.length + 1) : c);
  const read = (configs: string[]) =>
    target.kind === 'grub'
      ? readGrubMenus(tree, { prefix: search.dir, start: configs.length ? configs : undefined })
      : readSyslinuxMenus(tree, { baseDir, configs: configs.map(fromBase), firmware: target.kind !== 'syslinux-efi' ? 'bios' : target.firmware === 'ia32' ? 'efi32' : 'efi64' });
  const defaultConfig = target.kind === 'grub' ? `${search.dir ? `${search.dir}/` : ''}grub.cfg` : `${search.dir}/default`;
  const common = await read(target.kind === 'grub' ? [] : [defaultConfig]);
  const perMac = new Map<string, MenuReading>();
  for (const e of await tree.list(search.dir)) {
    if (perMac.size >= PER_MACHINE_CONFIGS_MAX) break;
    const mac = e.type === 'file' ? search.perMac(e.name) : undefined;
    if (mac) perMac.set(mac.replace(/-/g, ':'), await read([e.path]));
  }
  return { common, perMac };
}

/** Opens a folder (or unpacks an archive into the data dir) and finds its loaders and menus. */
export async function openNetboot(path: string, o: { bootFiles?: BootFileChoice; dataDir?: string } = {}): Promise<OpenedNetboot> {
  const st = await fsp.stat(path).catch(() => undefined);
  if (!st) throw new Error(`no such file or folder: ${path}`);
  let root = path;
  let archive: string | undefined;
  const notes: string[] = [];
  if (!st.isDirectory()) {
    if (!(await archiveFormat(path))) throw new Error(`${path} is not a folder or a .tar.gz/.zip archive of one`);
    if (!o.dataDir) throw new Error(`${path} is an archive: PXE Kit needs its data folder to unpack it into`);
    const u = await unpackArchive(path, o.dataDir);
    root = u.dir;
    archive = path;
    for (const s of u.skipped.slice(0, 5)) notes.push(`${s.path} in the archive was not unpacked: ${s.why}`);
    if (u.skipped.length > 5) notes.push(`${u.skipped.length - 5} more entries of the archive were not unpacked`);
  }
  const index = await indexFolder(root);
  const tree = folderTree(root);
  const scan = await scanLoaders(tree);
  if (scan.truncated) notes.push(`only the first ${scan.scanned.toLocaleString('en')} entries near the top were searched for boot loaders`);
  const loaders = chooseLoaders(scan.loaders);
  for (const [fw, given] of Object.entries(o.bootFiles ?? {}) as [LoaderFirmware, string][]) {
    const f = findIndexed(index, given.replace(/\\/g, '/').replace(/^\/+/, ''));
    if (!f) throw new Error(`--boot-file ${fw}=${given}: there is no such file in ${root}`);
    const st2 = await tree.stat(f.path);
    const l = st2 && (await identifyLoader(tree, st2));
    if (!l) throw new Error(`--boot-file ${fw}=${given}: ${f.path} is not a PXE or EFI boot program`);
    if (l.firmware !== fw) throw new Error(`--boot-file ${fw}=${given}: ${f.path} is ${l.what} for ${FIRMWARE_WORDS[l.firmware]}, not for ${FIRMWARE_WORDS[fw]}`);
    if (l.kind === 'shim') l.secondStage = scan.loaders.find((g) => g.kind === 'grub' && g.firmware === fw && g.path.replace(/[^/]*$/, '') === l.path.replace(/[^/]*$/, ''))?.path;
    loaders[fw] = l;
  }
  const readings: Partial<Record<LoaderFirmware, NetbootReading>> = {};
  for (const fw of LOADER_FIRMWARES) {
    const l = loaders[fw];
    if (!l) continue;
    const grub = l.kind === 'shim' ? scan.loaders.find((g) => g.path === l.secondStage) : undefined;
    const r = await readLoaderMenus(tree, l, grub);
    if (r) readings[fw] = r;
  }
  for (const fw of LOADER_FIRMWARES) {
    const r = readings[fw];
    for (const reading of r ? [r.common, ...r.perMac.values()] : []) {
      for (const m of reading.missing) notes.push(`${m.from} names ${MISSING_WORDS[m.role] ?? `the ${m.role}`} ${m.path}, which is not in the folder`);
      for (const n of reading.notes) notes.push(n);
    }
  }
  if (index.outside.length) notes.push(`${index.outside.length} link${index.outside.length > 1 ? 's lead' : ' leads'} out of the folder and ${index.outside.length > 1 ? 'are' : 'is'} not served (${index.outside.slice(0, 3).join(', ')})`);
  if (!Object.keys(loaders).length) {
    throw new Error(
      `${path} holds no network boot loader PXE Kit recognises (pxelinux.0, lpxelinux.0, a GRUB EFI with tftp, syslinux.efi, a shim beside a GRUB, iPXE, a PXE or EFI program): give one with --boot-file bios=PATH,uefi=PATH, or serve the ISO or kernel itself`,
    );
  }
  return { root, archive, index, scan, loaders, readings, notes: [...new Set(notes)] };
}

/**
 * Does this folder look like a netboot tree (a network loader near its top)? An unpacked ISO has
 * none: its EFI/BOOT/BOOTX64.EFI is an "EFI program", and an unpacked Windows ISO's bootmgfw.efi
 * is no WDS tree without the BIOS PXE program (pxeboot.n12, wdsnbp.com) beside it.
 */
export async function isNetbootFolder(path: string): Promise<boolean> {
  // Loaders of unknown programs (a "tool.0", an EFI application) make no netboot folder: --boot-file says so.
  const chosen = Object.values(chooseLoaders((await scanLoaders(folderTree(path))).loaders));
  return chosen.some((l) => l!.kind !== 'efi-program' && l!.kind !== 'pxe-program' && (l!.kind !== 'wds' || l!.firmware === 'bios'));
}

/** An archive given as an image is a netboot tree once unpacked. */
export async function isNetbootArchive(path: string): Promise<boolean> {
  return !!(await archiveFormat(path).catch(() => undefined));
}

const firmwareOf = (fw: LoaderFirmware): PlanFirmware => (fw === 'bios' ? 'bios' : 'uefi');

/** The files one menu entry makes the machine fetch. */
export function entryFiles(e: MenuEntry): string[] {
  return [e.kernel ?? e.program, ...e.initrds].filter((p): p is string => !!p);
}

function defaultEntry(r: MenuReading): MenuEntry | undefined {
  return r.entries.find((e) => e.isDefault && entryFiles(e).length) ?? r.entries.find((e) => entryFiles(e).length);
}

export interface NetbootMachinePlan {
  /** What the machine fetches unattended (its configuration's default entry), per firmware. */
  payload: PlanFile[];
  /** Any one of these delivered is the hand-off (the technician may pick another menu entry). */
  entries: { firmware: PlanFirmware; files: string[] }[];
}

/** What a machine with this MAC fetches from the tree, from its own configuration or the common one. */
export function netbootMachinePlan(nb: OpenedNetboot, mac: string): NetbootMachinePlan {
  const payload: PlanFile[] = [];
  const entries: NetbootMachinePlan['entries'] = [];
  for (const fw of LOADER_FIRMWARES) {
    const l = nb.loaders[fw];
    if (!l) continue;
    const firmware = firmwareOf(fw);
    const r = nb.readings[fw];
    const reading = r?.perMac.get(mac.toLowerCase()) ?? r?.common;
    const def = reading && defaultEntry(reading);
    if (def) for (const p of entryFiles(def)) payload.push({ path: p, role: roleIn(def, p), firmware });
    for (const e of reading?.entries ?? []) if (entryFiles(e).length) entries.push({ firmware, files: entryFiles(e) });
    // A loader with nothing to read after it (iPXE, a Windows or other program): delivering it is the hand-off.
    if (!reading) {
      payload.push({ path: l.path, role: 'payload', firmware });
      entries.push({ firmware, files: [l.path] });
    }
  }
  return { payload, entries };
}

function roleIn(e: MenuEntry, p: string): FileRole {
  if (p === e.kernel) return 'kernel';
  if (e.initrds.includes(p)) return 'initrd';
  return 'payload';
}

/** Roles of the tree's files for the log and the session: loaders, menus and what they name. */
export function netbootRoles(nb: OpenedNetboot): Map<string, FileRole> {
  const roles = new Map<string, FileRole>();
  const set = (p: string, role: FileRole) => {
    if (!roles.has(p.toLowerCase())) roles.set(p.toLowerCase(), role);
  };
  for (const l of Object.values(nb.loaders)) {
    set(l!.path, 'boot program');
    if (l!.secondStage) set(l!.secondStage, 'boot program');
  }
  for (const r of Object.values(nb.readings)) {
    for (const m of [r!.common, ...r!.perMac.values()]) {
      for (const c of m.configs) set(c, 'boot script');
      for (const s of m.support) set(s, 'boot program');
      for (const e of m.entries) for (const p of entryFiles(e)) set(p, roleIn(e, p));
    }
  }
  return roles;
}

/** "named as the kernel of "Install" in pxelinux.cfg/default", for a file a menu names; undefined otherwise. */
export function namedBy(nb: OpenedNetboot, path: string): string | undefined {
  const want = path.replace(/^\/+/, '').toLowerCase();
  for (const r of Object.values(nb.readings)) {
    for (const m of [r!.common, ...r!.perMac.values()]) {
      for (const e of m.entries) {
        for (const p of entryFiles(e)) if (p.toLowerCase() === want) return `named as the ${roleIn(e, p)} of "${e.label}" in ${e.source}`;
      }
      const miss = m.missing.find((x) => x.path.toLowerCase() === want);
      if (miss) return `named as ${MISSING_WORDS[miss.role] ?? `the ${miss.role}`} in ${miss.from}`;
    }
  }
  return undefined;
}

/** The published file for a tree-relative request, or undefined; one object per file (HTTP shares an open source per object). */
export function netbootResolver(nb: OpenedNetboot, roles: Map<string, FileRole>): (path: string) => PublishedFile | undefined {
  const made = new Map<string, PublishedFile>();
  return (path) => {
    const f = findIndexed(nb.index, path);
    if (!f) return undefined;
    let pf = made.get(f.path);
    if (!pf) {
      pf = {
        path: f.path,
        role: roles.get(f.path.toLowerCase()) ?? 'image file',
        size: async () => (await fsp.stat(f.real)).size,
        open: () => openIndexed(nb.index, f),
      };
      made.set(f.path, pf);
    }
    return pf;
  };
}

/**
 * The loaders' searches for a per-machine configuration (pxelinux: UUID, 01-MAC, the address
 * in hex from 8 digits down to 1; GRUB: grub.cfg-01-MAC and the address in hex) and GRUB's
 * module lists: misses there are how they work, never a failure.
 */
export const NETBOOT_PROBES: { key: string; pattern: RegExp; why: string }[] = [
  {
    key: 'pxelinux-config',
    pattern: /(^|\/)pxelinux\.cfg\/(01(-[0-9a-f]{2}){6}|[0-9a-f]{1,8}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i,
    why: 'pxelinux looks for a configuration of this machine (its UUID, MAC, then its address in hex) before pxelinux.cfg/default',
  },
  // GRUB (2.06) tries grub.cfg-<UUID> first when it knows the machine's UUID: chained by PXE Kit's
  // iPXE menu it does (the lab's QEMU asks for grub.cfg-00000000-0000-0000-0000-000000000000);
  // started by OVMF's own PXE it did not.
  {
    key: 'grub-config',
    pattern: /(^|\/)grub\.cfg-(01(-[0-9a-f]{2}){6}|[0-9a-f]{1,8}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i,
    why: 'GRUB looks for a configuration of this machine (its UUID, its MAC, then its address in hex) before grub.cfg',
  },
  { key: 'grub-lists', pattern: /(^|\/)(x86_64|i386|arm64)-efi\/[^/]+\.lst$/i, why: 'GRUB looks for its module lists; the modules it needs are built in' },
];

/** One line per firmware: what it gets and what it reads next. */
export function loaderLines(nb: OpenedNetboot): string[] {
  const lines: string[] = [];
  for (const fw of LOADER_FIRMWARES) {
    const l = nb.loaders[fw];
    if (!l) {
      lines.push(`${FIRMWARE_WORDS[fw].padEnd(11)} nothing: the folder has no loader for it`);
      continue;
    }
    const second = l.secondStage ? `, then ${l.secondStage}` : '';
    const r = nb.readings[fw];
    const def = r && defaultEntry(r.common);
    const then = def ? `; boots "${def.label}" (${entryFiles(def).join(' + ')})` : r ? '; its menu names nothing to boot' : '';
    const perMac = r?.perMac.size ? `; ${r.perMac.size} machine${r.perMac.size > 1 ? 's have' : ' has'} its own configuration` : '';
    lines.push(`${FIRMWARE_WORDS[fw].padEnd(11)} ${l.path} (${l.what}${second})${then}${perMac}`);
  }
  return lines;
}

export function netbootDescription(nb: OpenedNetboot): string {
  const name = basename(nb.archive ?? nb.root);
  const parts = LOADER_FIRMWARES.filter((fw) => nb.loaders[fw]).map((fw) => `${nb.loaders[fw]!.kind} for ${FIRMWARE_WORDS[fw]}`);
  return `netboot ${nb.archive ? 'archive' : 'folder'} ${name} (${parts.join(', ')})`;
}

/**
 * Secure Boot as the tree is served: its own x64 loader runs first, so only a signed shim (with
 * the GRUB it trusts beside it) starts with Secure Boot on. The kernels its menus name are then
 * the shim's business; that is not checked here.
 */
export function netbootSecureBoot(nb: OpenedNetboot): { verdict: 'boots' | 'needs-secure-boot-off'; reason: string } {
  const l = nb.loaders.x64;
  if (!l) return { verdict: 'needs-secure-boot-off', reason: 'the folder has no UEFI x64 loader: it boots BIOS machines (or other firmware) only' };
  if (l.kind === 'shim' && /signed/.test(l.what)) return { verdict: 'boots', reason: `the folder's own signed shim (${l.path}) starts ${l.secondStage ?? 'its GRUB'}; the kernels it loads must be signed by the same vendor` };
  return { verdict: 'needs-secure-boot-off', reason: `the folder's UEFI loader ${l.path} (${l.what}) is not a signed shim: switch Secure Boot off on the machines` };
}
