// The API server on loopback with a real ws client: who gets in, what bad
// requests get back, how events stream, and how a slow client is handled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { Controller } from '../../src/api/controller.js';
import { ApiServer, generateToken } from '../../src/api/ws-server.js';
import type { ApiEvent } from '../../src/api/contract.js';
import { ApiClient, ApiCallError, tryHandshake } from '../helpers/api-client.js';

async function startServer(t: { after: (fn: () => Promise<void> | void) => void }, extra: Partial<ConstructorParameters<typeof ApiServer>[0]> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'pxk-api-'));
  const controller = new Controller({ dataDir: join(dir, 'data'), library: null, logCapacity: 1000 });
  const token = generateToken();
  const server = new ApiServer({ controller, token, rendererDir: null, ...extra });
  await server.start();
  t.after(() => server.close());
  return { controller, server, token, dir, ws: `ws://127.0.0.1:${server.port}/api` };
}

test('refuses to listen anywhere but loopback, and a malformed token', () => {
  const controller = new Controller({ library: null });
  for (const host of ['0.0.0.0', '10.77.1.1', '::', 'localhost.example'])
    assert.throws(() => new ApiServer({ controller, token: generateToken(), host }), /loopback only/);
  assert.throws(() => new ApiServer({ controller, token: 'abc' }), /token/);
  assert.match(generateToken(), /^[0-9a-f]{64}$/);
  assert.notEqual(generateToken(), generateToken());
});

test('handshake: no token, wrong token, wrong origin, foreign Host are refused; right token from allowed origins accepted', async (t) => {
  const { server, token, ws } = await startServer(t, { extraOrigins: ['http://127.0.0.1:5173'] });
  const good = `pxekit.v1.${token}`;
  assert.equal(await tryHandshake(ws, []), 401, 'no subprotocol at all');
  assert.equal(await tryHandshake(ws, ['pxekit.v1']), 401);
  assert.equal(await tryHandshake(ws, [`pxekit.v1.${generateToken()}`]), 401, 'another run’s token');
  assert.equal(await tryHandshake(ws, [`pxekit.v1.${token.slice(0, -1)}`]), 401, 'truncated token');
  assert.equal(await tryHandshake(`${ws}?token=${token}`, []), 401, 'token in the URL is not accepted');
  assert.equal(await tryHandshake(ws, [good], { origin: 'http://evil.example' }), 403);
  assert.equal(await tryHandshake(ws, [good], { origin: 'null' }), 403);
  assert.equal(await tryHandshake(ws, [good], { origin: `http://127.0.0.1:${server.port + 1}` }), 403);
  assert.equal(await tryHandshake(ws, [good], { headers: { Host: `rebind.example:${server.port}` } }), 403, 'DNS rebinding: Host must be loopback');
  assert.equal(await tryHandshake(ws, [good]), 101, 'no Origin (Electron main, scripts)');
  assert.equal(await tryHandshake(ws, ['other', good]), 101, 'token among other protocols');
  assert.equal(await tryHandshake(ws, [good], { origin: `http://127.0.0.1:${server.port}` }), 101, 'the UI’s own origin');
  assert.equal(await tryHandshake(ws, [good], { origin: `http://localhost:${server.port}` }), 101);
  assert.equal(await tryHandshake(ws, [good], { origin: 'file://' }), 101, 'Electron window loaded from file://');
  assert.equal(await tryHandshake(ws, [good], { origin: 'http://127.0.0.1:5173' }), 101, 'an explicitly allowed dev origin');
  // The accepted protocol is echoed (browsers require it).
  const c = await ApiClient.connect(server.port, token);
  assert.equal(c.ws.protocol, good);
  await c.close();
});

test('hello first, then commands round-trip; invalid envelopes get errors and the connection stays usable', async (t) => {
  const { server, token } = await startServer(t);
  const c = await ApiClient.connect(server.port, token);
  t.after(() => c.close());
  assert.equal(c.hello?.status.state, 'stopped');
  assert.deepEqual(c.hello?.sessions, []);
  assert.match(c.hello?.engineVersion ?? '', /^\d+\.\d+\.\d+/);
  assert.equal((await c.call('engine.status', {})).state, 'stopped');
  const nics = await c.call('interfaces.list', {});
  assert.ok(nics.some((n) => n.name === 'lo' && n.loopback && !n.usable));
  assert.deepEqual(await c.call('sessions.list', {}), []);

  const errors = await Promise.all([
    c.sendRaw('not json', -1),
  ]);
  assert.equal(errors[0].ok, false);
  const r1 = await c.sendRaw(JSON.stringify({ v: 1, id: 50, cmd: 'serve.start', params: { iface: 'x', mode: 'sideways', imagePath: '/x' } }), 50);
  assert.ok(!r1.ok && r1.error.code === 'invalid-params' && /mode/.test(r1.error.message));
  const r2 = await c.sendRaw(JSON.stringify({ v: 1, id: 51, cmd: 'format.disk', params: {} }), 51);
  assert.ok(!r2.ok && r2.error.code === 'unknown-command');
  const r3 = await c.sendRaw(Buffer.from([1, 2, 3]), -1);
  assert.ok(!r3.ok && r3.error.code === 'bad-request');

  await assert.rejects(c.call('library.list', {}), (e: ApiCallError) => e.code === 'not-available');
  // A missing image is refused before anything starts, with what is wrong.
  await assert.rejects(c.call('serve.start', { iface: 'pxk-no-such-nic', mode: 'proxy', imagePath: '/nonexistent' }), (e: ApiCallError) => e.code === 'invalid-params' && /nonexistent/.test(e.message));
  // A real image on a NIC that does not exist: the start fails in the engine.
  const script = join(mkdtempSync(join(tmpdir(), 'pxk-api-')), 'boot.ipxe');
  writeFileSync(script, '#!ipxe\necho hello\n');
  await assert.rejects(c.call('serve.start', { iface: 'pxk-no-such-nic', mode: 'proxy', imagePath: script }), (e: ApiCallError) => e.code === 'serve-failed');
  // Still alive after all that.
  assert.equal((await c.call('engine.status', {})).state, 'error', 'the failed start is the current status');
  const exp = await c.call('logs.export', { format: 'jsonl' });
  assert.match(exp.fileName, /\.jsonl$/);
  const lines = exp.content.trim().split('\n').map((l) => JSON.parse(l) as ApiEvent);
  assert.ok(lines.some((e) => e.type === 'status' && e.state === 'error'), 'the failure is in the exported log');
  const text = await c.call('logs.export', { format: 'text' });
  assert.match(text.content, /error: /);
});

