// Counters a TftpServer keeps (server.stats()): cheap increments on the hot path.

export interface TftpCounters {
  /** Requests (RRQ/WRQ) received on the listening port. */
  requests: number;
  transfersStarted: number;
  /** Of those, transfers whose data phase ran on a pump thread (src/tftp/offload). */
  transfersOffloaded: number;
  transfersDone: number;
  /** Timeouts and read errors. */
  transfersFailed: number;
  /** Ended by the client (including tsize probes) or by stop(). */
  transfersAborted: number;
  /** Refused with "busy" (too many transfers overall or from one client). */
  refused: number;
  notFound: number;
  accessViolations: number;
  /** Repeated RRQs from a client whose transfer is already running (ignored). */
  duplicateRequests: number;
  packetsSent: number;
  /** Payload bytes sent in DATA packets, retransmissions included. */
  bytesSent: number;
  retransmits: number;
  /** Duplicate, late or out-of-window ACKs, ignored (never answered with a resend). */
  ignoredAcks: number;
  /** Packets from a wrong TID, answered with error 5. */
  wrongTid: number;
  /** Malformed or unexpected packets dropped. */
  dropped: number;
  droppedByReason: Record<string, number>;
}

export interface TftpStats extends TftpCounters {
  activeTransfers: number;
  /** Accepted requests still opening their file and socket. */
  pendingTransfers: number;
  /** Client addresses and client ports with state held for them (bounded by the transfers). */
  trackedClients: number;
  trackedPeers: number;
}

export function newCounters(): TftpCounters {
  return {
    requests: 0,
    transfersStarted: 0,
    transfersOffloaded: 0,
    transfersDone: 0,
    transfersFailed: 0,
    transfersAborted: 0,
    refused: 0,
    notFound: 0,
    accessViolations: 0,
    duplicateRequests: 0,
    packetsSent: 0,
    bytesSent: 0,
    retransmits: 0,
    ignoredAcks: 0,
    wrongTid: 0,
    dropped: 0,
    droppedByReason: {},
  };
}
