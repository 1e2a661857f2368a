// The few libc calls the I/O threads make themselves (Linux, through koffi): epoll,
// recv, send, sendmmsg, sendfile and preadv, and an eventfd to wake a thread. Each is one
// syscall with no allocation and no event-loop turn, which is the point: node:dgram
// costs about as much again as the kernel per packet (docs/performance.md), lockstep
// TFTP is one packet per round trip, and Node has no sendfile (an HTTP body would be
// copied through user space twice).
import koffi from 'koffi';

export const POLLIN = 0x1;
export const POLLOUT = 0x4;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
const MSG_MORE = 0x8000;
const EFD_CLOEXEC = 0o2000000;
const EFD_NONBLOCK = 0o4000;
export const EAGAIN = 11;
export const EINTR = 4;
export const EPIPE = 32;
export const ECONNRESET = 104;
const F_DUPFD_CLOEXEC = 1030;
const SHUT_RDWR = 2;
const IPPROTO_TCP = 6;
const TCP_CORK = 3;
const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;
const EPOLL_CLOEXEC = 0o2000000;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;

/**
 * Memory outside the JS heap that never moves: the hot calls take its address as a plain
 * number (koffi converts a Buffer argument on every call, which cost more than the syscall).
 */
export interface NativeBuffer {
  /** A Buffer over the same bytes, for reading and writing from JS. */
  buf: Buffer;
  addr: number;
  free(): void;
}

export function nativeBuffer(size: number): NativeBuffer {
  const ptr = koffi.alloc('uint8_t', size);
  const buf = Buffer.from(koffi.view(ptr, size));
  return { buf, addr: Number(koffi.address(ptr)), free: () => koffi.free(ptr) };
}

