// pxekit serve: run the boot engine until Ctrl-C, printing events.
import { parseArgs } from 'node:util';
import { Engine, type EngineOptions, type ServeMode } from '../engine.js';
import { formatEvent, type EngineEvent } from '../sessions/format.js';
import type { ImageSpec } from '../images/publish-image.js';
import { basename } from 'node:path';
import { findHelpers, openImage, type HelperPaths } from '../images/publish-iso.js';
import { noWimbootWarning } from '../images/wimboot.js';
import { LineWriter } from './line-writer.js';
import { parseBootFiles } from './boot-files.js';
import { SECURE_BOOT_CHOICES, type SecureBootChoice } from '../boot/signed-chain.js';
import { chooseDropTarget, makeDirsFor, ownDataDir, PrivilegeError } from '../net/privilege.js';
import { RootShareHelper } from '../share/share-helper.js';

export const SERVE_USAGE = `usage: pxekit serve [--iface NAME] [--mode auto|dhcp|proxy] [--range A-B] [--data-dir DIR]
                    [--json] [--verbose] [--force] [--http-port N] [--initrd FILE]... [--cmdline ARGS]
                    [--boot-once] [--wimboot FILE] [--library] [--evidence DIR]
                    [--secure-boot auto|signed|ipxe] [--no-setup-share] [--boot-file bios=P,uefi=P]
                    [--user NAME] [--open-firewall] IMAGE

IMAGE is an ISO (served in place: Windows/WinPE, Ubuntu, Debian live, Fedora/RHEL, Arch, or
any bootable ISO), a Linux kernel (with --initrd and --cmdline), an iPXE script, or an EFI/PXE
boot program, or a netboot folder or archive (.tar.gz/.tgz/.zip of pxelinux, GRUB or syslinux.efi
trees: served as the machines' TFTP/HTTP root, each firmware getting the folder's own loader).
--cmdline adds kernel arguments to an ISO's Linux recipe too.
  --boot-file bios=P,uefi=P  a netboot folder's loaders to hand out (paths inside the folder),
                instead of the ones PXE Kit finds; "pxekit inspect FOLDER" shows what it finds.
  --boot-once   each machine boots IMAGE once; its next network boot goes to the local disk.
  --wimboot F   wimboot for Windows ISOs (default: the one stored with "pxekit wimboot FILE", then
                resources/wimboot; https://github.com/ipxe/wimboot/releases). Refused if F is not wimboot.
  --library     IMAGE is optional: machines boot what the library in the data dir says
                (per-MAC assignments, the boot menu), IMAGE being the default.
  --mode auto   (default) listen for another DHCP server first: if one answers, add only the
                boot information (proxyDHCP); if none does, hand out addresses too.
  --mode dhcp   hand out addresses; refuses to start if another DHCP server answers (unless --force).
  --mode proxy  never hand out addresses; answer PXE clients only.
  --secure-boot auto  (default) UEFI x64 machines get the signed chain (Microsoft-signed shim,
                then Debian-signed GRUB) when it can boot the image (a kernel + initrd, a Linux ISO),
                iPXE otherwise (iPXE scripts, sanboot, wimboot: these need Secure Boot off).
                In proxyDHCP mode UEFI machines get iPXE.
  --secure-boot signed  always the signed chain; an image it cannot boot is refused on the
                machine's screen, with why.   --secure-boot ipxe  always iPXE.
  --no-setup-share  Windows setup media (served through wimboot) are shared read-only over SMB on
                the served NIC, and WinPE connects the share and starts setup; this turns that off.
  --user NAME   (Linux, as root) once its ports are bound, run as NAME, keeping only the
                capabilities it still needs; files are then read with NAME's rights. Default: the
                user who ran sudo or pkexec (and their data dir); --user root keeps root.
  --open-firewall  (Windows) add inbound firewall rules for UDP 67, 69, 4011 and the HTTP port, for
                PXE Kit's engine on the served NIC and its network profile, while serving; removed
                at stop (and at the next start after a crash). Without it the firewall is not touched.
  --evidence DIR  at stop, write a pcapng of the DHCP/TFTP/HTTP traffic PXE Kit saw and a
                job report (HTML + JSON: who booted what, step times, failures, diagnoses).

pxekit serve --ui [--ui-port N] [options] [IMAGE]
  Start the API and the user interface on 127.0.0.1 and print its URL (with a per-run token);
  the NIC and image are then chosen in the browser. The token can be given in PXEKIT_TOKEN.`;

