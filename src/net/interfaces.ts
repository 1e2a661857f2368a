// The machine's NICs as a technician needs to see them: name, MAC, IPv4,
// link state, and whether PXE Kit can serve on it (and if not, why).
import os from 'node:os';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { NetError } from './errors.js';

export interface NetInterface {
  name: string;
  mac: string;
  ipv4: { address: string; prefix: number; netmask: string } | null;
  linkUp: boolean;
  wireless: boolean;
  loopback: boolean;
  usable: boolean;
  /** Why it cannot be used, or a warning worth showing even when usable. */
  note: string;
  /** What it is: a physical NIC (wired or Wi-Fi), or a virtual one (bridge, its ports, tap, veth, container and VM networks). */
  hardware?: 'wired' | 'wifi' | 'virtual' | 'loopback';
  /** For virtual ones, which kind, in a technician's words ("bridge port of virbr0", "Docker network"). */
  virtualKind?: string;
  /** 0 is the best to serve on; the list comes sorted by it (rankInterfaces). */
  rank?: number;
}

/** Where Linux describes the NICs; tests point it at a fake tree. */
export interface SysSource {
  /** Default "/sys/class/net". */
  sysNet?: string;
  /** Default os.networkInterfaces(). */
  osInterfaces?: NodeJS.Dict<os.NetworkInterfaceInfo[]>;
  platform?: NodeJS.Platform;
}

let SYS_NET = '/sys/class/net';

