// The pump threads of one TFTP server (a pool of src/net I/O threads running worker.ts).
// Where they cannot start, the server keeps every transfer on node:dgram (transfer.ts).
import { IoThreadPool } from '../../net/io-thread-pool.js';
import { zeroCounters, type FromPump, type PumpJob } from './protocol.js';

export type PumpPool = IoThreadPool<PumpJob, FromPump>;

/** The pump threads, or undefined where they cannot run (not Linux, koffi missing, PXEKIT_TFTP_OFFLOAD=0 to compare the two paths). */
export function createPumpPool(onThreadError: (message: string) => void): PumpPool | undefined {
  return IoThreadPool.create<PumpJob, FromPump>({
    worker: new URL('./worker.js', import.meta.url),
    disabledBy: 'PXEKIT_TFTP_OFFLOAD',
    lostEnd: (id, why, orphaned) => ({ t: 'end', id, how: 'io', inData: true, acked: 0, c: zeroCounters(), message: `transfer thread stopped: ${why}`, orphaned }),
    threadLost: (why) => `TFTP: a transfer thread stopped (${why}); its transfers failed, new ones use the main thread`,
    onThreadError,
  });
}
