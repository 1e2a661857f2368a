// Linux socket options that Node's dgram does not expose, reached through libc
// with koffi (prebuilt, no compiler needed). We create and bind the socket here,
// then hand the file descriptor to dgram, which adopts it with bind({ fd }).
//
// Why SO_BINDTODEVICE: a socket bound to 0.0.0.0:67 hears DHCP broadcasts from
// every NIC, and a reply sent to 255.255.255.255 leaves by the default route
// (on a laptop, the Wi-Fi). Binding the socket to the chosen device fixes both:
// it only receives what arrived on that NIC and only sends out of that NIC.
import koffi from 'koffi';
import { libcIo, nativeBuffer, type NativeBuffer } from './libc-io.js';

const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const SO_BROADCAST = 6;
const SO_BINDTODEVICE = 25;
const SO_RCVBUF = 8;
const SO_RCVBUFFORCE = 33;

type Libc = {
  socket: (domain: number, type: number, protocol: number) => number;
  setsockopt: (fd: number, level: number, name: number, value: Buffer, len: number) => number;
  bind: (fd: number, addr: Buffer, len: number) => number;
  connect: (fd: number, addr: Buffer, len: number) => number;
  getsockname: (fd: number, addr: Buffer, len: Buffer) => number;
  getsockopt: (fd: number, level: number, name: number, value: Buffer, len: Buffer) => number;
  close: (fd: number) => number;
};

let libc: Libc | undefined;
function load(): Libc {
  if (libc) return libc;
  const lib = koffi.load('libc.so.6');
  libc = {
    socket: lib.func('int socket(int, int, int)'),
    setsockopt: lib.func('int setsockopt(int, int, int, const void *, uint32_t)'),
    bind: lib.func('int bind(int, const void *, uint32_t)'),
    connect: lib.func('int connect(int, const void *, uint32_t)'),
    getsockname: lib.func('int getsockname(int, void *, void *)'),
    getsockopt: lib.func('int getsockopt(int, int, int, void *, void *)'),
    close: lib.func('int close(int)'),
  };
  return libc;
}

/** An errno-carrying error, shaped like Node's system errors (code + errno + syscall). */
export class SysError extends Error {
  constructor(
    readonly syscall: string,
    readonly errno: number,
    readonly code: string,
  ) {
    super(`${syscall} failed: ${code} (errno ${errno})`);
  }
}

const ERRNO_CODES: Record<number, string> = {
  1: 'EPERM', 13: 'EACCES', 19: 'ENODEV', 98: 'EADDRINUSE', 99: 'EADDRNOTAVAIL', 22: 'EINVAL', 101: 'ENETUNREACH', 111: 'ECONNREFUSED',
};

function fail(l: Libc, fd: number, syscall: string): never {
  const errno = koffi.errno();
  if (fd >= 0) l.close(fd);
  throw new SysError(syscall, errno, ERRNO_CODES[errno] ?? `E${errno}`);
}

function sockaddrIn(address: string, port: number): Buffer {
  const buf = Buffer.alloc(16);
  buf.writeUInt16LE(AF_INET, 0); // sa_family is host order (little-endian on every Linux we ship for)
  buf.writeUInt16BE(port, 2);
  address.split('.').forEach((octet, i) => buf.writeUInt8(Number(octet), 4 + i));
  return buf;
}

export interface DeviceSocketOptions {
  device: string;
  address: string; // usually 0.0.0.0 for broadcast listeners, the NIC's address otherwise
  port: number;
  broadcast?: boolean;
  reuseAddr?: boolean;
  /** Receive queue size to ask for (see setReceiveBuffer). */
  receiveBufferBytes?: number;
}

