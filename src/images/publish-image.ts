// What the machines boot: the user's image, published under stable names, plus the
// per-client iPXE script that points each machine at it.
import { constants, promises as fsp } from 'node:fs';
import { basename, extname } from 'node:path';
import { bufferFile, diskFile, type PublishedFile, type PublishedFiles } from '../files/published.js';
import { chainScript, httpUrl, kernelScript, macFromScriptName, macToHyphens, sanitise } from '../boot/ipxe-script.js';
import type { LinuxBoot } from '../boot/linux-boot.js';
import type { SignedLoaders } from '../boot/signed-chain.js';
import { ipxeHandoffLine, type PlanFile } from '../boot/boot-plan.js';
import { identifyBytes, identifyFile, NotAnImage, refusal } from './identify.js';
import { openImage, publishTreeImage, safeId, type HelperPaths, type SetupFilesFor } from './publish-iso.js';
import {
  isNetbootArchive,
  isNetbootFolder,
  namedBy,
  NETBOOT_PROBES,
  netbootDescription,
  netbootMachinePlan,
  netbootResolver,
  netbootRoles,
  openNetboot,
  type BootFileChoice,
  type NetbootMachinePlan,
  type OpenedNetboot,
} from './netboot-tree.js';
import type { FirstStageFirmware } from '../boot/boot-plan.js';
import { programFacts, type ProgramFacts } from './program.js';

export type ImageKind = 'kernel' | 'ipxe-script' | 'efi' | 'pxe' | 'iso' | 'folder' | 'netboot';

/** An image whose kind publishImage detects from the file (what the CLI passes). */
export interface AutoImageSpec {
  kind?: undefined;
  path: string;
  initrds?: string[];
  cmdline?: string;
  /** For a netboot folder or archive: the loaders to hand out instead of the ones found. */
  bootFiles?: BootFileChoice;
  /** For an ISO or an unpacked one: the helper programs (wimboot, memdisk) its recipe may use. */
  helpers?: HelperPaths;
}

export type ImageSpec =
  | { kind: 'kernel'; kernel: string; initrds: string[]; cmdline: string }
  | { kind: 'ipxe-script'; path: string }
  | { kind: 'efi' | 'pxe'; path: string }
  /** An ISO (or an unpacked ISO folder) served in place; a recipe (src/images/recipes) writes its script. */
  | { kind: 'iso' | 'folder'; path: string; cmdline?: string; id?: string; helpers?: HelperPaths }
  /** A netboot folder, or an archive of one: served as the machine's TFTP/HTTP root, its own loaders first (src/images/netboot-tree.ts). */
  | { kind: 'netboot'; path: string; id?: string; bootFiles?: BootFileChoice }
  | AutoImageSpec;

export type ResolvedImageSpec = Exclude<ImageSpec, AutoImageSpec>;

const WHAT_TO_GIVE = 'give the path to a kernel (vmlinuz), an iPXE script or an EFI binary';

/**
 * Tells a boot image's kind from its first bytes (and, for PXE programs, which have no
 * magic, their extension and size), by src/images/identify.ts. A Linux bzImage built with
 * the EFI stub is also a valid PE file, so "HdrS" (the x86 boot protocol header at 0x202)
 * is checked before "MZ"/"PE". Nothing is a kernel by default: a file that is none of these
 * is refused with what it looks like. `size` defaults to the bytes given.
 */
export function detectKindFromBytes(head: Buffer, fileName = '', size = head.length): ImageKind {
  const id = identifyBytes(head, size, fileName);
  if (!id.ok) throw new Error(refusal(fileName || 'the file', id));
  return id.kind;
}

/** The kind of a file, by its content (an ISO included); refused (NotAnImage) with what it looks like. */
export async function detectImageKind(path: string): Promise<ImageKind> {
  await checkFile(path, WHAT_TO_GIVE);
  const id = await identifyFile(path);
  if (!id.ok) throw new NotAnImage(path, id);
  return id.kind;
}

