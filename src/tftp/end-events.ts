// How a transfer that the client ended is reported, for both data paths
// (transfer.ts on node:dgram, offload/ on a pump thread): one wording, one code.
import type { TransferEvent } from '../sessions/events.js';

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
