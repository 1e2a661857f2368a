// One client's TCP connection to the HTTP file server: reads request heads, answers them
// one at a time, in order (a pipelining client's next request waits in the buffer), and
// keeps the connection for the next request or closes it.
//
// Why not node:http: an iPXE sanboot reads an ISO in tens of thousands of small Range
// requests on one connection, and per request Node's parser, IncomingMessage and
// ServerResponse cost about 500k instructions in user space, against nginx's 15k
// (docs/performance.md, perf stat per request). A file server that answers only GET
// and HEAD needs the request line and four headers: request-head.ts reads those, the
// response head is one string, and a file body goes out by sendfile straight after it.
import type { Socket } from 'node:net';
import { parseRequestHead, MAX_HEAD_BYTES, type RequestHead } from './request-head.js';
import { formatResponseHead, type HeaderFields } from './response-head.js';

export interface ConnectionOptions {
  /** No bytes either way for this long (between requests, or a client that stopped reading): closed. */
  idleTimeoutMs: number;
  /** A request head must be complete this long after its first bytes came (a slow trickle is cut too). */
  headTimeoutMs: number;
  /** A request that cannot be answered (400, 431, 505...); the connection closes after the error response. */
  onBadRequest(conn: HttpConnection, status: number, reason: string): void;
}

/** Answers one request; the connection reads the next once the returned promise settles. */
export type RequestHandler = (head: RequestHead, conn: HttpConnection) => Promise<void>;

export class HttpConnection {
  readonly clientIp: string;
  readonly clientPort: number;
  /** The idle timeout closed this connection (a transfer in progress then ends as 'timeout'). */
  timedOut = false;
  /** The request being answered keeps the connection afterwards. */
  keepAlive = true;
  /** Received bytes not yet taken by a request head. */
  private buffered: Buffer | undefined;
  private busy = false;
  private ending = false;
  /** The client half-closed (sent FIN): answer what it asked, then close. */
  private peerEnded = false;
  private headTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly socket: Socket,
    private readonly handler: RequestHandler,
    private readonly opts: ConnectionOptions,
  ) {
    this.clientIp = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    this.clientPort = socket.remotePort ?? 0;
    // Heads and small bodies go out at once (Node's HTTP server does the same); sendfile
    // bodies are held back with the head by MSG_MORE instead.
    socket.setNoDelay(true);
    socket.setTimeout(opts.idleTimeoutMs, () => this.cutForTimeout());
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    // The server is allowHalfOpen: a client that sends its request and then FIN (nc, some
    // scripts) still gets the whole response, as node:http gave it; Node would otherwise end
    // the socket at once, under a body still going out by sendfile.
    socket.on('end', () => {
      this.peerEnded = true;
      this.next();
    });
    // A reset or a write to a closed peer: 'close' follows, and the transfer says what happened.
    socket.on('error', () => undefined);
    socket.on('close', () => this.clearHeadTimer());
  }

  /** The head of a response to the request being answered (Connection as decided for it). */
  head(status: number, fields: HeaderFields): string {
    return formatResponseHead(status, fields, this.keepAlive);
  }

  /** A short text response (an error) in one write; `headOnly` answers a HEAD request. */
  sendText(status: number, body: string, fields: HeaderFields = {}, headOnly = false): void {
    const head = this.head(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body, 'latin1'), ...fields });
    this.socket.write(headOnly ? head : head + body, 'latin1');
  }

  /** Cuts the connection at once (an error after the response head went out leaves no honest way on). */
  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.ending) return; // after a response that closes the connection, nothing more is read
    this.buffered = this.buffered ? Buffer.concat([this.buffered, chunk]) : chunk;
    if (!this.busy) this.next();
    // A client that pipelines far ahead waits in the kernel, not in this buffer.
    else if (this.buffered.length > 4 * MAX_HEAD_BYTES) this.socket.pause();
  }

  /** Answers the next complete request in the buffer, if any and none is in progress. */
  private next(): void {
    if (this.busy || this.ending || this.socket.destroyed) return;
    const buf = this.buffered;
    const parsed = buf && parseRequestHead(buf);
    if (!parsed || parsed.kind === 'incomplete') {
      // Nothing more will come to complete a request: close our side too.
      if (this.peerEnded) return this.endConnection();
      // Part of a head is here: all of it must follow in time.
      if (parsed) this.headTimer ??= setTimeout(() => this.cutForTimeout(), this.opts.headTimeoutMs);
      return;
    }
    this.clearHeadTimer();
    if (parsed.kind === 'bad') {
      this.keepAlive = false;
      this.opts.onBadRequest(this, parsed.status, parsed.reason);
      this.endConnection();
      return;
    }
    this.buffered = parsed.length < buf.length ? buf.subarray(parsed.length) : undefined;
    // A body this server will not read makes whatever follows it untrustworthy: close after answering.
    this.keepAlive = parsed.head.keepAlive && !parsed.head.hasBody;
    this.busy = true;
    this.handler(parsed.head, this).then(
      () => this.answered(),
      () => this.socket.destroy(),
    );
  }

  private answered(): void {
    this.busy = false;
    if (!this.keepAlive) return this.endConnection();
    if (this.socket.isPaused()) this.socket.resume();
    this.next();
  }

  /** FIN after everything written; a client that keeps sending is cut by the idle timeout. */
  private endConnection(): void {
    this.ending = true;
    this.buffered = undefined;
    this.socket.end();
  }

  /** The idle or the head timeout ran out: a transfer in progress then ends as 'timeout'. */
  private cutForTimeout(): void {
    this.timedOut = true;
    this.socket.destroy();
  }

  private clearHeadTimer(): void {
    if (this.headTimer) clearTimeout(this.headTimer);
    this.headTimer = undefined;
  }
}
