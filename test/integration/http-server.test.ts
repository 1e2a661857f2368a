// The HTTP file server against real curl, in a private lab: the server binds the lab's
// veth address in the root namespace, curl runs inside the client namespace. Every test
// runs twice: with bodies sent by sendfile (main thread, then a sending thread) and with
// bodies copied through user space (other OSes, PXEKIT_HTTP_OFFLOAD=0).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, requireRoot } from '../helpers/lab.js';
import { HttpFileServer } from '../../src/http/server.js';
import { PublishedFiles, bufferFile, diskFile } from '../../src/files/published.js';
import type { TransferEvent, WireEvent } from '../../src/sessions/events.js';

const skip = requireRoot();
let lab: Lab;
let server: HttpFileServer;
let dir: string;
let base: string;
const events: WireEvent[] = [];
const files = new PublishedFiles();
const small = randomBytes(10_000);
const medium = randomBytes(16 * 1024 * 1024 + 123);
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}
function curl(args: string[], opts: { hashOnly?: boolean } = {}): Promise<Run & { sha?: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const child = lab.spawn(lab.clientNs, 'curl', ['-s', '--noproxy', '*', ...args]);
    const chunks: Buffer[] = [];
    const hash = createHash('sha256');
    let bytes = 0;
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => {
      bytes += c.length;
      if (opts.hashOnly) hash.update(c);
      else chunks.push(c);
    });
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(chunks), stderr, bytes, sha: opts.hashOnly ? hash.digest('hex') : undefined }));
  });
}
/** Waits for an event matching `pred`; bounded so a missing event fails the test instead of hanging it. */
function waitFor(pred: (e: WireEvent) => boolean, what: string): Promise<WireEvent> {
  return new Promise((resolve, reject) => {
    const t0 = setInterval(() => {
      const found = events.find(pred);
      if (found) {
        clearInterval(t0);
        clearTimeout(t1);
        resolve(found);
      }
    }, 20);
    const t1 = setTimeout(() => {
      clearInterval(t0);
      reject(new Error(`no event: ${what}`));
    }, 20_000);
  });
}
const transfers = (): TransferEvent[] => events.filter((e): e is TransferEvent => e.type === 'transfer');
/** curl -D - puts the response head before the body on stdout: split them. */
async function curlH(args: string[]): Promise<{ status: number; h: Map<string, string>; head: string; body: Buffer; code: number | null }> {
  const r = await curl(['-D', '-', ...args]);
  const i = r.stdout.indexOf('\r\n\r\n');
  assert.ok(i > 0, `a response head from curl ${args.join(' ')} (exit ${r.code})`);
  const head = r.stdout.subarray(0, i).toString('latin1');
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), h: headers(head), head, body: r.stdout.subarray(i + 4), code: r.code };
}
function headers(raw: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of raw.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) m.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  return m;
}

before(() => {
  if (skip) return;
  lab = Lab.create({ serverInRoot: true });
  lab.ip(lab.clientNs, ['addr', 'add', `${lab.subnet}.2/24`, 'dev', lab.clientIf]);
  dir = mkdtempSync(join(tmpdir(), 'pxk-http-'));
  writeFileSync(join(dir, 'medium.bin'), medium);
  writeFileSync(join(dir, 'big.bin'), Buffer.alloc(64 * 1024 * 1024, 7));
  files.add(bufferFile('small.bin', small, 'image file'));
  files.add(diskFile('image/vmlinuz', join(dir, 'medium.bin'), 'kernel'));
  files.add(diskFile('big.bin', join(dir, 'big.bin'), 'image file'));
  files.add(bufferFile('ipxe/boot.ipxe', '#!ipxe\necho hi\n', 'boot script'));
  files.add(bufferFile('empty.bin', Buffer.alloc(0), 'image file'));
});

