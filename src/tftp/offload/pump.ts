// The data phase of one TFTP read, run by a pump thread (worker.ts) on a socket it
// owns: the same protocol as src/tftp/transfer.ts (see there for why an ACK that
// does not move the window forward is never answered, and for RFC 7440 rollback),
// but synchronous: a segment of the file is read with one preadv straight into its
// framed packets when first needed (the page cache answers; a pump thread blocking on a
// cold disk stalls only its own transfers), and every packet is one libc call.
import { readSync } from 'node:fs';
import { OP_ACK, OP_ERROR, ERR_UNDEFINED, TftpPacketError, decodePacket, encodeError } from '../packet.js';
import type { LibcIo, MessageBatch } from '../../net/libc-io.js';
import { EAGAIN, EINTR } from '../../net/libc-io.js';
import { WAIT_SLICE_MS, type IoJob } from '../../net/io-loop.js';
import { performance } from 'node:perf_hooks';
import { absoluteBlock, blockLayout } from '../window.js';
import { endErrorText, timeoutMessage } from '../transfer-report.js';
import type { FromPump, PumpCounters, PumpJob, PumpSource } from './protocol.js';
import { zeroCounters } from './protocol.js';
import type { PumpMemory, Segment } from './pump-memory.js';
import { AckSpin, spinBudgetMs } from './ack-spin.js';

const PROGRESS_MS = 250;
const ECONNREFUSED = 111;
/** Read once per thread: how long a lone pump polls for an ACK before it sleeps (ack-spin.ts). */
const SPIN_BUDGET_MS = spinBudgetMs();

export class DataPump implements IoJob {
  readonly id: number;
  readonly fd: number;
  private readonly size: number;
  private readonly blksize: number;
  private readonly windowsize: number;
  private readonly lastBlock: number;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly blocksPerSegment: number;
  /** Two framed segments: the window never spans more than two (a segment holds at least one window). */
  private readonly slots: Segment[] = [];
  /** sendmmsg vectors for a window (windowsize > 1 only). */
  private readonly batch: MessageBatch | undefined;
  private readonly source: PumpSource;
  private readonly oack: Buffer | null;
  private readonly oackSent: boolean;

  private state: 'oack' | 'data' | 'ended' = 'oack';
  private acked = 0;
  private windowEnd = 0;
  private retries = 0;
  /** When the current window (or OACK) was last sent, in performance.now() ms. */
  private lastSendAt = 0;
  private lastProgressAt = 0;
  private acksSinceClock = 0;
  private c: PumpCounters = zeroCounters();
  /** Whether a lone wait polls before it sleeps (ack-spin.ts). */
  private readonly spin: AckSpin;

  constructor(
    m: PumpJob & { id: number },
    private readonly io: LibcIo,
    private readonly post: (msg: FromPump) => void,
    /** The thread's buffers, shared by its pumps, and its kept segments. */
    private readonly mem: PumpMemory,
  ) {
    this.id = m.id;
    this.fd = m.fd;
    this.size = m.size;
    this.blksize = m.blksize;
    this.windowsize = m.windowsize;
    ({ lastBlock: this.lastBlock, blocksPerSegment: this.blocksPerSegment } = blockLayout(m.size, m.blksize, m.windowsize));
    this.timeoutMs = m.timeoutMs;
    this.maxRetries = m.retries;
    this.source = m.source;
    this.oack = m.oack ? Buffer.from(m.oack.buffer, m.oack.byteOffset, m.oack.byteLength) : null;
    this.oackSent = m.oackSent === true;
    if (m.windowsize > 1) this.batch = mem.batch;
    this.spin = new AckSpin(SPIN_BUDGET_MS, m.windowsize);
  }

  get ended(): boolean {
    return this.state === 'ended';
  }

  /** When the timer next needs this pump (performance.now() ms). */
  get deadline(): number {
    return this.lastSendAt + this.timeoutMs;
  }

  start(now: number): void {
    this.lastProgressAt = now;
    this.io.setRecvTimeout(this.fd, WAIT_SLICE_MS);
    if (this.oack) {
      if (!this.oackSent) this.sendRaw(this.oack);
      this.lastSendAt = now;
      // Read and frame the first blocks while the client answers the OACK.
      if (this.size > 0) this.segment(0);
    } else {
      this.state = 'data';
      this.sendWindow(1, now);
    }
  }

  /** The socket is readable: take one packet (poll says again if more are waiting). */
  onReady(_revents: number, now: number): void {
    this.handle(this.io.recv(this.fd, this.mem.recv.addr, this.mem.recv.buf.length), now);
  }

