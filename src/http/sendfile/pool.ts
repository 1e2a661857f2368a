// The HTTP sending threads (worker.ts): they move response bodies with sendfile(2),
// so the bytes never pass through JavaScript (send-body.ts hands bodies over).
import { IoThreadPool } from '../../net/io-thread-pool.js';
import type { BodyJob, FromSender } from './protocol.js';

export type SendfilePool = IoThreadPool<BodyJob, FromSender>;

/** The sending threads, or undefined where they cannot run (not Linux, koffi missing, PXEKIT_HTTP_OFFLOAD=0 to compare the two paths). */
export function createSendfilePool(onThreadError: (message: string) => void): SendfilePool | undefined {
  return IoThreadPool.create<BodyJob, FromSender>({
    worker: new URL('./worker.js', import.meta.url),
    disabledBy: 'PXEKIT_HTTP_OFFLOAD',
    lostEnd: (id, why, orphaned) => ({ t: 'end', id, how: 'io', bytes: 0, message: `sending thread stopped: ${why}`, orphaned }),
    threadLost: (why) => `HTTP: a sending thread stopped (${why}); its downloads failed, new ones are copied by the main thread`,
    onThreadError,
  });
}
