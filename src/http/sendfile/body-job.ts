// One HTTP response body on a sending thread (worker.ts): sendfile(2) from the file to
// the client's socket each time epoll says the socket has room, until the last byte
// is in the kernel. The socket is non-blocking (libuv made it so), so a slow client
// only parks its job; a cold disk blocks this thread's sendfile calls, as it would
// nginx's without aio threads.
import type { IoJob, IoLoopContext } from '../../net/io-loop.js';
import { EAGAIN, ECONNRESET, EINTR, EPIPE, POLLERR, POLLHUP, POLLNVAL, nativeBuffer, writeU64, type LibcIo } from '../../net/libc-io.js';
import type { BodyJob, FromSender } from './protocol.js';

/** Progress messages per body, at most one per this many ms (the reporter throttles events further). */
const PROGRESS_MS = 100;
/** sendfile moves at most 0x7ffff000 bytes per call on Linux. */
const MAX_CALL = 0x7ffff000;

export class SendfileJob implements IoJob {
  ended = false;
  private readonly io: LibcIo;
  private readonly post: (m: FromSender) => void;
  /** The u64 file offset sendfile reads and advances. */
  private readonly offsetMem = nativeBuffer(8);
  private sent = 0;
  private lastMoved = 0;
  private lastReport = 0;

  constructor(
    private readonly job: BodyJob & { id: number },
    ctx: IoLoopContext<FromSender>,
  ) {
    this.io = ctx.io;
    this.post = ctx.post;
  }

  get id(): number {
    return this.job.id;
  }

  get fd(): number {
    return this.job.fd;
  }

  get deadline(): number {
    return this.lastMoved + this.job.stallMs;
  }

  start(now: number): void {
    this.lastMoved = now;
    this.lastReport = now;
    // Full segments only while the body streams (each sendfile call would otherwise push a short one).
    this.io.cork(this.fd, true);
    this.pump(now, 0); // the socket usually has room now: no wait round first
  }

  onReady(revents: number, now: number): void {
    this.pump(now, revents);
  }

  onTimer(now: number): void {
    if (this.ended || now < this.deadline) return;
    this.io.shutdown(this.fd);
    this.end('timeout', `the client took no data for ${this.job.stallMs / 1000} s`);
  }

  abort(): void {
    if (this.ended) return;
    this.io.shutdown(this.fd);
    this.end('aborted', 'stopped by the server');
  }

  release(): void {
    this.offsetMem.free();
  }

  /** Sends until the body is done or the socket is full (its buffer bounds each turn). */
  private pump(now: number, revents: number): void {
    while (!this.ended) {
      const remaining = this.job.length - this.sent;
      writeU64(this.offsetMem.buf, 0, this.job.offset + this.sent);
      const n = this.io.sendfile(this.fd, this.job.fileFd, this.offsetMem.addr, Math.min(remaining, MAX_CALL));
      if (n > 0) {
        this.sent += n;
        this.lastMoved = now;
        if (this.sent === this.job.length) return this.end('done');
        continue;
      }
      if (n === 0) return this.end('io', `the file ended early at byte ${this.job.offset + this.sent} (did it change on disk?)`);
      const errno = this.io.errno();
      if (errno === EINTR) continue;
      if (errno === EAGAIN) {
        // Room was promised but none is left, and the socket reports an error or hang-up: it is gone.
        if (revents & (POLLERR | POLLHUP | POLLNVAL)) return this.end('closed', 'the client closed the connection');
        break;
      }
      if (errno === EPIPE || errno === ECONNRESET) return this.end('closed', 'the client closed the connection');
      return this.end('io', `sendfile failed: errno ${errno}`);
    }
    if (!this.ended && now - this.lastReport >= PROGRESS_MS) {
      this.lastReport = now;
      this.post({ t: 'progress', id: this.id, bytes: this.sent });
    }
  }

  private end(how: Extract<FromSender, { t: 'end' }>['how'], message?: string): void {
    if (this.ended) return;
    this.ended = true;
    this.io.cork(this.fd, false);
    this.post({ t: 'end', id: this.id, how, bytes: this.sent, message });
  }
}
