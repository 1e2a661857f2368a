// A TFTP read whose data phase runs on a pump thread (pool.ts). Seen from the
// server it is a transfer like transfer.ts: same events, same counters, same
// wrong-TID answer; only the packets of its own TID never reach this thread.
import { encodeOack } from '../packet.js';
import type dgram from 'node:dgram';
import { ReportedTransfer, answerWrongTids, type TransferCommon } from '../transfer-report.js';
import type { PumpPool } from './pool.js';
import { closeFd } from '../../net/sockopt-linux.js';
import type { FromPump, PumpCounters, PumpSource } from './protocol.js';
import { nativeBuffer, type NativeBuffer } from '../../net/libc-io.js';

/** Where the main thread puts an OACK to send it (one at a time; OACKs are a few dozen bytes). */
const OACK_MAX = 1024;
let oackOut: NativeBuffer | undefined;

export interface OffloadedTransferInit extends Omit<TransferCommon, 'stray'> {
  pool: PumpPool;
  /** The transfer's socket, connect()ed to the peer; the pump thread closes it. */
  fd: number;
  /** How the pump thread reads the source (ByteSource.directRead()). */
  pumpSource: PumpSource;
  /**
   * Opens the unconnected socket on the transfer's port that answers other TIDs. Called once
   * the OACK or first DATA is on its way: it is not needed before, and opening it (socket,
   * options, bind) would otherwise sit between the RRQ and the first packet. Undefined if it could not be opened (other TIDs then get ICMP port
   * unreachable from the kernel instead of TFTP error 5).
   */
  openStray: () => dgram.Socket | undefined;
}

export class OffloadedTransfer extends ReportedTransfer {
  private pumpId = 0;
  private ended = false;
  private stray: dgram.Socket | undefined;

  constructor(private readonly init: OffloadedTransferInit) {
    super(init);
  }

  protected get over(): boolean {
    return this.ended;
  }

  /**
   * Hands the transfer to a pump thread, then sends the OACK from here: the thread wakes
   * and frames the first blocks while the OACK travels and the client answers it. If that
   * send fails, the pump resends the OACK on its timer, as if the packet had been lost.
   */
  start(): void {
    const n = this.init.negotiated;
    const oack = n.oack.length ? encodeOack(n.oack) : null;
    const sendOackHere = oack !== null && oack.length <= OACK_MAX;
    this.pumpId = this.init.pool.add(
      {
        fd: this.init.fd,
        source: this.init.pumpSource,
        size: this.size,
        blksize: this.blksize,
        windowsize: n.windowsize,
        timeoutMs: this.timeoutMs,
        retries: this.init.retries,
        oack,
        oackSent: sendOackHere,
      },
      (m) => this.onPump(m),
    );
    if (sendOackHere) this.sendOack(oack);
    this.stray = this.init.openStray();
    answerWrongTids(this.stray, this.init.counters, () => this.over);
    this.reportStart();
    this.init.counters.transfersOffloaded++;
  }

  /** Sends the OACK from this thread: one blocking send on the transfer's socket. */
  private sendOack(oack: Buffer): void {
    oackOut ??= nativeBuffer(OACK_MAX);
    oack.copy(oackOut.buf);
    if (this.init.pool.libc.send(this.init.fd, oackOut.addr, oack.length) === oack.length) this.init.counters.packetsSent++;
  }

  private add(c: PumpCounters): void {
    const k = this.init.counters;
    k.packetsSent += c.packetsSent;
    k.bytesSent += c.bytesSent;
    k.retransmits += c.retransmits;
    k.ignoredAcks += c.ignoredAcks;
  }

  private onPump(m: FromPump): void {
    if (m.t === 'drop') return this.init.drop(`${this.peerAddress}:${this.peerPort}`, m.reason);
    this.add(m.c);
    this.acked = m.acked;
    if (m.t === 'progress') {
      if (!this.ended) this.event('progress');
      return;
    }
    // The pump thread is done with the socket and the file (an orphaned end: it never closed the socket).
    if (m.orphaned) closeFd(this.init.fd);
    this.closeStray();
    this.init.source.close().catch(() => undefined);
    if (this.ended) return; // aborted from here: already reported
    this.ended = true;
    if (m.how === 'done') this.reportDone();
    else if (m.how === 'client-error') this.reportClientError(m.inData, m.code ?? 0, m.message ?? '');
    else this.reportFailure(m.how, m.message ?? '');
    this.init.onEnd(this);
  }

  /** Aborts from outside (server stopping): reported now; the pump thread tells the client and closes. */
  abort(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    if (this.pumpId) this.init.pool.abort(this.pumpId);
    else {
      // Never handed over (the server stopped while it was being set up): nobody else will close these.
      closeFd(this.init.fd);
      this.closeStray();
      this.init.source.close().catch(() => undefined);
    }
    this.reportFailure('aborted', reason);
    this.init.onEnd(this);
  }

  private closeStray(): void {
    try {
      this.stray?.close();
    } catch {
      /* already closed */
    }
  }
}
