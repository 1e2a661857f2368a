// A TFTP pump thread: moves the DATA/ACK phase of the transfers handed to it, each on
// its own socket (src/net/io-loop.ts runs the poll loop; pump.ts the protocol).
import { runIoLoop } from '../../net/io-loop.js';
import { POLLIN } from '../../net/libc-io.js';
import { DataPump } from './pump.js';
import { PumpMemory } from './pump-memory.js';
import type { FromPump, PumpJob } from './protocol.js';

const memory = new PumpMemory();
runIoLoop<PumpJob, FromPump>(POLLIN, (msg, { io, post }) => new DataPump(msg, io, post, memory));
memory.free();