export interface LibcIo {
  /** A new epoll instance (close-on-exec), or -1. */
  epollCreate(): number;
  /**
   * Adds `fd` to epoll instance `ep`, level-triggered, for `events` (the POLL* bits: epoll's
   * have the same values); its events come back carrying `tag` (a u32: the loop's job id).
   */
  epollAdd(ep: number, fd: number, events: number, tag: number): number;
  /**
   * Takes `fd` out of `ep`. Needed before closing an fd that has a duplicate elsewhere:
   * epoll watches the open socket, not the fd number, and would go on reporting it.
   */
  epollDel(ep: number, fd: number): number;
  /** Waits up to `timeoutMs` for events into an EpollEvents buffer (its address and capacity); how many, or -1. */
  epollWait(ep: number, at: number, max: number, timeoutMs: number): number;
  /** Non-blocking receive to address `at`; -1 with errno set when nothing is waiting. */
  recv(fd: number, at: number, len: number): number;
  /** Receive that waits, at most the socket's receive timeout (setRecvTimeout); -1 with EAGAIN when it ran out. */
  recvWait(fd: number, at: number, len: number): number;
  /** SO_RCVTIMEO: how long recvWait may block on this socket. */
  setRecvTimeout(fd: number, ms: number): number;
  /** Blocking send from address `at` (a UDP send only blocks while the socket buffer is full). */
  send(fd: number, at: number, len: number): number;
  /**
   * Non-blocking send on a TCP socket with MSG_MORE: the kernel holds the bytes until more
   * follow (an HTTP response head waits for sendfile's first body bytes and leaves in the
   * same segment, without two TCP_CORK calls). Bytes taken, or -1 with errno.
   */
  sendMore(fd: number, at: number, len: number): number;
  /** sendmmsg of `count` prepared messages (MessageBatch.at); resolves to how many were sent. */
  sendmmsg(fd: number, at: number, count: number): number;
  /**
   * sendfile(2): up to `count` bytes of file `inFd` from the offset stored (as a u64) at
   * address `offsetAt` to socket `outFd`; the kernel advances the stored offset, not the
   * file's position, so one fd can serve many transfers at once.
   */
  sendfile(outFd: number, inFd: number, offsetAt: number, count: number): number;
  /**
   * preadv(2): reads file `fd` from `offset` into the `count` iovecs at address `iovAt`
   * (one syscall fills every block of a TFTP segment in place); bytes read, or -1.
   */
  preadv(fd: number, iovAt: number, count: number, offset: number): number;
  /** A second fd for the same open socket or file (close-on-exec), or -1. */
  dup(fd: number): number;
  /** Ends a connection both ways, whoever else still holds an fd for it. */
  shutdown(fd: number): number;
  /**
   * TCP_CORK: while on, the kernel holds partial segments back, so a response head written
   * by Node and the first body bytes from sendfile leave in the same segments (one wake-up
   * of the client instead of two); turning it off sends what is held.
   */
  cork(fd: number, on: boolean): number;
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
  const epollCreate1 = lib.func('int epoll_create1(int)');
  const epollCtl = lib.func('epoll_ctl', 'int', ['int', 'int', 'int', 'intptr_t']);
  const epollWait = lib.func('epoll_wait', 'int', ['int', 'intptr_t', 'int', 'int']);
  /** One struct epoll_event, for epoll_ctl. */
  const ctlEvent = new EpollEvents(1);
  const recv = lib.func('recv', 'long', ['int', 'intptr_t', 'unsigned long', 'int']);
  const send = lib.func('send', 'long', ['int', 'intptr_t', 'unsigned long', 'int']);
  const sendmmsg = lib.func('sendmmsg', 'int', ['int', 'intptr_t', 'unsigned int', 'int']);
  const sendfile = lib.func('sendfile', 'long', ['int', 'int', 'intptr_t', 'unsigned long']);
  const preadv = lib.func('preadv', 'long', ['int', 'intptr_t', 'int', 'int64_t']);
  const fcntl = lib.func('int fcntl(int, int, ...)');
  const shutdown = lib.func('int shutdown(int, int)');
  const setsockopt = lib.func('setsockopt', 'int', ['int', 'int', 'int', 'intptr_t', 'uint32_t']);
  const intOne = nativeBuffer(4);
  intOne.buf.writeInt32LE(1);
  const intZero = nativeBuffer(4);
  intZero.buf.writeInt32LE(0);
  /** struct timeval { long tv_sec; long tv_usec } on 64-bit Linux. */
  const timeval = nativeBuffer(16);
  const eventfd = lib.func('int eventfd(unsigned int, int)');
  const write = lib.func('long write(int, const void *, unsigned long)');
  const read = lib.func('long read(int, void *, unsigned long)');
  const close = lib.func('int close(int)');
  const one = Buffer.alloc(8);
  one.writeBigUInt64LE(1n);
  const sink = Buffer.alloc(8);
  io = {
    epollCreate: () => epollCreate1(EPOLL_CLOEXEC) as number,
    epollAdd: (ep, fd, events, tag) => {
      ctlEvent.set(0, events, tag);
      return epollCtl(ep, EPOLL_CTL_ADD, fd, ctlEvent.addr) as number;
    },
    epollDel: (ep, fd) => epollCtl(ep, EPOLL_CTL_DEL, fd, ctlEvent.addr) as number,
    epollWait: (ep, at, max, timeoutMs) => epollWait(ep, at, max, timeoutMs) as number,
    recv: (fd, at, len) => recv(fd, at, len, MSG_DONTWAIT) as number,
    recvWait: (fd, at, len) => recv(fd, at, len, 0) as number,
    setRecvTimeout: (fd, ms) => {
      timeval.buf.fill(0);
      writeU64(timeval.buf, 0, Math.floor(ms / 1000));
      writeU64(timeval.buf, 8, (ms % 1000) * 1000);
      return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, timeval.addr, 16) as number;
    },
    send: (fd, at, len) => send(fd, at, len, 0) as number,
    sendMore: (fd, at, len) => send(fd, at, len, MSG_MORE | MSG_DONTWAIT | MSG_NOSIGNAL) as number,
    sendmmsg: (fd, at, count) => sendmmsg(fd, at, count, 0) as number,
    sendfile: (outFd, inFd, offsetAt, count) => sendfile(outFd, inFd, offsetAt, count) as number,
    preadv: (fd, iovAt, count, offset) => preadv(fd, iovAt, count, offset) as number,
    dup: (fd) => fcntl(fd, F_DUPFD_CLOEXEC, 'int', 0) as number,
    shutdown: (fd) => shutdown(fd, SHUT_RDWR) as number,
    cork: (fd, on) => setsockopt(fd, IPPROTO_TCP, TCP_CORK, on ? intOne.addr : intZero.addr, 4) as number,
    eventfd: () => eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) as number,
    wake: (fd) => void write(fd, one, 8),
    drain: (fd) => void read(fd, sink, 8),
    close: (fd) => close(fd) as number,
    errno: () => koffi.errno(),
  };
  return io;
}

