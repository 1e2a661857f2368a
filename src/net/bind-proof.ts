// How each socket is tied to the chosen NIC, per OS, and whether that tie is proven.
// A DHCP server that is not provably tied to the NIC does not start: a socket on
// 0.0.0.0:67 with no interface filter hears (and answers) DHCP on every NIC, and on a
// technician's laptop that includes the office Wi-Fi. There is no fallback to
// "all interfaces" anywhere (docs/decisions.md §2 and the last entry on binding proof).
//
//   linux : SO_BINDTODEVICE set before bind (sockopt-linux.ts). Proven by its success.
//   darwin: IP_BOUND_IF (interface index) set before bind, through libSystem here.
//           Proven by its success.
//   win32 : bound to the NIC's own IPv4 address; the strong host model (Windows' default
//           since Vista) delivers to it only what arrived on that NIC. Counted as proven;
//           no per-datagram interface check (Node's dgram has no IP_PKTINFO).
//   other : not proven: refused.
import { createRequire } from 'node:module';
import { networkInterfaces } from 'node:os';
import { NetError } from './errors.js';

/** A socket option or constant with the header line it was read from, so a test can check the one against the other. */
export interface HeaderConstant {
  value: number;
  /** file:line in the OS's headers (macOS: apple-oss-distributions/xnu; Linux: Debian 12's /usr/include). */
  header: string;
  /** The line itself, as it stands in that header. */
  line: string;
}

/**
 * macOS values, from xnu (github.com/apple-oss-distributions/xnu, commit e3723e1f1766, 2025-05-01),
 * the source of the SDK's <netinet/in.h> and <sys/socket.h>.
 */
export const DARWIN_CONSTANTS = {
  AF_INET: { value: 2, header: 'bsd/sys/socket.h:391', line: '#define AF_INET         2               /* internetwork: UDP, TCP, etc. */' },
  SOCK_DGRAM: { value: 2, header: 'bsd/sys/socket.h:114', line: '#define SOCK_DGRAM      2               /* datagram socket */' },
  SOL_SOCKET: { value: 0xffff, header: 'bsd/sys/socket.h:380', line: '#define SOL_SOCKET      0xffff          /* options for socket level */' },
  SO_REUSEADDR: { value: 0x0004, header: 'bsd/sys/socket.h:126', line: '#define SO_REUSEADDR    0x0004          /* allow local address reuse */' },
  SO_REUSEPORT: { value: 0x0200, header: 'bsd/sys/socket.h:139', line: '#define SO_REUSEPORT    0x0200          /* allow local address & port reuse */' },
  IPPROTO_IP: { value: 0, header: 'bsd/netinet/in.h:106', line: '#define IPPROTO_IP              0               /* dummy for IP */' },
  IP_RECVIF: { value: 20, header: 'bsd/netinet/in.h:435', line: '#define IP_RECVIF               20   /* bool; receive reception if w/dgram */' },
  IP_BOUND_IF: { value: 25, header: 'bsd/netinet/in.h:443', line: '#define IP_BOUND_IF             25   /* int; set/get bound interface */' },
  IP_PKTINFO: { value: 26, header: 'bsd/netinet/in.h:444', line: '#define IP_PKTINFO              26   /* get pktinfo on recv socket, set src on sent dgram  */' },
} as const satisfies Record<string, HeaderConstant>;

/** macOS errno values (xnu bsd/sys/errno.h lines 90, 95, 103, 111, 114, 163, 164), for errors shaped like Node's. */
const DARWIN_ERRNO: Record<number, string> = { 1: 'EPERM', 6: 'ENXIO', 13: 'EACCES', 19: 'ENODEV', 22: 'EINVAL', 48: 'EADDRINUSE', 49: 'EADDRNOTAVAIL' };

/** Linux values used by sockopt-linux.ts, from Debian 12's headers (checked against /usr/include in test/unit/bind-proof.test.ts). */
export const LINUX_CONSTANTS = {
  SOL_SOCKET: { value: 1, header: '/usr/include/asm-generic/socket.h:9', line: '#define SOL_SOCKET\t1' },
  SO_BINDTODEVICE: { value: 25, header: '/usr/include/asm-generic/socket.h:42', line: '#define SO_BINDTODEVICE\t25' },
  IP_PKTINFO: { value: 8, header: '/usr/include/linux/in.h:104', line: '#define IP_PKTINFO\t8' },
} as const satisfies Record<string, HeaderConstant>;

