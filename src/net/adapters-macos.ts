// macOS NICs as the technician sees them in System Settings > Network: the hardware port
// names from `networksetup -listallhardwareports` ("Wi-Fi" en0, "Thunderbolt Ethernet Slot 1"
// en5, "USB 10/100/1000 LAN" en7), link, address and MAC from `ifconfig`, and the interface
// of the default route from `route -n get default`. Parsed into the facts interfaces.ts
// computes from /sys on Linux. Tested only on fixtures constructed from the man pages and
// Apple's documentation (test/fixtures/os/macos).
import type { OsAdapter } from './interfaces.js';

export const MACOS_COMMANDS = {
  hardwarePorts: { file: '/usr/sbin/networksetup', args: ['-listallhardwareports'] },
  ifconfig: { file: '/sbin/ifconfig', args: [] as string[] },
  defaultRoute: { file: '/sbin/route', args: ['-n', 'get', 'default'] },
};

export interface HardwarePort {
  port: string;
  device: string;
  mac?: string;
}

/** `networksetup -listallhardwareports`: blocks of "Hardware Port:", "Device:", "Ethernet Address:". */
export function parseHardwarePorts(text: string): HardwarePort[] {
  const ports: HardwarePort[] = [];
  let cur: Partial<HardwarePort> = {};
  const flush = () => {
    if (cur.port && cur.device) ports.push({ port: cur.port, device: cur.device, ...(cur.mac ? { mac: cur.mac } : {}) });
    cur = {};
  };
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^Hardware Port:\s*(.+)$/.exec(line))) {
      flush();
      cur.port = m[1].trim();
    } else if ((m = /^Device:\s*(\S+)/.exec(line))) cur.device = m[1];
    else if ((m = /^Ethernet Address:\s*([0-9a-f]{1,2}(?::[0-9a-f]{1,2}){5})/i.exec(line))) cur.mac = m[1].toLowerCase();
    else if (/^VLAN Configurations/.test(line)) flush();
  }
  flush();
  return ports;
}

export interface IfconfigEntry {
  name: string;
  flags: string[];
  mac?: string;
  ipv4?: { address: string; prefix: number; netmask: string };
  /** "active" / "inactive" from the status: line; absent when ifconfig prints none (lo0, utun, gif). */
  status?: string;
  media?: string;
}

function hexMask(mask: string): { prefix: number; netmask: string } {
  let bits: number;
  if (/^0x[0-9a-f]+$/i.test(mask)) bits = parseInt(mask, 16) >>> 0;
  else bits = mask.split('.').reduce((acc, o) => ((acc << 8) | Number(o)) >>> 0, 0);
  const netmask = [24, 16, 8, 0].map((s) => (bits >>> s) & 0xff).join('.');
  let prefix = 0;
  for (let b = 31; b >= 0 && bits & (1 << b); b--) prefix++;
  return { prefix, netmask };
}

/** BSD `ifconfig` (no arguments): a header line per interface, then tab-indented details. */
export function parseIfconfig(text: string): IfconfigEntry[] {
  const out: IfconfigEntry[] = [];
  let cur: IfconfigEntry | undefined;
  for (const line of text.split(/\r?\n/)) {
    const head = /^([a-zA-Z][\w.]*\d*):\s+flags=[0-9a-f]+<([^>]*)>/.exec(line);
    if (head) {
      cur = { name: head[1], flags: head[2] ? head[2].split(',') : [] };
      out.push(cur);
      continue;
    }
    if (!cur || !/^\s/.test(line)) continue;
    const l = line.trim();
    let m: RegExpExecArray | null;
    if ((m = /^ether\s+([0-9a-f:]+)/i.exec(l))) cur.mac = m[1].toLowerCase();
    else if ((m = /^inet\s+(\d+\.\d+\.\d+\.\d+)(?:\s+-->\s+\S+)?\s+netmask\s+(\S+)/.exec(l))) {
      const addr = m[1];
      const mask = hexMask(m[2]);
      // The first routable address wins; a self-assigned one only when there is nothing else.
      if (!cur.ipv4 || (cur.ipv4.address.startsWith('169.254.') && !addr.startsWith('169.254.'))) cur.ipv4 = { address: addr, ...mask };
    } else if ((m = /^status:\s*(\S+)/.exec(l))) cur.status = m[1];
    else if ((m = /^media:\s*(.+)$/.exec(l))) cur.media = m[1];
  }
  return out;
}