// struct mmsghdr on 64-bit Linux: msghdr { name 8, namelen 4 + pad 4, iov 8, iovlen 8,
// control 8, controllen 8, flags 4 + pad 4 } = 56, then msg_len 4 + pad 4 = 64 bytes.
const MMSG_SIZE = 64;
const IOV_SIZE = 16;
const MSG_IOV = 16;
const MSG_IOVLEN = 24;

/** sendmmsg vectors for up to `capacity` packets on a connected socket (no address per message). */
export class MessageBatch {
  private readonly mem: NativeBuffer;
  private readonly iovBase: number;

  constructor(capacity: number) {
    this.mem = nativeBuffer(capacity * (MMSG_SIZE + IOV_SIZE));
    this.mem.buf.fill(0);
    this.iovBase = capacity * MMSG_SIZE;
    for (let i = 0; i < capacity; i++) {
      writeU64(this.mem.buf, i * MMSG_SIZE + MSG_IOV, this.mem.addr + this.iovBase + i * IOV_SIZE);
      writeU64(this.mem.buf, i * MMSG_SIZE + MSG_IOVLEN, 1);
    }
  }

  /** Message i sends `len` bytes at address `at`. */
  set(i: number, at: number, len: number): void {
    const off = this.iovBase + i * IOV_SIZE;
    writeU64(this.mem.buf, off, at);
    writeU64(this.mem.buf, off + 8, len);
  }

  /** The address of message i (sendmmsg's vector may start at any message). */
  at(i: number): number {
    return this.mem.addr + i * MMSG_SIZE;
  }

  free(): void {
    this.mem.free();
  }
}

/**
 * struct epoll_event[]: u32 events, then a u64 of user data (here a u32 tag). x86-64 packs the
 * struct (12 bytes, data at 4); other 64-bit ABIs align the data (16 bytes, data at 8).
 */
const EPOLL_EVENT_SIZE = process.arch === 'x64' ? 12 : 16;
const EPOLL_DATA_AT = process.arch === 'x64' ? 4 : 8;

export class EpollEvents {
  private readonly mem: NativeBuffer;
  readonly addr: number;

  constructor(readonly capacity: number) {
    this.mem = nativeBuffer(capacity * EPOLL_EVENT_SIZE);
    this.mem.buf.fill(0);
    this.addr = this.mem.addr;
  }

  set(i: number, events: number, tag: number): void {
    this.mem.buf.writeUInt32LE(events, i * EPOLL_EVENT_SIZE);
    writeU64(this.mem.buf, i * EPOLL_EVENT_SIZE + EPOLL_DATA_AT, tag);
  }

  /** The events of entry i (POLLIN, POLLOUT, POLLERR, POLLHUP bits). */
  events(i: number): number {
    return this.mem.buf.readUInt32LE(i * EPOLL_EVENT_SIZE);
  }

  /** The tag entry i was added with. */
  tag(i: number): number {
    return this.mem.buf.readUInt32LE(i * EPOLL_EVENT_SIZE + EPOLL_DATA_AT);
  }

  free(): void {
    this.mem.free();
  }
}

/** Writes a non-negative integer below 2^53 as a little-endian u64 (no BigInt on the hot path). */
export function writeU64(buf: Buffer, off: number, v: number): void {
  buf.writeUInt32LE(v % 0x100000000, off);
  buf.writeUInt32LE(Math.floor(v / 0x100000000), off + 4);
}