after(() => {
  lab?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('refuses to listen on a wildcard address', { skip }, () => {
  assert.throws(() => new HttpFileServer({ address: '0.0.0.0', files, emit: () => undefined }), /never listens on every interface/);
  assert.throws(() => new HttpFileServer({ address: '::', files, emit: () => undefined }), /never listens on every interface/);
});

for (const offload of [true, false]) {
  const path = offload ? 'sendfile' : 'copied';
  describe(`bodies ${path}`, { skip }, () => {
    before(async () => {
      events.length = 0; // each path's tests look only at their own events
      server = new HttpFileServer({
        address: lab.serverIp,
        port: 0,
        files,
        emit: (e) => events.push(e),
        macForIp: (ip) => (ip === `${lab.subnet}.2` ? '52:54:00:00:00:02' : undefined),
        idleTimeoutMs: 1500,
        offload,
      });
      await server.start();
      base = `http://${lab.serverIp}:${server.port}`;
    });

    after(async () => {
      const st = server.stats();
      await server.stop();
      // Which path carried the file bodies: both sendfile stages, or none.
      if (offload) {
        assert.ok(st.bodiesBySendfile > 0, 'file bodies went by sendfile');
        assert.ok(st.bodiesOnThreads > 0, 'bodies larger than the socket takes at once went to a sending thread');
      } else assert.equal(st.bodiesBySendfile, 0, 'every body was copied');
    });

    test('GET returns the exact bytes with correct headers, and start/done events with the MAC', async () => {
      const r = await curlH([`${base}/small.bin`]);
      assert.equal(r.code, 0);
      assert.equal(r.status, 200);
      assert.ok(r.body.equals(small));
      const h = r.h;
      assert.equal(h.get('content-length'), String(small.length));
      assert.equal(h.get('accept-ranges'), 'bytes');
      assert.equal(h.get('content-type'), 'application/octet-stream');
      const done = (await waitFor((e) => e.type === 'transfer' && e.file === '/small.bin' && e.phase === 'done', 'small done')) as TransferEvent;
      assert.equal(done.bytes, small.length);
      assert.equal(done.mac, '52:54:00:00:00:02');
      assert.equal(done.clientIp, `${lab.subnet}.2`);
      assert.equal(done.protocol, 'http');
      assert.ok(transfers().some((e) => e.id === done.id && e.phase === 'start' && e.size === small.length));
    });

    test('iPXE scripts are text/plain; empty files are served with length 0', async () => {
      const r = await curlH([`${base}/ipxe/boot.ipxe`]);
      assert.equal(r.body.toString(), '#!ipxe\necho hi\n');
      assert.match(r.h.get('content-type') ?? '', /^text\/plain/);
      const e = await curlH([`${base}/empty.bin`]);
      assert.equal(e.status, 200);
      assert.equal(e.body.length, 0);
      assert.equal(e.h.get('content-length'), '0');
    });

    test('HEAD gives the headers and no body', async () => {
      const r = await curl(['-I', `${base}/image/vmlinuz`]);
      assert.equal(r.code, 0);
      const text = r.stdout.toString();
      assert.match(text, /^HTTP\/1\.1 200/);
      assert.equal(headers(text).get('content-length'), String(medium.length));
      assert.ok(text.endsWith('\r\n\r\n'), 'no body after the headers');
    });

    test('Range: first, middle, suffix, open-ended give 206 with the right bytes; past the end gives 416', async () => {
      const size = medium.length;
      const cases: [string, number, number][] = [
        ['0-99', 0, 99],
        ['1000000-1999999', 1000000, 1999999],
        ['-100', size - 100, size - 1],
        [`${size - 10}-`, size - 10, size - 1],
        [`${size - 5}-${size + 1000}`, size - 5, size - 1],
      ];
      for (const [spec, a, b] of cases) {
        const r = await curlH(['-H', `Range: bytes=${spec}`, `${base}/image/vmlinuz`]);
        assert.equal(r.status, 206, spec);
        assert.equal(r.h.get('content-range'), `bytes ${a}-${b}/${size}`, spec);
        assert.equal(r.h.get('content-length'), String(b - a + 1), spec);
        assert.ok(r.body.equals(medium.subarray(a, b + 1)), spec);
      }
      const r = await curlH(['-H', `Range: bytes=${size}-`, `${base}/image/vmlinuz`]);
      assert.equal(r.status, 416);
      assert.equal(r.h.get('content-range'), `bytes */${size}`);
      assert.equal(r.h.get('content-length'), String(r.body.length));
      // Multi-range is answered with the whole file (documented choice).
      const m = await curlH(['-H', 'Range: bytes=0-1,5-6', `${base}/small.bin`]);
      assert.equal(m.status, 200);
      assert.ok(m.body.equals(small));
    });

    test('unknown paths, escape attempts and directories are 404 with a not-found event; other methods 405', async () => {
      const attempts = ['/nope', '/../etc/passwd', '/%2e%2e/etc/passwd', '//etc/passwd', '/\\..\\etc\\passwd', '/image/..%2f..%2fetc/passwd', '/', '/image/', '/image', '/ipxe/'];
      for (const p of attempts) {
        const r = await curlH(['--path-as-is', `${base}${p}`]);
        assert.equal(r.status, 404, p);
        assert.doesNotMatch(r.body.toString(), /root:|vmlinuz|small\.bin/, `no content or listing for ${p}`);
      }
      // The server really received the escape attempts (curl did not tidy them away).
      const nf = transfers().filter((e) => e.phase === 'error' && e.errorCode === 'not-found');
      for (const p of ['/../etc/passwd', '/%2e%2e/etc/passwd', '//etc/passwd']) assert.ok(nf.some((e) => e.file === p), p);
      for (const method of ['POST', 'PUT', 'DELETE']) {
        const r = await curlH(['-X', method, `${base}/small.bin`]);
        assert.equal(r.status, 405, method);
        assert.equal(r.h.get('allow'), 'GET, HEAD');
      }
    });

    test('back-to-back Range reads on one connection (as iPXE reads an ISO) are byte-identical', async () => {
      // The client asks for the next range as soon as it has the last byte of the previous one,
      // often before the server has ended that response: Node queues the next response.
      const ranges: [number, number][] = [];
      for (let i = 0; i < 60; i++) {
        const start = (i * 7919 * 4096) % (medium.length - 300_000);
        ranges.push([start, start + (i % 3 === 0 ? 100 : 256 * 1024) - 1]);
      }
      const args = ranges.flatMap(([a, b], i) => [...(i ? ['--next', '-s', '--noproxy', '*'] : []), '-r', `${a}-${b}`, `${base}/image/vmlinuz`]);
      const r = await curl(args);
      assert.equal(r.code, 0);
      assert.ok(r.stdout.equals(Buffer.concat(ranges.map(([a, b]) => medium.subarray(a, b + 1)))), 'every range has the right bytes, in order');
    });

    test('one connection serves several requests (keep-alive)', async () => {
      const before = transfers().length;
      const r = await curl(['-v', '-o', '/dev/null', '-o', '/dev/null', `${base}/small.bin`, `${base}/ipxe/boot.ipxe`]);
      assert.equal(r.code, 0);
      assert.match(r.stderr, /Re-using existing connection|Reusing existing/i);
      const starts = transfers().slice(before).filter((e) => e.phase === 'start');
      assert.equal(starts.length, 2);
      assert.equal(starts[0].clientPort, starts[1].clientPort);
    });

    test('whole bodies are byte-identical, alone and with 20 clients at once', async () => {
      const want = sha(medium);
      const one = await curl([`${base}/image/vmlinuz`], { hashOnly: true });
      assert.equal(one.sha, want);
      const many = await Promise.all(Array.from({ length: 20 }, () => curl([`${base}/image/vmlinuz`], { hashOnly: true })));
      for (const r of many) {
        assert.equal(r.code, 0);
        assert.equal(r.bytes, medium.length);
        assert.equal(r.sha, want);
      }
    });

    test('a client that aborts mid-transfer gives an aborted error event', async () => {
      const r = await curl(['--limit-rate', '1M', '--max-time', '1', '-o', '/dev/null', `${base}/big.bin`]);
      assert.equal(r.code, 28, 'curl gave up on its time limit');
      const ev = (await waitFor((e) => e.type === 'transfer' && e.file === '/big.bin' && e.phase === 'error', 'big.bin aborted')) as TransferEvent;
      assert.equal(ev.errorCode, 'aborted');
      assert.ok(ev.bytes > 0 && ev.bytes < 64 * 1024 * 1024);
    });

    test('a client that stops reading is cut after the idle timeout', async () => {
      const before = events.length;
      // Sends one request, then never reads: the server's writes stall once the socket buffers fill.
      const py = `import socket,time\ns=socket.create_connection(("${lab.serverIp}",${server.port}))\ns.setsockopt(socket.SOL_SOCKET,socket.SO_RCVBUF,4096)\ns.sendall(b"GET /big.bin HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")\ntime.sleep(60)\n`;
      const child = lab.spawn(lab.clientNs, 'python3', ['-c', py]);
      try {
        const ev = (await waitFor(
          (e) => events.indexOf(e) >= before && e.type === 'transfer' && e.file === '/big.bin' && e.phase === 'error',
          'stalled client cut',
        )) as TransferEvent;
        assert.equal(ev.errorCode, 'timeout');
      } finally {
        child.kill('SIGKILL');
      }
    });
  });
}
