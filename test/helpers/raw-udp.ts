// Bare UDP sockets on 127.0.0.1 through koffi, for tests and benches of the I/O threads'
// libc calls (src/net/libc-io.ts), which take fds and native addresses, not dgram sockets.
// Loopback only.
import koffi from 'koffi';
import { nativeBuffer, type NativeBuffer } from '../../src/net/libc-io.js';

const lib = koffi.load('libc.so.6');
const socket = lib.func('int socket(int, int, int)');
const bind = lib.func('int bind(int, intptr_t, uint32_t)');
const getsockname = lib.func('int getsockname(int, intptr_t, intptr_t)');
/** sendto(fd, buf, len, flags, sockaddr, addrlen), addresses as numbers. */
export const sendto = lib.func('long sendto(int, intptr_t, unsigned long, int, intptr_t, uint32_t)');
/** recvfrom(fd, buf, len, flags, sockaddr or 0, addrlen pointer or 0). */
export const recvfrom = lib.func('long recvfrom(int, intptr_t, unsigned long, int, intptr_t, intptr_t)');
export const dup = lib.func('int dup(int)');
const AF_INET = 2;
const SOCK_DGRAM = 2;
export const SOCK_NONBLOCK = 0o4000;

/** sockaddr_in for 127.0.0.1:port (16 bytes of native memory). */
export function loopbackAddress(port: number): NativeBuffer {
  const sa = nativeBuffer(16);
  sa.buf.fill(0);
  sa.buf.writeUInt16LE(AF_INET, 0);
  sa.buf.writeUInt16BE(port, 2);
  sa.buf.writeUInt32BE(0x7f000001, 4);
  return sa;
}

/** A UDP socket bound to an ephemeral port on 127.0.0.1: its fd, port and address (to send to it). */
export function loopbackUdp(flags = 0): { fd: number; port: number; addr: number } {
  const fd = socket(AF_INET, SOCK_DGRAM | flags, 0) as number;
  const sa = loopbackAddress(0);
  const len = nativeBuffer(4);
  len.buf.writeUInt32LE(16);
  if (fd < 0 || bind(fd, sa.addr, 16) !== 0 || getsockname(fd, sa.addr, len.addr) !== 0) throw new Error('cannot open a loopback UDP socket');
  return { fd, port: sa.buf.readUInt16BE(2), addr: sa.addr };
}
