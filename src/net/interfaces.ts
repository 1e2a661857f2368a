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
}

function readSys(name: string, file: string): string | undefined {
  try {
    return readFileSync(`/sys/class/net/${name}/${file}`, 'utf8').trim();
  } catch {
    return undefined;
  }
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

function names(): string[] {
  const fromOs = Object.keys(os.networkInterfaces());
  if (process.platform !== 'linux' || !existsSync('/sys/class/net')) return fromOs;
  return [...new Set([...readdirSync('/sys/class/net'), ...fromOs])].sort();
}

export function listInterfaces(): NetInterface[] {
  const osIfs = os.networkInterfaces();
  return names().map((name) => {
    const addrs = osIfs[name] ?? [];
    const v4 = addrs.find((a) => a.family === 'IPv4');
    const mac = readSys(name, 'address') ?? addrs[0]?.mac ?? '00:00:00:00:00:00';
    const loopback = name === 'lo' || (v4?.internal ?? false);
    const wireless = existsSync(`/sys/class/net/${name}/wireless`) || existsSync(`/sys/class/net/${name}/phy80211`);
    const linkUp = linkState(name) ?? Boolean(v4);
    const prefix = v4?.cidr ? Number(v4.cidr.split('/')[1]) : 0;
    const ipv4 = v4 ? { address: v4.address, prefix, netmask: v4.netmask } : null;
    let usable = true;
    let note = '';
    if (loopback) [usable, note] = [false, 'loopback: no machine can boot from it'];
    else if (!linkUp) [usable, note] = [false, 'link down: plug the cable into the switch with the machines to boot'];
    else if (!ipv4) [usable, note] = [false, noIpv4Help(name)];
    else if (wireless) note = 'Wi-Fi: firmware cannot network-boot over Wi-Fi; pick the wired NIC on the boot switch';
    return { name, mac, ipv4, linkUp, wireless, loopback, usable, note };
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
    throw new NetError('NO_SUCH_INTERFACE', `There is no interface named "${name}". ${hint} Run "pxekit interfaces" to see them all.`);
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
