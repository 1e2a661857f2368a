// Serves an ISO (or an unpacked folder) straight from where it lies: every file of its
// tree under "iso/<id>/..." (live systems fetch their squashfs, stage2 or repository from
// there), the ISO itself as "iso/<id>.iso" (sanboot and casper read it by Range), and the
// recipe's iPXE script for each client. Nothing is extracted or copied.
import { existsSync, promises as fsp, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { bufferFile, diskFile, type PublishedFile, type PublishedFiles } from '../files/published.js';
import { winpeNoShareFiles } from './winpe-setup.js';
import { IsoSliceSource } from './slice.js';
import { httpUrl } from '../boot/ipxe-script.js';
import { packageRoot } from '../boot/ipxe-binaries.js';
import { IsoImage } from './iso/index.js';
import { MEMDISK_PATHS, planFor, type Helper, type RecipePlan, type ScriptContext } from './recipes/index.js';
import { linuxCmdline } from './recipes/common.js';
import type { LinuxBoot } from '../boot/linux-boot.js';
import type { SignedLoaders } from '../boot/signed-chain.js';
import { ipxeHandoffLine, type PlanFile } from '../boot/boot-plan.js';
import { findOwnSignedChain } from './own-chain.js';
import { currentWimboot, identifyWimboot, noWimbootWarning } from './wimboot.js';
import { defaultDataDir } from '../files/data-dir.js';
import { folderFilePath, folderTree, isoTree, type ImageTree, type TreeEntry } from './tree.js';

export interface HelperPaths {
  wimboot?: string;
  memdisk?: string;
  /** The data dir whose stored wimboot (pxekit wimboot FILE) is used; default the user's data dir unless noSearch. */
  dataDir?: string;
  /** Only the paths given: do not look in resources/, $PXEKIT_WIMBOOT, the default data dir or syslinux (tests). */
  noSearch?: boolean;
}

/**
 * wimboot from the given path (refused with the reason when it is not wimboot), $PXEKIT_WIMBOOT,
 * the data dir's store, or resources/wimboot; memdisk from syslinux. Found files that are not
 * wimboot are passed over: a Windows image is then sanbooted, and says so.
 */
export function findHelpers(given: HelperPaths = {}): HelperPaths {
  const isFile = (p: string | undefined) => !!p && existsSync(p) && statSync(p).isFile();
  const search = !given.noSearch;
  if (given.wimboot) {
    const id = identifyWimboot(given.wimboot);
    if (!id.ok) throw new Error(`${given.wimboot} is not wimboot: ${id.reason}`);
  }
  const dataDir = given.dataDir ?? (search ? defaultDataDir() : undefined);
  const stored = () => (dataDir ? currentWimboot(dataDir)?.path : undefined);
  const candidates: Array<() => string | undefined> = [
    () => given.wimboot,
    ...(search ? [() => process.env.PXEKIT_WIMBOOT] : []),
    stored,
    ...(search ? [() => join(packageRoot(), 'resources', 'wimboot')] : []),
  ];
  let wimboot: string | undefined;
  for (const c of candidates) {
    const p = c();
    if (isFile(p) && (p === given.wimboot || identifyWimboot(p!).ok)) {
      wimboot = p;
      break;
    }
  }
  const memdisk = [given.memdisk, ...(search ? MEMDISK_PATHS : [])].find(isFile);
  return { wimboot, memdisk };
}

export interface OpenedImage {
  kind: 'iso' | 'folder';
  path: string;
  size: number;
  tree: ImageTree;
  plan: RecipePlan;
  helpers: HelperPaths;
}

/** Opens an ISO or folder and finds its recipe. IsoError for a damaged ISO. */
export async function openImage(path: string, given: HelperPaths = {}): Promise<OpenedImage> {
  const st = await fsp.stat(path).catch(() => undefined);
  if (!st) throw new Error(`no such file or folder: ${path}`);
  const helpers = findHelpers(given);
  let tree: ImageTree;
  if (st.isDirectory()) tree = folderTree(path);
  else tree = isoTree(await IsoImage.open(path));
  try {
    const plan = await planFor(tree, { ...helpers, isoSize: st.isDirectory() ? undefined : st.size });
    return { kind: st.isDirectory() ? 'folder' : 'iso', path, size: st.isDirectory() ? 0 : st.size, tree, plan, helpers };
  } catch (e) {
    await tree.close();
    throw e;
  }
}

/** "Ubuntu 22.04.3 LTS", for messages on screen and in the UI. */
export function planLabel(plan: RecipePlan, fallback: string): string {
  if (plan.recipe === 'none' || plan.recipe === 'sanboot' || plan.recipe === 'memdisk') return fallback;
  return [plan.os, plan.version].filter(Boolean).join(' ');
}

/** Ids become URL path segments: keep them plain. */
export function safeId(s: string): string {
  const id = s.toLowerCase().replace(/\.iso$/i, '').replace(/[^a-z0-9._-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '');
  return id || 'image';
}

export interface PublishTreeOptions {
  /** Path segment under iso/: "iso/<id>/...". */
  id?: string;
  serverIp: string;
  httpPort: number;
  /** Extra kernel arguments for Linux recipes. */
  cmdline?: string;
  helpers?: HelperPaths;
  /** Windows setup media: the files WinPE gets to connect PXE Kit's share of the media at `source` (src/images/winpe-setup.ts). */
  setupFiles?: SetupFilesFor;
}

/** The files injected into WinPE for the setup media at `source` (an ISO or folder path). */
export type SetupFilesFor = (source: string) => { name: string; text: string }[];

/** Where those files are published: "winpe/<id>/pxekit-setup.cmd". */
export const SETUP_PREFIX = 'winpe/';

export interface PublishedTreeImage {
  id: string;
  opened: OpenedImage;
  /** The files the loader fetches (src/boot/boot-plan.ts), with the firmware that fetches each. */
  payload: PlanFile[];
  /** The ISO, when the machine reads it as a disk by ranges (sanboot). */
  readAsDisk?: string;
  /** Windows setup media through wimboot: WinPE connects PXE Kit's share of them. */
  setupMedia: boolean;
  /** A Windows image served without wimboot (sanboot of the whole ISO): what it costs and the fix. */
  warning?: string;
  /** Static paths added (the ISO, helpers). */
  paths: string[];
  description: string;
  script(): string;
  /** For Linux layouts: the same boot as the script, for the signed GRUB (published paths). */
  linuxBoot?: LinuxBoot;
  /** For Linux layouts whose own shim and GRUB can boot from the network: them, published. */
  ownSignedLoaders?: SignedLoaders;
  unpublish(): Promise<void>;
}

export async function publishTreeImage(files: PublishedFiles, path: string, o: PublishTreeOptions): Promise<PublishedTreeImage> {
  const opened = await openImage(path, o.helpers);
  try {
    return await publishOpened(files, opened, o);
  } catch (e) {
    await opened.tree.close();
    throw e;
  }
}

export async function publishOpened(files: PublishedFiles, opened: OpenedImage, o: PublishTreeOptions): Promise<PublishedTreeImage> {
  const { tree, plan } = opened;
  // Kernel arguments go to a kernel PXE Kit starts; a sanbooted or memdisk ISO (or Windows) starts its own.
  if (o.cmdline?.trim() && !plan.linux) {
    throw new Error(
      `--cmdline "${o.cmdline.trim()}" cannot apply to ${basename(opened.path)}: ${plan.recipe === 'winpe' ? 'Windows boots through wimboot or sanboot, with no Linux command line' : `it is started by ${plan.recipe === 'none' ? 'nothing PXE Kit knows' : `its own boot loader (${plan.method})`}, which keeps its own kernel command line`}. Drop --cmdline, or serve the kernel and initrd from the image instead`,
    );
  }
  const id = o.id ?? safeId(basename(opened.path));
  const prefix = `iso/${id}/`;
  const url = (p: string) => httpUrl(o.serverIp, o.httpPort, p);
  const roles = new Map(plan.files.map((f) => [f.path.toLowerCase(), f.role]));

  // Index the whole tree once: lookups are then synchronous, as PublishedFiles wants.
  const index = new Map<string, TreeEntry>();
  for await (const e of tree.walk()) if (e.type === 'file') index.set(e.path.toLowerCase(), e);
  const fileFor = (e: TreeEntry): PublishedFile => ({
    path: prefix + e.path,
    role: roles.get(e.path.toLowerCase()) ?? 'image file',
    size: async () => e.size,
    open: () => {
      if (opened.kind === 'folder') return diskFile(prefix + e.path, folderFilePath(opened.path, e.path), 'image file').open();
      // Almost every file is one contiguous run in the image: serve it as a window of the
      // ISO file (the kernel's readahead, one stream per transfer). Others go through the reader.
      const x = e.extents;
      if (e.size > 0 && x?.length === 1 && x[0].kind === 'image' && x[0].length >= e.size) return IsoSliceSource.open(opened.path, x[0].pos, e.size, opened.size);
      return tree.openFile(e.path);
    },
  });
  // One PublishedFile per entry, made on first request: the HTTP server shares an open
  // source between the requests for the same file object (iPXE's sanboot reads one file in
  // thousands of Range requests), so a new object per lookup meant an open per request.
  const made = new Map<TreeEntry, PublishedFile>();
  files.addDynamic(prefix, (rest) => {
    const e = index.get(rest.toLowerCase());
    if (!e) return undefined;
    let f = made.get(e);
    if (!f) made.set(e, (f = fileFor(e)));
    return f;
  });

  const added: string[] = [];
  if (plan.setupMedia) {
    // Written when WinPE's loader asks: the share may have started (or failed) after publishing.
    files.addDynamic(`${SETUP_PREFIX}${id}/`, (rest) => {
      const f = (o.setupFiles?.(opened.path) ?? winpeNoShareFiles('no share was started for these media')).find((x) => x.name === rest);
      return f && bufferFile(`${SETUP_PREFIX}${id}/${rest}`, f.text, 'injected file');
    });
  }
  let isoUrl: string | undefined;
  if (opened.kind === 'iso') {
    const isoPath = `iso/${id}.iso`;
    files.add(diskFile(isoPath, opened.path, plan.payloadIso ? 'iso' : 'image file'));
    added.push(isoPath);
    isoUrl = url(isoPath);
  }
  const helperPaths: Partial<Record<Helper, string>> = {};
  for (const h of plan.helpers) {
    const p = opened.helpers[h];
    if (!p) continue;
    const pub = `helpers/${id}/${h}`;
    files.add(diskFile(pub, p, 'payload'));
    added.push(pub);
    helperPaths[h] = pub;
  }
  const published = (p: string) => prefix + (index.get(p.toLowerCase())?.path ?? p);
  const payload: PlanFile[] =
    plan.payloadIso && isoUrl ? [{ path: `iso/${id}.iso`, role: 'iso' }] : plan.files.map((f) => ({ path: published(f.path), role: f.role, firmware: f.firmware }));
  const label = planLabel(plan, basename(opened.path));
  const ctx: ScriptContext = {
    fileUrl: (p) => url(prefix + p),
    treeUrl: url(prefix),
    isoUrl,
    helperUrl: (h) => (helperPaths[h] ? url(helperPaths[h]!) : undefined),
    extraCmdline: o.cmdline ?? '',
    label,
    handoff: ipxeHandoffLine(o.serverIp, o.httpPort),
    setupFileUrl: (name) => url(`${SETUP_PREFIX}${id}/${name}`),
  };
  const text = plan.script(ctx);
  const linuxBoot: LinuxBoot | undefined = plan.linux && {
    kernelPath: published(plan.linux.kernel),
    initrdPaths: plan.linux.initrds.map(published),
    cmdline: linuxCmdline(ctx, plan.linux),
    label,
  };
  const own = linuxBoot ? (await findOwnSignedChain(tree)).chain : undefined;
  const ownSignedLoaders: SignedLoaders | undefined = own && { shim: published(own.shimPath), grub: published(own.grubPath), grubPrefix: own.grubPrefix };
  if (own) for (const p of [own.shimPath, own.grubPath]) roles.set(p.toLowerCase(), 'boot program');
  return {
    id,
    opened,
    payload,
    readAsDisk: plan.readAsDisk && isoUrl ? `iso/${id}.iso` : undefined,
    setupMedia: !!plan.setupMedia,
    warning: plan.recipe === 'winpe' && !opened.helpers.wimboot ? noWimbootWarning(basename(opened.path), opened.size) : undefined,
    linuxBoot,
    ownSignedLoaders,
    paths: added,
    description: `${label} (${opened.kind === 'iso' ? 'ISO' : 'folder'} ${basename(opened.path)}: ${plan.method})`,
    script: () => text,
    unpublish: async () => {
      files.removeDynamic(prefix);
      if (plan.setupMedia) files.removeDynamic(`${SETUP_PREFIX}${id}/`);
      for (const p of added) files.remove(p);
      await tree.close();
    },
  };
}
