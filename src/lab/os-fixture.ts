// An OS-like boot fixture for following a machine past the hand-off (issue 24):
// the lab's Debian kernel with a second busybox initramfs whose /init loads the
// NIC drivers of the lab's machines (e1000 for BIOS, virtio-net for UEFI), runs
// its own DHCP client (udhcpc, vendor class "PXEKit-OS-fixture", not "PXEClient"),
// prints a marker with the address it got, then the usual boot marker, and powers off.
//
// The modules come from the same Debian kernel package as the kernel (same ABI),
// cached under <fixtures>/os-modules-<kernel version>/ so the package is
// downloaded at most once. The plain fixture (ensureFixtures) and its cache stay as they are.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { BOOT_MARKER, ensureFixtures, findBusybox, newcCpio, run, writeAtomic, type BootFixtures, type CpioEntry, type FixtureOptions } from './fixtures.js';

/** Printed by the OS fixture once its own DHCP client got an address: `PXEKIT-OS-NET-UP ip=<addr> iface=<name>`. */
export const OS_NET_MARKER = 'PXEKIT-OS-NET-UP';
/** Printed instead when no lease was obtained (or no NIC appeared). */
export const OS_NET_FAILED = 'PXEKIT-OS-NET-FAILED';
/** Option 60 the fixture's DHCP client sends: an installed OS, not a PXE firmware. */
export const OS_VENDOR_CLASS = 'PXEKit-OS-fixture';
/**
 * The NIC drivers to load (their dependencies are found in the modules' own
 * `depends=`): e1000 for the lab's BIOS machines (`-device e1000`), virtio_pci +
 * virtio_net for its UEFI machines (`-device virtio-net-pci`). Debian builds
 * all of them, and virtio itself, as modules.
 */
export const OS_NIC_MODULES = ['e1000', 'virtio_pci', 'virtio_net'] as const;

export interface OsFixtures extends BootFixtures {
  /** OS_NET_MARKER: the line prefix printed once the OS's DHCP got an address. */
  netMarker: string;
  /** OS_NET_FAILED: printed when it did not. */
  netFailedMarker: string;
  /** The vendor class (option 60) of the OS's DHCP requests. */
  vendorClass: string;
  /** The kernel release the modules belong to, e.g. "6.1.0-57-amd64". */
  kernelVersion: string;
  /** Module names in load order (dependencies first), as packed in /lib/modules of the initramfs. */
  modules: string[];
  /** The cache directory holding the uncompressed .ko files. */
  modulesDir: string;
}

/** Kernel module name as the kernel compares them: '-' and '_' are the same. */
const modName = (file: string) => basename(file).replace(/\.ko(\.(xz|gz|zst))?$/, '').replace(/-/g, '_');

/** The release string in a bzImage's setup header ("6.1.0-57-amd64 (debian-kernel@...) #1 SMP ... Debian 6.1.192-3 ..."). */
export function kernelBanner(bzImage: string): string | undefined {
  const b = readFileSync(bzImage);
  if (b.length < 0x210 || b.toString('latin1', 0x202, 0x206) !== 'HdrS') return undefined;
  const off = b.readUInt16LE(0x20e);
  if (!off) return undefined;
  const start = 0x200 + off;
  const end = b.indexOf(0, start);
  return end > start ? b.toString('latin1', start, end) : undefined;
}

/** The kernel release (`uname -r`) of a bzImage, from its setup header. */
export function kernelVersionOf(bzImage: string): string | undefined {
  return kernelBanner(bzImage)?.split(' ')[0] || undefined;
}

/** A module's dependencies, from the `depends=` field of its .modinfo section. */
export function moduleDepends(ko: Buffer): string[] {
  const key = Buffer.from('depends=');
  for (let i = ko.indexOf(key); i >= 0; i = ko.indexOf(key, i + 1)) {
    if (i > 0 && ko[i - 1] !== 0) continue; // a field starts after a NUL
    const end = ko.indexOf(0, i);
    const v = ko.toString('latin1', i + key.length, end < 0 ? undefined : end);
    return v
      .split(',')
      .map((s) => s.trim().replace(/-/g, '_'))
      .filter(Boolean);
  }
  return [];
}