/** How a socket was tied to the NIC, or why it was not. */
export type BindProof = { proven: true; platform: NodeJS.Platform; how: string } | { proven: false; platform: NodeJS.Platform; why: string };

/** What the attempt to tie a socket to the NIC returned (the setsockopt's outcome, where there is one). */
export type TieResult = { ok: true } | { ok: false; error: string };

const OS_NAME: Partial<Record<NodeJS.Platform, string>> = { linux: 'this Linux machine', darwin: 'this Mac', win32: 'this Windows PC' };

/**
 * The decision table: given the OS and what tying the socket returned, is the socket
 * proven to be tied to `iface`? Pure, so every row is unit-tested with injected results.
 */
export function decideBinding(platform: NodeJS.Platform, iface: string, tie: TieResult): BindProof {
  switch (platform) {
    case 'linux':
      return tie.ok ? { proven: true, platform, how: `SO_BINDTODEVICE ${iface}` } : { proven: false, platform, why: `SO_BINDTODEVICE failed (${tie.error})` };
    case 'darwin':
      return tie.ok ? { proven: true, platform, how: `IP_BOUND_IF ${iface}` } : { proven: false, platform, why: `IP_BOUND_IF failed (${tie.error})` };
    case 'win32':
      // Bound to the NIC's own address: under the strong host model (Windows' default) only
      // datagrams that arrived on that NIC reach the socket, and what it sends leaves by that NIC.
      return tie.ok ? { proven: true, platform, how: `bound to ${iface}'s own IPv4 address (strong host model)` } : { proven: false, platform, why: `binding ${iface}'s address failed (${tie.error})` };
    default:
      return { proven: false, platform, why: `PXE Kit knows no way to tie a socket to one network card on ${platform}` };
  }
}

/** The refusal a technician reads when DHCP will not start because the binding is not proven. */
export function refusalMessage(proof: Extract<BindProof, { proven: false }>, iface: string, purpose = 'DHCP'): string {
  const where = OS_NAME[proof.platform] ?? `this ${proof.platform} machine`;
  return `cannot tie the ${purpose} socket to ${iface} on ${where}: ${proof.why}: PXE Kit will not answer DHCP, so it cannot answer on Wi-Fi or another network by mistake`;
}

export class BindingNotProven extends NetError {
  constructor(
    readonly proof: Extract<BindProof, { proven: false }>,
    iface: string,
    purpose?: string,
  ) {
    super('BIND_FAILED', refusalMessage(proof, iface, purpose));
  }
}

/** The refusal for a tie that failed (`error` says how) on `platform`. */
export function notProven(platform: NodeJS.Platform, iface: string, error: string, purpose?: string): BindingNotProven {
  const proof = decideBinding(platform, iface, { ok: false, error });
  return new BindingNotProven(proof.proven ? { proven: false, platform, why: error } : proof, iface, purpose);
}

/** Throws BindingNotProven unless the proof holds. */
export function requireProof(proof: BindProof, iface: string, purpose?: string): asserts proof is Extract<BindProof, { proven: true }> {
  if (!proof.proven) throw new BindingNotProven(proof, iface, purpose);
}

/** The OSes on which openUdpSocket can tie a socket to a NIC at all; elsewhere it refuses before binding anything. */
export function canTieToNic(platform: NodeJS.Platform = process.platform): boolean {
  return platform === 'linux' || platform === 'darwin' || platform === 'win32';
}

// ---- macOS: IP_BOUND_IF through libSystem (koffi), on a socket dgram then adopts ----

type LibSystem = {
  socket: (domain: number, type: number, protocol: number) => number;
  setsockopt: (fd: number, level: number, name: number, value: Buffer, len: number) => number;
  bind: (fd: number, addr: Buffer, len: number) => number;
  close: (fd: number) => number;
  if_nametoindex: (name: string) => number;
};

/** koffi, loaded only on the macOS path (Linux loads it in sockopt-linux.ts; Windows never needs it). */
let koffiModule: typeof import('koffi') | undefined;
const koffi = (): typeof import('koffi') => (koffiModule ??= createRequire(import.meta.url)('koffi') as typeof import('koffi'));

