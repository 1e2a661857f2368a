// The WebSocket transport: request/response matched by id, events and hello
// pushed by the engine, reconnection with capped exponential backoff. The token
// travels as the subprotocol "pxekit.v1.<token>", never in the URL.
import { API_VERSION, TOKEN_PROTOCOL_PREFIX, type ApiEvent, type CommandName, type Commands, type ServerMessage } from './types.js';
import { ApiError, Listeners, type ConnectionState, type Hello, type Transport } from './transport.js';

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  /** Went out on a socket (else it waits in the queue for the next connection). */
  sent: boolean;
}

export interface WsTransportOptions {
  /** Resolves the endpoint each time it (re)connects: Electron may restart the engine on a new port. */
  endpoint: () => Promise<{ url: string; token: string }>;
  /** First retry delay; doubles up to maxDelayMs. */
  minDelayMs?: number;
  maxDelayMs?: number;
}

export class WsTransport implements Transport {
  private ws?: WebSocket;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Requests made while disconnected wait here and go out on the next open. */
  private readonly queue: Array<{ id: number; frame: string }> = [];
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
    const id = this.nextId++;
    const frame = JSON.stringify({ v: API_VERSION, id, cmd, params });
    return new Promise((resolve, reject) => {
      const open = this.ws !== undefined && this.ws.readyState === WebSocket.OPEN;
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, sent: open });
      if (open) this.ws!.send(frame);
      else this.queue.push({ id, frame });
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
    this.queue.length = 0;
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
    ws.onopen = () => {
      this.attempts = 0;
      this.setState('open');
      for (const q of this.queue.splice(0)) {
        const p = this.pending.get(q.id);
        if (!p) continue;
        p.sent = true;
        ws.send(q.frame);
      }
    };
    ws.onmessage = (m) => this.receive(String(m.data));
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      // Requests in flight may or may not have run: their callers decide (no blind resend).
      // Queued ones never left: they wait for the next connection.
      this.fail(new ApiError('disconnected', 'lost the connection to the engine'), (p) => p.sent);
      this.setState('closed', e.code === 1008 || e.code === 4401 ? 'the engine refused this UI (wrong or missing token)' : 'engine not reachable, retrying');
      this.retry();
    };
  }

  private retry(): void {
    if (this.closed) return;
    const min = this.opts.minDelayMs ?? 250;
    const max = this.opts.maxDelayMs ?? 5000;
    const delay = Math.min(max, min * 2 ** this.attempts++);
    this.timer = window.setTimeout(() => void this.connect(), delay);
  }

  private fail(err: Error, which: (p: Pending) => boolean = () => true): void {
    for (const [id, p] of this.pending) {
      if (!which(p)) continue;
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
