// The machine's NICs as a technician needs to see them: name, MAC, IPv4,
// link state, and whether PXE Kit can serve on it (and if not, why).
import os from 'node:os';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { NetError } from './errors.js';
import { parseWindowsAdapters, windowsAdaptersCommand } from './adapters-windows.js';
import { MACOS_COMMANDS, parseMacAdapters } from './adapters-macos.js';
import { RefreshingCache } from '../util/refreshing-cache.js';

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
  /** Windows and macOS: the OS's own name for the hardware ("Realtek USB GbE Family Controller", "Thunderbolt Ethernet Slot 1"). */
  description?: string;
  /** Windows and macOS: a USB network adapter. */
  usb?: boolean;
}

/** What Windows (Get-NetAdapter) or macOS (networksetup, ifconfig) says about one adapter. */
export interface OsAdapter {
  name: string;
  mac?: string;
  ipv4: { address: string; prefix: number; netmask: string } | null;
  linkUp: boolean;
  hardware: NonNullable<NetInterface['hardware']>;
  virtualKind?: string;
  usb?: boolean;
  description?: string;
  /** The OS's word for its state: "Up", "Disconnected", "Disabled", "Not Present" (Windows), "active"/"inactive" (macOS). */
  status?: string;
  /** Its only IPv4 address is self-assigned (169.254.x.x): no DHCP server answered. */
  selfAssigned?: boolean;
  /** macOS: it carries the default route. */
  defaultRoute?: boolean;
  /** A warning of the OS's own (duplicate address, External switch). */
  note?: string;
}

/** Runs a program and returns its stdout; throws when it fails or takes longer than timeoutMs. */
export type CommandRunner = (file: string, args: string[], timeoutMs: number) => string;