function readSys(name: string, file: string): string | undefined {
  try {
    return readFileSync(`${SYS_NET}/${name}/${file}`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

const has = (name: string, file: string) => existsSync(`${SYS_NET}/${name}/${file}`);

const VIRTUAL_NAMES: Array<[RegExp, string]> = [
  [/^docker\d*$|^br-[0-9a-f]{12}$/, 'Docker network'],
  [/^virbr\d+(-nic)?$/, 'virtual machine network (libvirt)'],
  [/^vmnet\d+$/, 'VMware network'],
  [/^vboxnet\d+$/, 'VirtualBox network'],
  [/^(tailscale|zt|wg|tun|ppp)/, 'VPN'],
  [/^veth/, 'container link (veth)'],
  [/^(tap|vnet)\d+/, 'virtual machine link (tap)'],
  [/^(lxc|lxd|cni|flannel|cali|podman|incusbr)/, 'container network'],
];

/** Physical or virtual, from /sys: "device" for hardware, "wireless"/"phy80211" for Wi-Fi, "brport" for bridge ports, "bridge" for bridges, "tun_flags" for taps. */
function hardwareOf(name: string, loopback: boolean, platform: NodeJS.Platform): { hardware: NonNullable<NetInterface['hardware']>; virtualKind?: string } {
  if (loopback) return { hardware: 'loopback' };
  const wifi = has(name, 'wireless') || has(name, 'phy80211');
  if (platform !== 'linux') {
    const byName = VIRTUAL_NAMES.find(([re]) => re.test(name));
    return byName ? { hardware: 'virtual', virtualKind: byName[1] } : { hardware: wifi ? 'wifi' : 'wired' };
  }
  const master = (() => {
    const link = readSys(name, 'brport/bridge/uevent');
    return link?.match(/INTERFACE=(\S+)/)?.[1];
  })();
  if (has(name, 'brport')) return { hardware: 'virtual', virtualKind: master ? `bridge port of ${master}` : 'bridge port' };
  if (has(name, 'tun_flags')) return { hardware: 'virtual', virtualKind: 'virtual machine link (tap)' };
  if (has(name, 'bridge')) return { hardware: 'virtual', virtualKind: VIRTUAL_NAMES.find(([re]) => re.test(name))?.[1] ?? 'bridge' };
  if (has(name, 'device')) return { hardware: wifi ? 'wifi' : 'wired' };
  return { hardware: 'virtual', virtualKind: VIRTUAL_NAMES.find(([re]) => re.test(name))?.[1] ?? 'virtual interface' };
}

/** Rank: usable physical wired first (link and IPv4), then wired without link or address, Wi-Fi, virtual, loopback. */
function rankOf(n: NetInterface): number {
  const base = { wired: 0, wifi: 20, virtual: 40, loopback: 90 }[n.hardware ?? 'wired'];
  return base + (n.linkUp ? 0 : 4) + (n.ipv4 ? 0 : 2) + (n.usable ? 0 : 1);
}

/** Sorted best first (stable by name within a rank). */
export function rankInterfaces(list: NetInterface[]): NetInterface[] {
  return list
    .map((n) => ({ ...n, rank: rankOf(n) }))
    .sort((a, b) => a.rank - b.rank || a.name.localeCompare(b.name));
}

/** The one to preselect: the best usable one (a physical wired NIC with link and IPv4 when there is one). */
export function bestInterface(list: NetInterface[]): NetInterface | undefined {
  return rankInterfaces(list).find((n) => n.usable && !n.loopback);
}

/** Link state: Linux's operstate when there is one, else the OS's view (an address means up). */
function linkState(name: string): boolean | undefined {
  const oper = readSys(name, 'operstate');
  if (oper === undefined) return undefined;
  // Virtual links (veth, bridges, tun) often report "unknown" while passing traffic.
  if (oper === 'up' || oper === 'unknown') return true;
  const flags = parseInt(readSys(name, 'flags') ?? '0', 16);
  const IFF_UP = 0x1;
  const IFF_LOWER_UP = 0x10000;
  return (flags & IFF_UP) !== 0 && (flags & IFF_LOWER_UP) !== 0;
}

function names(osIfs: NodeJS.Dict<os.NetworkInterfaceInfo[]>, platform: NodeJS.Platform): string[] {
  const fromOs = Object.keys(osIfs);
  if (platform !== 'linux' || !existsSync(SYS_NET)) return fromOs;
  return [...new Set([...readdirSync(SYS_NET), ...fromOs])].sort();
}

/** Every NIC, best to serve on first (rankInterfaces). */
export function listInterfaces(src: SysSource = {}): NetInterface[] {
  const prev = SYS_NET;
  SYS_NET = src.sysNet ?? '/sys/class/net';
  try {
    return rankInterfaces(listUnranked(src));
  } finally {
    SYS_NET = prev;
  }
}

function listUnranked(src: SysSource): NetInterface[] {
  const osIfs = src.osInterfaces ?? os.networkInterfaces();
  const platform = src.platform ?? process.platform;
  return names(osIfs, platform).map((name) => {
    const addrs = osIfs[name] ?? [];
    const v4 = addrs.find((a) => a.family === 'IPv4');
    const mac = readSys(name, 'address') ?? addrs[0]?.mac ?? '00:00:00:00:00:00';
    const loopback = name === 'lo' || (v4?.internal ?? false);
    const wireless = has(name, 'wireless') || has(name, 'phy80211');
    const linkUp = linkState(name) ?? Boolean(v4);
    const prefix = v4?.cidr ? Number(v4.cidr.split('/')[1]) : 0;
    const ipv4 = v4 ? { address: v4.address, prefix, netmask: v4.netmask } : null;
    let usable = true;
    let note = '';
    if (loopback) [usable, note] = [false, 'loopback: no machine can boot from it'];
    else if (!linkUp) [usable, note] = [false, 'link down: plug the cable into the switch with the machines to boot'];
    else if (!ipv4) [usable, note] = [false, noIpv4Help(name)];
    else if (wireless) note = 'Wi-Fi: firmware cannot network-boot over Wi-Fi; pick the wired NIC on the boot switch';
    return { name, mac, ipv4, linkUp, wireless, loopback, usable, note, ...hardwareOf(name, loopback, platform) };
  });
}

function noIpv4Help(name: string): string {
  return (
    `no IPv4 address: give ${name} a static address on the boot network, e.g. ` +
    `"sudo ip addr add 192.168.50.1/24 dev ${name}" (Linux) or set it in the adapter's IPv4 settings`
  );
}

/** The chosen NIC, or an error that says exactly why it cannot serve. */
export function resolveInterface(name: string, all: NetInterface[] = listInterfaces()): NetInterface & { ipv4: NonNullable<NetInterface['ipv4']> } {
  const nic = all.find((n) => n.name === name);
  if (!nic) {
    const usable = all.filter((n) => n.usable).map((n) => n.name);
    const hint = usable.length ? `Usable interfaces: ${usable.join(', ')}.` : 'No interface is usable right now.';
    throw new NetError('NO_SUCH_INTERFACE', `There is no interface named "${name}". ${hint} See them all on the Network screen (or with "pxekit interfaces" in a terminal).`);
  }
  if (nic.loopback) throw new NetError('NO_SUCH_INTERFACE', `${name} is the loopback interface: pick the NIC cabled to the machines to boot.`);
  if (!nic.linkUp) throw new NetError('INTERFACE_DOWN', `${name} is down (no link). Plug the cable into the switch with the machines to boot, or bring it up ("sudo ip link set ${name} up").`);
  if (!nic.ipv4) throw new NetError('NO_IPV4', `${name} has no IPv4 address. ${noIpv4Help(name).replace(/^no IPv4 address: /, '')}.`);
  return nic as NetInterface & { ipv4: NonNullable<NetInterface['ipv4']> };
}

/** Picks the NIC when the user did not: the only usable wired one, else an error listing the choices. */
export function defaultInterface(all: NetInterface[] = listInterfaces()): NetInterface {
  const wired = all.filter((n) => n.usable && !n.wireless);
  if (wired.length === 1) return wired[0];
  const list = all.filter((n) => n.usable).map((n) => `${n.name} (${n.ipv4?.address})`);
  throw new NetError(
    'NO_SUCH_INTERFACE',
    wired.length === 0
      ? 'No usable wired interface: connect the laptop to the boot switch and give the NIC an IPv4 address.'
      : `Several interfaces could serve (${list.join(', ')}): choose one with --iface.`,
  );
}
