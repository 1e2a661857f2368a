// A TFTP pump thread: moves the DATA/ACK phase of the transfers handed to it, on
// their own sockets, in a poll() loop that never returns to Node's event loop (so
// no libuv, no callbacks, no allocation per packet). New work arrives as a message
// on `port`, read synchronously after the main thread writes the eventfd `wakeFd`.
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { libcIo, nativeBuffer, POLLIN, type NativeBuffer } from './libc-io.js';
import { DataPump } from './pump.js';
import type { FromPump, ToPump } from './protocol.js';

const { port, wakeFd } = workerData as { port: MessagePort; wakeFd: number };
const io = libcIo();
const post = (m: FromPump): void => parentPort!.postMessage(m);

const pumps = new Map<number, DataPump>();
/** pollfd[0] is the eventfd; then one per pump, in `order`. Rebuilt when the set changes. */
let order: DataPump[] = [];
let pollfds: NativeBuffer = nativeBuffer(8);
let dirty = true;
const recvBuf = nativeBuffer(65536);
let running = true;

function rebuild(): void {
  order = [...pumps.values()];
  if (pollfds.buf.length < (order.length + 1) * 8) {
    pollfds.free();
    pollfds = nativeBuffer((order.length + 1) * 16);
  }
  const entry = (i: number, fd: number) => {
    pollfds.buf.writeInt32LE(fd, i * 8);
    pollfds.buf.writeInt16LE(POLLIN, i * 8 + 4);
    pollfds.buf.writeInt16LE(0, i * 8 + 6);
  };
  entry(0, wakeFd);
  order.forEach((p, i) => entry(i + 1, p.fd));
  dirty = false;
}

function remove(p: DataPump): void {
  pumps.delete(p.id);
  io.close(p.fd);
  p.release();
  dirty = true;
}

function takeMessages(): void {
  io.drain(wakeFd);
  for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
    const msg = m.message as ToPump;
    if (msg.t === 'add') {
      const p = new DataPump(msg, io, post);
      pumps.set(p.id, p);
      dirty = true;
      p.start(performance.now());
      if (p.ended) remove(p);
    } else if (msg.t === 'abort') {
      const p = pumps.get(msg.id);
      if (p) {
        p.abort();
        remove(p);
      }
    } else running = false;
  }
}

while (running) {
  if (dirty) rebuild();
  let wait = 1000;
  const now = performance.now();
  for (const p of order) wait = Math.min(wait, p.deadline - now);
  const ready = io.poll(pollfds.addr, order.length + 1, Math.max(0, Math.ceil(wait)));
  const t = performance.now();
  if (ready > 0) {
    for (let i = 0; i < order.length; i++) {
      if (pollfds.buf.readInt16LE((i + 1) * 8 + 6) === 0) continue;
      const p = order[i];
      if (p.ended) continue;
      p.onReadable(recvBuf, t);
      if (p.ended) remove(p);
    }
    if (pollfds.buf.readInt16LE(6) !== 0) takeMessages();
  }
  for (const p of order) {
    if (p.ended || t < p.deadline) continue;
    p.onTimer(t);
    if (p.ended) remove(p);
  }
}
for (const p of [...pumps.values()]) {
  p.abort();
  remove(p);
}
io.close(wakeFd);
port.close();
