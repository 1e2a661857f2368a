// Netboot trees for the tests: folders that carry their own first-stage loader,
// as a distribution's netboot tarball does, built from Debian's packages plus
// the lab's kernel and marker initramfs (src/lab/fixtures.ts).
//
//   pxelinuxTree     BIOS:  pxelinux.0 + ldlinux.c32 + pxelinux.cfg/{default,01-<mac>}
//   grubTree         UEFI:  grubx64.efi (grub-mkimage, network modules built in) + grub/grub.cfg
//   syslinuxEfiTree  UEFI:  syslinux.efi + ldlinux.e64 + pxelinux.cfg/default
//
// Every tree keeps the kernel and initrd at boot/linux/{vmlinuz,initrd.img},
// named by paths relative to the tree's root, as Debian's menus do.
// The Debian packages: pxelinux, syslinux-common (modules), syslinux-efi,
// grub-efi-amd64-bin + grub-common (grub-mkimage), memtest86+ (scripts/install-deps.sh).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { BootFixtures } from '../../src/lab/fixtures.js';

export const PXELINUX_0 = '/usr/lib/PXELINUX/pxelinux.0';
export const SYSLINUX_BIOS_MODULES = '/usr/lib/syslinux/modules/bios';
export const SYSLINUX_EFI64 = '/usr/lib/SYSLINUX.EFI/efi64/syslinux.efi';
export const SYSLINUX_EFI64_MODULES = '/usr/lib/syslinux/modules/efi64';
export const GRUB_EFI_MODULES = '/usr/lib/grub/x86_64-efi';
/** Debian's memtest86+ 6.x installs its programs under /boot (the .iso files under /usr/lib/memtest86+). */
export const MEMTEST_EFI = '/boot/memtest86+x64.efi';
export const MEMTEST_BIN = '/boot/memtest86+x64.bin';

/** Where every tree keeps the kernel and initrd (relative to the root, as the menus name them). */
export const TREE_KERNEL = 'boot/linux/vmlinuz';
export const TREE_INITRD = 'boot/linux/initrd.img';

/**
 * The modules built into the GRUB image: the network stack (efinet, net, tftp),
 * the config language and menu (normal, configfile, test, echo, ...), and the
 * loader (linux, with Debian's EFI handover). With them built in, GRUB fetches
 * no *.mod over the network; it still asks for its *.lst lists (see grubTree).
 */
export const GRUB_MODULES = [
  'normal', 'configfile', 'linux', 'echo', 'test', 'true', 'sleep', 'efinet', 'net', 'tftp', 'http',
  'part_gpt', 'part_msdos', 'fat', 'ext2', 'iso9660', 'boot', 'search', 'ls', 'cat', 'gzio', 'all_video', 'efi_gop', 'serial', 'terminal',
];

export interface NetbootTree {
  /** Absolute path of the tree (what a TFTP server's root should be). */
  root: string;
  /** What DHCP should name for BIOS clients (relative to root), if the tree boots BIOS. */
  biosBootFile?: string;
  /** What DHCP should name for x86-64 UEFI clients (relative to root), if the tree boots UEFI. */
  uefiBootFile?: string;
  kernel: typeof TREE_KERNEL;
  initrd: typeof TREE_INITRD;
  /** The configuration files written (relative to root). */
  configs: string[];
  /** Every file in the tree (relative to root). */
  files: string[];
  /** Kernel command line of the default entry, and of the per-MAC entry when there is one. */
  cmdline: string;
  perMacCmdline?: string;
}

export interface PxelinuxTreeOptions {
  cmdline: string;
  /** Also writes pxelinux.cfg/01-<mac> (a machine's own menu, which pxelinux prefers to default). */
  perMac?: { mac: string; cmdline: string };
  /**
   * 'plain' (default): DEFAULT/LABEL/KERNEL/APPEND, no UI module, boots at once.
   * 'vesamenu': UI vesamenu.c32 + INCLUDE of a second file, MENU DEFAULT, TIMEOUT 1 (a tenth of a second):
   * a graphical menu like Debian's netboot one, still unattended.
   */
  menu?: 'plain' | 'vesamenu';
}

/** pxelinux.cfg/01-aa-bb-cc-dd-ee-ff for 01 (Ethernet) and a MAC in any usual notation. */
export function pxelinuxMacConfigName(mac: string): string {
  const hex = mac.toLowerCase().replace(/[^0-9a-f]/g, '');
  if (hex.length !== 12) throw new Error(`not a MAC address: ${mac}`);
  return `01-${hex.match(/../g)!.join('-')}`;
}

