// Runs the real `pxekit serve --json` in a lab namespace and reads its events.
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Lab } from './lab.js';

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export type AnyEvent = { type: string; [k: string]: unknown };

export class EngineProcess {
  readonly events: AnyEvent[] = [];
  stderr = '';
  private waiters: Array<{ pred: (e: AnyEvent) => boolean; resolve: (e: AnyEvent) => void }> = [];
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let ev: AnyEvent;
      try {
        ev = JSON.parse(line);
      } catch {
        return;
      }
      this.events.push(ev);
      this.waiters = this.waiters.filter((w) => (w.pred(ev) ? (w.resolve(ev), false) : true));
    });
    child.stderr!.on('data', (d) => (this.stderr += d));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  static start(lab: Lab, ns: string | null, args: string[]): EngineProcess {
    return new EngineProcess(lab.spawn(ns, process.execPath, [CLI, 'serve', '--json', ...args]));
  }

  /** Resolves with the first event (past or future) matching pred; rejects on exit or timeout. */
  waitFor(pred: (e: AnyEvent) => boolean, what: string, timeoutMs = 30_000): Promise<AnyEvent> {
    const seen = this.events.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; stderr: ${this.stderr}; last events: ${JSON.stringify(this.events.slice(-5))}`)), timeoutMs);
      const done = (e: AnyEvent) => {
        clearTimeout(timer);
        resolve(e);
      };
      this.waiters.push({ pred, resolve: done });
      void this.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`engine exited (${code}) while waiting for ${what}; stderr: ${this.stderr}; events: ${JSON.stringify(this.events.slice(-5))}`));
      });
    });
  }

  serving(timeoutMs = 30_000): Promise<AnyEvent> {
    return this.waitFor((e) => e.type === 'status' && (e.state === 'serving' || e.state === 'error'), 'serving status', timeoutMs).then((e) => {
      if (e.state === 'error') throw new Error(`engine failed to start: ${String(e.message)}`);
      return e;
    });
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill('SIGINT');
    return this.exited;
  }
}
