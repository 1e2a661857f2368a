// One read transfer on its own socket (its own TID, RFC 1350 section 4).
//
// Sending is windowed (RFC 7440; windowsize 1 is plain lockstep RFC 1350): we send
// blocks acked+1 .. acked+windowsize and wait for an ACK. An ACK that moves `acked`
// forward sends the next window from the block after it (which is also the RFC 7440
// rollback when it names a block in the middle of the window). An ACK that does not
// move `acked` forward (duplicate, late, out of window) is ignored: only the timer
// retransmits, so a duplicated ACK can never double the traffic (the Sorcerer's
// Apprentice bug of RFC 1350, fixed by RFC 1123 section 4.2.3.1).
//
// Disk reads never sit between an ACK and the next DATA: the file is read in segments
// of at least one window, and the segment after the one being sent is read ahead.
//
// The hot path is one ACK in, one DATA out (lockstep at 512-byte blocks is 2,048
// packets per MiB), so it allocates nothing: a segment holds ready-framed DATA packets
// ([opcode, block, data] back to back) with one Buffer view per packet made when the
// segment slot is created, and the retransmission timer is not re-armed per packet (it
// fires at most once per timeout and compares against the time of the last send).
import type dgram from 'node:dgram';
import type { ByteSource } from '../files/published.js';
import { OP_ACK, OP_DATA, OP_ERROR, ERR_UNDEFINED, TftpPacketError, decodePacket, encodeError, encodeOack } from './packet.js';
import { absoluteBlock, blockLayout } from './window.js';
import { ReportedTransfer, answerWrongTids, endErrorText, timeoutMessage, type TransferCommon } from './transfer-report.js';
/** Progress events at most this often. */
const PROGRESS_MS = 250;

interface Segment {
  k: number;
  /** Packets back to back: 4-byte DATA header + blksize bytes each. */
  buf: Buffer;
  /** One view per full-size packet of buf (the last block of the file gets its own, shorter view). */
  packets: Buffer[];
  ready: boolean;
  loading: Promise<void> | null;
}

export interface TransferInit extends TransferCommon {
  /** The transfer's socket, connect()ed to the peer. */
  sock: dgram.Socket;
}

type State = 'oack' | 'data' | 'ended';

export class Transfer extends ReportedTransfer {
  private readonly sock: dgram.Socket;
  private readonly source: ByteSource;
  private readonly windowsize: number;
  private readonly lastBlock: number;
  private readonly maxRetries: number;
  private readonly blocksPerSegment: number;
  private readonly segments: Segment[] = [];
  /** Scratch space a segment is read into before it is framed into packets. */
  private readonly scratch: Buffer[] = [];
  /** The final block's packet (shorter than blksize, possibly header only). */
  private lastPacket: Buffer | undefined;

  private state: State = 'oack';
  /** Next block to send in the current window, and the window's last block. */
  private nextSend = 1;
  private windowEnd = 0;
  private retries = 0;
  private timer: NodeJS.Timeout | undefined;
  /** When the current window (or OACK) was last sent; the timer measures silence from here. */
  private lastSendAt = 0;
  private waitingForDisk = false;
  private lastProgressAt = 0;
  private acksSinceClock = 0;

  constructor(private readonly init: TransferInit) {
    super(init);
    this.sock = init.sock;
    this.source = init.source;
    this.windowsize = init.negotiated.windowsize;
    ({ lastBlock: this.lastBlock, blocksPerSegment: this.blocksPerSegment } = blockLayout(this.size, this.blksize, this.windowsize));
    this.maxRetries = init.retries;
    this.sock.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    this.sock.on('error', (err) => this.fail('io', `socket error: ${err.message}`, false));
    answerWrongTids(init.stray, init.counters, () => this.over);
  }

  protected get over(): boolean {
    return this.state === 'ended';
  }

  start(): void {
    const n = this.init.negotiated;
    this.reportStart();
    this.lastSendAt = Date.now();
    this.timer = setTimeout(this.onTimer, this.timeoutMs);
    if (n.oack.length) {
      this.state = 'oack';
      this.sendOack();
    } else {
      this.state = 'data';
      this.sendWindow(1);
    }
  }

  private sendOack(): void {
    this.send(encodeOack(this.init.negotiated.oack));
    this.lastSendAt = Date.now();
  }

