// The HTTP file server's own connection handling, on loopback with a raw TCP client (curl
// would hide what is checked here): pipelined requests answered in order with the right
// bytes whichever way each body goes, HTTP/1.0, requests that cannot be answered, and a
// request with a body. Run with bodies by sendfile and copied.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpFileServer } from '../../src/http/server.js';
import { PublishedFiles, bufferFile, diskFile } from '../../src/files/published.js';
import type { LogEvent, WireEvent } from '../../src/sessions/events.js';

interface Response {
  status: number;
  headers: Map<string, string>;
  body: Buffer;
}

/** Reads HTTP/1.1 responses off a raw socket (Content-Length bodies; HEAD answers have none). */
class RawClient {
  private data = Buffer.alloc(0);
  private waiting: (() => void) | undefined;
  closed = false;
  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.data = Buffer.concat([this.data, d]);
      this.waiting?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiting?.();
    });
    socket.on('error', () => undefined);
  }
  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port }, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }
  send(text: string): void {
    this.socket.write(text, 'latin1');
  }
  /** Sends FIN: this client has nothing more to ask (nc, some scripts). */
  endWriting(): void {
    this.socket.end();
  }
  /** The next response; `noBody` for a HEAD request. Fails rather than hangs when the server closes. */
  async response(noBody = false): Promise<Response> {
    for (;;) {
      const end = this.data.indexOf('\r\n\r\n');
      if (end >= 0) {
        const head = this.data.subarray(0, end).toString('latin1').split('\r\n');
        const headers = new Map<string, string>();
        for (const line of head.slice(1)) {
          const i = line.indexOf(':');
          headers.set(line.slice(0, i).toLowerCase(), line.slice(i + 1).trim());
        }
        const length = noBody ? 0 : Number(headers.get('content-length') ?? 0);
        if (this.data.length >= end + 4 + length) {
          const body = this.data.subarray(end + 4, end + 4 + length);
          this.data = this.data.subarray(end + 4 + length);
          return { status: Number(head[0].split(' ')[1]), headers, body };
        }
      }
      if (this.closed) throw new Error(`the server closed the connection (${this.data.length} bytes unread)`);
      await new Promise<void>((resolve) => (this.waiting = resolve));
    }
  }
  /** Resolves true when the server closes the connection (bounded: false after 5 s). */
  async closedByServer(): Promise<boolean> {
    for (let i = 0; i < 100 && !this.closed; i++) await new Promise((r) => setTimeout(r, 50));
    return this.closed;
  }
  /** Stops reading: what the server sends piles up in the kernel, then the server waits. */
  pause(): void {
    this.socket.pause();
  }
  resume(): void {
    this.socket.resume();
  }
  destroy(): void {
    this.socket.destroy();
  }
}

const disk = randomBytes(3 * 1024 * 1024 + 17);
/** More than loopback's socket buffers hold (a few MiB each way): its sending must wait for the client. */
const big = randomBytes(32 * 1024 * 1024);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const script = Buffer.from('#!ipxe\nkernel vmlinuz\nboot\n');

