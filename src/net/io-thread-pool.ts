// A few I/O threads (io-loop.ts) that move the bulk of a transfer on sockets handed
// to them, and the routing of their messages back to whoever handed each job over.
// TFTP's data phase (src/tftp/offload) and HTTP bodies (src/http/sendfile) use one
// pool each. Linux only (libc through koffi): where a pool cannot start, its server
// keeps every transfer on the main thread, which works everywhere.
import { Worker, MessageChannel, type MessagePort } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { libcIo, type LibcIo } from './libc-io.js';

/** What the main thread says to an I/O thread: `add` carries the job's own fields. */
export type ToIoThread<Add> = ({ t: 'add'; id: number } & Add) | { t: 'abort'; id: number } | { t: 'stop' };

/** What a thread says about a job; `t: 'end'` is the job's last message. */
export interface FromIoThread {
  t: string;
  id: number;
}

export interface IoThreadPoolSpec<From extends FromIoThread> {
  /** The thread's module (it calls runIoLoop). */
  worker: URL;
  /** Threads to run; default one per core, at most 4. */
  size?: number;
  /** An environment variable that, set to 0, turns the pool off (to compare with the main-thread path). */
  disabledBy: string;
  /**
   * The last message of a job whose thread is gone. `orphaned`: the thread did not close the
   * job's fds (it died), so the receiver must; after a stop we asked for, it did.
   */
  lostEnd(id: number, why: string, orphaned: boolean): From;
  /** The log line for a thread that stopped on its own. */
  threadLost(why: string): string;
  onThreadError(message: string): void;
}

interface IoThread {
  worker: Worker;
  port: MessagePort;
  wakeFd: number;
  /**
   * Messages posted and not yet taken, in memory shared with the thread: it looks here
   * (no syscall) before it lets a single job block on its own socket (io-loop.ts).
   */
  pending: Int32Array;
  /** Jobs handed to it and not yet ended. */
  load: number;
  dead: boolean;
}

export class IoThreadPool<Add extends object, From extends FromIoThread> {
  private readonly threads: IoThread[] = [];
  private readonly listeners = new Map<number, { thread: IoThread; on: (m: From) => void }>();
  private nextId = 0;
  private closed = false;

  private constructor(
    private readonly io: LibcIo,
    private readonly spec: IoThreadPoolSpec<From>,
  ) {
    const size = spec.size ?? Math.min(4, Math.max(1, availableParallelism()));
    for (let i = 0; i < size; i++) this.threads.push(this.spawn());
  }

  /** The pool, or undefined where I/O threads cannot run (not Linux, koffi missing) or are turned off. */
  static create<Add extends object, From extends FromIoThread>(spec: IoThreadPoolSpec<From>): IoThreadPool<Add, From> | undefined {
    if (process.platform !== 'linux' || process.env[spec.disabledBy] === '0') return undefined;
    try {
      return new IoThreadPool<Add, From>(libcIo(), spec);
    } catch {
      return undefined;
    }
  }

  get usable(): boolean {
    return !this.closed && this.threads.some((t) => !t.dead);
  }

  /** libc for the main thread's side of a hand-over (dup, close). */
  get libc(): LibcIo {
    return this.io;
  }

  private spawn(): IoThread {
    const { port1, port2 } = new MessageChannel();
    const wakeFd = this.io.eventfd();
    if (wakeFd < 0) throw new Error(`eventfd failed: errno ${this.io.errno()}`);
    const pending = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(this.spec.worker, { workerData: { port: port2, wakeFd, pending }, transferList: [port2] });
    const thread: IoThread = { worker, port: port1, wakeFd, pending, load: 0, dead: false };
    // Idle threads do not keep the process alive; one with jobs does (as their sockets would on the main thread).
    worker.unref();
    worker.on('message', (m: From) => this.listeners.get(m.id)?.on(m));
    const lost = (why: string) => {
      if (thread.dead) return;
      thread.dead = true;
      if (!this.closed) this.spec.onThreadError(this.spec.threadLost(why));
      // Its jobs can no longer end by themselves: end them here.
      const orphaned = !this.closed;
      for (const [id, l] of [...this.listeners]) if (l.thread === thread) l.on(this.spec.lostEnd(id, why, orphaned));
    };
    worker.on('error', (err) => lost(err.message));
    worker.on('exit', (code) => lost(`exit code ${code}`));
    return thread;
  }

  /** Hands a job to the least busy thread; `on` hears its messages, the end exactly once. */
  add(job: Add, on: (m: From) => void): number {
    const id = ++this.nextId;
    const live = this.threads.filter((t) => !t.dead);
    if (live.length === 0) {
      // Every thread is gone (see spawn): the job fails like one whose thread stopped.
      queueMicrotask(() => on(this.spec.lostEnd(id, 'no I/O thread is running', true)));
      return id;
    }
    const thread = live.reduce((a, b) => (b.load < a.load ? b : a));
    if (thread.load++ === 0) thread.worker.ref();
    this.listeners.set(id, {
      thread,
      on: (m) => {
        if (m.t === 'end') {
          if (!this.listeners.delete(id)) return;
          // Once closing, the thread stays ref()ed until it exits (close() waits for that).
          if (--thread.load === 0 && !this.closed) thread.worker.unref();
        }
        on(m);
      },
    });
    this.post(thread, { ...job, t: 'add', id });
    return id;
  }

  abort(id: number): void {
    const l = this.listeners.get(id);
    if (l && !l.thread.dead) this.post(l.thread, { t: 'abort', id });
  }

  private post(thread: IoThread, msg: ToIoThread<Add>): void {
    thread.port.postMessage(msg);
    Atomics.add(thread.pending, 0, 1);
    this.io.wake(thread.wakeFd);
  }

  /** Stops the threads once they have ended their jobs and closed their fds. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(
      this.threads.map(async (t) => {
        if (t.dead) return;
        const exited = new Promise<void>((resolve) => t.worker.once('exit', () => resolve()));
        t.worker.ref(); // an idle thread is unref()ed: waiting for its exit must keep the process up
        this.post(t, { t: 'stop' });
        await exited;
        t.port.close();
      }),
    );
  }
}