  private send(buf: Buffer | Buffer[]): void {
    this.init.counters.packetsSent++;
    this.sock.send(buf);
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.state === 'ended') return;
    // The socket is connected: the kernel only hands it the peer's packets (others go to `stray`).
    // Fast path: the packet that carries every transfer.
    if (msg.length >= 4 && msg[0] === 0 && msg[1] === OP_ACK) {
      this.onAck((msg[2] << 8) | msg[3]);
      return;
    }
    let pkt;
    try {
      pkt = decodePacket(msg);
    } catch (err) {
      this.init.drop(`${rinfo.address}:${rinfo.port}`, err instanceof TftpPacketError ? err.reason : 'malformed');
      return;
    }
    if (pkt.op === OP_ERROR) return this.onClientError(pkt.code, pkt.message);
    this.init.drop(`${rinfo.address}:${rinfo.port}`, 'unexpected-opcode');
  }

  private onAck(wire: number): void {
    if (this.state === 'oack') {
      if (wire !== 0) {
        this.init.counters.ignoredAcks++;
        return;
      }
      this.state = 'data';
      this.retries = 0;
      this.sendWindow(1);
      return;
    }
    if (this.state !== 'data') return;
    const n = absoluteBlock(this.acked, wire);
    if (n === this.acked || n > this.windowEnd) {
      this.init.counters.ignoredAcks++; // duplicate or stale: never triggers a resend
      return;
    }
    this.acked = n;
    this.retries = 0;
    if (n === this.lastBlock) return this.finish();
    // Look at the clock every 32 ACKs only: this runs once per packet at 512-byte blocks.
    if ((++this.acksSinceClock & 31) === 0) {
      const now = Date.now();
      if (now - this.lastProgressAt >= PROGRESS_MS) {
        this.lastProgressAt = now;
        this.event('progress');
      }
    }
    this.sendWindow(n + 1);
  }

  private onClientError(code: number, message: string): void {
    const inData = this.state !== 'oack';
    this.end();
    this.reportClientError(inData, code, message);
  }

  /** Fires at most once per timeout: re-arms for the rest of the period if something was sent since. */
  private readonly onTimer = (): void => {
    if (this.state === 'ended') return;
    const silent = Date.now() - this.lastSendAt;
    if (silent + 2 < this.timeoutMs || this.waitingForDisk) {
      this.timer = setTimeout(this.onTimer, this.waitingForDisk ? this.timeoutMs : this.timeoutMs - silent);
      return;
    }
    this.onTimeout();
    if ((this.state as State) !== 'ended') this.timer = setTimeout(this.onTimer, this.timeoutMs);
  };

  private onTimeout(): void {
    if (++this.retries > this.maxRetries) {
      this.fail('timeout', timeoutMessage({ inOack: this.state === 'oack', acked: this.acked, lastBlock: this.lastBlock, retries: this.maxRetries, timeoutMs: this.timeoutMs }), true);
      return;
    }
    this.init.counters.retransmits++;
    if (this.state === 'oack') this.sendOack();
    else this.sendWindow(this.acked + 1);
  }

  /** Starts (or restarts) the window at `from`. */
  private sendWindow(from: number): void {
    this.nextSend = from;
    this.windowEnd = Math.min(from + this.windowsize - 1, this.lastBlock);
    this.lastSendAt = Date.now();
    this.pump();
  }

  private pump(): void {
    const bps = this.blocksPerSegment;
    const counters = this.init.counters;
    while (this.nextSend <= this.windowEnd) {
      const n = this.nextSend;
      let pkt: Buffer;
      if (n === this.lastBlock) {
        pkt = this.finalPacket();
        if (!pkt) return; // waiting for its segment
      } else {
        const k = Math.floor((n - 1) / bps);
        const seg = this.segment(k);
        if (!seg.ready) {
          this.waitOnDisk(seg);
          return;
        }
        const i = n - 1 - k * bps;
        pkt = seg.packets[i];
        // Read ahead: the next segment loads while this one is on the wire.
        if (i === 0 && (k + 1) * bps < this.lastBlock) this.segment(k + 1);
      }
      // The header's block number is written in place: a packet is only ever rewritten
      // with the same number (a retransmission) until its slot is reused two segments on.
      pkt[2] = (n >> 8) & 0xff;
      pkt[3] = n & 0xff;
      counters.packetsSent++;
      counters.bytesSent += pkt.length - 4;
      this.sock.send(pkt);
      this.nextSend = n + 1;
    }
  }

  /** The last block's packet (the only short one), or undefined while its bytes load. */
  private finalPacket(): Buffer {
    if (this.lastPacket) return this.lastPacket;
    const n = this.lastBlock;
    const len = this.size - (n - 1) * this.blksize;
    if (len === 0) {
      this.lastPacket = Buffer.from([0, OP_DATA, 0, 0]);
      return this.lastPacket;
    }
    const k = Math.floor((n - 1) / this.blocksPerSegment);
    const seg = this.segment(k);
    if (!seg.ready) {
      this.waitOnDisk(seg);
      return undefined as unknown as Buffer;
    }
    const off = (n - 1 - k * this.blocksPerSegment) * (this.blksize + 4);
    // A copy: the segment's slot may be reused by a rollback while the last block is retransmitted.
    this.lastPacket = Buffer.from(seg.buf.subarray(off, off + 4 + len));
    return this.lastPacket;
  }

  private waitOnDisk(seg: Segment): void {
    if (this.waitingForDisk) return;
    this.waitingForDisk = true;
    void seg.loading!.then(() => {
      this.waitingForDisk = false;
      if (this.state !== 'data') return;
      this.lastSendAt = Date.now();
      this.pump();
    });
  }

  /** The segment holding blocks k*bps+1 .. (k+1)*bps, loading it if needed (three slots: current, next, slack). */
  private segment(k: number): Segment {
    const slot = k % 3;
    let seg = this.segments[slot];
    if (seg && seg.k === k) return seg;
    const bs = this.blksize;
    const bps = this.blocksPerSegment;
    const bytes = bps * bs;
    if (!seg) {
      // Blocks in a segment: all of them, or as many as the file has (small files).
      const count = Math.min(bps, this.lastBlock);
      const buf = Buffer.allocUnsafe(count * (bs + 4));
      const packets: Buffer[] = [];
      for (let i = 0; i < count; i++) {
        buf[i * (bs + 4)] = 0;
        buf[i * (bs + 4) + 1] = OP_DATA;
        packets.push(buf.subarray(i * (bs + 4), (i + 1) * (bs + 4)));
      }
      seg = { k, buf, packets, ready: false, loading: null };
      this.segments[slot] = seg;
      this.scratch[slot] = Buffer.allocUnsafe(Math.min(bytes, this.size));
    } else {
      seg.k = k;
      seg.ready = false;
    }
    const s = seg;
    const scratch = this.scratch[slot];
    const pos = k * bytes;
    const want = Math.min(bytes, this.size - pos);
    s.loading = this.readFully(scratch, want, pos).then(
      () => {
        if (s.k !== k) return;
        // Frame: copy each block behind its header (a memcpy of the segment, cheap next to a syscall per packet).
        for (let off = 0, i = 0; off < want; off += bs, i++) scratch.copy(s.buf, i * (bs + 4) + 4, off, Math.min(off + bs, want));
        s.ready = true;
      },
      (err: Error) => this.fail('io', `read error: ${err.message}`, true),
    );
    return s;
  }

  private async readFully(buf: Buffer, want: number, pos: number): Promise<void> {
    let got = 0;
    while (got < want) {
      const n = await this.source.read(buf, got, want - got, pos + got);
      if (n <= 0) throw new Error(`file shrank: got ${got} of ${want} bytes at offset ${pos}`);
      got += n;
    }
  }

  private finish(): void {
    this.end();
    this.reportDone();
  }

  private fail(code: 'timeout' | 'io' | 'aborted', message: string, tellClient: boolean): void {
    if (this.state === 'ended') return;
    if (tellClient) {
      try {
        this.sock.send(encodeError(ERR_UNDEFINED, endErrorText(code)));
      } catch {
        /* socket already gone */
      }
    }
    this.end();
    this.reportFailure(code, message);
  }

  /** Aborts from outside (server stopping). */
  abort(reason: string): void {
    this.fail('aborted', reason, true);
  }

  private end(): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    clearTimeout(this.timer);
    // Close after the queued sends (the final ERROR, if any) have gone out.
    setImmediate(() => {
      for (const s of [this.sock, this.init.stray]) {
        try {
          s?.close();
        } catch {
          /* already closed */
        }
      }
    });
    this.source.close().catch(() => undefined);
    this.init.onEnd(this);
  }
}
