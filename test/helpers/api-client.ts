// A real WebSocket client of the engine's API (npm ws), for tests: typed calls,
// recorded events, and a bare handshake attempt to check refusals.
import WebSocket from 'ws';
import { createServer } from 'node:net';
import type { Controller } from '../../src/api/controller.js';
import { ApiServer, generateToken } from '../../src/api/ws-server.js';
import { API_VERSION, TOKEN_PROTOCOL_PREFIX, type ApiEvent, type CommandName, type Commands, type HelloEnvelope, type ResponseEnvelope } from '../../src/api/contract.js';

export class ApiCallError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

export class ApiClient {
  readonly events: ApiEvent[] = [];
  readonly raw: unknown[] = [];
  hello?: HelloEnvelope['hello'];
  private nextId = 1;
  private pending = new Map<number, (r: ResponseEnvelope) => void>();
  private waiters: Array<{ pred: (e: ApiEvent) => boolean; resolve: (e: ApiEvent) => void }> = [];
  readonly closed: Promise<void>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as Record<string, unknown>;
      this.raw.push(msg);
      if ('hello' in msg) this.hello = (msg as unknown as HelloEnvelope).hello;
      else if ('event' in msg) {
        const ev = msg.event as ApiEvent;
        this.events.push(ev);
        this.waiters = this.waiters.filter((w) => (w.pred(ev) ? (w.resolve(ev), false) : true));
      } else if ('id' in msg) this.pending.get(msg.id as number)?.(msg as unknown as ResponseEnvelope);
    });
    this.closed = new Promise((resolve) => ws.once('close', () => resolve()));
  }

  static connect(port: number, token: string, opts: { origin?: string } = {}): Promise<ApiClient> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api`, [`${TOKEN_PROTOCOL_PREFIX}${token}`], { origin: opts.origin });
    const client = new ApiClient(ws);
    return new Promise((resolve, reject) => {
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`handshake refused: ${res.statusCode}`)));
      // Resolve once the hello arrived: the server sends it first.
      const check = () => (client.hello ? resolve(client) : setTimeout(check, 10));
      ws.once('open', check);
    });
  }

  /** Sends a raw text frame and returns the next response. */
  sendRaw(text: string | Buffer, id: number): Promise<ResponseEnvelope> {
    return new Promise((resolve) => {
      this.pending.set(id, (r) => {
        this.pending.delete(id);
        resolve(r);
      });
      this.ws.send(text);
    });
  }

  async call<N extends CommandName>(cmd: N, params: Commands[N]['params']): Promise<Commands[N]['result']> {
    const id = this.nextId++;
    const r = await this.sendRaw(JSON.stringify({ v: API_VERSION, id, cmd, params }), id);
    if (!r.ok) throw new ApiCallError(r.error.code, r.error.message);
    return r.result as Commands[N]['result'];
  }

  waitFor(pred: (e: ApiEvent) => boolean, what: string, timeoutMs = 30_000): Promise<ApiEvent> {
    const seen = this.events.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}; last events ${JSON.stringify(this.events.slice(-5))}`)), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (e) => {
          clearTimeout(t);
          resolve(e);
        },
      });
    });
  }

  close(): Promise<void> {
    this.ws.close();
    return this.closed;
  }
}

/** One handshake: resolves with 101 when accepted, else the HTTP status, or the socket error code. */
export function tryHandshake(url: string, protocols: string[], opts: { origin?: string; headers?: Record<string, string> } = {}): Promise<number | string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, protocols, { origin: opts.origin, headers: opts.headers, handshakeTimeout: 5000 });
    ws.once('open', () => {
      ws.terminate();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** A free TCP port on 127.0.0.1 (for an engine's API started in another process). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** An API server around `controller` on a free port and a client connected to it, both closed after the test. */
export async function connectApi(t: { after: (fn: () => unknown) => void }, controller: Controller): Promise<ApiClient> {
  const token = generateToken();
  const server = new ApiServer({ controller, token, rendererDir: null });
  await server.start();
  t.after(() => server.close());
  const c = await ApiClient.connect(server.port, token);
  t.after(() => c.close());
  return c;
}
