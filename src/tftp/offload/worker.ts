// A TFTP pump thread: moves the DATA/ACK phase of the transfers handed to it, each on
// its own socket (src/net/io-loop.ts runs the poll loop; pump.ts the protocol).
import { runIoLoop } from '../../net/io-loop.js';
import { nativeBuffer, POLLIN } from '../../net/libc-io.js';
import { DataPump } from './pump.js';
import type { FromPump, PumpJob } from './protocol.js';

/** Every pump of this thread receives into the same buffer: one packet is handled at a time. */
const recvBuf = nativeBuffer(65536);
runIoLoop<PumpJob, FromPump>(POLLIN, (msg, { io, post }) => new DataPump(msg, io, post, recvBuf));
recvBuf.free();