class TreeWriter {
  readonly files: string[] = [];
  readonly configs: string[] = [];
  constructor(readonly root: string) {
    mkdirSync(root, { recursive: true });
  }
  private target(rel: string): string {
    const p = join(this.root, rel);
    mkdirSync(dirname(p), { recursive: true });
    if (!this.files.includes(rel)) this.files.push(rel);
    return p;
  }
  copy(src: string, rel: string): void {
    if (!existsSync(src)) throw new Error(`${src} missing: install the Debian packages in scripts/install-deps.sh`);
    copyFileSync(src, this.target(rel));
  }
  write(rel: string, text: string): void {
    writeFileSync(this.target(rel), text);
    this.configs.push(rel);
  }
  payload(fx: BootFixtures): void {
    this.copy(fx.kernel, TREE_KERNEL);
    this.copy(fx.initrd, TREE_INITRD);
  }
}

/** A syslinux-family menu (pxelinux.0 and syslinux.efi read the same syntax). */
function syslinuxMenu(cmdline: string, label: string, menu: 'plain' | 'vesamenu'): string {
  const entry = [`LABEL ${label}`, `  KERNEL ${TREE_KERNEL}`, `  APPEND initrd=${TREE_INITRD} ${cmdline}`];
  if (menu === 'plain') return [`DEFAULT ${label}`, 'PROMPT 0', 'TIMEOUT 1', ...entry, ''].join('\n');
  return ['UI vesamenu.c32', 'MENU TITLE PXE Kit test tree', 'TIMEOUT 1', 'TOTALTIMEOUT 1', 'PROMPT 0', `INCLUDE pxelinux.cfg/${label}.cfg`, ''].join('\n');
}

function vesamenuInclude(cmdline: string, label: string): string {
  return [`LABEL ${label}`, '  MENU LABEL ^Boot the test kernel', '  MENU DEFAULT', `  KERNEL ${TREE_KERNEL}`, `  APPEND initrd=${TREE_INITRD} ${cmdline}`, ''].join('\n');
}

function writeSyslinuxConfigs(w: TreeWriter, o: PxelinuxTreeOptions): void {
  const menu = o.menu ?? 'plain';
  w.write('pxelinux.cfg/default', syslinuxMenu(o.cmdline, 'linux', menu));
  if (menu === 'vesamenu') w.write('pxelinux.cfg/linux.cfg', vesamenuInclude(o.cmdline, 'linux'));
  if (o.perMac) {
    const name = pxelinuxMacConfigName(o.perMac.mac);
    w.write(`pxelinux.cfg/${name}`, syslinuxMenu(o.perMac.cmdline, 'mine', menu));
    if (menu === 'vesamenu') w.write('pxelinux.cfg/mine.cfg', vesamenuInclude(o.perMac.cmdline, 'mine'));
  }
}

function result(w: TreeWriter, extra: Partial<NetbootTree> & { cmdline: string }): NetbootTree {
  return { root: resolve(w.root), kernel: TREE_KERNEL, initrd: TREE_INITRD, configs: [...w.configs], files: [...w.files], ...extra };
}

/** BIOS tree: pxelinux.0 (Debian's pxelinux), ldlinux.c32, pxelinux.cfg/default and optionally 01-<mac>. */
export function pxelinuxTree(dir: string, fx: BootFixtures, o: PxelinuxTreeOptions): NetbootTree {
  const w = new TreeWriter(dir);
  w.copy(PXELINUX_0, 'pxelinux.0');
  w.copy(join(SYSLINUX_BIOS_MODULES, 'ldlinux.c32'), 'ldlinux.c32');
  if (o.menu === 'vesamenu') for (const m of ['vesamenu.c32', 'libcom32.c32', 'libutil.c32']) w.copy(join(SYSLINUX_BIOS_MODULES, m), m);
  w.payload(fx);
  writeSyslinuxConfigs(w, o);
  return result(w, { biosBootFile: 'pxelinux.0', cmdline: o.cmdline, perMacCmdline: o.perMac?.cmdline });
}

/** UEFI tree with syslinux.efi (efi64) + ldlinux.e64 reading pxelinux.cfg/ like pxelinux does. */
export function syslinuxEfiTree(dir: string, fx: BootFixtures, o: PxelinuxTreeOptions): NetbootTree {
  const w = new TreeWriter(dir);
  w.copy(SYSLINUX_EFI64, 'syslinux.efi');
  w.copy(join(SYSLINUX_EFI64_MODULES, 'ldlinux.e64'), 'ldlinux.e64');
  if (o.menu === 'vesamenu') for (const m of ['vesamenu.c32', 'libcom32.c32', 'libutil.c32']) w.copy(join(SYSLINUX_EFI64_MODULES, m), m);
  w.payload(fx);
  writeSyslinuxConfigs(w, o);
  return result(w, { uefiBootFile: 'syslinux.efi', cmdline: o.cmdline, perMacCmdline: o.perMac?.cmdline });
}

export interface GrubTreeOptions {
  cmdline: string;
  /** Built-in prefix; default '/grub' (GRUB puts the boot device in front: (tftp,<server>)/grub). */
  prefix?: string;
  /** Also copy the x86_64-efi *.lst files GRUB's normal mode asks for (default false: they are optional probes). */
  withLists?: boolean;
}