export class UsageError extends Error {}

function parseOrExplain(argv: string[]) {
  try {
    return parseServeOptions(argv);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** The options of `pxekit serve` (shared with `pxekit serve --ui`, src/cli/ui-serve.ts). */
export const SERVE_OPTIONS = {
  iface: { type: 'string' },
  mode: { type: 'string', default: 'auto' },
  range: { type: 'string' },
  'data-dir': { type: 'string' },
  json: { type: 'boolean', default: false },
  verbose: { type: 'boolean', default: false },
  force: { type: 'boolean', default: false },
  'http-port': { type: 'string' },
  'probe-seconds': { type: 'string' },
  initrd: { type: 'string', multiple: true, default: [] as string[] },
  cmdline: { type: 'string', default: '' },
  router: { type: 'string' },
  dns: { type: 'string', multiple: true, default: [] as string[] },
  evidence: { type: 'string' },
  'boot-once': { type: 'boolean', default: false },
  wimboot: { type: 'string' },
  library: { type: 'boolean', default: false },
  'secure-boot': { type: 'string', default: 'auto' },
  'no-setup-share': { type: 'boolean', default: false },
  'boot-file': { type: 'string' },
  user: { type: 'string' },
  'open-firewall': { type: 'boolean', default: false },
} as const;

function parseServeOptions(argv: string[]) {
  return parseArgs({ args: argv, allowPositionals: true, options: SERVE_OPTIONS });
}

export function parseServeArgs(argv: string[]) {
  const { values, positionals } = parseOrExplain(argv);
  if (positionals.length > 1 || (positionals.length === 0 && !values.library)) throw new UsageError(positionals.length ? 'give exactly one IMAGE' : 'missing IMAGE');
  const mode = values.mode as ServeMode;
  if (!['auto', 'dhcp', 'proxy'].includes(mode)) throw new UsageError(`--mode must be auto, dhcp or proxy, not "${values.mode}"`);
  const secureBoot = values['secure-boot'] as SecureBootChoice;
  if (!SECURE_BOOT_CHOICES.includes(secureBoot)) throw new UsageError(`--secure-boot must be auto, signed or ipxe, not "${secureBoot}"`);
  if (values.range && !/^\d+\.\d+\.\d+\.\d+-\d+\.\d+\.\d+\.\d+$/.test(values.range)) throw new UsageError('--range must look like 192.168.50.100-192.168.50.200');
  const num = (s: string | undefined, name: string) => {
    if (s === undefined) return undefined;
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`${name} must be a number`);
    return n;
  };
  let bootFiles;
  try {
    bootFiles = values['boot-file'] ? parseBootFiles(values['boot-file'] as string) : undefined;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const image: ImageSpec | undefined = positionals.length ? { path: positionals[0], initrds: values.initrd as string[], cmdline: values.cmdline as string, bootFiles } : undefined;
  return {
    engine: {
      iface: values.iface,
      mode,
      range: values.range,
      dataDir: values['data-dir'],
      force: values.force,
      httpPort: num(values['http-port'], '--http-port'),
      probeSeconds: num(values['probe-seconds'], '--probe-seconds'),
      router: values.router,
      dns: (values.dns as string[]).length ? (values.dns as string[]) : undefined,
      image,
      bootOnce: values['boot-once'] as boolean,
      secureBoot,
      setupShare: !values['no-setup-share'],
      ...(values['open-firewall'] ? { openFirewall: true } : {}),
    },
    wimboot: values.wimboot as string | undefined,
    json: values.json as boolean,
    verbose: values.verbose as boolean,
    evidence: values.evidence as string | undefined,
    user: values.user as string | undefined,
  };
}

/** The warning line for a Windows ISO that is served without wimboot (sanboot), else undefined. */
export async function windowsWithoutWimboot(path: string, helpers: HelperPaths): Promise<string | undefined> {
  let opened;
  try {
    opened = await openImage(path, helpers);
  } catch {
    return undefined; // the engine says what is wrong with the image
  }
  try {
    return opened.plan.recipe === 'winpe' && !opened.helpers.wimboot ? noWimbootWarning(basename(path), opened.size) : undefined;
  } finally {
    await opened.tree.close();
  }
}

export async function serve(argv: string[]): Promise<number> {
  // --ui: the API and the browser UI on 127.0.0.1 (IMAGE optional: chosen in the UI).
  if (argv.includes('--ui')) return (await import('./ui-serve.js')).serveUi(argv);
  const args = parseServeArgs(argv);
  // Linux, as root: who the engine becomes once its ports are bound (src/net/privilege.ts).
  let privilege: NonNullable<EngineOptions['privilege']>;
  let shareHelper: RootShareHelper | undefined;
  try {
    privilege = chooseDropTarget(args.user);
    const t = privilege.target;
    args.engine.dataDir = ownDataDir(t, args.engine.dataDir);
    if (t && args.evidence) makeDirsFor(args.evidence, t);
    if (t && args.evidence) privilege.writable = [args.evidence];
    // Started only if Windows setup media are shared, while still root (before the drop).
    if (t) privilege.shareHelper = () => (shareHelper ??= new RootShareHelper(t.name));
  } catch (err) {
    if (err instanceof PrivilegeError) throw new UsageError(err.message);
    throw err;
  }
  // The image goes with its helpers (wimboot, memdisk): the engine tells what it is (imageSpecFromPath,
  // src/images/publish-image.ts) and an ISO or unpacked ISO uses them. A --wimboot that is not wimboot is refused here.
  const opts: EngineOptions = { ...args.engine, privilege };
  const img = args.engine.image;
  const helpers = img || args.wimboot ? findHelpers({ wimboot: args.wimboot, dataDir: args.engine.dataDir }) : undefined;
  if (img && img.kind === undefined) opts.image = { ...img, helpers };
  const warning = img && img.kind === undefined ? await windowsWithoutWimboot(img.path, helpers ?? {}) : undefined;
  const engine = new Engine(opts);
  const out = new LineWriter();
  // A site change (link down, another DHCP server) republishes the status: its line is said again only when it differs.
  let lastStatusLine = '';
  const print = (ev: EngineEvent) => {
    if (args.json) out.line(JSON.stringify(ev));
    else {
      const line = formatEvent(ev, { verbose: args.verbose });
      if (line && ev.type === 'status') {
        const body = line.slice(line.indexOf(' ') + 1);
        if (body === lastStatusLine) return;
        lastStatusLine = body;
      }
      if (line) out.line(line);
    }
  };
  engine.on('event', print);
  // Signal handlers go in before start(): a Ctrl-C while probing or binding must
  // still release whatever was opened.
  let stopRequested = false;
  let stopped: (() => void) | undefined;
  const done = new Promise<void>((resolve) => (stopped = resolve));
  const onSignal = () => {
    if (stopRequested) return;
    stopRequested = true;
    void engine.stop().then(() => stopped!());
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  if (warning) print({ type: 'log', at: Date.now(), level: 'warn', source: 'engine', message: warning });
  try {
    await engine.start();
  } catch (err) {
    out.flush();
    if (stopRequested) {
      await done;
      await shareHelper?.close();
      out.flush();
      return 0;
    }
    await shareHelper?.close();
    if (!args.json) process.stderr.write(`pxekit: ${(err as Error).message}\n`);
    return 1;
  }
  await done;
  await shareHelper?.close();
  out.flush();
  if (args.evidence) {
    // The run's evidence, once every port is closed (src/diagnostics/report.ts).
    try {
      const files = engine.writeEvidence(args.evidence);
      if (files) {
        const msg = `evidence written: ${[files.pcapng, files.json, files.html].filter(Boolean).join(', ')}`;
        if (args.json) print({ type: 'log', at: Date.now(), level: 'info', source: 'engine', message: msg });
        else out.line(msg);
        out.flush();
      }
    } catch (err) {
      process.stderr.write(`pxekit: could not write the evidence to ${args.evidence}: ${(err as Error).message}\n`);
      return 1;
    }
  }
  return 0;
}