/** Creates a UDP socket bound to `device` and `address:port`; returns its fd. */
export function openDeviceBoundFd(opts: DeviceSocketOptions): number {
  const l = load();
  const fd = l.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(l, fd, 'socket');
  const one = Buffer.alloc(4);
  one.writeInt32LE(1);
  if (opts.reuseAddr && l.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, one, 4) !== 0) fail(l, fd, 'setsockopt(SO_REUSEADDR)');
  if (opts.broadcast && l.setsockopt(fd, SOL_SOCKET, SO_BROADCAST, one, 4) !== 0) fail(l, fd, 'setsockopt(SO_BROADCAST)');
  if (opts.receiveBufferBytes) setReceiveBuffer(fd, opts.receiveBufferBytes);
  const dev = Buffer.from(opts.device + '\0', 'utf8');
  if (l.setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, dev.length) !== 0) fail(l, fd, 'setsockopt(SO_BINDTODEVICE)');
  const sa = sockaddrIn(opts.address, opts.port);
  if (l.bind(fd, sa, sa.length) !== 0) fail(l, fd, 'bind');
  return fd;
}

/**
 * libuv turns SO_REUSEADDR on when dgram adopts an fd (uv_udp_open). Turn it back
 * off, so that a DHCP or TFTP server started after us cannot quietly share our port.
 */
export function clearReuseAddr(fd: number): void {
  const l = load();
  const zero = Buffer.alloc(4);
  if (l.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, zero, 4) !== 0) fail(l, -1, 'setsockopt(SO_REUSEADDR=0)');
}

/**
 * Asks for a receive queue of `bytes` and returns what the kernel granted (it doubles the
 * request for its own bookkeeping). SO_RCVBUFFORCE goes past net.core.rmem_max (212992 by
 * default, ~160 DHCP packets: 20 ms of a boot storm at 8000 packets/s, shorter than one
 * long garbage collection); it needs CAP_NET_ADMIN, which the engine has when run as root.
 * Without it, SO_RCVBUF, which the kernel silently caps at rmem_max. Never fatal.
 */
export function setReceiveBuffer(fd: number, bytes: number): number {
  const l = load();
  const value = Buffer.alloc(4);
  value.writeInt32LE(bytes);
  if (l.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, value, 4) !== 0) l.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, value, 4);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(4);
  return l.getsockopt(fd, SOL_SOCKET, SO_RCVBUF, value, len) === 0 ? value.readInt32LE(0) : 0;
}

export function closeFd(fd: number): void {
  load().close(fd);
}

/**
 * A socket of our own, bound to `device` and `address` on a fresh port and connect()ed to
 * the peer, that no dgram socket adopts: for TFTP transfers whose packets a worker thread
 * moves itself (src/tftp/offload). SO_REUSEADDR stays on so that one unconnected dgram
 * socket of ours can join the port to hear packets from other TIDs.
 */
export function openConnectedFd(opts: { device: string; address: string; peerAddress: string; peerPort: number }): { fd: number; port: number } {
  const bound = openPortFd(opts.device, opts.address);
  connectFd(bound.fd, opts.peerAddress, opts.peerPort);
  return bound;
}

/** openConnectedFd's first half: a socket bound to `device` and `address` on a fresh port (SO_REUSEADDR on). */
export function openPortFd(device: string, address: string): { fd: number; port: number } {
  const l = load();
  const fd = openDeviceBoundFd({ device, address, port: 0, reuseAddr: true });
  const name = Buffer.alloc(16);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(16);
  if (l.getsockname(fd, name, len) !== 0) fail(l, fd, 'getsockname');
  return { fd, port: name.readUInt16BE(2) };
}

let sink: NativeBuffer | undefined;

/**
 * Its second half: connect()s the socket to the peer, then throws away any datagram that
 * reached it while it was bound and unconnected (from anyone): a connected socket keeps
 * what it had already queued. Closes the fd on failure.
 */
export function connectFd(fd: number, peerAddress: string, peerPort: number): void {
  const l = load();
  const peer = sockaddrIn(peerAddress, peerPort);
  if (l.connect(fd, peer, peer.length) !== 0) fail(l, fd, 'connect');
  // Emptied after connect(), so nothing from a stranger can slip in between; the peer cannot
  // have sent anything yet, as it learns this port from our first packet. Truncated reads:
  // only emptying the queue matters.
  const io = libcIo();
  sink ??= nativeBuffer(1);
  while (io.recv(fd, sink.addr, 1) >= 0);
}
