// HttpFileServer on loopback: listen errors in plain words, throttled progress, stop() mid-transfer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { HttpFileServer } from '../../src/http/server.js';
import { mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PublishedFiles, bufferFile, diskFile } from '../../src/files/published.js';
import type { TransferEvent, WireEvent } from '../../src/sessions/events.js';

function setup(extra: Partial<ConstructorParameters<typeof HttpFileServer>[0]> = {}) {
  const events: WireEvent[] = [];
  const files = new PublishedFiles();
  const server = new HttpFileServer({ address: '127.0.0.1', port: 0, files, emit: (e) => events.push(e), ...extra });
  return { events, files, server, transfers: () => events.filter((e): e is TransferEvent => e.type === 'transfer') };
}

test('a port in use and a foreign address are explained', async () => {
  const a = setup();
  await a.server.start();
  try {
    const b = setup({ port: a.server.port });
    await assert.rejects(b.server.start(), /TCP port \d+ on 127\.0\.0\.1 is already in use by another program/);
  } finally {
    await a.server.stop();
  }
  const c = setup({ address: '192.0.2.77' }); // TEST-NET-1: never an address of this machine
  await assert.rejects(c.server.start(), /192\.0\.2\.77 is not an address of this machine/);
});

test('progress events are throttled, monotonic, and end with done at the full size', async () => {
  const s = setup({ progressIntervalMs: 1 });
  const data = Buffer.alloc(32 * 1024 * 1024, 1);
  s.files.add(bufferFile('big', data, 'image file'));
  await s.server.start();
  try {
    const res = await fetch(`http://127.0.0.1:${s.server.port}/big`);
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(body.length, data.length);
  } finally {
    await s.server.stop();
  }
  const t = s.transfers();
  assert.equal(t[0].phase, 'start');
  assert.equal(t.at(-1)?.phase, 'done');
  assert.equal(t.at(-1)?.bytes, data.length);
  const progress = t.filter((e) => e.phase === 'progress');
  assert.ok(progress.length >= 1, 'at least one progress event');
  for (let i = 1; i < progress.length; i++) assert.ok(progress[i].bytes > progress[i - 1].bytes, 'no duplicate progress events');
  assert.ok(new Set(t.map((e) => e.id)).size === 1);
});

/** This process's open fds and what each points to (a socket, a file, a pipe). */
function openFds(): Map<string, string> {
  const m = new Map<string, string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      m.set(fd, readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      /* the directory's own fd, closed by now */
    }
  }
  return m;
}

for (const kind of ['in memory (copied)', 'on disk (sendfile thread)'] as const) {
  test(`stop() ends transfers in progress, file ${kind}: the client sees a cut body, the event says aborted, no fd is left open`, async () => {
    const s = setup();
    const size = 64 * 1024 * 1024;
    const dir = mkdtempSync(join(tmpdir(), 'pxk-http-unit-'));
    if (kind === 'in memory (copied)') s.files.add(bufferFile('big', Buffer.alloc(size), 'image file'));
    else {
      writeFileSync(join(dir, 'big'), Buffer.alloc(size));
      s.files.add(diskFile('big', join(dir, 'big'), 'image file'));
    }
    const fdsBefore = openFds();
    await s.server.start();
    try {
      const got = await new Promise<{ bytes: number; error?: string }>((resolve) => {
        const req = request({ host: '127.0.0.1', port: s.server.port, path: '/big' }, (res) => {
          let bytes = 0;
          res.once('data', () => {
            // The first bytes arrived: stop reading (the rest waits on the server side), then pull the plug.
            res.pause();
            setTimeout(() => void s.server.stop().then(() => res.resume()), 50);
          });
          res.on('data', (c: Buffer) => (bytes += c.length));
          res.on('error', (e) => resolve({ bytes, error: e.message }));
          res.on('end', () => resolve({ bytes }));
          res.on('close', () => resolve({ bytes, error: 'closed' }));
        });
        req.on('error', (e) => resolve({ bytes: 0, error: e.message }));
        req.end();
      });
      assert.ok(got.bytes < size, 'the body was cut');
      // The event is emitted once the send loop notices the close.
      for (let i = 0; i < 200 && !s.transfers().some((e) => e.phase === 'error'); i++) await new Promise((r) => setTimeout(r, 10));
      const err = s.transfers().find((e) => e.phase === 'error');
      assert.equal(err?.errorCode, 'aborted');
      if (kind === 'on disk (sendfile thread)') assert.equal(s.server.stats().bodiesOnThreads, 1, 'the body was on a sending thread when the server stopped');
      // The server's socket, the thread's dup of the connection and the file are all closed.
      // (Compared as fd -> target pairs: the runtime may close fds of its own meanwhile.)
      const opened = () => [...openFds()].filter(([fd, target]) => fdsBefore.get(fd) !== target);
      for (let i = 0; i < 100 && opened().length > 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(opened(), [], 'no fd left open');
    } finally {
      await s.server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('dynamic files are served, and HEAD does not open the source', async () => {
  const s = setup();
  let opened = 0;
  s.files.addDynamic('ipxe/', (rest) =>
    rest === 'x.ipxe'
      ? { path: 'ipxe/x.ipxe', role: 'boot script', size: async () => 7, open: async () => (opened++, await bufferFile('x', '#!ipxe\n', 'image file').open()) }
      : undefined,
  );
  await s.server.start();
  try {
    const head = await fetch(`http://127.0.0.1:${s.server.port}/ipxe/x.ipxe`, { method: 'HEAD' });
    assert.equal(head.headers.get('content-length'), '7');
    assert.equal(opened, 0);
    const get = await fetch(`http://127.0.0.1:${s.server.port}/ipxe/x.ipxe`);
    assert.equal(await get.text(), '#!ipxe\n');
    assert.equal(opened, 1);
    assert.equal((await fetch(`http://127.0.0.1:${s.server.port}/ipxe/y.ipxe`)).status, 404);
  } finally {
    await s.server.stop();
  }
});
