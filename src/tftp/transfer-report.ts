// What both data paths (transfer.ts on node:dgram, offload/ on a pump thread) share
// about a transfer's outside: its events, their wording, and the wrong-TID answer.
import type dgram from 'node:dgram';
import type { TransferEvent } from '../sessions/events.js';
import type { Negotiated } from './options.js';
import type { TftpCounters } from './stats.js';
import { ERR_UNKNOWN_TID, encodeError } from './packet.js';

export interface TransferIdentity {
  id: string;
  peerAddress: string;
  peerPort: number;
  file: string;
  role?: string;
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
