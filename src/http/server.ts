// The HTTP file server: iPXE, UEFI HTTP Boot firmware and curl fetch boot programs,
// scripts, kernels and initrds from here. It serves only what PublishedFiles holds
// (no directory listings, no disk paths) and only on the chosen NIC's address.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { PublishedFiles, PublishedFile, ByteSource } from '../files/published.js';
import type { EmitWireEvent, TransferEvent } from '../sessions/events.js';
import { parseRange } from './range.js';
import { TransferReporter } from './transfer-reporter.js';
import { SharedSources } from '../files/shared-sources.js';
import { sendBody } from './body.js';
import type { SendfilePool } from './sendfile/pool.js';
import type { sendBodyWithSendfile } from './sendfile/send-body.js';

/** Smaller bodies (scripts, menus) are copied: one write, where sendfile adds cork and uncork calls. */
const SENDFILE_MIN_BYTES = 64 * 1024;

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

const WILDCARDS = new Set(['', '0.0.0.0', '::', '[::]', '::0']);

export class HttpFileServer {
  private readonly opts: Required<Omit<HttpFileServerOptions, 'macForIp'>> & Pick<HttpFileServerOptions, 'macForIp'>;
  private server: Server | undefined;
  /** The sending threads and the module that drives them (loaded only on Linux). */
  private sendfile: { pool: SendfilePool; send: typeof sendBodyWithSendfile } | undefined;
  private readonly counters = { bodies: 0, bodiesBySendfile: 0, bodiesOnThreads: 0 };
  private readonly runId = randomBytes(3).toString('hex');
  private counter = 0;
  private active = 0;
  private readonly timedOut = new WeakSet<Socket>();
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
   * needed a sending thread (more than the socket took at once).
   */
  stats(): { bodies: number; bodiesBySendfile: number; bodiesOnThreads: number } {
    return { ...this.counters };
  }

  async start(): Promise<{ address: string; port: number }> {
    if (this.server) throw new Error('HTTP server already started');
    const server = createServer(
      {
        keepAlive: true,
        // iPXE reuses its connection for kernel then initrd; keep it open a while.
        keepAliveTimeout: 30_000,
        // Bound slow or silent clients: the whole request head must arrive in time.
        headersTimeout: 20_000,
        requestTimeout: 30_000,
        // Bigger socket buffers: fewer drain round-trips when streaming large images.
        highWaterMark: 1024 * 1024,
      },
      (req, res) => this.handle(req, res),
    );
    server.maxConnections = this.opts.maxConnections;
    // Node closes connections beyond maxConnections at once; say so (once a second at most,
    // with a count: a connection flood must not become a log flood).
    let dropWindow = 0;
    let dropsInWindow = 0;
    server.on('drop', (d?: { remoteAddress?: string }) => {
      const now = Date.now();
      dropsInWindow++;
      if (now - dropWindow < 1000) return;
      this.log('warn', `HTTP: refused ${dropsInWindow} connection(s) in the last second (last from ${d?.remoteAddress ?? 'unknown'}): ${this.opts.maxConnections} connections already open (the limit)`);
      dropWindow = now;
      dropsInWindow = 0;
    });
    // Idle sockets (a client that stopped reading mid-transfer included) are cut.
    server.setTimeout(this.opts.idleTimeoutMs, (socket: Socket) => {
      this.timedOut.add(socket);
      socket.destroy();
    });
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
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    // The threads let go of every socket and file before the files are closed.
    await this.sendfile?.pool.close();
    this.sendfile = undefined;
    await this.sources.closeAll();
  }

  private log(level: 'debug' | 'info' | 'warn' | 'error', message: string, mac?: string): void {
    this.opts.emit({ type: 'log', at: Date.now(), level, source: 'http', message, mac });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const clientIp = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const clientPort = req.socket.remotePort ?? 0;
    const mac = this.opts.macForIp?.(clientIp);
    const rawPath = requestPath(req.url ?? '/');

    if (req.method !== 'GET' && req.method !== 'HEAD') {
      this.log('warn', `${clientIp} sent ${req.method} ${rawPath}: only GET and HEAD are served`, mac);
      sendText(res, 405, 'method not allowed\n', { Allow: 'GET, HEAD' });
      return;
    }
    const file = this.opts.files.lookup(rawPath);
    if (!file) {
      const ev: TransferEvent = {
        type: 'transfer',
        at: Date.now(),
        protocol: 'http',
        phase: 'error',
        id: this.nextId(),
        clientIp,
        clientPort,
        mac,
        file: rawPath,
        bytes: 0,
        errorCode: 'not-found',
        error: `${rawPath} is not published by PXE Kit`,
      };
      this.opts.emit(ev);
      sendText(res, 404, 'not found\n');
      return;
    }
    this.serveFile(req, res, file, { clientIp, clientPort, mac, rawPath }).catch((err: Error) => {
      this.log('error', `${clientIp}: serving ${rawPath} failed: ${err.message}`, mac);
      if (!res.headersSent) sendText(res, 500, 'internal error\n');
      else res.destroy(err);
    });
  }

