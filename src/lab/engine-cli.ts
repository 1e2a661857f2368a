// The real `pxekit serve --json` started inside the virtual lab's namespace (its
// UDP sockets, NIC lookup and SO_BINDTODEVICE all see the lab's bridge), with
// its JSON event stream parsed line by line. Used by the demo and the e2e tests.
import { fileURLToPath } from 'node:url';
import { lineReader, type VirtualLab } from './virtual-lab.js';

/** dist/src/lab/engine-cli.js -> dist/src/cli/main.js */
export const CLI_MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));

export type AnyEvent = { type: string; [k: string]: unknown };

export interface LabEngineOptions {
  mode: 'auto' | 'dhcp' | 'proxy';
  kernel: string;
  initrd?: string;
  cmdline?: string;
  dataDir: string;
  /** Extra `serve` arguments. */
  args?: string[];
  onEvent?: (ev: AnyEvent) => void;
  onStderr?: (line: string) => void;
}

export class LabEngine {
  readonly events: AnyEvent[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;
  readonly argv: string[];
  private waiters: Array<(e: AnyEvent) => void> = [];
  private readonly child;

  private constructor(lab: VirtualLab, o: LabEngineOptions) {
    this.argv = [CLI_MAIN, 'serve', '--iface', lab.bridge, '--mode', o.mode, '--data-dir', o.dataDir, '--json'];
    if (o.initrd) this.argv.push('--initrd', o.initrd);
    if (o.cmdline) this.argv.push('--cmdline', o.cmdline);
    // The lab's fixtures live in root's folders: the engine stays root unless the caller picks a user.
    if (!o.args?.includes('--user')) this.argv.push('--user', 'root');
    this.argv.push(...(o.args ?? []), o.kernel);
    this.child = lab.spawn(process.execPath, this.argv);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code) => resolve(code));
      this.child.once('error', (err) => {
        this.stderr.push(String(err));
        resolve(null);
      });
    });
    lineReader(this.child.stdout, (line) => {
      let ev: AnyEvent;
      try {
        ev = JSON.parse(line) as AnyEvent;
      } catch {
        this.stderr.push(`(stdout, not JSON) ${line}`);
        return;
      }
      if (!ev || typeof ev.type !== 'string') return;
      this.events.push(ev);
      o.onEvent?.(ev);
      for (const w of [...this.waiters]) w(ev);
    });
    lineReader(this.child.stderr, (line) => {
      this.stderr.push(line);
      o.onStderr?.(line);
    });
  }

  static start(lab: VirtualLab, o: LabEngineOptions): LabEngine {
    return new LabEngine(lab, o);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Resolves with the first event (already seen or future) matching pred; rejects on exit or timeout. */
  waitFor(pred: (e: AnyEvent) => boolean, what: string, timeoutMs: number): Promise<AnyEvent> {
    const seen = this.events.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== waiter);
      };
      const waiter = (e: AnyEvent) => {
        if (!pred(e)) return;
        done();
        resolve(e);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`engine: timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}\n${this.tail()}`));
      }, timeoutMs);
      this.waiters.push(waiter);
      void this.exited.then((code) => {
        if (!this.waiters.includes(waiter)) return;
        setTimeout(() => {
          if (!this.waiters.includes(waiter)) return;
          done();
          reject(new Error(`engine exited (${code}) while waiting for ${what}\n${this.tail()}`));
        }, 100);
      });
    });
  }

  /** Resolves with the "serving" status; rejects with the engine's own words if it failed to start. */
  async serving(timeoutMs = 60_000): Promise<AnyEvent> {
    const e = await this.waitFor((e) => e.type === 'status' && (e.state === 'serving' || e.state === 'error'), 'the "serving" status', timeoutMs);
    if (e.state === 'error') throw new Error(`engine failed to start: ${String(e.message)}\n${this.tail()}`);
    return e;
  }

  /** Last events and stderr, for failure messages. */
  tail(n = 12): string {
    const ev = this.events.slice(-n).map((e) => JSON.stringify(e).slice(0, 400));
    return `--- engine events (last ${ev.length}) ---\n${ev.join('\n')}\n--- engine stderr ---\n${this.stderr.slice(-20).join('\n')}`;
  }

  /** Ctrl-C, as a technician would; SIGKILL if it has not exited after graceMs. Returns the exit code. */
  async stop(graceMs = 10_000): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    this.child.kill('SIGINT');
    const t = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const code = await this.exited;
    clearTimeout(t);
    return code;
  }
}
