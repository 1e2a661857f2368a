// IPv4 arithmetic for the address pool.

export function ipToInt(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) throw new Error(`"${ip}" is not an IPv4 address`);
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function prefixToNetmask(prefix: number): string {
  return intToIp(prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);
}

export function netmaskToPrefix(mask: string): number {
  const n = ipToInt(mask);
  const prefix = 32 - Math.log2((~n >>> 0) + 1);
  if (!Number.isInteger(prefix)) throw new Error(`"${mask}" is not a contiguous netmask`);
  return prefix;
}

export interface Subnet {
  network: number;
  broadcast: number;
  prefix: number;
}

export function subnetOf(ip: string, prefix: number): Subnet {
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const network = (ipToInt(ip) & mask) >>> 0;
  return { network, broadcast: (network | (~mask >>> 0)) >>> 0, prefix };
}

export function inSubnet(ip: string, s: Subnet): boolean {
  const n = ipToInt(ip);
  return n >= s.network && n <= s.broadcast;
}

export interface AddressRange {
  start: string;
  end: string;
}

/** "10.0.0.100-10.0.0.200" or { start, end }. */
export function parseRange(range: string | AddressRange): AddressRange {
  if (typeof range !== 'string') return range;
  const m = /^\s*([\d.]+)\s*[-,]\s*([\d.]+)\s*$/.exec(range);
  if (!m) throw new Error(`Bad address range "${range}": write it as FIRST-LAST, e.g. 192.168.50.100-192.168.50.200`);
  return { start: m[1], end: m[2] };
}

/**
 * The addresses the server may hand out: the explicit range, or the whole
 * subnet of the NIC, never the network, broadcast or server's own address.
 */
export function poolAddresses(serverIp: string, prefix: number, range?: string | AddressRange): number[] {
  const s = subnetOf(serverIp, prefix);
  let first = s.network + 1;
  let last = s.broadcast - 1;
  if (prefix >= 31) throw new Error(`A /${prefix} network has no room for clients: give the NIC a /24 or similar`);
  if (range) {
    const r = parseRange(range);
    const [a, b] = [ipToInt(r.start), ipToInt(r.end)];
    if (a > b) throw new Error(`Bad address range ${r.start}-${r.end}: the first address is after the last`);
    if (!inSubnet(r.start, s) || !inSubnet(r.end, s)) {
      throw new Error(`The range ${r.start}-${r.end} is not inside the NIC's network ${intToIp(s.network)}/${prefix}`);
    }
    first = Math.max(a, first);
    last = Math.min(b, last);
  }
  const server = ipToInt(serverIp);
  const out: number[] = [];
  // Cap the pool: a /8 would be 16M entries, and no boot network needs more than this.
  for (let n = first; n <= last && out.length < 65536; n++) if (n !== server) out.push(n);
  if (out.length === 0) throw new Error('The address pool is empty: widen --range or the NIC\'s network');
  return out;
}
