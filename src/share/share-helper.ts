// The engine's side of the root share helper (share-helper-main.ts): started while the engine is
// still root, it lets the engine give root up (src/net/privilege.ts) and still start and stop the
// Windows setup share, which needs root (smbd, the ISO's loop mount). Linux only.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { ShareError, type SetupShare, type SetupShareOptions, type ShareErrorCode } from './smb-share.js';
import type { HelperAnswer, HelperCall } from './share-helper-main.js';

type Pending = { resolve: (a: HelperAnswer) => void };

export class RootShareHelper {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private readonly ready: Promise<void>;
  private gone?: string;

  /** Starts the helper as `user`'s root side; call while root, before the drop. */
  constructor(user: string) {
    const main = fileURLToPath(new URL('./share-helper-main.js', import.meta.url));
    // Its own process group is not wanted: a crash of the engine closes the pipe, which is the
    // helper's signal to stop every share. stderr goes to ours, for its rare fatal errors.
    this.child = spawn(process.execPath, [main, '--user', user], { stdio: ['pipe', 'pipe', 'inherit'] });
    let readyNow: () => void = () => {};
    let failNow: (e: Error) => void = () => {};
    this.ready = new Promise<void>((resolve, reject) => {
      readyNow = resolve;
      failNow = reject;
    });
    this.ready.catch(() => undefined);
    const lines = createInterface({ input: this.child.stdout! });
    lines.on('line', (line) => {
      let msg: HelperAnswer | { ready: true };
      try {
        msg = JSON.parse(line) as HelperAnswer | { ready: true };
      } catch {
        return;
      }
      if ('ready' in msg) return readyNow();
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      p?.resolve(msg);
    });
    const end = (why: string) => {
      this.gone ??= why;
      failNow(new ShareError('start-failed', `the setup share's root helper ${why}`));
      for (const p of this.pending.values()) p.resolve({ id: 0, ok: false, code: 'start-failed', message: `the setup share's root helper ${why}` });
      this.pending.clear();
    };
    this.child.on('error', (err) => end(`could not start: ${err.message}`));
    this.child.on('exit', (code, signal) => end(`exited (${signal ?? `code ${code}`})`));
    // Its pipes keep the engine's event loop alive (a start awaits the helper before any socket
    // is open): whoever starts a helper ends it with close().
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private async ask(req: HelperCall): Promise<HelperAnswer> {
    await this.ready;
    if (this.gone) throw new ShareError('start-failed', `the setup share's root helper ${this.gone}`);
    const id = this.nextId++;
    const answer = new Promise<HelperAnswer>((resolve) => this.pending.set(id, { resolve }));
    this.child.stdin!.write(`${JSON.stringify({ ...req, id })}\n`);
    return answer;
  }

  /** startSetupShare, done by the helper as root. workDir is the helper's own (never the engine's data dir). */
  async start(o: SetupShareOptions): Promise<SetupShare> {
    const a = await this.ask({ op: 'start', share: { iface: o.iface, address: o.address, prefix: o.prefix, source: o.source } });
    if (!a.ok) throw new ShareError(a.code as ShareErrorCode, a.message);
    const info = a.share!;
    const { shareId, ...rest } = info;
    let stopping: Promise<void> | undefined;
    return { ...rest, stop: () => (stopping ??= this.ask({ op: 'stop', shareId }).then(() => undefined, () => undefined)) };
  }

  /** Ends the helper: it stops every share it still runs, then exits. */
  close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.stdin!.end();
    });
  }
}