/**
 * What a path is (netboot folder or archive, unpacked ISO, ISO, kernel, iPXE script, boot program),
 * as a spec: the one place that decides it, for `pxekit serve`, `pxekit inspect`, the API's
 * serve.start and the engine. `extra`: --initrd/--cmdline for kernels, --boot-file for netboot
 * trees, and the helpers (wimboot, memdisk) an ISO or unpacked ISO goes with.
 */
export async function imageSpecFromPath(path: string, extra: Omit<AutoImageSpec, 'kind' | 'path'> = {}): Promise<ResolvedImageSpec> {
  const helpers = extra.helpers ? { helpers: extra.helpers } : {};
  const st = await fsp.stat(path).catch(() => undefined);
  // A folder is a netboot tree when it holds a network loader, else an unpacked ISO; an archive is a netboot tree.
  const treeOnly = (what: string) => {
    if (extra.initrds?.length) throw new Error(`${path} is ${what}, not a kernel: initrds can only go with a kernel`);
    if (extra.cmdline) throw new Error(`${path} is ${what}: its own menus give the kernel command line; --cmdline applies to kernels and ISOs`);
  };
  if (st?.isDirectory()) {
    if (extra.bootFiles || (await isNetbootFolder(path))) {
      treeOnly('a netboot folder');
      return { kind: 'netboot', path, bootFiles: extra.bootFiles };
    }
    // An unpacked ISO: refused here when it has no layout PXE Kit knows, instead of serving "not bootable".
    const opened = await openImage(path).catch(() => undefined);
    const recipe = opened?.plan.recipe;
    await opened?.tree.close();
    if (recipe === 'none') {
      throw new Error(
        `${path} holds no network boot loader (pxelinux.0, a GRUB EFI with tftp, syslinux.efi, a shim beside its GRUB, iPXE) and no OS layout PXE Kit knows (an unpacked Ubuntu, Debian, Fedora, Arch or Windows ISO): give the folder that holds the boot loader (or name it with --boot-file bios=PATH,uefi=PATH), or the ISO itself`,
      );
    }
    return { kind: 'folder', path, cmdline: extra.cmdline || undefined, ...helpers };
  }
  if (st?.isFile() && (await isNetbootArchive(path))) {
    treeOnly('a netboot archive');
    return { kind: 'netboot', path, bootFiles: extra.bootFiles };
  }
  if (extra.bootFiles) throw new Error(`--boot-file goes with a netboot folder or archive, not ${path}`);
  // `--initrd vmlinuz initrd.img`: the kernel given as the initrd, the initrd as the image.
  const image = st?.isFile() ? await identifyFile(path) : undefined;
  const kernelGivenAsInitrd = image && !image.ok ? await firstKernel(extra.initrds ?? []) : undefined;
  if (kernelGivenAsInitrd) throw new Error(`${path} is not a Linux kernel (it looks like ${image!.what}) and ${kernelGivenAsInitrd} is one: they are given the wrong way round. Give the kernel as the image and the initramfs with --initrd`);
  const kind = await detectImageKind(path);
  if (kind === 'efi' || kind === 'pxe') {
    // pxelinux.0, syslinux.efi, a GRUB or a shim reads its modules and menus from beside it: serve that folder, this loader first.
    const facts = await programFacts(path, kind);
    if (facts?.needsFolder) {
      treeOnly(`${facts.what}, which boots with the folder beside it`);
      return { kind: 'netboot', path: facts.needsFolder.folder, bootFiles: { [facts.needsFolder.firmware]: basename(path) } };
    }
  }
  if (kind === 'iso') {
    if (extra.initrds?.length) throw new Error(`${path} is an ISO image, not a kernel: initrds can only go with a kernel`);
    return { kind: 'iso', path, cmdline: extra.cmdline || undefined, ...helpers };
  }
  if (kind === 'kernel') return { kind, kernel: path, initrds: extra.initrds ?? [], cmdline: extra.cmdline ?? '' };
  if (extra.initrds?.length) throw new Error(`${path} is ${describeKind(kind)}, not a kernel: initrds can only go with a kernel`);
  return { kind, path } as ResolvedImageSpec;
}

