// The body of an I/O thread (io-thread-pool.ts): a poll() loop over the sockets of the
// jobs handed to it, that never returns to Node's event loop (so no libuv, no callbacks,
// no allocation per packet). New work arrives as a message on `port`, read
// synchronously after the main thread writes the eventfd `wakeFd`.
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { libcIo, nativeBuffer, POLLIN, type LibcIo, type NativeBuffer } from './libc-io.js';
import type { ToIoThread } from './io-thread-pool.js';

/** One transfer on one socket, as an I/O thread runs it. Times are performance.now() ms. */
export interface IoJob {
  readonly id: number;
  /** The socket polled for this job; the loop closes it when the job has ended. */
  readonly fd: number;
  readonly ended: boolean;
  /** When onTimer is next due. */
  readonly deadline: number;
  start(now: number): void;
  /** poll() reported `revents` on fd. */
  onReady(revents: number, now: number): void;
  /**
   * Optional: waits for the job's socket itself (a blocking recv bounded by
   * WAIT_SLICE_MS), handles what came and returns the time it woke (performance.now()
   * ms). The loop calls it instead of poll() while the thread has this one job and no
   * message waiting: one syscall and one call from JS fewer per packet, which is what
   * lockstep TFTP is made of.
   */
  waitAndHandle?(): number;
  onTimer(now: number): void;
  /** The main thread asked to stop it (or the thread is stopping). */
  abort(): void;
  /** Frees native memory; the job is finished. */
  release(): void;
}

/**
 * The longest a job's own wait (waitAndHandle) may block: a message from the main thread
 * (a new job, an abort) waits at most this long, and timers fire at most this late.
 */
export const WAIT_SLICE_MS = 2;

export interface IoLoopContext<From> {
  io: LibcIo;
  post(m: From): void;
}

/**
 * Runs the thread until the pool says stop. `events` is what poll() waits for on every
 * job's socket (POLLIN for TFTP ACKs, POLLOUT for HTTP bodies).
 */
export function runIoLoop<Add, From>(events: number, create: (msg: Extract<ToIoThread<Add>, { t: 'add' }>, ctx: IoLoopContext<From>) => IoJob): void {
  const { port, wakeFd, pending } = workerData as { port: MessagePort; wakeFd: number; pending: Int32Array };
  const io = libcIo();
  const ctx: IoLoopContext<From> = { io, post: (m) => parentPort!.postMessage(m) };
  const jobs = new Map<number, IoJob>();
  /** pollfd[0] is the eventfd; then one per job, in `order`. Rebuilt when the set changes. */
  let order: IoJob[] = [];
  let pollfds: NativeBuffer = nativeBuffer(8);
  let dirty = true;
  let running = true;

  const rebuild = (): void => {
    order = [...jobs.values()];
    if (pollfds.buf.length < (order.length + 1) * 8) {
      pollfds.free();
      pollfds = nativeBuffer((order.length + 1) * 16);
    }
    const entry = (i: number, fd: number, ev: number) => {
      pollfds.buf.writeInt32LE(fd, i * 8);
      pollfds.buf.writeInt16LE(ev, i * 8 + 4);
      pollfds.buf.writeInt16LE(0, i * 8 + 6);
    };
    entry(0, wakeFd, POLLIN);
    order.forEach((j, i) => entry(i + 1, j.fd, events));
    dirty = false;
  };

  const remove = (j: IoJob): void => {
    jobs.delete(j.id);
    io.close(j.fd);
    j.release();
    dirty = true;
  };

  const takeMessages = (): void => {
    Atomics.store(pending, 0, 0);
    io.drain(wakeFd);
    for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
      const msg = m.message as ToIoThread<Add>;
      if (msg.t === 'add') {
        const j = create(msg as Extract<ToIoThread<Add>, { t: 'add' }>, ctx);
        jobs.set(j.id, j);
        dirty = true;
        j.start(performance.now());
        if (j.ended) remove(j);
      } else if (msg.t === 'abort') {
        const j = jobs.get(msg.id);
        if (j) {
          j.abort();
          remove(j);
        }
      } else running = false;
    }
  };

  while (running) {
    if (dirty) rebuild();
    const only = order.length === 1 ? order[0] : undefined;
    if (only?.waitAndHandle && Atomics.load(pending, 0) === 0) {
      // One job: it waits on its own socket; messages are seen within WAIT_SLICE_MS.
      const t = only.waitAndHandle();
      if (!only.ended && t >= only.deadline) only.onTimer(t);
      if (only.ended) remove(only);
      if (Atomics.load(pending, 0) !== 0) takeMessages();
      continue;
    }
    let wait = 1000;
    const now = performance.now();
    for (const j of order) wait = Math.min(wait, j.deadline - now);
    const ready = io.poll(pollfds.addr, order.length + 1, Math.max(0, Math.ceil(wait)));
    const t = performance.now();
    if (ready > 0) {
      for (let i = 0; i < order.length; i++) {
        const revents = pollfds.buf.readInt16LE((i + 1) * 8 + 6);
        if (revents === 0) continue;
        const j = order[i];
        if (j.ended) continue;
        j.onReady(revents, t);
        if (j.ended) remove(j);
      }
      if (pollfds.buf.readInt16LE(6) !== 0) takeMessages();
    }
    for (const j of order) {
      if (j.ended || t < j.deadline) continue;
      j.onTimer(t);
      if (j.ended) remove(j);
    }
  }
  for (const j of [...jobs.values()]) {
    j.abort();
    remove(j);
  }
  io.close(wakeFd);
  port.close();
}