/**
 * UEFI tree with a GRUB built by grub-mkimage (x86_64-efi, GRUB_MODULES built in) and grub/grub.cfg:
 * timeout 1, one menuentry loading the kernel and initrd by tree-relative paths.
 */
export function grubTree(dir: string, fx: BootFixtures, o: GrubTreeOptions): NetbootTree {
  const w = new TreeWriter(dir);
  const prefix = o.prefix ?? '/grub';
  const out = join(w.root, 'grubx64.efi');
  w.files.push('grubx64.efi');
  try {
    execFileSync('grub-mkimage', ['-O', 'x86_64-efi', '-d', GRUB_EFI_MODULES, '-p', prefix, '-o', out, ...GRUB_MODULES], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`grub-mkimage failed (grub-efi-amd64-bin, grub-common installed?): ${(e.stderr?.toString() || e.message).trim()}`);
  }
  if (o.withLists) for (const l of ['command.lst', 'fs.lst', 'crypto.lst', 'terminal.lst']) w.copy(join(GRUB_EFI_MODULES, l), `grub/x86_64-efi/${l}`);
  w.payload(fx);
  w.write(
    'grub/grub.cfg',
    [
      'set timeout=1',
      'set default=0',
      'echo "PXE Kit test tree: GRUB read grub/grub.cfg"',
      "menuentry 'Boot the test kernel' {",
      `  linux /${TREE_KERNEL} ${o.cmdline}`,
      `  initrd /${TREE_INITRD}`,
      '}',
      '',
    ].join('\n'),
  );
  return result(w, { uefiBootFile: 'grubx64.efi', cmdline: o.cmdline });
}

/** tar.gz of a tree (system tar; entries relative to the tree's root, "./..."). Returns out. */
export function packTar(dir: string, out: string): string {
  mkdirSync(dirname(resolve(out)), { recursive: true });
  execFileSync('tar', ['-czf', resolve(out), '--owner=0', '--group=0', '--numeric-owner', '-C', dir, '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return resolve(out);
}

/** memtest86+ 6.x from Debian: a standalone EFI program and the BIOS one (a Linux-boot-protocol image). */
export function memtestPrograms(): { efi: string; bin: string } | undefined {
  return existsSync(MEMTEST_EFI) && existsSync(MEMTEST_BIN) ? { efi: MEMTEST_EFI, bin: MEMTEST_BIN } : undefined;
}
/** Path of memtest86+x64.efi, or undefined when memtest86+ is not installed. */
export function memtestEfiProgram(): string | undefined {
  return existsSync(MEMTEST_EFI) ? MEMTEST_EFI : undefined;
}

// ---------------------------------------------------------------- what the loaders ask for
// Measured with dnsmasq in the lab (test/e2e/netboot-dnsmasq.test.ts, RRQs captured on the wire).
// Every name but the last of each search is a normal miss ("file not found"), not an error.

/** pxelinux's hex form of an IPv4 address (10.123.0.24 -> 0A7B0018). */
export function hexIp(ip: string): string {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`not an IPv4 address: ${ip}`);
  return parts.map((p) => p.toString(16).toUpperCase().padStart(2, '0')).join('');
}

/**
 * The config files pxelinux.0 and syslinux.efi try, in order, up to and including `default`:
 * [<uuid> when the firmware reports one], 01-<mac>, the hex IP and its 7 shortened forms, default.
 * (QEMU without -uuid reports none: the lab's machines never ask for the UUID file.)
 */
export function syslinuxConfigSearch(mac: string, ip: string, o: { uuid?: string; dir?: string } = {}): string[] {
  const dir = o.dir ?? 'pxelinux.cfg';
  const h = hexIp(ip);
  const names = [...(o.uuid ? [o.uuid.toLowerCase()] : []), pxelinuxMacConfigName(mac)];
  for (let n = 8; n >= 1; n--) names.push(h.slice(0, n));
  return [...names, 'default'].map((n) => `${dir}/${n}`);
}

/**
 * What Debian's GRUB 2.06 (built by grubTree, network boot) asks for before its kernel, in order:
 * <prefix>/grub.cfg-01-<mac>, grub.cfg-<hex IP> and its 7 shortened forms (no UUID), then normal mode's
 * <prefix>/x86_64-efi/{command,fs,crypto,terminal}.lst, then <prefix>/grub.cfg. GRUB sends the names
 * absolute ("/grub/grub.cfg", "/boot/linux/vmlinuz": a TFTP server must strip the leading slash).
 */
export function grubConfigSearch(mac: string, ip: string, prefix = '/grub'): string[] {
  const h = hexIp(ip);
  const names = [`grub.cfg-${pxelinuxMacConfigName(mac)}`];
  for (let n = 8; n >= 1; n--) names.push(`grub.cfg-${h.slice(0, n)}`);
  names.push(...['command', 'fs', 'crypto', 'terminal'].map((l) => `x86_64-efi/${l}.lst`), 'grub.cfg');
  return names.map((n) => `${prefix.replace(/\/+$/, '')}/${n}`);
}
