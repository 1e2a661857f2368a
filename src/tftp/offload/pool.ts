// The pump threads (worker.ts) of one TFTP server, and the routing of their
// messages. Linux only (libc through koffi); where it cannot start, the server
// keeps every transfer on node:dgram (transfer.ts), which works everywhere.
import { Worker, MessageChannel, type MessagePort } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { zeroCounters, type FromPump, type ToPump } from './protocol.js';
import { libcIo, type LibcIo } from './libc-io.js';

interface PumpThread {
  worker: Worker;
  port: MessagePort;
  wakeFd: number;
  /** Transfers handed to it and not yet ended. */
  load: number;
  dead: boolean;
}

type Listener = (m: FromPump) => void;

export class PumpPool {
  private readonly threads: PumpThread[] = [];
  private readonly listeners = new Map<number, { thread: PumpThread; on: Listener }>();
  private nextId = 0;
  private closed = false;

  private constructor(
    private readonly io: LibcIo,
    size: number,
    private readonly onThreadError: (message: string) => void,
  ) {
    for (let i = 0; i < size; i++) this.threads.push(this.spawn());
  }

  /**
   * Pump threads, one per core (at most 4), or undefined where they cannot run (not Linux,
   * koffi missing, PXK_TFTP_OFFLOAD=0 to compare the two paths).
   */
  static create(onThreadError: (message: string) => void, size = Math.min(4, Math.max(1, availableParallelism()))): PumpPool | undefined {
    if (process.platform !== 'linux' || process.env.PXK_TFTP_OFFLOAD === '0') return undefined;
    try {
      return new PumpPool(libcIo(), size, onThreadError);
    } catch {
      return undefined;
    }
  }

  get usable(): boolean {
    return !this.closed && this.threads.some((t) => !t.dead);
  }

  private spawn(): PumpThread {
    const { port1, port2 } = new MessageChannel();
    const wakeFd = this.io.eventfd();
    if (wakeFd < 0) throw new Error(`eventfd failed: errno ${this.io.errno()}`);
    const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: { port: port2, wakeFd }, transferList: [port2] });
    const thread: PumpThread = { worker, port: port1, wakeFd, load: 0, dead: false };
    // Idle threads do not keep the process alive; one with transfers does (as their sockets would on node:dgram).
    worker.unref();
    worker.on('message', (m: FromPump) => this.listeners.get(m.id)?.on(m));
    const lost = (why: string) => {
      if (thread.dead) return;
      thread.dead = true;
      if (!this.closed) this.onThreadError(`TFTP: a transfer thread stopped (${why}); its transfers failed, new ones use the main thread`);
      // Its transfers can no longer end by themselves: end them here. After a stop we asked for, the
      // thread closed every socket itself (an fd closed twice could be someone else's by then).
      const orphaned = !this.closed;
      for (const [id, l] of [...this.listeners]) {
        if (l.thread !== thread) continue;
        l.on({ t: 'end', id, how: 'io', inData: true, acked: 0, c: zeroCounters(), message: `transfer thread stopped: ${why}`, orphaned });
      }
    };
    worker.on('error', (err) => lost(err.message));
    worker.on('exit', (code) => lost(`exit code ${code}`));
    return thread;
  }

  /** Hands a transfer to the least busy thread; `on` hears its progress and (exactly once) its end. */
  add(msg: Omit<Extract<ToPump, { t: 'add' }>, 't' | 'id'>, on: Listener): number {
    const live = this.threads.filter((t) => !t.dead);
    if (live.length === 0) {
      // Every thread is gone (see spawn): the transfer fails like one whose thread stopped.
      queueMicrotask(() => on({ t: 'end', id: 0, how: 'io', inData: false, acked: 0, c: zeroCounters(), message: 'no transfer thread is running', orphaned: true }));
      return 0;
    }
    const thread = live.reduce((a, b) => (b.load < a.load ? b : a));
    const id = ++this.nextId;
    if (thread.load++ === 0) thread.worker.ref();
    this.listeners.set(id, {
      thread,
      on: (m) => {
        if (m.t === 'end') {
          if (!this.listeners.delete(id)) return;
          if (--thread.load === 0) thread.worker.unref();
        }
        on(m);
      },
    });
    this.post(thread, { ...msg, t: 'add', id });
    return id;
  }

  abort(id: number): void {
    const l = this.listeners.get(id);
    if (l && !l.thread.dead) this.post(l.thread, { t: 'abort', id });
  }

  private post(thread: PumpThread, msg: ToPump): void {
    thread.port.postMessage(msg);
    this.io.wake(thread.wakeFd);
  }

  /** Stops the threads once they have told their clients (ERROR) and closed their sockets. */
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
