// The desktop app's engine: started elevated, watched, restarted when it dies
// (bounded backoff), stopped cleanly on quit with its ports released. Plain Node
// (no Electron import): the unit test drives it against the real engine.
//
// The main process keeps one WebSocket open to the engine for as long as the
// app runs. The engine runs with --exit-with-parent, so when that connection
// (or the pkexec stdin pipe) goes away, a root engine quits by itself.
import { EventEmitter } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer } from 'node:net';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import type { Elevator, EngineCommand } from './elevate.js';
import { apiUrl, commandFrame, TOKEN_PROTOCOL_PREFIX } from '../src/api/wire.js';

export type EngineLifecycleState = 'idle' | 'starting' | 'running' | 'restarting' | 'declined' | 'failed' | 'stopping' | 'stopped';

export interface EngineLifecycleOptions {
  /** The engine's `pxekit` entry: e.g. node + dist/src/cli/main.js, or the app binary with ELECTRON_RUN_AS_NODE. */
  engine: EngineCommand;
  elevator: Elevator;
  /** Extra arguments after `serve --ui` (data dir, renderer dir...). */
  extraArgs?: string[];
  /** Preferred API port; another free one is used when it is taken. */
  port?: number;
  /** How long to wait for the engine to answer (includes the user typing a password). */
  readyTimeoutMs?: number;
  restart?: { initialDelayMs?: number; maxDelayMs?: number; maxAttempts?: number; healthyAfterMs?: number };
  stopTimeoutMs?: number;
  /**
   * Where the folder for the engine's early stderr is made (default: the system's temp
   * folder). The macOS and Windows prompts give no pipe for it; the elevated side writes
   * it to a file there, read when the engine exits (see elevate.ts).
   */
  earlyErrorDir?: string;
}

export interface EngineEndpoint {
  port: number;
  token: string;
  /** The UI page (the token in its fragment). */
  url: string;
  wsUrl: string;
}

