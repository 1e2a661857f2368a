// What both data paths (transfer.ts on node:dgram, offload/ on a pump thread) share
// about a transfer's outside: what the server hands them, how their ends are counted
// and reported, the events' wording, and the wrong-TID answer.
import type dgram from 'node:dgram';
import type { ByteSource } from '../files/published.js';
import type { EmitWireEvent, TransferEvent } from '../sessions/events.js';
import type { Negotiated } from './options.js';
import type { TftpCounters } from './stats.js';
import { ERR_UNKNOWN_TID, encodeError } from './packet.js';
import type { FileRole } from '../files/roles.js';

/** What the server hands a transfer on either data path. */
export interface TransferCommon {
  id: string;
  /** An unconnected socket on the transfer's port: packets from any other TID land here (see answerWrongTids). */
  stray?: dgram.Socket;
  peerAddress: string;
  peerPort: number;
  /** The name as the client asked for it (for events). */
  file: string;
  role?: FileRole;
  source: ByteSource;
  negotiated: Negotiated;
  timeoutMs: number;
  retries: number;
  emit: EmitWireEvent;
  counters: TftpCounters;
  drop: (from: string, reason: string) => void;
  onEnd: (t: ReportedTransfer) => void;
}

/**
 * A transfer as the server sees it, whichever path moves its data: who and what, and
 * how its start and end are counted and reported.
 */
export abstract class ReportedTransfer {
  readonly id: string;
  readonly peerAddress: string;
  readonly peerPort: number;
  readonly file: string;
  protected readonly size: number;
  protected readonly blksize: number;
  /** The retransmission timeout: the client's (RFC 2349) or the server's. */
  protected readonly timeoutMs: number;
  /** Blocks the client has acknowledged. */
  protected acked = 0;
  private readonly startedAt = Date.now();

  constructor(private readonly common: Omit<TransferCommon, 'stray'>) {
    this.id = common.id;
    this.peerAddress = common.peerAddress;
    this.peerPort = common.peerPort;
    this.file = common.file;
    this.size = common.source.size;
    this.blksize = common.negotiated.blksize;
    this.timeoutMs = common.negotiated.timeoutMs ?? common.timeoutMs;
  }

  abstract start(): void;
  /** Ends it from outside (the server is stopping). */
  abstract abort(reason: string): void;
  /** Whether it has ended (wrong-TID packets are then left unanswered). */
  protected abstract get over(): boolean;

  protected event(phase: TransferEvent['phase'], extra: Partial<TransferEvent> = {}): void {
    this.common.emit(tftpTransferEvent(this.common, this.size, phase, Math.min(this.size, this.acked * this.blksize), extra));
  }

  protected reportStart(): void {
    this.common.counters.transfersStarted++;
    this.event('start', { bytes: 0, detail: startDetail(this.common.negotiated, this.timeoutMs) });
  }

  protected reportDone(): void {
    this.common.counters.transfersDone++;
    this.event('done', { bytes: this.size, detail: `${Date.now() - this.startedAt} ms` });
  }

  /** We gave up (timeout, io) or were stopped (aborted). */
  protected reportFailure(code: 'timeout' | 'io' | 'aborted', message: string): void {
    if (code === 'aborted') this.common.counters.transfersAborted++;
    else this.common.counters.transfersFailed++;
    this.event('error', { errorCode: code, error: message });
  }

  /** The client sent ERROR; `inData`: it had acknowledged our OACK. */
  protected reportClientError(inData: boolean, code: number, message: string): void {
    this.common.counters.transfersAborted++;
    this.event('error', clientErrorFields({ inData, askedTsize: this.common.negotiated.askedTsize, size: this.size, acked: this.acked, code, message }));
  }
}

/** The ERROR message a server sends when it ends a transfer itself. */
export function endErrorText(code: 'timeout' | 'io' | 'aborted'): string {
  return code === 'timeout' ? 'Timeout' : code === 'io' ? 'Read error' : 'Transfer aborted';
}

/** Why a transfer timed out, for its error event. */
export function timeoutMessage(o: { inOack: boolean; acked: number; lastBlock: number; retries: number; timeoutMs: number }): string {
  const what = o.inOack ? 'the client never acknowledged our options' : `client stopped acknowledging at block ${o.acked + 1} of ${o.lastBlock}`;
  return `${what} (${o.retries} retries, ${o.timeoutMs} ms apart)`;
}

export interface TransferIdentity {
  id: string;
  peerAddress: string;
  peerPort: number;
  file: string;
  role?: FileRole;
}

/** A TFTP transfer event; `bytes` is what the client has acknowledged. */
export function tftpTransferEvent(t: TransferIdentity, size: number, phase: TransferEvent['phase'], bytes: number, extra: Partial<TransferEvent> = {}): TransferEvent {
  return { type: 'transfer', at: Date.now(), protocol: 'tftp', phase, id: t.id, clientIp: t.peerAddress, clientPort: t.peerPort, file: t.file, role: t.role, size, bytes, ...extra };
}

/** The start event's detail: what was agreed with the client. */
export function startDetail(n: Negotiated, timeoutMs: number): string {
  return `blksize=${n.blksize} windowsize=${n.windowsize} timeout=${timeoutMs}ms${n.oack.length ? ' oack=' + n.oack.map(([k, v]) => `${k}:${v}`).join(',') : ''}`;
}

/** RFC 1350 section 4: a packet from another TID gets error 5 and does not disturb the transfer. */
export function answerWrongTids(stray: dgram.Socket | undefined, counters: TftpCounters, ended: () => boolean): void {
  stray?.on('message', (_msg, rinfo) => {
    if (ended()) return;
    counters.wrongTid++;
    stray.send(encodeError(ERR_UNKNOWN_TID, 'Unknown transfer ID'), rinfo.port, rinfo.address);
  });
  stray?.on('error', () => undefined);
}

/**
 * The event fields for an ERROR packet from the client. Before it acknowledged our OACK,
 * EDK2 (and Windows bootmgr) open a file with tsize only to learn its size, then end
 * with an ERROR: that is a probe, not a failure, reported as 'aborted' with detail
 * 'tsize-probe' so the session view does not flag it.
 */
export function clientErrorFields(o: { inData: boolean; askedTsize: boolean; size: number; acked: number; code: number; message: string }): Partial<TransferEvent> {
  if (!o.inData) {
    return {
      bytes: 0,
      errorCode: 'aborted',
      detail: o.askedTsize ? 'tsize-probe' : o.code === 8 ? 'options-refused' : 'client-error',
      error: o.askedTsize
        ? `the client only read the size (${o.size} bytes) and closed (normal for UEFI firmware)`
        : `the client refused our options (error ${o.code}: ${o.message})`,
    };
  }
  return { errorCode: 'aborted', error: `the client aborted at block ${o.acked + 1} (error ${o.code}: ${o.message})` };
}
