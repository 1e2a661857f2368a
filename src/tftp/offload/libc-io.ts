// The few libc calls the TFTP data pump makes itself (Linux, through koffi): poll,
// recv, send and an eventfd to wake it. Each is one syscall with no allocation and
// no event-loop turn, which is the point: node:dgram costs about as much again as
// the kernel per packet (docs/performance.md), and lockstep TFTP is one packet per
// round trip.
import koffi from 'koffi';

export const POLLIN = 0x1;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;
const MSG_DONTWAIT = 0x40;
const EFD_CLOEXEC = 0o2000000;
const EFD_NONBLOCK = 0o4000;
export const EAGAIN = 11;
export const EINTR = 4;

export interface LibcIo {
  /** pollfd[] is 8 bytes per entry on every Linux ABI: int fd; short events; short revents. */
  poll(fds: Buffer, count: number, timeoutMs: number): number;
  /** Non-blocking receive into `buf`; -1 with errno set when nothing is waiting. */
  recv(fd: number, buf: Buffer, len: number): number;
  /** Blocking send (a UDP send only blocks while the socket buffer is full). */
  send(fd: number, buf: Buffer, len: number): number;
  eventfd(): number;
  /** Adds one to an eventfd: wakes the thread polling it. */
  wake(fd: number): void;
  /** Reads (resets) an eventfd. */
  drain(fd: number): void;
  close(fd: number): number;
  errno(): number;
}

let io: LibcIo | undefined;

export function libcIo(): LibcIo {
  if (io) return io;
  const lib = koffi.load('libc.so.6');
  const poll = lib.func('int poll(void *, unsigned long, int)');
  const recv = lib.func('long recv(int, void *, unsigned long, int)');
  const send = lib.func('long send(int, const void *, unsigned long, int)');
  const eventfd = lib.func('int eventfd(unsigned int, int)');
  const write = lib.func('long write(int, const void *, unsigned long)');
  const read = lib.func('long read(int, void *, unsigned long)');
  const close = lib.func('int close(int)');
  const one = Buffer.alloc(8);
  one.writeBigUInt64LE(1n);
  const sink = Buffer.alloc(8);
  io = {
    poll: (fds, count, timeoutMs) => poll(fds, count, timeoutMs) as number,
    recv: (fd, buf, len) => Number(recv(fd, buf, len, MSG_DONTWAIT)),
    send: (fd, buf, len) => Number(send(fd, buf, len, 0)),
    eventfd: () => eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) as number,
    wake: (fd) => void write(fd, one, 8),
    drain: (fd) => void read(fd, sink, 8),
    close: (fd) => close(fd) as number,
    errno: () => koffi.errno(),
  };
  return io;
}
