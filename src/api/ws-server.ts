// The API on the wire: HTTP (the built UI) and WebSocket (commands + events) on
// 127.0.0.1 only. Nobody on the technician's switch can reach it: the socket is
// bound to loopback (any other address is refused outright), every WebSocket
// must present the per-run token as its subprotocol, browsers must come from the
// UI's own origin, and the Host header must name loopback (DNS rebinding).
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { API_VERSION, TOKEN_PROTOCOL_PREFIX, type ApiEvent, type ResponseEnvelope, type ServerMessage } from './contract.js';
import { apiUrl } from './wire.js';
import { ApiError, type Controller } from './controller.js';
import { parseRequest, isWellFormedToken } from './validate.js';
import { StaticFiles } from './static-files.js';
import { eventJson } from './event-ring.js';

export function generateToken(): string {
  return randomBytes(32).toString('hex');
}

const LOOPBACK = new Set(['127.0.0.1', '::1']);

export interface ApiServerOptions {
  controller: Controller;
  token: string;
  /** Must be a loopback address: anything else is refused. Default 127.0.0.1. */
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** The built renderer; null serves a placeholder page. */
  rendererDir?: string | null;
  /** Browser origins allowed besides the UI's own (e.g. a renderer dev server). */
  extraOrigins?: string[];
  /** Server pings each client this often; a client that missed the previous pong is dropped. */
  heartbeatMs?: number;
  /** Past events replayed to a new client after its hello (progress excluded). */
  replayLimit?: number;
  /** Above this many queued bytes a client stops getting droppable events (progress). */
  softBufferBytes?: number;
  /** Above this a client is hopelessly behind: disconnected (it reconnects and gets a fresh hello). */
  hardBufferBytes?: number;
}

interface Client {
  ws: WebSocket;
  alive: boolean;
  skipped: number;
}

function engineVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** Progress-like events a slow client can miss without losing anything it cannot rebuild. */
function droppable(ev: ApiEvent): boolean {
  return (ev.type === 'transfer' && ev.phase === 'progress') || ev.type === 'drop' || (ev.type === 'log' && ev.level === 'debug');
}

/**
 * The frame of an event, the same text as JSON.stringify({ v, event }): the event's own JSON is
 * the one the controller's ring made when it kept the event (src/api/event-ring.ts), not made again.
 */
function eventFrame(ev: ApiEvent): string {
  return `{"v":${API_VERSION},"event":${eventJson(ev)}}`;
}