let libSystem: LibSystem | undefined;
function loadLibSystem(): LibSystem {
  if (libSystem) return libSystem;
  const lib = koffi().load('/usr/lib/libSystem.B.dylib');
  libSystem = {
    socket: lib.func('int socket(int, int, int)'),
    setsockopt: lib.func('int setsockopt(int, int, int, const void *, uint32_t)'),
    bind: lib.func('int bind(int, const void *, uint32_t)'),
    close: lib.func('int close(int)'),
    if_nametoindex: lib.func('unsigned int if_nametoindex(const char *)'),
  };
  return libSystem;
}

/** An errno-carrying error shaped like Node's (udp.ts translates EADDRINUSE and friends). */
function darwinError(syscall: string): NodeJS.ErrnoException {
  const errno = koffi().errno();
  const code = DARWIN_ERRNO[errno] ?? `E${errno}`;
  return Object.assign(new Error(`${syscall} failed: ${code} (errno ${errno})`), { syscall, errno, code });
}

/** struct sockaddr_in on macOS: sin_len, sin_family (one byte each), port, address. */
function darwinSockaddrIn(address: string, port: number): Buffer {
  const buf = Buffer.alloc(16);
  buf.writeUInt8(16, 0);
  buf.writeUInt8(DARWIN_CONSTANTS.AF_INET.value, 1);
  buf.writeUInt16BE(port, 2);
  address.split('.').forEach((octet, i) => buf.writeUInt8(Number(octet), 4 + i));
  return buf;
}

/**
 * macOS: a UDP socket tied to `device` with IP_BOUND_IF before it is bound to `address:port`;
 * its fd, for dgram to adopt. When IP_BOUND_IF fails the fd is closed before any bind and
 * BindingNotProven is thrown: the socket never listens anywhere.
 */
export function openBoundIfFd(opts: { device: string; address: string; port: number; reuseAddr?: boolean }, purpose?: string): number {
  const l = loadLibSystem();
  const C = DARWIN_CONSTANTS;
  const index = l.if_nametoindex(opts.device);
  if (!index) throw notProven('darwin', opts.device, `no interface index for ${opts.device}`, purpose);
  const fd = l.socket(C.AF_INET.value, C.SOCK_DGRAM.value, 0);
  if (fd < 0) throw darwinError('socket');
  const int = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v); // macOS runs on little-endian x86-64 and arm64 only
    return b;
  };
  // BSD lets a second socket bind the same address and port only when both set SO_REUSEPORT.
  for (const opt of opts.reuseAddr ? [C.SO_REUSEADDR, C.SO_REUSEPORT] : []) {
    if (l.setsockopt(fd, C.SOL_SOCKET.value, opt.value, int(1), 4) !== 0) {
      const err = darwinError('setsockopt(SO_REUSEADDR/SO_REUSEPORT)');
      l.close(fd);
      throw err;
    }
  }
  const tie = tieDarwin(fd, index, (f, level, name, value) => l.setsockopt(f, level, name, value, value.length), () => darwinError('setsockopt(IP_BOUND_IF)').message);
  const proof = decideBinding('darwin', opts.device, tie);
  if (!proof.proven) {
    l.close(fd);
    throw new BindingNotProven(proof, opts.device, purpose);
  }
  const sa = darwinSockaddrIn(opts.address, opts.port);
  if (l.bind(fd, sa, sa.length) !== 0) {
    const err = darwinError('bind');
    l.close(fd);
    throw err;
  }
  return fd;
}

/**
 * macOS: libuv turns address reuse on when dgram adopts an fd (uv_udp_open); turn it off
 * again so that another DHCP or TFTP server cannot quietly share our port (as clearReuseAddr
 * on Linux). Best effort: a failure leaves the socket tied to the NIC all the same.
 */
export function clearDarwinReuse(fd: number): void {
  const l = loadLibSystem();
  const zero = Buffer.alloc(4);
  for (const opt of [DARWIN_CONSTANTS.SO_REUSEADDR, DARWIN_CONSTANTS.SO_REUSEPORT]) l.setsockopt(fd, DARWIN_CONSTANTS.SOL_SOCKET.value, opt.value, zero, 4);
}

