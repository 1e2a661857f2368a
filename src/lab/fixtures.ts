// Boot fixtures for the virtual lab and the demo: a real Debian kernel and a
// tiny busybox initramfs whose /init prints a marker line and powers off, so a
// QEMU guest that reaches it proves the whole PXE chain worked and exits by itself.
//
// Built on demand from Debian packages (apt-get download + the installed
// busybox-static), cached under <package root>/.lab/fixtures, idempotent.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/** The line the fixture initramfs prints on the console once the kernel ran /init. */
export const BOOT_MARKER = 'PXEKIT-BOOT-OK';

export interface BootFixtures {
  /** The Linux kernel (bzImage with EFI stub: boots from iPXE on BIOS and from UEFI). */
  kernel: string;
  /** gzip'ed newc cpio initramfs. */
  initrd: string;
  /** The marker the initramfs prints, followed by " cmdline=<the kernel command line>". */
  marker: string;
  /** Debian kernel package the kernel came from, or "custom". */
  kernelPackage: string;
  dir: string;
}

export interface FixtureOptions {
  /** Cache directory; default $PXEKIT_LAB_DIR/fixtures or <package root>/.lab/fixtures. */
  dir?: string;
  /** Use this kernel instead of downloading one (also $PXEKIT_KERNEL). */
  kernel?: string;
  log?: (line: string) => void;
}

/** <package root>: dist/src/lab/fixtures.js -> three levels up. */
export function packageRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

export function labDir(): string {
  return process.env.PXEKIT_LAB_DIR ?? join(packageRoot(), '.lab');
}

export function run(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(e.stderr || e.message).trim()}`);
  }
}

/** Writes atomically so a crashed build never leaves a half file that looks cached. */
export function writeAtomic(path: string, data: Buffer | string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

// ---------------------------------------------------------------- kernel

/** Which versioned kernel package the linux-image-amd64 metapackage points at. */
export function debianKernelPackage(log: (line: string) => void = () => {}): string {
  const find = (): string | undefined => {
    let out = '';
    try {
      out = run('apt-cache', ['depends', 'linux-image-amd64']);
    } catch {
      return undefined;
    }
    return /Depends:\s*(linux-image-[0-9][^\s]*-amd64)\b/.exec(out)?.[1];
  };
  let pkg = find();
  if (!pkg) {
    // A fresh machine may have no package lists yet.
    log('fixtures: apt-cache knows no linux-image-amd64, running apt-get update');
    run('apt-get', ['update', '-q']);
    pkg = find();
  }
  if (!pkg) throw new Error('cannot find the Debian kernel package: "apt-cache depends linux-image-amd64" names no linux-image-<version>-amd64');
  return pkg;
}

function ensureKernel(dir: string, opts: FixtureOptions, log: (line: string) => void): { kernel: string; pkg: string } {
  const custom = opts.kernel ?? process.env.PXEKIT_KERNEL;
  if (custom) {
    if (!existsSync(custom)) throw new Error(`kernel ${custom} does not exist`);
    return { kernel: resolve(custom), pkg: 'custom' };
  }
  // Reuse any kernel already fetched: the cache must work offline, and a newer
  // Debian point release is no reason to download 60 MB again.
  const cached = readdirSync(dir).filter((f) => /^vmlinuz-.+-amd64$/.test(f)).sort();
  if (cached.length > 0) {
    const f = cached[cached.length - 1];
    return { kernel: join(dir, f), pkg: `linux-image-${f.slice('vmlinuz-'.length)}` };
  }
  const pkg = debianKernelPackage(log);
  const target = join(dir, `vmlinuz-${pkg.slice('linux-image-'.length)}`);
  const work = mkdtempSync(join(dir, 'kernel-'));
  try {
    // apt-get download drops to the _apt user: let it write here.
    chmodSync(work, 0o777);
    log(`fixtures: downloading ${pkg} (Debian kernel, about 70 MB)`);
    run('apt-get', ['download', '-q', pkg], { cwd: work });
    const deb = readdirSync(work).find((f) => f.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download ${pkg} produced no .deb`);
    const root = join(work, 'root');
    mkdirSync(root);
    // Only the kernel image is needed: the fixture initramfs loads no modules.
    run('sh', ['-c', 'dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --wildcards "./boot/vmlinuz-*"', 'sh', join(work, deb), root]);
    const vmlinuz = readdirSync(join(root, 'boot')).find((f) => f.startsWith('vmlinuz-'));
    if (!vmlinuz) throw new Error(`${deb} has no boot/vmlinuz-*`);
    copyFileSync(join(root, 'boot', vmlinuz), `${target}.tmp-${process.pid}`);
    renameSync(`${target}.tmp-${process.pid}`, target);
    log(`fixtures: kernel ${target} (${Math.round(statSync(target).size / 1024)} KiB)`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { kernel: target, pkg };
}

// ---------------------------------------------------------------- initramfs

export interface CpioEntry {
  name: string;
  mode: number; // including the file type bits
  data?: Buffer;
  rdevMajor?: number;
  rdevMinor?: number;
}

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

/**
 * newc ("070701") cpio, the format the kernel unpacks as initramfs. Written by
 * hand so that /dev/console can be a device node without needing mknod (and
 * so the archive is byte-for-byte reproducible: fixed mtimes and inode numbers).
 */