  /**
   * The thread's only job: wait for the next packet itself, first polling for up to the
   * budget when ack-spin.ts has found that faster for this client, then asleep in recv
   * (SO_RCVTIMEO set in start).
   */
  waitAndHandle(): number {
    const { addr, buf } = this.mem.recv;
    const began = performance.now();
    let n = -1;
    const pollMs = this.spin.begin(began);
    if (pollMs > 0) {
      const until = began + pollMs;
      do {
        n = this.io.recv(this.fd, addr, buf.length);
        // Any error but "nothing yet" is reported once by the kernel: handle it now, not lose it.
      } while (n < 0 && this.io.errno() === EAGAIN && performance.now() < until);
    }
    if (n < 0 && (pollMs === 0 || this.io.errno() === EAGAIN)) n = this.io.recvWait(this.fd, addr, buf.length);
    const now = performance.now();
    this.handle(n, now);
    return now;
  }

  /** What recv returned: `n` bytes in the receive buffer, or -1 and errno. */
  private handle(n: number, now: number): void {
    const buf = this.mem.recv.buf;
    if (n < 0) {
      const errno = this.io.errno();
      if (errno === EAGAIN || errno === EINTR) return;
      // A connected UDP socket reports the client's ICMP "port unreachable" here.
      return this.end('io', errno === ECONNREFUSED ? 'socket error: the client closed its port (ECONNREFUSED)' : `socket error: errno ${errno}`, true);
    }
    if (n >= 4 && buf[0] === 0 && buf[1] === OP_ACK) return this.onAck((buf[2] << 8) | buf[3], now);
    let pkt;
    try {
      pkt = decodePacket(buf.subarray(0, n));
    } catch (err) {
      this.post({ t: 'drop', id: this.id, reason: err instanceof TftpPacketError ? err.reason : 'malformed' });
      return;
    }
    if (pkt.op === OP_ERROR) {
      const inData = this.state === 'data';
      this.state = 'ended';
      this.post({ t: 'end', id: this.id, how: 'client-error', inData, acked: this.acked, c: this.take(), code: pkt.code, message: pkt.message });
      return;
    }
    this.post({ t: 'drop', id: this.id, reason: 'unexpected-opcode' });
  }

  private onAck(wire: number, now: number): void {
    if (this.state === 'oack') {
      if (wire !== 0) {
        this.c.ignoredAcks++;
        return;
      }
      this.state = 'data';
      this.retries = 0;
      return this.sendWindow(1, now);
    }
    if (this.state !== 'data') return;
    const n = absoluteBlock(this.acked, wire);
    if (n === this.acked || n > this.windowEnd) {
      this.c.ignoredAcks++;
      return;
    }
    this.acked = n;
    this.retries = 0;
    if (n === this.lastBlock) {
      this.state = 'ended';
      this.post({ t: 'end', id: this.id, how: 'done', inData: true, acked: n, c: this.take() });
      return;
    }
    if ((++this.acksSinceClock & 31) === 0 && now - this.lastProgressAt >= PROGRESS_MS) {
      this.lastProgressAt = now;
      this.post({ t: 'progress', id: this.id, acked: n, c: this.take() });
    }
    this.sendWindow(n + 1, now);
  }

  /** Called when `deadline` has passed. */
  onTimer(now: number): void {
    if (this.state === 'ended' || now < this.deadline) return;
    if (++this.retries > this.maxRetries) {
      return this.end('timeout', timeoutMessage({ inOack: this.state === 'oack', acked: this.acked, lastBlock: this.lastBlock, retries: this.maxRetries, timeoutMs: this.timeoutMs }), true);
    }
    this.c.retransmits++;
    if (this.state === 'oack') {
      this.sendRaw(this.oack!);
      this.lastSendAt = now;
    } else this.sendWindow(this.acked + 1, now);
  }

  /** Stops at the main thread's request (server stopping): the client is told. */
  abort(): void {
    if (this.state === 'ended') return;
    this.end('aborted', 'Transfer aborted', true);
  }