for (const offload of [true, false]) {
  describe(`bodies ${offload ? 'by sendfile' : 'copied'}`, () => {
    /** A server with the test files; `open()` connects a raw client, each destroyed at the end. */
    async function withServer(fn: (t: { open(): Promise<RawClient>; events: WireEvent[]; server: HttpFileServer }) => Promise<void>): Promise<void> {
      const dir = mkdtempSync(join(tmpdir(), 'pxk-http-conn-'));
      writeFileSync(join(dir, 'disk.bin'), disk);
      writeFileSync(join(dir, 'big.bin'), big);
      const files = new PublishedFiles();
      files.add(diskFile('disk.bin', join(dir, 'disk.bin'), 'image file'));
      files.add(diskFile('big.bin', join(dir, 'big.bin'), 'image file'));
      files.add(bufferFile('boot.ipxe', script, 'image file'));
      const events: WireEvent[] = [];
      const server = new HttpFileServer({ address: '127.0.0.1', port: 0, files, emit: (e) => events.push(e), offload });
      await server.start();
      const clients: RawClient[] = [];
      const open = async (): Promise<RawClient> => {
        const c = await RawClient.open(server.port);
        clients.push(c);
        return c;
      };
      try {
        await fn({ open, events, server });
      } finally {
        for (const c of clients) c.destroy();
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    }

    test('pipelined requests are answered in order with the right bytes: ranges, a whole file, a script, HEAD, a 404', async () => {
      await withServer(async ({ open, server }) => {
        const c = await open();
        const ranges: Array<[number, number]> = [
          [0, 99],
          [1_000_000, 1_262_143], // 256 KiB: sendfile on the main thread
          [disk.length - 10, disk.length - 1],
        ];
        // Everything in one write: the server must not answer the second before the first is out.
        let burst = '';
        for (const [a, b] of ranges) burst += `GET /disk.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=${a}-${b}\r\n\r\n`;
        burst += 'GET /boot.ipxe HTTP/1.1\r\nHost: t\r\n\r\n';
        burst += 'GET /disk.bin HTTP/1.1\r\nHost: t\r\n\r\n'; // 3 MiB: more than the socket takes at once
        burst += 'HEAD /disk.bin HTTP/1.1\r\nHost: t\r\n\r\n';
        burst += 'GET /boot.ipxe HTTP/1.1\r\nHost: t\r\n\r\n';
        burst += 'GET /nothing HTTP/1.1\r\nHost: t\r\n\r\n';
        burst += `GET /disk.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=5-70004\r\n\r\n`;
        c.send(burst);
        for (const [a, b] of ranges) {
          const r = await c.response();
          assert.equal(r.status, 206);
          assert.equal(r.headers.get('content-range'), `bytes ${a}-${b}/${disk.length}`);
          assert.ok(r.body.equals(disk.subarray(a, b + 1)), `bytes ${a}-${b}`);
        }
        const s1 = await c.response();
        assert.equal(s1.status, 200);
        assert.equal(s1.headers.get('content-type'), 'text/plain; charset=utf-8');
        assert.ok(s1.body.equals(script));
        const whole = await c.response();
        assert.equal(whole.status, 200);
        assert.ok(whole.body.equals(disk), 'the whole file');
        const head = await c.response(true);
        assert.equal(head.status, 200);
        assert.equal(head.headers.get('content-length'), String(disk.length));
        const s2 = await c.response();
        assert.ok(s2.body.equals(script), 'the script again, right after a HEAD');
        assert.equal((await c.response()).status, 404);
        const last = await c.response();
        assert.ok(last.body.equals(disk.subarray(5, 70005)), 'a range after a 404 on the same connection');
        assert.equal(last.headers.get('connection'), 'keep-alive');
        assert.equal(c.closed, false, 'the connection stays open');
        // The 256 KiB range, the whole file and the last range; the small ones are copied.
        if (offload) assert.equal(server.stats().bodiesBySendfile, 3, `bodies by sendfile: ${JSON.stringify(server.stats())}`);
        else assert.equal(server.stats().bodiesBySendfile, 0);
      });
    });

    test('a request that arrives while a large body is still going out waits for it', async () => {
      await withServer(async ({ open }) => {
        const c = await open();
        c.pause();
        c.send('GET /big.bin HTTP/1.1\r\n\r\n');
        await sleep(300); // the server fills the socket and waits for the client to read
        c.send('GET /boot.ipxe HTTP/1.1\r\n\r\nGET /disk.bin HTTP/1.1\r\nRange: bytes=100-300099\r\n\r\n');
        await sleep(100);
        c.resume();
        assert.ok((await c.response()).body.equals(big), 'the whole file, not interleaved with the next answers');
        assert.ok((await c.response()).body.equals(script));
        assert.ok((await c.response()).body.equals(disk.subarray(100, 300100)));
      });
    });

    test('a client that half-closes after its requests still gets every response whole, then the server closes', async () => {
      await withServer(async ({ open }) => {
        const c = await open();
        c.pause();
        c.send('GET /big.bin HTTP/1.1\r\n\r\nGET /boot.ipxe HTTP/1.1\r\n\r\n');
        c.endWriting();
        await sleep(300); // the FIN arrives while the 32 MiB body is still going out
        c.resume();
        assert.ok((await c.response()).body.equals(big), 'the whole file');
        assert.ok((await c.response()).body.equals(script), 'and the request after it');
        assert.equal(await c.closedByServer(), true);
      });
    });

    test('HTTP/1.0: closed after the response unless it asked for keep-alive', async () => {
      await withServer(async ({ open }) => {
        const once = await open();
        once.send('GET /disk.bin HTTP/1.0\r\nRange: bytes=0-65535\r\n\r\n');
        const r = await once.response();
        assert.equal(r.headers.get('connection'), 'close');
        assert.ok(r.body.equals(disk.subarray(0, 65536)));
        assert.equal(await once.closedByServer(), true, 'closed after the response');

        const kept = await open();
        kept.send('GET /boot.ipxe HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
        assert.equal((await kept.response()).headers.get('connection'), 'keep-alive');
        kept.send('GET /boot.ipxe HTTP/1.1\r\nConnection: close\r\n\r\n');
        assert.ok((await kept.response()).body.equals(script));
        assert.equal(await kept.closedByServer(), true, 'closed after "Connection: close"');
      });
    });

    test('a malformed request gets 400 and the connection closes; it is logged and counted; the server goes on', async () => {
      await withServer(async ({ open, events, server }) => {
        const c = await open();
        c.send('GET /boot.ipxe HTTP/1.1\r\nHost : smuggled\r\n\r\nGET /boot.ipxe HTTP/1.1\r\n\r\n');
        const r = await c.response();
        assert.equal(r.status, 400);
        assert.equal(r.headers.get('connection'), 'close');
        assert.equal(await c.closedByServer(), true);
        assert.equal(server.stats().badRequests, 1);
        assert.ok(events.some((e): e is LogEvent => e.type === 'log' && e.level === 'warn' && /could not be answered; last: 127\.0\.0\.1 got 400/.test(e.message)));

        const big = await open();
        big.send(`GET /boot.ipxe HTTP/1.1\r\nX-Filler: ${'a'.repeat(20_000)}`);
        assert.equal((await big.response()).status, 431);
        assert.equal(await big.closedByServer(), true);

        const v2 = await open();
        v2.send('GET /boot.ipxe HTTP/2.0\r\n\r\n');
        assert.equal((await v2.response()).status, 505);

        const after = await open();
        after.send('GET /boot.ipxe HTTP/1.1\r\n\r\n');
        assert.ok((await after.response()).body.equals(script));
      });
    });

    test('a request with a body is answered, then the connection closes (the body is never read as a request)', async () => {
      await withServer(async ({ open }) => {
        const c = await open();
        c.send('POST /boot.ipxe HTTP/1.1\r\nContent-Length: 39\r\n\r\nGET /disk.bin HTTP/1.1\r\nHost: evil\r\n\r\n');
        const r = await c.response();
        assert.equal(r.status, 405);
        assert.equal(r.headers.get('allow'), 'GET, HEAD');
        assert.equal(await c.closedByServer(), true, 'closed instead of reading the body as a second request');
      });
    });
  });
}