function reject(socket: Duplex, status: 400 | 401 | 403, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\n\r\n${text}`);
}

/** Emits 'connections' (count) whenever an authenticated client comes or goes. */
export class ApiServer extends EventEmitter {
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly clients = new Set<Client>();
  private readonly files: StaticFiles;
  private heartbeat?: NodeJS.Timeout;
  private boundPort = 0;
  private readonly host: string;
  private readonly version = engineVersion();

  constructor(private readonly o: ApiServerOptions) {
    super();
    this.host = o.host ?? '127.0.0.1';
    if (!LOOPBACK.has(this.host)) throw new Error(`the API listens on loopback only (127.0.0.1), never on ${this.host}: it must not be reachable from the boot network`);
    if (!isWellFormedToken(o.token)) throw new Error('the API token must be 32-256 characters of [A-Za-z0-9_-]');
    this.files = new StaticFiles(o.rendererDir ?? null);
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: 1 << 20,
      // Echo our protocol back: browsers fail a handshake that offers protocols and gets none.
      handleProtocols: (protocols) => [...protocols].find((p) => this.tokenMatches(p)) ?? false,
    });
    this.http = createServer((req, res) => {
      if (!this.hostAllowed(req)) {
        res.writeHead(403, { 'Content-Type': 'text/plain' }).end('forbidden host');
        return;
      }
      this.files.handle(req, res, this.boundPort).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
    });
    this.http.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    this.http.on('clientError', (_err, socket) => socket.destroy());
  }

  get port(): number {
    return this.boundPort;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** The address to open in a browser; the token rides in the fragment, which browsers never send. */
  get url(): string {
    return `http://127.0.0.1:${this.boundPort}/#token=${this.o.token}`;
  }

  get wsUrl(): string {
    return apiUrl(this.boundPort);
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        reject(err.code === 'EADDRINUSE' ? new Error(`UI port ${this.o.port} on 127.0.0.1 is already in use: pick another with --ui-port`) : err);
      };
      this.http.once('error', onError);
      this.http.listen({ host: this.host, port: this.o.port ?? 0, exclusive: true }, () => {
        this.http.off('error', onError);
        resolve();
      });
    });
    const addr = this.http.address();
    this.boundPort = typeof addr === 'object' && addr ? addr.port : 0;
    this.o.controller.on('event', this.onEvent);
    this.heartbeat = setInterval(() => this.beat(), this.o.heartbeatMs ?? 5000);
    this.heartbeat.unref();
  }

  private tokenMatches(protocol: string): boolean {
    if (!protocol.startsWith(TOKEN_PROTOCOL_PREFIX)) return false;
    const given = Buffer.from(protocol.slice(TOKEN_PROTOCOL_PREFIX.length));
    const want = Buffer.from(this.o.token);
    return given.length === want.length && timingSafeEqual(given, want);
  }

  private hostAllowed(req: IncomingMessage): boolean {
    const host = req.headers.host;
    return host === `127.0.0.1:${this.boundPort}` || host === `localhost:${this.boundPort}` || host === `[::1]:${this.boundPort}`;
  }

  private originAllowed(origin: string | undefined): boolean {
    // Non-browser clients (Electron main, tests, scripts) send no Origin; they still need the token.
    if (origin === undefined) return true;
    const own = [`http://127.0.0.1:${this.boundPort}`, `http://localhost:${this.boundPort}`, 'file://', ...(this.o.extraOrigins ?? [])];
    return own.includes(origin);
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    if (!this.hostAllowed(req) || !this.originAllowed(req.headers.origin)) return reject(socket, 403, 'Forbidden');
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim());
    if (!offered.some((p) => this.tokenMatches(p))) return reject(socket, 401, 'Unauthorized');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws));
  }

  private onConnection(ws: WebSocket): void {
    const client: Client = { ws, alive: true, skipped: 0 };
    this.clients.add(client);
    this.emit('connections', this.clients.size);
    ws.on('pong', () => (client.alive = true));
    ws.on('message', (data, isBinary) => {
      if (isBinary) return this.send(client, { v: API_VERSION, id: -1, ok: false, error: { code: 'bad-request', message: 'requests are JSON text frames' } });
      void this.onRequest(client, data.toString());
    });
    ws.on('close', () => {
      this.clients.delete(client);
      this.emit('connections', this.clients.size);
    });
    ws.on('error', () => ws.terminate());
    const c = this.o.controller;
    this.send(client, { v: API_VERSION, hello: { status: c.status(), sessions: c.sessions(), engineVersion: this.version } });
    for (const ev of c.recentEvents(this.o.replayLimit ?? 5000)) if (!droppable(ev)) this.send(client, eventFrame(ev));
  }

  private async onRequest(client: Client, text: string): Promise<void> {
    const parsed = parseRequest(text);
    if (!parsed.ok) return this.send(client, { v: API_VERSION, id: parsed.id, ok: false, error: { code: parsed.code, message: parsed.message } });
    const { id, cmd, params } = parsed.request;
    let reply: ResponseEnvelope;
    try {
      const result = await this.o.controller.call(cmd, params);
      reply = { v: API_VERSION, id, ok: true, result } as ResponseEnvelope;
    } catch (err) {
      const code = err instanceof ApiError ? err.code : 'internal';
      reply = { v: API_VERSION, id, ok: false, error: { code, message: err instanceof Error ? err.message : String(err) } };
    }
    this.send(client, reply);
  }

  private send(client: Client, msg: ServerMessage | string): void {
    if (client.ws.readyState !== client.ws.OPEN) return;
    client.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  private onEvent = (ev: ApiEvent): void => {
    if (this.clients.size === 0) return;
    const text = eventFrame(ev);
    const soft = this.o.softBufferBytes ?? 1 << 20;
    const hard = this.o.hardBufferBytes ?? 32 << 20;
    for (const c of this.clients) {
      const queued = c.ws.bufferedAmount;
      if (queued > hard) {
        c.ws.terminate();
        continue;
      }
      if (queued > soft && droppable(ev)) {
        c.skipped++;
        continue;
      }
      this.send(c, text);
    }
  };

  private beat(): void {
    for (const c of this.clients) {
      if (!c.alive) {
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }

  /** Closes every connection and the listening socket (the port is free when this resolves). */
  async close(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.o.controller.off('event', this.onEvent);
    for (const c of this.clients) c.ws.terminate();
    this.wss.close();
    await new Promise<void>((resolve) => {
      this.http.close(() => resolve());
      this.http.closeAllConnections();
    });
  }
}