  private async serveFile(
    req: IncomingMessage,
    res: ServerResponse,
    file: PublishedFile,
    who: { clientIp: string; clientPort: number; mac?: string; rawPath: string },
  ): Promise<void> {
    // HEAD needs only the size: the file is not opened.
    if (req.method === 'HEAD') return this.sendFile(req, res, file, undefined, await file.size(), who);
    const source = await this.sources.acquire(file);
    try {
      await this.sendFile(req, res, file, source, source.size, who);
    } finally {
      void source.close();
    }
  }

  private async sendFile(
    req: IncomingMessage,
    res: ServerResponse,
    file: PublishedFile,
    source: ByteSource | undefined,
    size: number,
    who: { clientIp: string; clientPort: number; mac?: string; rawPath: string },
  ): Promise<void> {
    // Without validators (ETag/Last-Modified) an If-Range can never match: send it all (§13.1.5).
    const range = req.headers['if-range'] === undefined ? parseRange(req.headers.range, size) : ({ kind: 'full' } as const);
    const headers: Record<string, string | number> = {
      'Content-Type': contentTypeFor(file.path),
      'Accept-Ranges': 'bytes',
      // Scripts are generated per client and images change between runs: never cache.
      'Cache-Control': 'no-store',
    };
    if (range.kind === 'unsatisfiable') {
      this.log('warn', `${who.clientIp} asked ${who.rawPath} for a range outside its ${size} bytes`, who.mac);
      sendText(res, 416, 'range not satisfiable\n', { 'Content-Range': `bytes */${size}` });
      return;
    }
    const start = range.kind === 'partial' ? range.start : 0;
    const end = range.kind === 'partial' ? range.end : size - 1;
    const length = end - start + 1;
    headers['Content-Length'] = length;
    if (range.kind === 'partial') headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    const status = range.kind === 'partial' ? 206 : 200;

    if (req.method === 'HEAD' || length === 0 || !source) {
      res.writeHead(status, headers);
      res.end();
      if (req.method === 'HEAD') this.log('debug', `${who.clientIp} HEAD ${who.rawPath} (${size} bytes)`, who.mac);
      return;
    }

    const reporter = new TransferReporter(this.opts.emit, this.opts.progressIntervalMs, {
      type: 'transfer',
      at: 0,
      protocol: 'http',
      phase: 'start',
      id: this.nextId(),
      clientIp: who.clientIp,
      clientPort: who.clientPort,
      mac: who.mac,
      file: who.rawPath,
      size: length,
      bytes: 0,
      detail: range.kind === 'partial' ? `range ${start}-${end}/${size}` : undefined,
    });
    res.writeHead(status, headers);
    const socket = req.socket;
    this.active++;
    this.counters.bodies++;
    try {
      let result = await this.sendWithSendfile(res, source, start, length, reporter);
      // Many clients at once (a classroom booting) share the disk and the link: smaller
      // chunks then keep memory bounded (depth × chunk per transfer) without losing speed.
      result ??= await sendBody(source, res, start, end, {
        chunkSize: this.active > 8 ? 512 * 1024 : 2 * 1024 * 1024,
        depth: 3,
        onBytes: (n) => reporter.add(n),
      });
      if (result === 'done') reporter.done();
      else if (result === 'timeout' || this.timedOut.has(socket)) {
        reporter.fail('timeout', `the client stopped reading; connection closed after ${this.opts.idleTimeoutMs / 1000} s idle`);
      } else reporter.fail('aborted', 'the client closed the connection before the end of the file');
    } catch (err) {
      // Headers (with Content-Length) are out: cutting the connection is the only honest signal.
      reporter.fail('io', `reading ${file.path} failed: ${(err as Error).message}`);
      res.destroy();
    } finally {
      this.active--;
    }
  }

  /** A file-backed body sent with sendfile, or undefined when it must be copied through user space. */
  private async sendWithSendfile(res: ServerResponse, source: ByteSource, start: number, length: number, reporter: TransferReporter) {
    const threads = this.sendfile;
    if (!threads?.pool.usable || length < SENDFILE_MIN_BYTES) return undefined;
    const direct = source.directRead?.();
    if (!direct || !('fd' in direct)) return undefined;
    const result = await threads.send(threads.pool, res, direct.fd, direct.base + start, length, {
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

/** The path part of a request target: origin-form "/a/b?q" or absolute-form "http://h/a/b". */
function requestPath(target: string): string {
  let t = target;
  const abs = /^[a-z][a-z0-9+.-]*:\/\/[^/]*(\/.*)?$/i.exec(t);
  if (abs) t = abs[1] ?? '/';
  const cut = t.search(/[?#]/);
  return cut >= 0 ? t.slice(0, cut) : t;
}

function contentTypeFor(path: string): string {
  return /\.ipxe$/i.test(path) ? 'text/plain; charset=utf-8' : 'application/octet-stream';
}

function sendText(res: ServerResponse, status: number, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...extra });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function listenError(err: NodeJS.ErrnoException, address: string, port: number): Error {
  if (err.code === 'EADDRINUSE') return new Error(`TCP port ${port} on ${address} is already in use by another program: stop it or choose another HTTP port`);
  if (err.code === 'EACCES') return new Error(`no permission to listen on TCP port ${port} of ${address}: run as root or choose a port above 1023`);
  if (err.code === 'EADDRNOTAVAIL') return new Error(`${address} is not an address of this machine: pick the boot NIC's IPv4 address`);
  return new Error(`cannot listen on ${address}:${port}: ${err.message}`);
}
