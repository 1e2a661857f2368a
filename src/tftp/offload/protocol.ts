// What the main thread and a TFTP data pump (worker thread) say to each other.
// The main thread keeps everything but the data phase: the listening port, RRQ
// checks, option negotiation, caps, events; the pump moves DATA and ACKs.

import type { DirectRead } from '../../files/published.js';

/** Where the pump reads the file's bytes: a window of an fd the main thread keeps open, or the bytes themselves. */
export type PumpSource = DirectRead;

export interface PumpCounters {
  packetsSent: number;
  bytesSent: number;
  retransmits: number;
  ignoredAcks: number;
}

/** A transfer handed to a pump (the pool adds its id). */
export interface PumpJob {
  /** The transfer's socket (its TID), connect()ed to the client; the pump closes it. */
  fd: number;
  source: PumpSource;
  size: number;
  blksize: number;
  windowsize: number;
  timeoutMs: number;
  retries: number;
  /** The OACK to send first and wait on ACK 0 for, or null to start with DATA 1. */
  oack: Uint8Array | null;
  /**
   * The main thread already sent the OACK (counted there): the pump only waits for ACK 0 and
   * resends on timeout. Sending it before the hand-over lets the client's round trip overlap
   * the thread's wake-up.
   */
  oackSent?: boolean;
}

export type FromPump =
  | { t: 'progress'; id: number; acked: number; c: PumpCounters }
  | {
      t: 'end';
      id: number;
      /** done: the last block was acknowledged; timeout / io: we gave up; client-error: the client sent ERROR; aborted: asked to. */
      how: 'done' | 'timeout' | 'io' | 'client-error' | 'aborted';
      /** Whether the client had acknowledged our OACK (the ERROR of a tsize probe comes before). */
      inData: boolean;
      acked: number;
      c: PumpCounters;
      /** timeout: retries made; io: the error; client-error: the client's code and message. */
      code?: number;
      message?: string;
      /** Made up by the pool because the thread is gone: the socket is still open and is the receiver's to close. */
      orphaned?: boolean;
    }
  | { t: 'drop'; id: number; reason: string };

export function zeroCounters(): PumpCounters {
  return { packetsSent: 0, bytesSent: 0, retransmits: 0, ignoredAcks: 0 };
}