export function newcCpio(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  const pad4 = (n: number) => Buffer.alloc((4 - (n % 4)) % 4);
  const hex = (n: number) => n.toString(16).padStart(8, '0');
  let ino = 1;
  const push = (e: CpioEntry) => {
    const data = e.data ?? Buffer.alloc(0);
    const name = Buffer.from(`${e.name}\0`);
    const header =
      '070701' +
      hex(e.name === 'TRAILER!!!' ? 0 : ino++) +
      hex(e.mode) +
      hex(0) + // uid
      hex(0) + // gid
      hex((e.mode & S_IFDIR) === S_IFDIR ? 2 : 1) + // nlink
      hex(0) + // mtime: fixed, reproducible
      hex(data.length) +
      hex(0) + // devmajor
      hex(0) + // devminor
      hex(e.rdevMajor ?? 0) +
      hex(e.rdevMinor ?? 0) +
      hex(name.length) +
      hex(0); // check
    const h = Buffer.from(header, 'ascii');
    parts.push(h, name, pad4(h.length + name.length), data, pad4(data.length));
  };
  for (const e of entries) push(e);
  push({ name: 'TRAILER!!!', mode: 0 });
  return Buffer.concat(parts);
}

/** The fixture's /init: mounts the pseudo filesystems, prints the marker, powers off. */
export function initScript(marker: string = BOOT_MARKER): string {
  return `#!/bin/busybox sh
# PXE Kit boot fixture: proves the kernel and this initramfs arrived over the network.
B=/bin/busybox
$B mount -t proc proc /proc
$B mount -t sysfs sysfs /sys
$B mount -t devtmpfs devtmpfs /dev 2>/dev/null
line="${marker} cmdline=$($B cat /proc/cmdline)"
# Both: /dev/console may be the VGA console when the command line has no console=ttyS0.
echo "$line" > /dev/console
echo "$line" > /dev/ttyS0 2>/dev/null
$B sleep 1
# -f: no init system to ask; QEMU runs with -no-reboot and exits on power-off.
$B poweroff -f
`;
}

/** True when the ELF file has no PT_INTERP program header, i.e. needs no dynamic loader. */
export function isStaticElf(path: string): boolean {
  const b = readFileSync(path);
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2 || b[5] !== 1) return false; // 64-bit little-endian ELF
  const phoff = Number(b.readBigUInt64LE(32));
  const phentsize = b.readUInt16LE(54);
  const phnum = b.readUInt16LE(56);
  for (let i = 0; i < phnum; i++) if (b.readUInt32LE(phoff + i * phentsize) === 3 /* PT_INTERP */) return false;
  return true;
}

export function findBusybox(): string {
  // The initramfs has no libc: only a static busybox runs there.
  for (const p of ['/bin/busybox', '/usr/bin/busybox']) if (existsSync(p) && isStaticElf(p)) return p;
  throw new Error('no static busybox found: install the busybox-static package (scripts/install-deps.sh)');
}

export function buildInitramfs(busybox: string, marker: string = BOOT_MARKER): Buffer {
  const entries: CpioEntry[] = [
    { name: 'bin', mode: S_IFDIR | 0o755 },
    { name: 'bin/busybox', mode: S_IFREG | 0o755, data: readFileSync(busybox) },
    { name: 'bin/sh', mode: S_IFLNK | 0o777, data: Buffer.from('busybox') },
    { name: 'dev', mode: S_IFDIR | 0o755 },
    // The kernel opens /dev/console for init's stdio before /init runs (devtmpfs is not mounted yet).
    { name: 'dev/console', mode: S_IFCHR | 0o600, rdevMajor: 5, rdevMinor: 1 },
    { name: 'dev/ttyS0', mode: S_IFCHR | 0o600, rdevMajor: 4, rdevMinor: 64 },
    { name: 'proc', mode: S_IFDIR | 0o755 },
    { name: 'sys', mode: S_IFDIR | 0o755 },
    { name: 'init', mode: S_IFREG | 0o755, data: Buffer.from(initScript(marker)) },
  ];
  // mtime 0 in the gzip header too: reproducible bytes.
  return gzipSync(newcCpio(entries), { level: 9 });
}

function ensureInitrd(dir: string, log: (line: string) => void): string {
  const busybox = findBusybox();
  const bb = readFileSync(busybox);
  const key = createHash('sha256').update(bb).update(initScript()).digest('hex').slice(0, 12);
  const target = join(dir, `initrd-${key}.gz`);
  if (existsSync(target)) return target;
  const data = buildInitramfs(busybox);
  writeAtomic(target, data);
  log(`fixtures: initramfs ${target} (${Math.round(data.length / 1024)} KiB, busybox ${busybox})`);
  return target;
}

/** Builds (or reuses) the kernel and initramfs. Synchronous: it shells out to apt and dpkg. */
export function ensureFixtures(opts: FixtureOptions = {}): BootFixtures {
  const log = opts.log ?? (() => {});
  const dir = opts.dir ?? join(labDir(), 'fixtures');
  mkdirSync(dir, { recursive: true });
  const { kernel, pkg } = ensureKernel(dir, opts, log);
  const initrd = ensureInitrd(dir, log);
  return { kernel, initrd, marker: BOOT_MARKER, kernelPackage: pkg, dir };
}