export interface PublishedImage {
  spec: ResolvedImageSpec;
  /** Paths added to PublishedFiles (without the dynamic per-client scripts). */
  paths: string[];
  /** The files the loader fetches, with the firmware that fetches each (src/boot/boot-plan.ts). */
  payload: PlanFile[];
  /** A file the machine reads as a disk by ranges (sanboot of an ISO). */
  readAsDisk?: string;
  /** Windows setup media through wimboot (an ISO or folder at spec.path): WinPE connects PXE Kit's share of them. */
  setupMedia: boolean;
  /** What serving it costs the technician (a Windows ISO without wimboot), in plain words. */
  warning?: string;
  /** The per-client script's path in PublishedFiles: "ipxe/52-54-00-12-34-56.ipxe". */
  scriptPathFor(mac: string): string;
  /** "Linux kernel vmlinuz with 1 initrd", for the UI and logs. */
  description: string;
  /** The iPXE script a client with this MAC gets. */
  scriptFor(mac: string): string;
  /**
   * A kernel + initrds boot (a kernel image, or a Linux layout in an ISO or folder): what the
   * signed GRUB of the Secure Boot chain loads. Undefined for what only iPXE can boot.
   */
  linuxBoot?: LinuxBoot;
  /** The image's own shim and GRUB, when it carries a pair that boots from the network (src/images/own-chain.ts). */
  ownSignedLoaders?: SignedLoaders;
  /** A netboot tree: its own loaders, its files as a machine's root, what each machine fetches. */
  netboot?: PublishedNetboot;
  /** A standalone program (memtest86+, iPXE, an EFI tool): what it is, where it runs, what its screen shows. */
  program?: { what: string; runsOn?: FirstStageFirmware[]; onScreen: string };
  /** Takes the image's files and per-client scripts out of PublishedFiles. */
  unpublish(): void;
}

export interface PublishedNetboot {
  opened: OpenedNetboot;
  /** Tree-relative loader per firmware, for DHCP. */
  firstStage: Partial<Record<FirstStageFirmware, string>>;
  /** The tree's file for a request path (a machine booting the tree has it as its root). */
  resolve(path: string): PublishedFile | undefined;
  plan(mac: string): NetbootMachinePlan;
  /** Which menu named a file ("named as the kernel of "Install" in pxelinux.cfg/default"). */
  namedBy(path: string): string | undefined;
}

export interface PublishImageOptions {
  serverIp: string;
  httpPort: number;
  /** Where the per-client scripts live; "ipxe/" gives "ipxe/52-54-00-12-34-56.ipxe". */
  scriptPrefix?: string;
  /** Where a kernel image's files go ("image/" by default): several images can be published side by side. */
  filePrefix?: string;
  /** false: do not register the per-client scripts (the caller serves scriptFor() itself, e.g. the library's boot chooser). */
  registerScripts?: boolean;
  /** Windows setup media: the files WinPE gets to connect PXE Kit's share of them. */
  setupFiles?: SetupFilesFor;
  /** Where a netboot archive is unpacked (the data dir). */
  dataDir?: string;
}

