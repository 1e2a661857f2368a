// An HTTP sending thread: moves the response bodies handed to it (body-job.ts) in the
// epoll loop of src/net/io-loop.ts, waking when a client's socket has room.
import { runIoLoop } from '../../net/io-loop.js';
import { POLLOUT } from '../../net/libc-io.js';
import { SendfileJob } from './body-job.js';
import type { BodyJob, FromSender } from './protocol.js';

runIoLoop<BodyJob, FromSender>(POLLOUT, (msg, ctx) => new SendfileJob(msg, ctx));
