// The HTTP file server: iPXE, UEFI HTTP Boot firmware and curl fetch boot programs,
// scripts, kernels and initrds from here. It serves only what PublishedFiles holds
// (no directory listings, no disk paths) and only on the chosen NIC's address. It
// answers GET and HEAD over its own HTTP/1.1 connections (connection.ts says why not
// node:http).
import { createServer, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { PublishedFiles, PublishedFile, ByteSource } from '../files/published.js';
import type { EmitWireEvent, TransferEvent } from '../sessions/events.js';
import { parseRange } from './range.js';
import { TransferReporter } from './transfer-reporter.js';
import { SharedSources } from '../files/shared-sources.js';
import { sendBody } from './body.js';
import { HttpConnection } from './connection.js';
import { requestPath, type RequestHead } from './request-head.js';
import type { HeaderFields } from './response-head.js';
import type { SendfilePool } from './sendfile/pool.js';
import type { sendBodyWithSendfile } from './sendfile/send-body.js';

/** Smaller bodies (scripts, menus) are copied: one write of head and body together. */
const SENDFILE_MIN_BYTES = 64 * 1024;
/** The whole request head must arrive within this (a slow trickle of header bytes is cut). */
const HEAD_TIMEOUT_MS = 20_000;

export interface HttpFileServerOptions {
  /** The NIC's IPv4 address. Wildcards are refused: PXE Kit never listens on every interface. */
  address: string;
  /** TCP port; 8080 by default, 0 picks a free one (tests). */
  port?: number;
  files: PublishedFiles;
  emit: EmitWireEvent;
  /** Maps a client address to its MAC (from leases / observed DHCP) for the events. */
  macForIp?: (ip: string) => string | undefined;
  /** Simultaneous connections; more wait in the kernel's backlog. Default 256. */
  maxConnections?: number;
  /** A socket that moves no bytes either way for this long is closed. Default 30 s. */
  idleTimeoutMs?: number;
  /** Interval between 'progress' events of one transfer. Default 250 ms. */
  progressIntervalMs?: number;
  /**
   * Send file bodies with sendfile(2) on I/O threads (Linux; default true). false copies
   * every body through the main thread, as other OSes do (tests run both paths).
   */
  offload?: boolean;
}

/** One request being answered: its connection, the client's MAC if known, the path asked for. */
interface Exchange {
  conn: HttpConnection;
  mac?: string;
  rawPath: string;
}

const WILDCARDS = new Set(['', '0.0.0.0', '::', '[::]', '::0']);

export class HttpFileServer {
  private readonly opts: Required<Omit<HttpFileServerOptions, 'macForIp'>> & Pick<HttpFileServerOptions, 'macForIp'>;
  private server: Server | undefined;
  private readonly connections = new Set<Socket>();
  /** The sending threads and the module that drives them (loaded only on Linux). */
  private sendfile: { pool: SendfilePool; send: typeof sendBodyWithSendfile } | undefined;
  private readonly counters = { bodies: 0, bodiesBySendfile: 0, bodiesOnThreads: 0, badRequests: 0 };
  private readonly runId = randomBytes(3).toString('hex');
  private counter = 0;
  private active = 0;
  /** Requests for one file share its open source (a sanboot reads an ISO in thousands of Range requests). */
  private readonly sources = new SharedSources();

  constructor(opts: HttpFileServerOptions) {
    if (WILDCARDS.has(opts.address.trim())) {
      throw new Error(
        `refusing to serve HTTP on "${opts.address || '(empty)'}": give the boot NIC's own address, PXE Kit never listens on every interface`,
      );
    }
    this.opts = {
      port: 8080,
      maxConnections: 256,
      idleTimeoutMs: 30_000,
      progressIntervalMs: 250,
      offload: true,
      ...opts,
    };
  }

  /** The port actually bound (useful with port 0). */
  get port(): number {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : this.opts.port;
  }
  get address(): string {
    return this.opts.address;
  }

  /**
   * Response bodies sent; how many went by sendfile rather than copied; how many of those
   * needed a sending thread (more than the socket took at once); requests refused as malformed.
   */
  stats(): { bodies: number; bodiesBySendfile: number; bodiesOnThreads: number; badRequests: number } {
    return { ...this.counters };
  }

  async start(): Promise<{ address: string; port: number }> {
    if (this.server) throw new Error('HTTP server already started');
    // TCP keepalive finds peers that vanished (a machine switched off mid-boot). Half-open:
    // the connection decides when to close after a client's FIN (connection.ts).
    const server = createServer({ keepAlive: true, allowHalfOpen: true }, (socket) => this.accept(socket));
    server.maxConnections = this.opts.maxConnections;
    // Node closes connections beyond maxConnections at once; say so.
    const dropped = throttledLog((count, last: string) =>
      this.log('warn', `HTTP: refused ${count} connection(s) in the last second (last from ${last}): ${this.opts.maxConnections} connections already open (the limit)`),
    );
    server.on('drop', (d?: { remoteAddress?: string }) => dropped(d?.remoteAddress ?? 'unknown'));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        server.off('listening', onListening);
        reject(listenError(err, this.opts.address, this.opts.port));
      };
      const onListening = (): void => {
        server.off('error', onError);
        resolve();
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen({ host: this.opts.address, port: this.opts.port, exclusive: true });
    });
    server.on('error', (err) => this.log('error', `HTTP server error: ${err.message}`));
    this.server = server;
    // Loaded only where it can run: the sending threads reach libc through koffi.
    if (this.opts.offload && process.platform === 'linux') {
      this.sendfile = await Promise.all([import('./sendfile/pool.js'), import('./sendfile/send-body.js')]).then(
        ([{ createSendfilePool }, { sendBodyWithSendfile }]) => {
          const pool = createSendfilePool((message) => this.log('error', message));
          return pool && { pool, send: sendBodyWithSendfile };
        },
        () => undefined,
      );
    }
    return { address: this.opts.address, port: this.port };
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.connections) socket.destroy();
    await closed;
    // The threads let go of every socket and file before the files are closed.
    await this.sendfile?.pool.close();
    this.sendfile = undefined;
    await this.sources.closeAll();
  }

  /** Malformed requests, logged at most once a second with a count. */
  private readonly badRequestLog = throttledLog((count, last: string) =>
    this.log('warn', `HTTP: ${count} request(s) in the last second could not be answered; last: ${last}`),
  );

  private accept(socket: Socket): void {
    this.connections.add(socket);
    socket.once('close', () => this.connections.delete(socket));
    new HttpConnection(socket, (head, conn) => this.answer(head, conn), {
      idleTimeoutMs: this.opts.idleTimeoutMs,
      headTimeoutMs: HEAD_TIMEOUT_MS,
      onBadRequest: (conn, status, reason) => {
        this.counters.badRequests++;
        this.badRequestLog(`${conn.clientIp} got ${status} (${reason})`);
        conn.sendText(status, `${reason}\n`);
      },
    });
  }

  private log(level: 'debug' | 'info' | 'warn' | 'error', message: string, mac?: string): void {
    this.opts.emit({ type: 'log', at: Date.now(), level, source: 'http', message, mac });
  }

  private async answer(head: RequestHead, conn: HttpConnection): Promise<void> {
    const mac = this.opts.macForIp?.(conn.clientIp);
    const rawPath = requestPath(head.target);
    const isHead = head.method === 'HEAD';

    if (head.method !== 'GET' && !isHead) {
      this.log('warn', `${conn.clientIp} sent ${head.method} ${rawPath}: only GET and HEAD are served`, mac);
      conn.sendText(405, 'method not allowed\n', { Allow: 'GET, HEAD' });
      return;
    }
    const file = this.opts.files.lookup(rawPath, { clientIp: conn.clientIp });
    if (!file) {
      const ev: TransferEvent = {
        type: 'transfer',
        at: Date.now(),
        protocol: 'http',
        phase: 'error',
        id: this.nextId(),
        clientIp: conn.clientIp,
        clientPort: conn.clientPort,
        mac,
        file: rawPath,
        bytes: 0,
        errorCode: 'not-found',
        error: `${rawPath} is not published by PXE Kit`,
      };
      this.opts.emit(ev);
      conn.sendText(404, 'not found\n', {}, isHead);
      return;
    }
    const who: Exchange = { conn, mac, rawPath };
    try {
      if (isHead) {
        // HEAD needs only the size: the file is not opened.
        await this.sendFile(head, file, undefined, await file.size(), who);
        return;
      }
      const source = await this.sources.acquire(file);
      try {
        await this.sendFile(head, file, source, source.size, who);
      } finally {
        void source.close();
      }
    } catch (err) {
      // Opening or sizing the file failed, before any byte of the response (sendFile deals
      // with errors once its head is out).
      this.log('error', `${conn.clientIp}: serving ${rawPath} failed: ${(err as Error).message}`, mac);
      conn.sendText(500, 'internal error\n', {}, isHead);
    }
  }

  private async sendFile(
    req: RequestHead,
    file: PublishedFile,
    source: ByteSource | undefined,
    size: number,
    who: Exchange,
  ): Promise<void> {
    const { conn } = who;
    // Without validators (ETag/Last-Modified) an If-Range can never match: send it all (§13.1.5).
    const range = req.ifRange ? ({ kind: 'full' } as const) : parseRange(req.range, size);
    if (range.kind === 'unsatisfiable') {
      this.log('warn', `${conn.clientIp} asked ${who.rawPath} for a range outside its ${size} bytes`, who.mac);
      conn.sendText(416, 'range not satisfiable\n', { 'Content-Range': `bytes */${size}` }, req.method === 'HEAD');
      return;
    }
    const start = range.kind === 'partial' ? range.start : 0;
    const end = range.kind === 'partial' ? range.end : size - 1;
    const length = end - start + 1;
    const fields: HeaderFields = {
      'Content-Type': contentTypeFor(file.path),
      'Accept-Ranges': 'bytes',
      // Scripts are generated per client and images change between runs: never cache.
      'Cache-Control': 'no-store',
      'Content-Length': length,
    };
    if (range.kind === 'partial') fields['Content-Range'] = `bytes ${start}-${end}/${size}`;
    const head = conn.head(range.kind === 'partial' ? 206 : 200, fields);

    if (req.method === 'HEAD' || length === 0 || !source) {
      conn.socket.write(head, 'latin1');
      if (req.method === 'HEAD') this.log('debug', `${conn.clientIp} HEAD ${who.rawPath} (${size} bytes)`, who.mac);
      return;
    }

    const reporter = new TransferReporter(this.opts.emit, this.opts.progressIntervalMs, {
      type: 'transfer',
      at: 0,
      protocol: 'http',
      phase: 'start',
      id: this.nextId(),
      clientIp: conn.clientIp,
      clientPort: conn.clientPort,
      mac: who.mac,
      file: who.rawPath,
      size: length,
      bytes: 0,
      detail: range.kind === 'partial' ? `range ${start}-${end}/${size}` : undefined,
      range: range.kind === 'partial' ? { start, end, total: size } : undefined,
    });
    this.active++;
    this.counters.bodies++;
    try {
      let result = await this.sendWithSendfile(conn, head, source, start, length, reporter);
      // Many clients at once (a classroom booting) share the disk and the link: smaller
      // chunks then keep memory bounded (depth × chunk per transfer) without losing speed.
      result ??= await sendBody(source, conn.socket, head, start, end, {
        chunkSize: this.active > 8 ? 512 * 1024 : 2 * 1024 * 1024,
        depth: 3,
        onBytes: (n) => reporter.add(n),
      });
      if (result === 'done') reporter.done();
      else if (result === 'timeout' || conn.timedOut) {
        reporter.fail('timeout', `the client stopped reading; connection closed after ${this.opts.idleTimeoutMs / 1000} s idle`);
      } else reporter.fail('aborted', 'the client closed the connection before the end of the file');
    } catch (err) {
      // The head (with Content-Length) is out: cutting the connection is the only honest signal.
      reporter.fail('io', `reading ${file.path} failed: ${(err as Error).message}`);
      conn.destroy();
    } finally {
      this.active--;
    }
  }

  /** A file-backed body sent with sendfile, or undefined (nothing sent yet) when it must be copied through user space. */
  private async sendWithSendfile(conn: HttpConnection, head: string, source: ByteSource, start: number, length: number, reporter: TransferReporter) {
    const threads = this.sendfile;
    if (!threads?.pool.usable || length < SENDFILE_MIN_BYTES) return undefined;
    const direct = source.directRead?.();
    if (!direct || !('fd' in direct)) return undefined;
    const result = await threads.send(threads.pool, conn.socket, head, direct.fd, direct.base + start, length, {
      idleTimeoutMs: this.opts.idleTimeoutMs,
      onBytes: (n) => reporter.add(n),
      onHandOver: () => this.counters.bodiesOnThreads++,
    });
    if (result) this.counters.bodiesBySendfile++;
    return result;
  }

  private nextId(): string {
    return `http-${this.runId}-${++this.counter}`;
  }
}

/**
 * A log line for something a flood can repeat (refused connections, malformed requests):
 * the first at once, then at most one a second, with how many happened since the last one.
 */
function throttledLog(write: (count: number, last: string) => void): (last: string) => void {
  let windowStart = 0;
  let count = 0;
  return (last) => {
    const now = Date.now();
    count++;
    if (now - windowStart < 1000) return;
    write(count, last);
    windowStart = now;
    count = 0;
  };
}

function contentTypeFor(path: string): string {
  return /\.ipxe$/i.test(path) ? 'text/plain; charset=utf-8' : 'application/octet-stream';
}

function listenError(err: NodeJS.ErrnoException, address: string, port: number): Error {
  if (err.code === 'EADDRINUSE') return new Error(`TCP port ${port} on ${address} is already in use by another program: stop it or choose another HTTP port`);
  if (err.code === 'EACCES') return new Error(`no permission to listen on TCP port ${port} of ${address}: run as root or choose a port above 1023`);
  if (err.code === 'EADDRNOTAVAIL') return new Error(`${address} is not an address of this machine: pick the boot NIC's IPv4 address`);
  return new Error(`cannot listen on ${address}:${port}: ${err.message}`);
}