export async function publishImage(files: PublishedFiles, given: ImageSpec, opts: PublishImageOptions): Promise<PublishedImage> {
  const spec: ResolvedImageSpec = given.kind === undefined ? await imageSpecFromPath(given.path, given) : given;
  const url = (p: string): string => httpUrl(opts.serverIp, opts.httpPort, p);
  const added: PublishedFile[] = [];
  let script: (mac: string) => string;
  let description: string;
  const fp = (opts.filePrefix ?? 'image/').replace(/^\/+/, '').replace(/\/*$/, '/');
  let payload: PlanFile[] | undefined;
  let readAsDisk: string | undefined;
  let setupMedia = false;
  let warning: string | undefined;
  const handoff = ipxeHandoffLine(opts.serverIp, opts.httpPort);
  let unpublishTree: (() => Promise<void>) | undefined;
  let treePaths: string[] = [];
  let linuxBoot: LinuxBoot | undefined;
  let ownSignedLoaders: SignedLoaders | undefined;
  let netboot: PublishedNetboot | undefined;
  let facts: ProgramFacts | undefined;
  let unpublishNetboot: (() => void) | undefined;

  if (spec.kind === 'netboot') {
    const nb = await openNetboot(spec.path, { bootFiles: spec.bootFiles, dataDir: opts.dataDir });
    const resolve = netbootResolver(nb, netbootRoles(nb));
    const id = spec.id ?? safeId(basename(spec.path).replace(/\.(tar\.gz|tgz|tar|zip)$/i, ''));
    // Also under netboot/<id>/: a URL of the tree that does not depend on whose root it is.
    const treePrefix = `netboot/${id}/`;
    files.addDynamic(treePrefix, resolve);
    for (const p of NETBOOT_PROBES) files.expectMisses(`netboot-${p.key}`, p.pattern, p.why);
    const firstStage: Partial<Record<FirstStageFirmware, string>> = {};
    for (const [fw, l] of Object.entries(nb.loaders)) firstStage[fw as FirstStageFirmware] = l!.path;
    netboot = { opened: nb, firstStage, resolve, plan: (mac) => netbootMachinePlan(nb, mac), namedBy: (p) => namedBy(nb, p) };
    description = netbootDescription(nb);
    const text = netbootChainScript(opts.serverIp, nb.loaders, description);
    script = () => text;
    unpublishNetboot = () => {
      files.removeDynamic(treePrefix);
      for (const p of NETBOOT_PROBES) files.forgetMisses(`netboot-${p.key}`);
    };
  } else if (spec.kind === 'iso' || spec.kind === 'folder') {
    const t = await publishTreeImage(files, spec.path, { id: spec.id, serverIp: opts.serverIp, httpPort: opts.httpPort, cmdline: spec.cmdline, helpers: spec.helpers, setupFiles: opts.setupFiles });
    setupMedia = t.setupMedia;
    warning = t.warning;
    description = t.description;
    const text = t.script();
    script = () => text;
    payload = t.payload;
    readAsDisk = t.readAsDisk;
    linuxBoot = t.linuxBoot;
    ownSignedLoaders = t.ownSignedLoaders;
    treePaths = t.paths;
    unpublishTree = t.unpublish;
  } else if (spec.kind === 'kernel') {
    await checkFile(spec.kernel, WHAT_TO_GIVE);
    for (const i of spec.initrds) await checkFile(i, 'give the path to an initrd (initramfs) image', 'initrd');
    await checkKernelAndInitrds(spec.kernel, spec.initrds);
    added.push(diskFile(`${fp}vmlinuz`, spec.kernel, 'kernel'));
    const initrds = spec.initrds.map((p, n) => {
      const name = `initrd-${n}.img`;
      added.push(diskFile(`${fp}${name}`, p, 'initrd'));
      return { name, url: url(`${fp}${name}`) };
    });
    const label = basename(spec.kernel);
    facts = await programFacts(spec.kernel, 'kernel');
    description = facts ? `${facts.what} ${label}` : `Linux kernel ${label}${initrds.length ? ` with ${initrds.length} initrd${initrds.length > 1 ? 's' : ''}` : ''}`;
    const text = kernelScript({ kernelUrl: url(`${fp}vmlinuz`), initrds, cmdline: spec.cmdline, label, handoff });
    script = () => text;
    // memtest86+ is no Linux: the signed GRUB cannot start it; iPXE loads it as what it is.
    if (!facts) linuxBoot = { kernelPath: `${fp}vmlinuz`, initrdPaths: added.filter((f) => f.role === 'initrd').map((f) => f.path), cmdline: spec.cmdline, label };
  } else {
    await checkFile(spec.path, WHAT_TO_GIVE);
    const ext = spec.kind === 'ipxe-script' ? '.ipxe' : spec.kind === 'efi' ? '.efi' : extname(spec.path).toLowerCase() || '.pxe';
    const name = `${fp}boot${ext}`;
    // The user's own script or boot program is the payload: once it is delivered we can
    // no longer follow the boot (it is the user's code from there on).
    const role = 'payload';
    added.push(diskFile(name, spec.path, role));
    const label = basename(spec.path);
    facts = spec.kind === 'ipxe-script' ? undefined : await programFacts(spec.path, spec.kind);
    description = facts ? `${facts.what}: ${label}` : `${describeKind(spec.kind)} ${label}`;
    // The user's script is served as is; per-client scripts chain to it so its relative
    // URLs resolve next to it, under image/.
    const text = chainScript(url(name), label, handoff);
    script = () => text;
  }

  for (const f of added) files.add(f);
  const prefix = (opts.scriptPrefix ?? 'ipxe/').replace(/^\/+/, '').replace(/\/*$/, '/');
  if (opts.registerScripts !== false) {
    files.addDynamic(prefix, (rest) => {
      const mac = macFromScriptName(rest);
      return mac ? bufferFile(`${prefix}${macToHyphens(mac)}.ipxe`, script(mac), 'boot script') : undefined;
    });
  }

  const paths = [...added.map((f) => f.path), ...treePaths];
  return {
    spec,
    paths,
    payload: payload ?? added.map((f) => ({ path: f.path, role: f.role })),
    readAsDisk,
    setupMedia,
    warning,
    scriptPathFor: (mac) => `${prefix}${macToHyphens(mac)}.ipxe`,
    description,
    scriptFor: (mac) => script(mac),
    linuxBoot,
    ownSignedLoaders,
    netboot,
    program: facts && { what: facts.what, runsOn: facts.runsOn, onScreen: facts.onScreen },
    unpublish: () => {
      unpublishNetboot?.();
      for (const f of added) files.remove(f.path);
      if (opts.registerScripts !== false) files.removeDynamic(prefix);
      void unpublishTree?.();
    },
  };
}

async function firstKernel(paths: string[]): Promise<string | undefined> {
  for (const p of paths) {
    const id = await identifyFile(p).catch(() => undefined);
    if (id?.ok && id.kind === 'kernel') return p;
  }
  return undefined;
}

/**
 * The kernel must be a kernel and no initrd may be one: given the wrong way round, the machine
 * loads the initrd as its kernel and stops there (its screen, not PXE Kit, said why).
 */
async function checkKernelAndInitrds(kernel: string, initrds: string[]): Promise<void> {
  const isKernel = async (p: string) => {
    const id = await identifyFile(p);
    return { id, yes: id.ok && id.kind === 'kernel' };
  };
  const k = await isKernel(kernel);
  let kernelAmongInitrds: string | undefined;
  for (const i of initrds) if ((await isKernel(i)).yes) kernelAmongInitrds ??= i;
  if (!k.yes) {
    const swapped = kernelAmongInitrds ? `: ${basename(kernelAmongInitrds)} is the kernel, so the two are given the wrong way round` : '';
    throw new Error(`${kernel} is not a Linux kernel: it looks like ${k.id.what}${swapped}`);
  }
  if (kernelAmongInitrds) throw new Error(`${kernelAmongInitrds} is a Linux kernel, not an initrd: give it as the kernel (the image), and the initramfs with --initrd`);
}

export function describeKind(kind: ImageKind): string {
  return { kernel: 'a Linux kernel', 'ipxe-script': 'an iPXE script', efi: 'an EFI program', pxe: 'a PXE boot program', iso: 'an ISO image', folder: 'an image folder', netboot: 'a netboot folder' }[kind];
}

/**
 * For a machine that reaches a netboot tree from PXE Kit's iPXE menu: chain the tree's loader
 * for its platform.
 *
 * Every name is the tree's own, from the server's root, as when DHCP hands the tree out: once
 * the machine asked for this script it is handed the tree (BootChooser.give), and the tree is
 * then its TFTP/HTTP root (BootChooser.treeRootFor). Chained from netboot/<id>/ instead, the
 * loader asked for netboot/<id>/pxelinux.cfg/default and netboot/<id>/boot/linux/vmlinuz, names
 * its menus never use: the session then saw none of the menu entries' files, so it was never
 * handed off and a missing file was not named with the menu that named it.
 *
 * pxelinux takes its folder from option 210 (PathPrefix), which iPXE puts in the DHCP packet it
 * hands a chained PXE program (without it, pxelinux takes the folder of the boot file DHCP named:
 * PXE Kit's iPXE). pxelinux.0, not only lpxelinux.0, opens tftp:// names (in syslinux 6 "tftp" is
 * the one URL scheme of its legacy network stack, http and ftp being lpxelinux's), and joins a
 * relative name to the prefix as text: so the prefix is the loader's folder and ends with "/", as
 * pxelinux derives it from a boot file name. GRUB chained on UEFI reads the DHCP packet iPXE hands
 * it and asks for its prefix's grub.cfg from the same root (test/e2e/netboot-menu.test.ts).
 */
/** Whether PXE Kit's iPXE menu can start this netboot loader (syslinux.efi, started by iPXE, stops at once: see below). */
export function startsFromIpxeMenu(loader: OpenedNetboot['loaders']['x64']): boolean {
  return loader?.kind !== 'syslinux-efi';
}

function netbootChainScript(serverIp: string, loaders: OpenedNetboot['loaders'], label: string): string {
  const lines = ['#!ipxe', `echo PXE Kit: ${label.replace(/[\r\n$]/g, ' ')}`];
  const refused: string[] = [];
  const root = `tftp://${serverIp}/`;
  const folderOf = (p: string) => p.slice(0, p.lastIndexOf('/') + 1);
  const { bios, x64, arm64 } = loaders;
  if (bios) lines.push(`iseq \${platform} pcbios && set 210:string ${root}${folderOf(bios.path)} && chain ${root}${bios.path} ||`);
  if (x64 && !startsFromIpxeMenu(x64)) {
    // syslinux.efi started by iPXE (ipxe.efi 1.0.0+git-20190125, Debian 12's) stops at once with a
    // CPU exception ("#UD - Invalid Opcode" after "Getting cached packet"): the machine hangs and PXE
    // Kit sees nothing more. Say so and go back to the menu instead. Given by DHCP (the folder
    // assigned to the machine) it starts from the firmware's own PXE and boots (test/e2e/netboot.test.ts).
    lines.push('iseq ${buildarch} x86_64 && iseq ${platform} efi && goto no_syslinux_efi ||');
    refused.push(
      ':no_syslinux_efi',
      `echo PXE Kit: the UEFI loader of this netboot folder, ${sanitise(x64.path)} (syslinux.efi), cannot start from the PXE Kit menu: started by iPXE, it stops at once.`,
      'echo PXE Kit: assign the folder to this machine in PXE Kit instead: the machine then gets it from its firmware directly, and it boots.',
      'prompt --timeout 60000 Press any key to go back to the menu ||',
      'exit 0',
    );
  } else if (x64) lines.push(`iseq \${buildarch} x86_64 && iseq \${platform} efi && chain ${root}${x64.path} ||`);
  if (arm64) lines.push(`iseq \${buildarch} arm64 && chain ${root}${arm64.path} ||`);
  lines.push('echo PXE Kit: this netboot folder has no loader for this machine (or it failed); check the PXE Kit window', 'prompt --timeout 30000 Press any key to restart ||', 'reboot', ...refused);
  return lines.join('\n');
}

async function checkFile(path: string, what: string, role?: string): Promise<void> {
  const r = role ? ` (${role})` : '';
  let st;
  try {
    st = await fsp.stat(path);
  } catch {
    throw new Error(`no such file: ${path}${r} — ${what}`);
  }
  if (st.isDirectory()) throw new Error(`${path}${r} is a directory — ${what}`);
  if (!st.isFile()) throw new Error(`${path}${r} is not a regular file — ${what}`);
  if (st.size === 0) throw new Error(`${path}${r} is empty — ${what}`);
  try {
    await fsp.access(path, constants.R_OK);
  } catch {
    // After binding the engine runs as the user (src/net/privilege.ts), who may not read what root could.
    if (process.env.PXEKIT_RUNS_AS) {
      const user = process.env.PXEKIT_RUNS_AS;
      throw new Error(`PXE Kit runs as ${user} after binding; ${user} cannot read ${path}${r}: give ${user} read access to it (and to its folders), or start PXE Kit with --user root`);
    }
    throw new Error(`${path}${r} cannot be read (permissions) — ${what}`);
  }
}