/** Where Linux describes the NICs; tests point it at a fake tree. */
export interface SysSource {
  /** Default "/sys/class/net". */
  sysNet?: string;
  /** Default os.networkInterfaces(). */
  osInterfaces?: NodeJS.Dict<os.NetworkInterfaceInfo[]>;
  platform?: NodeJS.Platform;
  /** Windows and macOS: how to run Get-NetAdapter / networksetup / ifconfig (tests hand recorded outputs). */
  run?: CommandRunner;
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

/** Windows and macOS names, for when the OS's description of its adapters is not available. */
const OTHER_OS_VIRTUAL_NAMES: Array<[RegExp, string]> = [
  [/^vEthernet \(/i, 'Hyper-V virtual switch'],
  [/VMware Network Adapter/i, 'VMware network'],
  [/VirtualBox/i, 'VirtualBox network'],
  [/^(utun|ipsec)\d+$/, 'VPN'],
  [/^(awdl|llw|anpi|bridge|gif|stf|ap)\d+$/, 'virtual interface'],
  [/Bluetooth/i, 'Bluetooth network'],
];

/** Physical or virtual, from /sys: "device" for hardware, "wireless"/"phy80211" for Wi-Fi, "brport" for bridge ports, "bridge" for bridges, "tun_flags" for taps. */
function hardwareOf(name: string, loopback: boolean, platform: NodeJS.Platform): { hardware: NonNullable<NetInterface['hardware']>; virtualKind?: string } {
  if (loopback) return { hardware: 'loopback' };
  const wifi = has(name, 'wireless') || has(name, 'phy80211');
  if (platform !== 'linux') {
    // Only when the OS's own description failed (see osAdapters): a guess from the name.
    const byName = [...VIRTUAL_NAMES, ...OTHER_OS_VIRTUAL_NAMES].find(([re]) => re.test(name));
    if (byName) return { hardware: 'virtual', virtualKind: byName[1] };
    return { hardware: wifi || /^(Wi-?Fi|WLAN|Wireless)/i.test(name) ? 'wifi' : 'wired' };
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
  if (platform === 'win32' || platform === 'darwin') return listFromOs(osIfs, platform, src.run);
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

/** PowerShell starts slowly; a Mac answers at once. Past this, the OS's view is dropped with a note. */
const OS_COMMAND_TIMEOUT_MS = 6000;

/** The commands that describe the adapters on this OS (Get-NetAdapter; networksetup + ifconfig + route). */
export function osAdapterCommands(platform: 'win32' | 'darwin'): { file: string; args: string[] }[] {
  const c = MACOS_COMMANDS;
  return platform === 'win32' ? [windowsAdaptersCommand()] : [c.hardwarePorts, c.ifconfig, c.defaultRoute];
}

type AdapterListing = { adapters: OsAdapter[]; error?: string };

/** The adapters from the outputs of osAdapterCommands, in order (an Error where a command failed), or why not. */
function adaptersFrom(platform: 'win32' | 'darwin', outputs: (string | Error)[]): AdapterListing {
  const out = (i: number) => {
    const o = outputs[i];
    if (typeof o !== 'string') throw o;
    return o;
  };
  try {
    if (platform === 'win32') return { adapters: parseWindowsAdapters(out(0)) };
    // No default route: nothing to mark.
    const defaultRoute = typeof outputs[2] === 'string' ? outputs[2] : '';
    return { adapters: parseMacAdapters({ hardwarePorts: out(0), ifconfig: out(1), defaultRoute }) };
  } catch (err) {
    const what = platform === 'win32' ? 'Get-NetAdapter' : 'networksetup/ifconfig';
    return { adapters: [], error: `${what} failed (${(err as Error).message.split('\n')[0]})` };
  }
}

/** The OS's description of its adapters through `run` (recorded outputs in tests), or why not. */
export function readOsAdapters(platform: 'win32' | 'darwin', run: CommandRunner): AdapterListing {
  return adaptersFrom(
    platform,
    osAdapterCommands(platform).map((c) => {
      try {
        return run(c.file, c.args, OS_COMMAND_TIMEOUT_MS);
      } catch (err) {
        return err as Error;
      }
    }),
  );
}

const COMMAND_OPTIONS = { encoding: 'utf8', timeout: OS_COMMAND_TIMEOUT_MS, windowsHide: true, maxBuffer: 8 * 1024 * 1024 } as const;
const runNow: CommandRunner = (file, args) => execFileSync(file, args, { ...COMMAND_OPTIONS, stdio: ['ignore', 'pipe', 'ignore'] });
/** execFile off the event loop; stdin closed at once, as the synchronous run ignores it. */
function runLater(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, COMMAND_OPTIONS, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    child.stdin?.end();
  });
}

/** readOsAdapters with the commands run off the event loop. */
async function readOsAdaptersLater(platform: 'win32' | 'darwin'): Promise<AdapterListing> {
  const outputs: (string | Error)[] = [];
  for (const c of osAdapterCommands(platform)) outputs.push(await runLater(c.file, c.args).catch((err: Error) => err));
  return adaptersFrom(platform, outputs);
}

/** The listing blocks the engine only the first time: later reads get the last answer while a fresh one is read in the background. */
const OS_CACHE_MS = 5000;
const osAdapterCache = new RefreshingCache({ readNow: (p: 'win32' | 'darwin') => readOsAdapters(p, runNow), readLater: readOsAdaptersLater, staleMs: OS_CACHE_MS });

/** The OS's description of its adapters: recorded outputs through `run` (tests), else the cached view of the OS's commands. */
export function osAdapters(platform: 'win32' | 'darwin', run?: CommandRunner): AdapterListing {
  return run ? readOsAdapters(platform, run) : osAdapterCache.get(platform);
}

/** Windows and macOS: the OS's own facts per adapter, with Node's addresses (what the sockets bind). */
function listFromOs(osIfs: NodeJS.Dict<os.NetworkInterfaceInfo[]>, platform: 'win32' | 'darwin', run?: CommandRunner): NetInterface[] {
  const { adapters, error } = osAdapters(platform, run);
  const byName = new Map(adapters.map((a) => [a.name, a]));
  const all = [...new Set([...Object.keys(osIfs), ...adapters.map((a) => a.name)])].sort();
  return all.map((name) => {
    const f = byName.get(name);
    const addrs = osIfs[name] ?? [];
    const v4 = addrs.find((a) => a.family === 'IPv4');
    const mac = f?.mac || addrs[0]?.mac || '00:00:00:00:00:00';
    const loopback = f ? f.hardware === 'loopback' || (v4?.internal ?? false) : name === 'lo' || name === 'lo0' || (v4?.internal ?? false);
    const hw = f ? { hardware: f.hardware, ...(f.virtualKind ? { virtualKind: f.virtualKind } : {}) } : hardwareOf(name, loopback, platform);
    const wireless = hw.hardware === 'wifi';
    const linkUp = f ? f.linkUp : Boolean(v4);
    const ipv4 = v4 ? { address: v4.address, prefix: v4.cidr ? Number(v4.cidr.split('/')[1]) : 0, netmask: v4.netmask } : f?.ipv4 ?? null;
    const selfAssigned = Boolean(ipv4?.address.startsWith('169.254.'));
    let usable = true;
    let note = '';
    if (loopback) [usable, note] = [false, 'loopback: no machine can boot from it'];
    else if (!linkUp) [usable, note] = [false, downNote(f?.status, platform)];
    else if (!ipv4) [usable, note] = [false, noIpv4Help(name, platform, f?.description)];
    else if (selfAssigned) [usable, note] = [false, `only a self-assigned address (${ipv4.address}, no DHCP server answered): ${noIpv4Help(name, platform, f?.description).replace(/^no IPv4 address: /, '')}`];
    else if (wireless) note = 'Wi-Fi: firmware cannot network-boot over Wi-Fi; pick the wired NIC on the boot switch';
    if (f?.note) note = note ? `${note}; ${f.note}` : f.note;
    if (error && !loopback) {
      const guess = `${error}: link, Wi-Fi and virtual adapters are guessed from names`;
      note = note ? `${note} (${guess})` : guess;
    }
    const extra = { ...(f?.description ? { description: f.description } : {}), ...(f?.usb ? { usb: true } : {}) };
    return { name, mac, ipv4, linkUp, wireless, loopback, usable, note, ...hw, ...extra };
  });
}

function downNote(status: string | undefined, platform: NodeJS.Platform): string {
  if (platform === 'win32' && status === 'Disabled') return 'disabled in Windows: enable it in Network Connections (ncpa.cpl)';
  if (platform === 'win32' && status === 'Not Present') return 'not present: the adapter is unplugged (USB or dock)';
  return 'link down: plug the cable into the switch with the machines to boot';
}

function noIpv4Help(name: string, platform: NodeJS.Platform = 'linux', description?: string): string {
  if (platform === 'win32') {
    return `no IPv4 address: give ${name} a static address on the boot network, e.g. as Administrator: netsh interface ipv4 set address name="${name}" static 192.168.50.1 255.255.255.0, or in the adapter's IPv4 settings`;
  }
  if (platform === 'darwin') {
    const service = description ?? name;
    return `no IPv4 address: give ${name} a static address on the boot network, e.g. sudo networksetup -setmanual "${service}" 192.168.50.1 255.255.255.0, or in System Settings > Network`;
  }
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
  // A laptop with Hyper-V, WSL, VMware, a VPN or Docker has usable virtual adapters beside
  // its one physical wired NIC: that NIC is the choice, never a virtual one; and with its
  // cable out, no virtual one is chosen in its place. (A host with no physical NIC at all,
  // such as the lab's namespace, keeps picking its only usable one.)
  const physical = wired.filter((n) => n.hardware === 'wired');
  if (physical.length === 1) return physical[0];
  const hasPhysical = all.some((n) => n.hardware === 'wired' || n.hardware === 'wifi');
  if (physical.length === 0 && hasPhysical && wired.length > 0) {
    throw new NetError(
      'NO_SUCH_INTERFACE',
      `No usable wired interface: connect the laptop to the boot switch and give the NIC an IPv4 address ` +
        `(${wired.map((n) => n.name).join(', ')} ${wired.length === 1 ? 'is' : 'are'} virtual: choose one with --iface only if the machines to boot are on it).`,
    );
  }
  if (wired.length === 1) return wired[0];
  const list = all.filter((n) => n.usable).map((n) => `${n.name} (${n.ipv4?.address})`);
  throw new NetError(
    'NO_SUCH_INTERFACE',
    wired.length === 0
      ? 'No usable wired interface: connect the laptop to the boot switch and give the NIC an IPv4 address.'
      : `Several interfaces could serve (${list.join(', ')}): choose one with --iface.`,
  );
}