  private sendWindow(from: number, now: number): void {
    this.windowEnd = Math.min(from + this.windowsize - 1, this.lastBlock);
    this.lastSendAt = now;
    const bps = this.blocksPerSegment;
    const frame = this.blksize + 4;
    let queued = 0;
    for (let n = from; n <= this.windowEnd; n++) {
      const k = Math.floor((n - 1) / bps);
      const slot = this.segment(k);
      if (!slot) return; // read error: already ended
      // Block n's packet sits in its segment; only its 2-byte block number is written here.
      const start = (n - 1 - k * bps) * frame;
      const len = n === this.lastBlock ? this.size - (n - 1) * this.blksize : this.blksize;
      slot.mem.buf[start + 2] = (n >> 8) & 0xff;
      slot.mem.buf[start + 3] = n & 0xff;
      this.c.packetsSent++;
      this.c.bytesSent += len;
      if (this.batch) this.batch.set(queued++, slot.mem.addr + start, len + 4);
      else if (this.io.send(this.fd, slot.mem.addr + start, len + 4) < 0) return this.sendFailed();
    }
    // A window goes out in one sendmmsg: one syscall and one call from JS instead of one per packet.
    for (let sent = 0; sent < queued; ) {
      const r = this.io.sendmmsg(this.fd, this.batch!.at(sent), queued - sent);
      if (r < 0) return this.sendFailed();
      sent += r;
    }
    this.prefetch();
  }

  /**
   * Reads and frames the segment after the window while the client answers it, so the
   * read overlaps the round trip instead of holding up the next window. Only once the
   * window has left the previous segment: that segment's slot is the one refilled.
   */
  private prefetch(): void {
    const next = this.windowEnd + 1;
    if (next > this.lastBlock) return;
    const k = Math.floor((next - 1) / this.blocksPerSegment);
    if (k !== Math.floor(this.acked / this.blocksPerSegment) + 1) return;
    if (this.slots[k & 1]?.k === k) return;
    this.segment(k);
  }

  /** The socket buffer was full or the packet was refused: the timer resends the window. */
  private sendFailed(): void {
    const errno = this.io.errno();
    if (errno !== EAGAIN && errno !== EINTR && errno !== 105 /* ENOBUFS */) this.end('io', `socket error: errno ${errno}`, false);
  }

  private segment(k: number): Segment | undefined {
    const slotIndex = k & 1;
    const held = this.slots[slotIndex];
    if (held?.k === k) return held;
    const slot = held ?? (this.slots[slotIndex] = this.mem.takeSegment(this.blksize, this.blocksPerSegment));
    const pos = k * this.blocksPerSegment * this.blksize;
    const want = Math.min(this.blocksPerSegment * this.blksize, this.size - pos);
    slot.k = -1;
    try {
      this.fill(slot, want, pos);
    } catch (err) {
      this.end('io', `read error: ${(err as Error).message}`, true);
      return undefined;
    }
    slot.k = k;
    return slot;
  }

  /** Puts `want` bytes of the source from `pos` into the segment's packets. */
  private fill(slot: Segment, want: number, pos: number): void {
    const src = this.source;
    const bs = this.blksize;
    const frame = bs + 4;
    if ('bytes' in src) {
      for (let off = 0, i = 0; off < want; off += bs, i++) slot.mem.buf.set(src.bytes.subarray(pos + off, pos + Math.min(off + bs, want)), i * frame + 4);
      return;
    }
    if (want === 0) return;
    const v = slot.vectorsFor(want);
    if (this.io.preadv(src.fd, v.at, v.count, src.base + pos) === want) return;
    // Interrupted or short (a file being replaced): block by block, so a real error is thrown with its reason.
    for (let off = 0, i = 0; off < want; off += bs, i++) {
      const len = Math.min(bs, want - off);
      for (let got = 0; got < len; ) {
        const n = readSync(src.fd, slot.mem.buf, i * frame + 4 + got, len - got, src.base + pos + off + got);
        if (n <= 0) throw new Error(`file shrank: ${off + got} of ${want} bytes at offset ${pos}`);
        got += n;
      }
    }
  }

  private sendRaw(buf: Buffer): void {
    this.c.packetsSent++;
    const control = this.mem.control;
    const len = buf.copy(control.buf, 0, 0, Math.min(buf.length, control.buf.length));
    this.io.send(this.fd, control.addr, len);
  }

  /** Gives its segments back to the thread (the pump is finished). */
  release(): void {
    for (const slot of this.slots) this.mem.giveBack(slot);
    this.slots.length = 0;
  }

  private end(how: 'timeout' | 'io' | 'aborted', message: string, tellClient: boolean): void {
    if (this.state === 'ended') return;
    const inData = this.state === 'data';
    this.state = 'ended';
    if (tellClient) this.sendRaw(encodeError(ERR_UNDEFINED, endErrorText(how)));
    this.post({ t: 'end', id: this.id, how, inData, acked: this.acked, c: this.take(), message });
  }

  /** Counters since the last report (the main thread adds them to the server's). */
  private take(): PumpCounters {
    const c = this.c;
    this.c = zeroCounters();
    return c;
  }
}
