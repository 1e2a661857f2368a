// A TFTP read whose data phase runs on a pump thread (pool.ts). Seen from the
// server it is a transfer like transfer.ts: same events, same counters, same
// wrong-TID answer; only the packets of its own TID never reach this thread.
import type dgram from 'node:dgram';
import type { ByteSource } from '../../files/published.js';
import type { EmitWireEvent, TransferEvent } from '../../sessions/events.js';
import { encodeOack } from '../packet.js';
import type { Negotiated } from '../options.js';
import type { TftpCounters } from '../stats.js';
import { answerWrongTids, clientErrorFields, startDetail, tftpTransferEvent } from '../transfer-report.js';
import type { PumpPool } from './pool.js';
import { closeFd } from '../../net/sockopt-linux.js';
import type { FromPump, PumpCounters, PumpSource } from './protocol.js';
import { nativeBuffer, type NativeBuffer } from '../../net/libc-io.js';

/** Where the main thread puts an OACK to send it (one at a time; OACKs are a few dozen bytes). */
const OACK_MAX = 1024;
let oackOut: NativeBuffer | undefined;

export interface OffloadedTransferInit {
  id: string;
  pool: PumpPool;
  /** The transfer's socket, connect()ed to the peer; the pump thread closes it. */
  fd: number;
  /** An unconnected socket on the same port: packets from any other TID land here. */
  stray?: dgram.Socket;
  peerAddress: string;
  peerPort: number;
  file: string;
  role?: string;
  source: ByteSource;
  /** How the pump thread reads the source (ByteSource.directRead()). */
  pumpSource: PumpSource;
  negotiated: Negotiated;
  timeoutMs: number;
  retries: number;
  emit: EmitWireEvent;
  counters: TftpCounters;
  drop: (from: string, reason: string) => void;
  onEnd: (t: OffloadedTransfer) => void;
}

export class OffloadedTransfer {
  readonly id: string;
  readonly peerAddress: string;
  readonly peerPort: number;
  readonly file: string;
  private readonly size: number;
  private readonly blksize: number;
  private readonly timeoutMs: number;
  private pumpId = 0;
  private acked = 0;
  private ended = false;
  private readonly startedAt = Date.now();

  constructor(private readonly init: OffloadedTransferInit) {
    this.id = init.id;
    this.peerAddress = init.peerAddress;
    this.peerPort = init.peerPort;
    this.file = init.file;
    this.size = init.source.size;
    this.blksize = init.negotiated.blksize;
    this.timeoutMs = init.negotiated.timeoutMs ?? init.timeoutMs;
    answerWrongTids(init.stray, init.counters, () => this.ended);
  }

  private event(phase: TransferEvent['phase'], extra: Partial<TransferEvent> = {}): void {
    this.init.emit(tftpTransferEvent(this.init, this.size, phase, Math.min(this.size, this.acked * this.blksize), extra));
  }

  start(): void {
    const n = this.init.negotiated;
    this.init.counters.transfersStarted++;
    this.init.counters.transfersOffloaded++;
    this.event('start', { bytes: 0, detail: startDetail(this.init.negotiated, this.timeoutMs) });
    const oack = n.oack.length ? encodeOack(n.oack) : null;
    const oackSent = oack !== null && this.sendOack(oack);
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
        oackSent,
      },
      (m) => this.onPump(m),
    );
  }

  /** Sends the OACK from this thread (one blocking send on the transfer's socket); false leaves it to the pump. */
  private sendOack(oack: Buffer): boolean {
    const io = this.init.pool.libc;
    if (oack.length > OACK_MAX) return false;
    oackOut ??= nativeBuffer(OACK_MAX);
    oack.copy(oackOut.buf);
    if (io.send(this.init.fd, oackOut.addr, oack.length) !== oack.length) return false;
    this.init.counters.packetsSent++;
    return true;
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
    const k = this.init.counters;
    if (m.how === 'done') {
      k.transfersDone++;
      this.event('done', { bytes: this.size, detail: `${Date.now() - this.startedAt} ms` });
    } else if (m.how === 'client-error') {
      k.transfersAborted++;
      this.event('error', clientErrorFields({ inData: m.inData, askedTsize: this.init.negotiated.askedTsize, size: this.size, acked: m.acked, code: m.code ?? 0, message: m.message ?? '' }));
    } else if (m.how === 'aborted') {
      k.transfersAborted++;
      this.event('error', { errorCode: 'aborted', error: m.message });
    } else {
      k.transfersFailed++;
      this.event('error', { errorCode: m.how, error: m.message });
    }
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
    this.init.counters.transfersAborted++;
    this.event('error', { errorCode: 'aborted', error: reason });
    this.init.onEnd(this);
  }

  private closeStray(): void {
    try {
      this.init.stray?.close();
    } catch {
      /* already closed */
    }
  }
}
