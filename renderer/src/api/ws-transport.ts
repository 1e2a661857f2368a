// The WebSocket transport: request/response matched by id, events and hello
// pushed by the engine, reconnection with capped exponential backoff. The token
// travels as the subprotocol "pxekit.v1.<token>", never in the URL.
// A command made while disconnected is refused at once, never queued: a Serve
// clicked during an outage must not start a DHCP server when the engine returns.
import { API_VERSION, TOKEN_PROTOCOL_PREFIX, type ApiEvent, type CommandName, type Commands, type ServerMessage } from './types.js';
import { commandFrame } from '../../../src/api/wire.js';
import { ApiError, Listeners, NOT_CONNECTED_MESSAGE, TOKEN_REFUSED_DETAIL, type ConnectionState, type Hello, type Transport } from './transport.js';

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

/**
 * Whether something answers HTTP where the API's WebSocket is. A handshake that fails while
 * the server answers was refused (the engine rejects a wrong token with 401, which a browser
 * only reports as a failed connection); one that fails with nobody answering is an outage.
 * A page from another origin (a dev server) cannot ask, and says "not reachable".
 */
export async function httpAnswers(wsUrl: string, timeoutMs = 2000): Promise<boolean> {
  // Only the page's own origin (the engine's UI server, in the browser and in Electron): the CSP allows no other.
  if (typeof location === 'undefined' || new URL(wsUrl.replace(/^ws/, 'http')).host !== location.host) return false;
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  try {
    await fetch(wsUrl.replace(/^ws/, 'http'), { mode: 'no-cors', cache: 'no-store', signal: ctl.signal });
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

export interface WsTransportOptions {
  /** Resolves the endpoint each time it (re)connects: Electron may restart the engine on a new port. */
  endpoint: () => Promise<{ url: string; token: string }>;
  /** First retry delay; doubles up to maxDelayMs. */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** Tells a refused handshake from an engine that is down (default: httpAnswers). */
  probe?: (wsUrl: string) => Promise<boolean>;
}

export class WsTransport implements Transport {
  private ws?: WebSocket;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly events = new Listeners<[ApiEvent]>();
  private readonly hellos = new Listeners<[Hello]>();
  private readonly states = new Listeners<[ConnectionState, string | undefined]>();
  private state: ConnectionState = 'closed';
  private attempts = 0;
  private timer?: number;
  private closed = false;

  constructor(private readonly opts: WsTransportOptions) {
    void this.connect();
  }

  get connection(): ConnectionState {
    return this.state;
  }

  request<N extends CommandName>(cmd: N, params: Commands[N]['params']): Promise<Commands[N]['result']> {
    const ws = this.ws;
    if (ws === undefined || ws.readyState !== WebSocket.OPEN || this.state !== 'open') return Promise.reject(new ApiError('disconnected', NOT_CONNECTED_MESSAGE));
    const id = this.nextId++;
    const frame = commandFrame(id, cmd, params);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      ws.send(frame);
    });
  }

  onEvent(listener: (event: ApiEvent) => void): () => void {
    return this.events.add(listener);
  }
  onHello(listener: (hello: Hello) => void): () => void {
    return this.hellos.add(listener);
  }
  onConnection(listener: (state: ConnectionState, detail?: string) => void): () => void {
    return this.states.add(listener);
  }

  close(): void {
    this.closed = true;
    window.clearTimeout(this.timer);
    this.ws?.close();
    this.fail(new ApiError('closed', 'connection closed'));
    this.setState('closed');
  }

  private setState(s: ConnectionState, detail?: string): void {
    this.state = s;
    this.states.emit(s, detail);
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    this.setState('connecting');
    let endpoint: { url: string; token: string };
    try {
      endpoint = await this.opts.endpoint();
    } catch (err) {
      this.setState('closed', (err as Error).message);
      this.retry();
      return;
    }
    if (this.closed) return;
    let ws: WebSocket;
    try {
      ws = new WebSocket(endpoint.url, [TOKEN_PROTOCOL_PREFIX + endpoint.token]);
    } catch (err) {
      this.setState('closed', (err as Error).message);
      this.retry();
      return;
    }
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.attempts = 0;
      this.setState('open');
    };
    ws.onmessage = (m) => this.receive(String(m.data));
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      // Requests in flight may or may not have run: their callers decide (no blind resend).
      this.fail(new ApiError('disconnected', 'lost the connection to the engine'));
      void this.closeDetail(e.code, opened, endpoint.url).then((detail) => {
        if (this.closed || this.ws !== undefined) return;
        this.setState('closed', detail);
        this.retry();
      });
    };
  }

  /** Why the connection ended, in words: a refused token, or the engine not reachable. */
  private async closeDetail(code: number, opened: boolean, url: string): Promise<string> {
    if (code === 1008 || code === 4401) return TOKEN_REFUSED_DETAIL;
    // Refused at the handshake: the server is up (it answers HTTP) but will not take this page's token.
    if (!opened && (await (this.opts.probe ?? httpAnswers)(url))) return TOKEN_REFUSED_DETAIL;
    return 'engine not reachable, retrying';
  }

  private retry(): void {
    if (this.closed) return;
    const min = this.opts.minDelayMs ?? 250;
    const max = this.opts.maxDelayMs ?? 5000;
    const delay = Math.min(max, min * 2 ** this.attempts++);
    this.timer = window.setTimeout(() => void this.connect(), delay);
  }

  private fail(err: Error): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(err);
    }
  }

  private receive(text: string): void {
    let msg: ServerMessage;
    try {
      msg = JSON.parse(text) as ServerMessage;
    } catch {
      return; // not ours: ignore rather than crash the UI
    }
    if (!msg || msg.v !== API_VERSION) return;
    if ('hello' in msg) this.hellos.emit(msg.hello);
    else if ('event' in msg) this.events.emit(msg.event);
    else if ('id' in msg) {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new ApiError(msg.error.code, msg.error.message));
    }
  }
}