test('events stream to every client; a new client gets recent events replayed after its hello', async (t) => {
  const { controller, server, token } = await startServer(t);
  const a = await ApiClient.connect(server.port, token);
  const b = await ApiClient.connect(server.port, token);
  t.after(() => Promise.all([a.close(), b.close()]).then(() => undefined));
  const ev: ApiEvent = { type: 'log', at: Date.now(), level: 'info', source: 'engine', message: 'hello clients' };
  // The controller is the event source; emitting on it is what the engine's events do.
  (controller as unknown as { publish: (e: ApiEvent) => void }).publish(ev);
  for (const c of [a, b]) assert.deepEqual(await c.waitFor((e) => e.type === 'log', 'log event'), ev);
  const late = await ApiClient.connect(server.port, token);
  t.after(() => late.close());
  assert.deepEqual(await late.waitFor((e) => e.type === 'log', 'replayed log'), ev);
});

test('a client that stops reading is cut off instead of buffering without bound; others keep getting events', async (t) => {
  const { controller, server, token } = await startServer(t, { softBufferBytes: 64 * 1024, hardBufferBytes: 1024 * 1024 });
  const reader = await ApiClient.connect(server.port, token);
  t.after(() => reader.close());
  // A raw client that completes the handshake and then never reads.
  const stuck = connect(server.port, '127.0.0.1');
  t.after(() => stuck.destroy());
  await new Promise<void>((resolve) => stuck.once('connect', () => resolve()));
  stuck.write(
    `GET /api HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: pxekit.v1.${token}\r\n\r\n`,
  );
  await new Promise<void>((resolve) => stuck.once('data', () => resolve()));
  stuck.pause();
  while (server.clientCount < 2) await new Promise((r) => setTimeout(r, 10));
  const publish = (controller as unknown as { publish: (e: ApiEvent) => void }).publish;
  const big = 'x'.repeat(4000);
  let sent = 0;
  // Progress is droppable; status events are not, so they fill the stuck client's queue to the hard limit.
  while (server.clientCount === 2 && sent < 20_000) {
    publish({ type: 'transfer', at: Date.now(), protocol: 'http', phase: 'progress', id: 't1', clientIp: '10.0.0.2', clientPort: 1, file: big, bytes: sent });
    publish({ type: 'status', at: Date.now(), state: 'stopped', message: big });
    sent++;
    if (sent % 50 === 0) await new Promise((r) => setImmediate(r));
  }
  assert.equal(server.clientCount, 1, `the stuck client was disconnected (after ${sent} rounds)`);
  publish({ type: 'log', at: Date.now(), level: 'info', source: 'engine', message: 'after' });
  await reader.waitFor((e) => e.type === 'log' && e.message === 'after', 'the reading client still gets events');
});

test('static UI: CSP on every response, files only inside the root, SPA fallback, Host checked', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pxk-ui-'));
  const root = join(dir, 'dist');
  mkdirSync(join(root, 'assets'), { recursive: true });
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>PXE Kit</title>');
  writeFileSync(join(root, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(join(dir, 'secret.txt'), 'secret');
  symlinkSync(join(dir, 'secret.txt'), join(root, 'leak.txt'));
  const { server } = await startServer(t, { rendererDir: root });
  const base = `http://127.0.0.1:${server.port}`;
  const index = await fetch(`${base}/`);
  assert.equal(index.status, 200);
  const csp = index.headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.match(csp, new RegExp(`connect-src 'self' ws://127\\.0\\.0\\.1:${server.port}`));
  assert.match(await index.text(), /PXE Kit/);
  const js = await fetch(`${base}/assets/app.js`);
  assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.equal(await js.text(), 'console.log(1)');
  assert.equal((await fetch(`${base}/clients/52:54:00:00:00:01`)).status, 200, 'client-side route gets the app');
  assert.equal((await fetch(`${base}/assets/missing.js`)).status, 404);
  assert.equal((await fetch(`${base}/leak.txt`)).status, 404, 'symlink out of the root');
  assert.equal((await fetch(`${base}/%2e%2e/secret.txt`)).status, 404);
  assert.equal((await fetch(`${base}/..%2fsecret.txt`)).status, 404);
  assert.equal((await fetch(`${base}/`, { method: 'POST' })).status, 405);
  const rebind = await new Promise<string>((resolve) => {
    const s = connect(server.port, '127.0.0.1', () => s.write(`GET / HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n`));
    let out = '';
    s.on('data', (d) => (out += d)).on('end', () => resolve(out));
  });
  assert.match(rebind, /^HTTP\/1\.1 403/);
});
