// HTTP clients that misbehave, in a private lab: stalled request heads (slowloris),
// downloads that stop reading, and more connections than the server takes. Each is
// bounded: the server closes them (counted by the client, not timed), logs why, and a
// normal client is still served afterwards.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, requireRoot } from '../helpers/lab.js';
import { HttpFileServer } from '../../src/http/server.js';
import { PublishedFiles, diskFile } from '../../src/files/published.js';
import type { LogEvent, TransferEvent, WireEvent } from '../../src/sessions/events.js';

const skip = requireRoot();
let lab: Lab;
let dir: string;
let files: PublishedFiles;

/** Misbehaving clients; prints one JSON line: how many sockets the server closed, how many stayed open. */
const CLIENT = String.raw`
import net from 'node:net';
const cfg = JSON.parse(process.argv[1]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const socks = [];
let closed = 0, bytes = 0;
for (let i = 0; i < cfg.count; i++) {
  const s = net.connect({ host: cfg.server, port: cfg.port });
  s.on('error', () => {});
  s.on('close', () => closed++);
  s.on('connect', () => {
    if (cfg.mode === 'slowloris') s.write('GET /big.bin HTTP/1.1\r\nHost: pxe\r\nX-Slow: ');
    if (cfg.mode === 'noread') { s.write('GET /big.bin HTTP/1.1\r\nHost: pxe\r\n\r\n'); s.on('data', (d) => { bytes += d.length; }); s.pause(); }
  });
  socks.push(s);
  if (cfg.mode === 'many') await sleep(2);
}
// A paused socket never sees the server's FIN: stop reading for a while, then drain what the
// server had sent before it cut the connection, and count the closes.
if (cfg.mode === 'noread') { await sleep(cfg.holdMs); for (const s of socks) s.resume(); }
// Wait (bounded) until the server has closed what it should; the test asserts counts, not time.
for (let t = 0; t < cfg.waitMs && closed < cfg.expectClosed; t += 50) await sleep(50);
const open = socks.filter((s) => !s.destroyed && s.readyState === 'open').length;
console.log(JSON.stringify({ closed, open, bytes }));
for (const s of socks) s.destroy();
process.exit(0);
`;

function client(cfg: Record<string, unknown>): Promise<{ closed: number; open: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const c = lab.spawn(lab.clientNs, process.execPath, ['--input-type=module', '-e', CLIENT, JSON.stringify({ server: lab.serverIp, ...cfg })]);
    let out = '';
    let err = '';
    c.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    c.on('close', () => {
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? ''));
      } catch {
        reject(new Error(`client failed: ${err || out}`));
      }
    });
  });
}

function curl(url: string): Promise<string> {
  return new Promise((resolve) => {
    const c = lab.spawn(lab.clientNs, 'curl', ['-s', '--noproxy', '*', '-o', '/dev/null', '-w', '%{http_code} %{size_download}', url]);
    let out = '';
    c.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    c.on('close', () => resolve(out.trim()));
  });
}

before(() => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pxk-robust-http-'));
  writeFileSync(join(dir, 'big.bin'), randomBytes(32 * 1024 * 1024));
  writeFileSync(join(dir, 'small.txt'), 'hello\n');
  files = new PublishedFiles();
  files.add(diskFile('big.bin', join(dir, 'big.bin'), 'image file'));
  files.add(diskFile('small.txt', join(dir, 'small.txt'), 'image file'));
  lab = Lab.create({ serverInRoot: true });
  lab.ip(lab.clientNs, ['addr', 'add', `${lab.subnet}.2/24`, 'dev', lab.clientIf]);
});

after(() => {
  lab?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function withServer(opts: { maxConnections?: number; idleTimeoutMs?: number }, fn: (s: HttpFileServer, events: WireEvent[]) => Promise<void>): Promise<void> {
  const events: WireEvent[] = [];
  const s = new HttpFileServer({ address: lab.serverIp, port: 0, files, emit: (e) => events.push(e), ...opts });
  await s.start();
  try {
    await fn(s, events);
  } finally {
    await s.stop();
  }
}

test('stalled request heads (slowloris) are closed by the idle timeout; a normal client is still served', { skip }, async () => {
  await withServer({ idleTimeoutMs: 300 }, async (s) => {
    const r = await client({ port: s.port, mode: 'slowloris', count: 30, expectClosed: 30, waitMs: 15_000 });
    assert.equal(r.closed, 30, `every stalled connection closed by the server: ${JSON.stringify(r)}`);
    assert.equal(await curl(`http://${lab.serverIp}:${s.port}/small.txt`), '200 6');
  });
});

test('downloads that stop reading are cut after the idle timeout, with a timeout transfer event', { skip }, async () => {
  await withServer({ idleTimeoutMs: 300 }, async (s, events) => {
    const r = await client({ port: s.port, mode: 'noread', count: 5, expectClosed: 5, waitMs: 15_000, holdMs: 3000 });
    assert.equal(r.closed, 5, `every stalled download closed: ${JSON.stringify(r)}`);
    assert.ok(r.bytes > 0, 'the downloads had started');
    assert.ok(r.bytes < 5 * 32 * 1024 * 1024, `the downloads were cut short: ${r.bytes} bytes`);
    const timeouts = events.filter((e): e is TransferEvent => e.type === 'transfer' && e.phase === 'error' && e.errorCode === 'timeout');
    assert.equal(timeouts.length, 5, 'one timeout event per stalled download');
    assert.equal(await curl(`http://${lab.serverIp}:${s.port}/small.txt`), '200 6');
  });
});

test('more connections than maxConnections: the excess is closed at once and logged; the rest stay bounded', { skip }, async () => {
  const max = 10;
  await withServer({ maxConnections: max, idleTimeoutMs: 60_000 }, async (s, events) => {
    const r = await client({ port: s.port, mode: 'many', count: 50, expectClosed: 40, waitMs: 10_000 });
    assert.ok(r.open <= max, `at most ${max} connections stay open: ${JSON.stringify(r)}`);
    assert.ok(r.closed >= 50 - max, `the excess was closed by the server: ${JSON.stringify(r)}`);
    assert.ok(events.some((e): e is LogEvent => e.type === 'log' && e.level === 'warn' && /refused \d+ connection/.test(e.message) && /limit/.test(e.message)), 'a log line says connections were refused at the limit');
    // Once those are gone, the server answers again.
    let answer = '';
    for (let i = 0; i < 20 && answer !== '200 6'; i++) {
      answer = await curl(`http://${lab.serverIp}:${s.port}/small.txt`);
      if (answer !== '200 6') await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(answer, '200 6');
  });
});