/** setsockopt(fd, IPPROTO_IP, IP_BOUND_IF, &index): the call alone, with setsockopt injected for tests. */
export function tieDarwin(fd: number, ifindex: number, setsockopt: (fd: number, level: number, name: number, value: Buffer) => number, describeError: () => string): TieResult {
  const v = Buffer.alloc(4);
  v.writeUInt32LE(ifindex);
  return setsockopt(fd, DARWIN_CONSTANTS.IPPROTO_IP.value, DARWIN_CONSTANTS.IP_BOUND_IF.value, v) === 0 ? { ok: true } : { ok: false, error: describeError() };
}

// ---- The receiving-interface check on datagrams the servers accept ----

function ipToInt(ip: string): number {
  const p = ip.split('.');
  return p.length === 4 ? ((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0 : -1;
}

function inSubnet(ip: number, net: number, prefix: number): boolean {
  if (prefix <= 0) return true;
  const mask = prefix >= 32 ? 0xffffffff : (0xffffffff << (32 - prefix)) >>> 0;
  return ((ip & mask) >>> 0) === ((net & mask) >>> 0);
}

export interface OtherNetwork {
  iface: string;
  address: string;
  prefix: number;
}

/** This host's IPv4 networks on every interface but `iface` and loopback (from os.networkInterfaces()). */
export function otherNetworks(iface: string, list: ReturnType<typeof networkInterfaces> = networkInterfaces()): OtherNetwork[] {
  const out: OtherNetwork[] = [];
  for (const [name, addrs] of Object.entries(list)) {
    if (name === iface) continue;
    for (const a of addrs ?? []) {
      if (a.family !== 'IPv4' || a.internal || !a.cidr) continue;
      out.push({ iface: name, address: a.address, prefix: Number(a.cidr.split('/')[1]) });
    }
  }
  return out;
}

/**
 * The per-datagram receiving-interface check the servers run on what they accept.
 * Node's dgram hands over the source address and port only (no IP_PKTINFO, no interface
 * index), so what can be proven per datagram is this: a datagram whose source address
 * lies in the network of ANOTHER of this host's interfaces, and not in the chosen NIC's
 * own network, came from that other network: it is dropped ('wrong-interface') and counted.
 * Sources 0.0.0.0 (a DHCP client without an address) carry no such evidence; for those the
 * socket's tie (SO_BINDTODEVICE, IP_BOUND_IF, the strong host model) is the guarantee.
 * Returns the other interface's name when the datagram is to be dropped.
 */
export class ReceiveGuard {
  private readonly own: { net: number; prefix: number };
  private readonly others: Array<{ iface: string; net: number; prefix: number }>;

  constructor(nic: { address: string; prefix: number }, others: OtherNetwork[]) {
    this.own = { net: ipToInt(nic.address), prefix: nic.prefix };
    // A network that overlaps the chosen NIC's says nothing about where a datagram came from.
    this.others = others
      .map((o) => ({ iface: o.iface, net: ipToInt(o.address), prefix: o.prefix }))
      .filter((o) => o.net !== -1 && !inSubnet(o.net, this.own.net, Math.min(o.prefix, this.own.prefix)));
  }

  /** The interface whose network `source` belongs to, when that is not the chosen NIC's: drop the datagram. */
  wrongInterface(source: string): string | undefined {
    if (this.others.length === 0) return undefined;
    const ip = ipToInt(source);
    if (ip <= 0 || inSubnet(ip, this.own.net, this.own.prefix)) return undefined;
    return this.others.find((o) => inSubnet(ip, o.net, o.prefix))?.iface;
  }
}

/** A ReceiveGuard for `iface`, its prefix read from the OS (for servers that are not told it, e.g. TFTP). */
export function receiveGuardFor(iface: string, address: string, list: ReturnType<typeof networkInterfaces> = networkInterfaces()): ReceiveGuard {
  const own = (list[iface] ?? []).find((a) => a.family === 'IPv4' && a.address === address);
  return new ReceiveGuard({ address, prefix: own?.cidr ? Number(own.cidr.split('/')[1]) : 32 }, otherNetworks(iface, list));
}