/** `route -n get default`: the "interface:" line. */
export function parseDefaultRoute(text: string): string | undefined {
  return /^\s*interface:\s*(\S+)/m.exec(text)?.[1];
}

const VIRTUAL_BY_NAME: Array<[RegExp, string]> = [
  [/^(utun|ipsec|ppp)\d+$/, 'VPN'],
  [/^(awdl|llw)\d+$/, 'Apple Wireless Direct Link (AirDrop)'],
  [/^anpi\d+$/, 'Apple internal link (anpi)'],
  [/^ap\d+$/, 'Wi-Fi hotspot (Personal Hotspot)'],
  [/^bridge\d+$/, 'bridge (Internet Sharing or virtual machines)'],
  [/^vmenet\d+$/, 'virtual machine link'],
  [/^vmnet\d+$/, 'VMware network'],
  [/^vboxnet\d+$/, 'VirtualBox network'],
  [/^(gif|stf)\d+$/, 'tunnel'],
  [/^feth\d+$/, 'virtual Ethernet (feth)'],
];

/** One interface's facts from its hardware port (if any) and its ifconfig entry. */
export function classifyMacInterface(entry: IfconfigEntry, port?: HardwarePort): Omit<OsAdapter, 'ipv4' | 'name' | 'linkUp'> {
  const p = port?.port ?? '';
  const base = { mac: entry.mac ?? port?.mac, description: p || undefined };
  if (entry.flags.includes('LOOPBACK')) return { ...base, hardware: 'loopback' };
  if (/^(Wi-Fi|AirPort)$/i.test(p)) return { ...base, hardware: 'wifi' };
  if (/^Thunderbolt Bridge$/i.test(p)) return { ...base, hardware: 'virtual', virtualKind: 'Thunderbolt Bridge (Mac-to-Mac link)' };
  if (/^Thunderbolt \d+$/i.test(p)) return { ...base, hardware: 'virtual', virtualKind: 'Thunderbolt port (Mac-to-Mac link)' };
  if (/iPhone|iPad/i.test(p)) return { ...base, hardware: 'virtual', virtualKind: 'iPhone/iPad tethering' };
  if (/Bluetooth/i.test(p)) return { ...base, hardware: 'virtual', virtualKind: 'Bluetooth network' };
  if (/VPN|Tailscale|WireGuard/i.test(p)) return { ...base, hardware: 'virtual', virtualKind: 'VPN' };
  if (p) return { ...base, hardware: 'wired', ...(/\bUSB\b/i.test(p) ? { usb: true } : {}) };
  const byName = VIRTUAL_BY_NAME.find(([re]) => re.test(entry.name));
  if (byName) return { ...base, hardware: 'virtual', virtualKind: byName[1] };
  // An enN that networksetup does not list (a port being configured): wired if it has media.
  if (/^en\d+$/.test(entry.name) && entry.media) return { ...base, hardware: 'wired' };
  return { ...base, hardware: 'virtual', virtualKind: 'virtual interface' };
}

/** The three outputs into adapter facts, one per ifconfig interface. */
export function parseMacAdapters(out: { hardwarePorts: string; ifconfig: string; defaultRoute?: string }): OsAdapter[] {
  const ports = new Map(parseHardwarePorts(out.hardwarePorts).map((p) => [p.device, p]));
  const route = out.defaultRoute ? parseDefaultRoute(out.defaultRoute) : undefined;
  return parseIfconfig(out.ifconfig).map((e) => {
    const facts = classifyMacInterface(e, ports.get(e.name));
    // "status:" is what System Settings shows; without one, UP and RUNNING mean a link.
    const linkUp = e.status ? e.status === 'active' : e.flags.includes('UP') && e.flags.includes('RUNNING');
    const a: OsAdapter = { name: e.name, ...facts, linkUp, ipv4: e.ipv4 ?? null };
    if (e.status) a.status = e.status;
    if (e.ipv4?.address.startsWith('169.254.')) a.selfAssigned = true;
    if (route && route === e.name) a.defaultRoute = true;
    return a;
  });
}
