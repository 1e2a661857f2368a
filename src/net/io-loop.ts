// The body of an I/O thread (io-thread-pool.ts): an epoll loop over the sockets of the
// jobs handed to it, that never returns to Node's event loop (so no libuv, no callbacks,
// no allocation per packet). New work arrives as a message on `port`, read
// synchronously after the main thread writes the eventfd `wakeFd`. epoll rather than
// poll(): a blocking poll() hangs the thread on every socket's wait queue and takes it
// off again on every call, a cost per socket per packet that grows with the transfers a
// thread runs (20-60 clients at once share two threads here); epoll keeps the list in
// the kernel and costs per ready socket.
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { EpollEvents, libcIo, POLLIN, type LibcIo } from './libc-io.js';
import type { ToIoThread } from './io-thread-pool.js';

/** One transfer on one socket, as an I/O thread runs it. Times are performance.now() ms. */
export interface IoJob {
  readonly id: number;
  /** The socket watched for this job; the loop closes it when the job has ended. */
  readonly fd: number;
  readonly ended: boolean;
  /** When onTimer is next due. */
  readonly deadline: number;
  start(now: number): void;
  /** epoll reported `revents` (POLL* bits) on fd. */
  onReady(revents: number, now: number): void;
  /**
   * Optional: waits for the job's socket itself (a blocking recv bounded by
   * WAIT_SLICE_MS), handles what came and returns the time it woke (performance.now()
   * ms). The loop calls it instead of epoll while the thread has this one job and no
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

/** Events taken from the kernel per wait; more stay queued for the next. */
const EVENTS_PER_WAIT = 64;
/** The epoll tag of the eventfd that says messages are waiting. */
const WAKE_TAG = 0;

/**
 * Runs the thread until the pool says stop. `events` is what the loop waits for on every
 * job's socket (POLLIN for TFTP ACKs, POLLOUT for HTTP bodies).
 */
export function runIoLoop<Add, From>(events: number, create: (msg: Extract<ToIoThread<Add>, { t: 'add' }>, ctx: IoLoopContext<From>) => IoJob): void {
  const { port, wakeFd, pending } = workerData as { port: MessagePort; wakeFd: number; pending: Int32Array };
  const io = libcIo();
  const ctx: IoLoopContext<From> = { io, post: (m) => parentPort!.postMessage(m) };
  /** By id, which is also each job's epoll tag (the pool's ids start at 1; WAKE_TAG is 0). */
  const jobs = new Map<number, IoJob>();
  /** The jobs in a list, for the timers and the one-job case. Rebuilt when the set changes. */
  let order: IoJob[] = [];
  let dirty = true;
  let running = true;
  const ep = io.epollCreate();
  if (ep < 0 || io.epollAdd(ep, wakeFd, POLLIN, WAKE_TAG) < 0) throw new Error(`I/O thread: epoll failed (errno ${io.errno()})`);
  const ready = new EpollEvents(EVENTS_PER_WAIT);

  const remove = (j: IoJob): void => {
    jobs.delete(j.id);
    // Before close: for an fd with a duplicate elsewhere (HTTP), epoll would go on reporting the socket.
    io.epollDel(ep, j.fd);
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
        if (io.epollAdd(ep, j.fd, events, j.id) < 0) {
          // Never to be woken for: end it now (it tells the main thread) rather than let it time out.
          j.abort();
          remove(j);
          continue;
        }
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
    if (dirty) {
      order = [...jobs.values()];
      dirty = false;
    }
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
    const n = io.epollWait(ep, ready.addr, EVENTS_PER_WAIT, Math.max(0, Math.ceil(wait)));
    const t = performance.now();
    let woken = false;
    for (let i = 0; i < n; i++) {
      const tag = ready.tag(i);
      if (tag === WAKE_TAG) {
        woken = true;
        continue;
      }
      // Gone already: ended earlier in this batch (ids are never reused).
      const j = jobs.get(tag);
      if (!j || j.ended) continue;
      j.onReady(ready.events(i), t);
      if (j.ended) remove(j);
    }
    if (woken) takeMessages();
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
  io.close(ep);
  ready.free();
  port.close();
}