/** An uncompressed module: busybox insmod reads neither .xz nor .zst. */
function readModule(path: string): Buffer {
  if (path.endsWith('.ko')) return readFileSync(path);
  if (path.endsWith('.ko.gz')) return gunzipSync(readFileSync(path));
  const tool = path.endsWith('.ko.xz') ? 'xz' : path.endsWith('.ko.zst') ? 'zstd' : undefined;
  if (!tool) throw new Error(`${path}: not a kernel module`);
  try {
    return execFileSync(tool, ['-dc', path], { maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    throw new Error(`cannot decompress ${path} with ${tool} (install ${tool === 'xz' ? 'xz-utils' : 'zstd'}): ${(err as Error).message}`);
  }
}

interface ModuleCache {
  version: string;
  /** The kernel package's own version (e.g. 6.1.192-3), for the record. */
  packageVersion: string;
  /** Load order, dependencies first. */
  order: string[];
  /** Modules the kernel has built in (nothing to load). */
  builtin: string[];
}

/**
 * Extracts the NIC modules (and what they depend on) of kernel `version` from
 * Debian's linux-image-<version> package into <dir>/os-modules-<version>/,
 * uncompressed, with a manifest written last. Reuses that directory when complete.
 */
export function ensureNicModules(dir: string, version: string, log: (line: string) => void = () => {}): { dir: string; manifest: ModuleCache } {
  const target = join(dir, `os-modules-${version}`);
  const manifestPath = join(target, 'manifest.json');
  if (existsSync(manifestPath)) {
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as ModuleCache;
    if (OS_NIC_MODULES.every((m) => manifest.order.includes(m) || manifest.builtin.includes(m)) && manifest.order.every((m) => existsSync(join(target, `${m}.ko`))))
      return { dir: target, manifest };
  }
  const pkg = `linux-image-${version}`;
  const work = mkdtempSync(join(dir, 'modules-'));
  try {
    // apt-get download drops to the _apt user: let it write here.
    chmodSync(work, 0o777);
    log(`fixtures: downloading ${pkg} for its NIC modules (about 70 MB)`);
    try {
      run('apt-get', ['download', '-q', pkg], { cwd: work });
    } catch (err) {
      // The cached kernel may be older than what the mirror still carries.
      throw new Error(`${(err as Error).message}\nthe modules must come from the kernel's own package; if the mirror has dropped ${pkg}, remove ${join(dir, `vmlinuz-${version}`)} so the fixtures fetch the current kernel`);
    }
    const deb = readdirSync(work).find((f) => f.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download ${pkg} produced no .deb`);
    const packageVersion = run('dpkg-deb', ['-f', join(work, deb), 'Version']).trim();
    const root = join(work, 'root');
    mkdirSync(root);
    // One pass over the package (it is the decompression that costs, not writing the files).
    run('sh', ['-c', 'dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --wildcards "./lib/modules/*"', 'sh', join(work, deb), root]);
    const modRoot = join(root, 'lib', 'modules', version);
    if (!existsSync(modRoot)) throw new Error(`${deb} has no lib/modules/${version}`);
    const files = new Map<string, string>();
    for (const rel of readdirSync(join(modRoot, 'kernel'), { recursive: true }) as string[]) {
      if (/\.ko(\.(xz|gz|zst))?$/.test(rel)) files.set(modName(rel), join(modRoot, 'kernel', rel));
    }
    const builtinFile = join(modRoot, 'modules.builtin');
    const builtinAll = new Set(existsSync(builtinFile) ? readFileSync(builtinFile, 'utf8').split('\n').filter(Boolean).map(modName) : []);

    // Depth-first, dependencies before the module that needs them.
    const order: string[] = [];
    const builtin: string[] = [];
    const data = new Map<string, Buffer>();
    const visit = (name: string, chain: string[]) => {
      if (order.includes(name) || builtin.includes(name)) return;
      if (chain.includes(name)) throw new Error(`module dependency loop: ${[...chain, name].join(' -> ')}`);
      const file = files.get(name);
      if (!file) {
        if (builtinAll.has(name)) {
          builtin.push(name);
          return;
        }
        throw new Error(`${pkg} has no module ${name}${chain.length ? ` (needed by ${chain[chain.length - 1]})` : ''}`);
      }
      const ko = readModule(file);
      for (const dep of moduleDepends(ko)) visit(dep, [...chain, name]);
      data.set(name, ko);
      order.push(name);
    };
    for (const m of OS_NIC_MODULES) visit(m, []);

    rmSync(target, { recursive: true, force: true });
    mkdirSync(target, { recursive: true });
    for (const [name, ko] of data) writeFileSync(join(target, `${name}.ko`), ko);
    const manifest: ModuleCache = { version, packageVersion, order, builtin };
    writeAtomic(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
    log(`fixtures: NIC modules of ${pkg} ${packageVersion} in ${target}: ${order.join(' ')}${builtin.length ? ` (built in: ${builtin.join(' ')})` : ''}`);
    return { dir: target, manifest };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The OS fixture's udhcpc script: on a lease, configure the NIC and note the address for /init. */
export function udhcpcScript(): string {
  return `#!/bin/busybox sh
# udhcpc calls this with deconfig, bound, renew, leasefail or nak; the lease is in the environment.
B=/bin/busybox
case "$1" in
  deconfig) $B ifconfig "$interface" 0.0.0.0 ;;
  bound|renew)
    $B ifconfig "$interface" "$ip" \${subnet:+netmask $subnet}
    echo "$ip" > /tmp/osnet-ip
    echo "router=\${router:-none} dns=\${dns:-none} server=\${serverid:-none} lease=\${lease:-none}" > /tmp/osnet-info
    ;;
esac
exit 0
`;
}

/** The OS fixture's /init. `modules`: names in load order, packed as /lib/modules/<name>.ko. */
export function osInitScript(modules: readonly string[], marker: string = BOOT_MARKER, vendorClass: string = OS_VENDOR_CLASS): string {
  return `#!/bin/busybox sh
# PXE Kit OS fixture: a started system that brings its NIC up and runs its own DHCP.
B=/bin/busybox
$B mount -t proc proc /proc
$B mount -t sysfs sysfs /sys
$B mount -t devtmpfs devtmpfs /dev 2>/dev/null
$B mkdir -p /tmp
say() {
  # Both: /dev/console may be the VGA console when the command line has no console=ttyS0.
  echo "$1" > /dev/console
  echo "$1" > /dev/ttyS0 2>/dev/null
}
failed=""
for m in ${modules.join(' ')}; do
  $B insmod /lib/modules/$m.ko 2>/tmp/insmod.err || failed="$failed $m($($B cat /tmp/insmod.err))"
done
[ -n "$failed" ] && say "PXEKIT-OS-INSMOD-FAILED$failed"
# The PCI probe runs inside insmod, but give the NIC a moment to register.
iface=""
i=0
while [ -z "$iface" ] && [ $i -lt 10 ]; do
  for n in /sys/class/net/*; do
    n=\${n##*/}
    [ "$n" = lo ] || [ ! -e "/sys/class/net/$n" ] || { iface=$n; break; }
  done
  [ -n "$iface" ] || { $B sleep 1; i=$((i + 1)); }
done
$B ip link set lo up 2>/dev/null
if [ -n "$iface" ] && $B ip link set "$iface" up && \\
   $B udhcpc -i "$iface" -V "${vendorClass}" -t 5 -T 2 -n -q -s /bin/udhcpc-script && [ -s /tmp/osnet-ip ]; then
  say "${OS_NET_MARKER} ip=$($B cat /tmp/osnet-ip) iface=$iface $($B cat /tmp/osnet-info)"
else
  say "${OS_NET_FAILED} iface=\${iface:-none}"
fi
say "${marker} cmdline=$($B cat /proc/cmdline)"
# Time for the DHCP exchange to reach the server's event stream before the machine goes away.
$B sleep 3
# -f: no init system to ask; QEMU runs with -no-reboot and exits on power-off.
$B poweroff -f
`;
}

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

/** gzip'ed newc initramfs: busybox, the udhcpc script, the modules and the OS /init. */
export function buildOsInitramfs(busybox: string, modules: ReadonlyArray<{ name: string; data: Buffer }>, marker: string = BOOT_MARKER): Buffer {
  const entries: CpioEntry[] = [
    { name: 'bin', mode: S_IFDIR | 0o755 },
    { name: 'bin/busybox', mode: S_IFREG | 0o755, data: readFileSync(busybox) },
    { name: 'bin/sh', mode: S_IFLNK | 0o777, data: Buffer.from('busybox') },
    { name: 'bin/true', mode: S_IFLNK | 0o777, data: Buffer.from('busybox') },
    { name: 'bin/udhcpc-script', mode: S_IFREG | 0o755, data: Buffer.from(udhcpcScript()) },
    { name: 'dev', mode: S_IFDIR | 0o755 },
    // The kernel opens /dev/console for init's stdio before /init runs (devtmpfs is not mounted yet).
    { name: 'dev/console', mode: S_IFCHR | 0o600, rdevMajor: 5, rdevMinor: 1 },
    { name: 'dev/ttyS0', mode: S_IFCHR | 0o600, rdevMajor: 4, rdevMinor: 64 },
    { name: 'lib', mode: S_IFDIR | 0o755 },
    { name: 'lib/modules', mode: S_IFDIR | 0o755 },
    ...modules.map((m) => ({ name: `lib/modules/${m.name}.ko`, mode: S_IFREG | 0o644, data: m.data })),
    { name: 'proc', mode: S_IFDIR | 0o755 },
    { name: 'sys', mode: S_IFDIR | 0o755 },
    { name: 'tmp', mode: S_IFDIR | 0o1777 },
    { name: 'init', mode: S_IFREG | 0o755, data: Buffer.from(osInitScript(modules.map((m) => m.name), marker)) },
  ];
  return gzipSync(newcCpio(entries), { level: 9 });
}

/**
 * The lab's kernel (the same file ensureFixtures gives) and the OS initramfs,
 * built or reused from the fixtures dir. Synchronous: it shells out to apt and dpkg.
 */
export function ensureOsFixtures(opts: FixtureOptions = {}): OsFixtures {
  const log = opts.log ?? (() => {});
  const base = ensureFixtures(opts);
  const version = base.kernelPackage !== 'custom' ? base.kernelPackage.slice('linux-image-'.length) : kernelVersionOf(base.kernel);
  if (!version) throw new Error(`${base.kernel}: cannot read its kernel release from the bzImage header, so cannot pick its modules`);
  if (!/-amd64$/.test(version)) throw new Error(`${base.kernel} is kernel ${version}, not a Debian amd64 kernel: its NIC modules cannot be fetched as linux-image-${version}`);
  const { dir: modulesDir, manifest } = ensureNicModules(base.dir, version, log);
  const banner = kernelBanner(base.kernel) ?? '';
  if (manifest.packageVersion && banner && !banner.includes(manifest.packageVersion))
    log(`fixtures: note: the kernel says "${banner}", its modules come from ${manifest.packageVersion} (same ABI ${version})`);

  const busybox = findBusybox();
  const modules = manifest.order.map((name) => ({ name, data: readFileSync(join(modulesDir, `${name}.ko`)) }));
  const h = createHash('sha256').update(readFileSync(busybox)).update(osInitScript(manifest.order)).update(udhcpcScript());
  for (const m of modules) h.update(m.name).update(m.data);
  const initrd = join(base.dir, `os-initrd-${version}-${h.digest('hex').slice(0, 12)}.gz`);
  if (!existsSync(initrd)) {
    const data = buildOsInitramfs(busybox, modules);
    writeAtomic(initrd, data);
    log(`fixtures: OS initramfs ${initrd} (${Math.round(data.length / 1024)} KiB, modules ${manifest.order.join(' ')})`);
  }
  return {
    ...base,
    initrd,
    netMarker: OS_NET_MARKER,
    netFailedMarker: OS_NET_FAILED,
    vendorClass: OS_VENDOR_CLASS,
    kernelVersion: version,
    modules: manifest.order,
    modulesDir,
  };
}