function freePort(preferred = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', (err: NodeJS.ErrnoException) => (preferred && err.code === 'EADDRINUSE' ? freePort(0).then(resolve, reject) : reject(err)));
    s.listen({ host: '127.0.0.1', port: preferred, exclusive: true }, () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** True when nothing accepts connections on 127.0.0.1:port any more. */
export function portClosed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

/** What the engine wrote to its stderr file (LaunchOptions.stderrFile), or '' when there is none. */
export function readEarlyErrors(file: string, maxBytes = 8192): string {
  try {
    const text = readFileSync(file, 'utf8');
    return text.length > maxBytes ? text.slice(-maxBytes) : text;
  } catch {
    return '';
  }
}

/** The engine's own error line ("pxekit: ..."), else its last line of stderr. */
export function lastError(stderr: string): string {
  const lines = stderr.trim().split('\n');
  return lines.filter((l) => l.startsWith('pxekit:')).at(-1) ?? lines.at(-1) ?? '';
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Events: 'state' (EngineLifecycleState, detail?), 'ready' (EngineEndpoint),
 * 'exit' ({code, signal}), 'output' (line from the engine, JSON event or text).
 */
export class EngineLifecycle extends EventEmitter {
  readonly token = randomBytes(32).toString('hex');
  private child?: ChildProcess;
  private ws?: WebSocket;
  private _state: EngineLifecycleState = 'idle';
  private port = 0;
  private attempts = 0;
  private stderr = '';
  private wanted = false;
  private restartTimer?: NodeJS.Timeout;
  private exited?: Promise<void>;

  constructor(private readonly o: EngineLifecycleOptions) {
    super();
  }

  get state(): EngineLifecycleState {
    return this._state;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get endpoint(): EngineEndpoint | undefined {
    if (this._state !== 'running') return undefined;
    return { port: this.port, token: this.token, url: `http://127.0.0.1:${this.port}/#token=${this.token}`, wsUrl: `ws://127.0.0.1:${this.port}/api` };
  }

  private setState(s: EngineLifecycleState, detail?: string): void {
    this._state = s;
    this.emit('state', s, detail);
  }

  /** Starts the engine (prompting for elevation); resolves once it answers on its API. */
  async start(): Promise<EngineEndpoint> {
    if (this._state === 'running' && this.endpoint) return this.endpoint;
    this.wanted = true;
    this.attempts = 0;
    return this.launch();
  }

  private async launch(): Promise<EngineEndpoint> {
    this.setState(this.attempts === 0 ? 'starting' : 'restarting');
    this.port = await freePort(this.port || this.o.port || 0);
    this.stderr = '';
    const args = [...this.o.engine.args, 'serve', '--ui', '--json', '--exit-with-parent', '--ui-port', String(this.port), ...(this.o.extraArgs ?? [])];
    // The engine's stderr where the prompt gives no pipe for it (macOS, Windows): a file in a folder of ours.
    const errDir = mkdtempSync(join(this.o.earlyErrorDir ?? tmpdir(), 'pxekit-engine-'));
    const stderrFile = join(errDir, 'stderr.txt');
    let child: ChildProcess;
    try {
      child = this.o.elevator.launch({ ...this.o.engine, args }, this.token, { stderrFile });
    } catch (err) {
      rmSync(errDir, { recursive: true, force: true });
      throw err;
    }
    this.child = child;
    const startedAt = Date.now();
    let ready = false;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.stderr?.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-8192)));
    if (child.stdout) createInterface({ input: child.stdout }).on('line', (line) => this.emit('output', line));
    child.once('error', (err) => (this.stderr += `\n${err.message}`));
    child.once('exit', (code, signal) => {
      // Before anything decides on this exit: the engine's own words, which the prompt did not pass on.
      const early = readEarlyErrors(stderrFile);
      if (early) this.stderr = (this.stderr + (this.stderr && !this.stderr.endsWith('\n') ? '\n' : '') + early).slice(-8192);
      try {
        rmSync(errDir, { recursive: true, force: true });
      } catch {
        /* a file the elevated side owns: the temp folder's cleanup takes it */
      }
      this.emit('exit', { code, signal });
      this.ws?.terminate();
      this.ws = undefined;
      if (this.child === child) this.child = undefined;
      if (!this.wanted) return this.setState('stopped');
      if (!ready && this.o.elevator.declined(code, this.stderr)) {
        this.wanted = false;
        return this.setState('declined', this.o.elevator.declinedMessage);
      }
      // Ran long enough to count as healthy: a later crash starts the backoff afresh.
      if (ready && Date.now() - startedAt > (this.o.restart?.healthyAfterMs ?? 60_000)) this.attempts = 0;
      this.scheduleRestart(`engine exited (${signal ?? code})${this.stderr.trim() ? `: ${lastError(this.stderr)}` : ''}`);
    });

    try {
      await this.connectParent(child, this.o.readyTimeoutMs ?? 120_000);
    } catch (err) {
      // Not up: the exit handler (declined / restart) decides what happens next.
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      throw err;
    }
    ready = true;
    this.setState('running');
    const ep = this.endpoint!;
    this.emit('ready', ep);
    return ep;
  }

  private scheduleRestart(reason: string): void {
    const r = this.o.restart ?? {};
    const max = r.maxAttempts ?? 5;
    if (this.attempts >= max) {
      this.wanted = false;
      return this.setState('failed', `${reason}; gave up after ${max} restarts`);
    }
    const delay = Math.min((r.initialDelayMs ?? 1000) * 2 ** this.attempts, r.maxDelayMs ?? 30_000);
    this.attempts++;
    this.setState('restarting', `${reason}; restarting in ${Math.round(delay / 100) / 10} s`);
    this.restartTimer = setTimeout(() => {
      this.launch().catch(() => undefined); // failures arrive as 'exit' -> restart/declined/failed
    }, delay);
  }

  /** Opens the main process's own API connection (the engine's lifeline); resolves at the hello. */
  private async connectParent(child: ChildProcess, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error('engine exited before it was ready');
      try {
        this.ws = await this.openSocket();
        this.ws.on('close', () => {
          // Engine alive but the lifeline dropped (e.g. it was busy): reconnect, or it would quit.
          if (this.child === child && this.wanted && this._state === 'running') void this.connectParent(child, 30_000).catch(() => undefined);
        });
        return;
      } catch {
        await sleep(200);
      }
    }
    throw new Error('engine did not answer in time');
  }

  private openSocket(): Promise<WebSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(apiUrl(this.port), [`${TOKEN_PROTOCOL_PREFIX}${this.token}`], { handshakeTimeout: 2000 });
      ws.once('message', (data) => {
        if (String(data).includes('"hello"')) resolve(ws);
        else reject(new Error('no hello'));
      });
      ws.once('error', reject);
      ws.once('unexpected-response', () => {
        ws.terminate();
        reject(new Error('refused'));
      });
    });
  }

  /**
   * Stops the engine and waits until it is gone and its API port is closed.
   * A root engine cannot be signalled by the app: ask it over the API first,
   * close its stdin (pkexec), then SIGTERM (same-user engines), then SIGKILL.
   */
  async stop(): Promise<void> {
    this.wanted = false;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      this.ws?.terminate();
      if (this._state !== 'declined' && this._state !== 'failed') this.setState('stopped');
      return;
    }
    this.setState('stopping');
    const timeout = this.o.stopTimeoutMs ?? 10_000;
    const gone = this.exited!;
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(commandFrame(1, 'engine.shutdown', {}));
    child.stdin?.end();
    const within = (ms: number) => Promise.race([gone.then(() => true), sleep(ms).then(() => false)]);
    if (!(await within(timeout / 2))) {
      try {
        child.kill('SIGTERM');
      } catch {
        /* root child: EPERM */
      }
      if (!(await within(timeout / 2))) {
        try {
          child.kill('SIGKILL');
        } catch {
          /* nothing more we may do */
        }
        await within(2000);
      }
    }
    this.ws?.terminate();
    this.ws = undefined;
    // Ports released: wait until the API port refuses (the engine closes it last).
    for (let i = 0; i < 50 && !(await portClosed(this.port)); i++) await sleep(100);
    this.setState('stopped');
  }
}
