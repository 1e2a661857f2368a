// The renderer's WebSocket transport, in Chromium, against a scripted server
// (the ws package on 127.0.0.1): token as the subprotocol, request/response
// matched by id (out of order too), typed errors, hello and events, requests made
// while disconnected refused at once (never queued), in-flight ones rejected, backoff.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Page } from 'playwright-core';
import { browserSkipReason, collectErrors, launchBrowser, type LaunchedBrowser } from './helpers/browser.js';
import { harnessSkipReason, startHarnessServer } from './helpers/harness.js';

const skip = browserSkipReason() ?? harnessSkipReason();
const TOKEN = 'a'.repeat(64);

interface Req {
  v: number;
  id: number;
  cmd: string;
  params: unknown;
}

class ScriptedServer {
  readonly protocols: string[] = [];
  readonly requests: Req[] = [];
  readonly sockets = new Set<WebSocket>();
  hold: Req[] = [];
  private wss?: WebSocketServer;
  port = 0;

  async start(port = 0): Promise<void> {
    this.wss = new WebSocketServer({ host: '127.0.0.1', port, handleProtocols: (p) => [...p][0] ?? false });
    await new Promise<void>((r) => this.wss!.once('listening', () => r()));
    this.port = (this.wss.address() as { port: number }).port;
    this.wss.on('connection', (ws, req) => {
      this.protocols.push(String(req.headers['sec-websocket-protocol']));
      this.sockets.add(ws);
      ws.on('close', () => this.sockets.delete(ws));
      ws.send(JSON.stringify({ v: 1, hello: { status: { type: 'status', at: 1, state: 'stopped' }, sessions: [], engineVersion: 'scripted' } }));
      ws.on('message', (data) => {
        const r = JSON.parse(String(data)) as Req;
        this.requests.push(r);
        if (r.cmd === 'sessions.list') return void this.hold.push(r); // answered later, after the next one
        if (r.cmd === 'library.add') return ws.send(JSON.stringify({ v: 1, id: r.id, ok: false, error: { code: 'library-error', message: 'No such file' } }));
        ws.send(JSON.stringify({ v: 1, id: r.id, ok: true, result: { type: 'status', at: r.id, state: 'stopped', message: `answer to ${r.id}` } }));
        for (const h of this.hold.splice(0)) ws.send(JSON.stringify({ v: 1, id: h.id, ok: true, result: [] }));
      });
    });
  }

  broadcast(event: unknown): void {
    for (const ws of this.sockets) ws.send(JSON.stringify({ v: 1, event }));
  }

  async stop(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    await new Promise<void>((r) => (this.wss ? this.wss.close(() => r()) : r()));
  }
}

type PageState = { states: string[]; hellos: number; events: unknown[] };

{
  let b: LaunchedBrowser;
  let http: Awaited<ReturnType<typeof startHarnessServer>>;
  before(async () => {
    if (skip) return;
    http = await startHarnessServer();
    b = await launchBrowser();
  });
  after(async () => {
    await b?.close();
    await http?.close();
  });

  async function open(port: number): Promise<Page> {
    const page = await b.browser.newPage();
    await page.goto(`${http.url}/harness.html`);
    await page.evaluate(
      ({ port, token }) => {
        type T = {
          onConnection(fn: (s: string) => void): void;
          onHello(fn: () => void): void;
          onEvent(fn: (e: unknown) => void): void;
          request(cmd: string, p: unknown): Promise<unknown>;
        };
        const g = globalThis as unknown as {
          __pxekitWsTransport: new (o: object) => T;
          __t: T;
          __st: PageState;
        };
        g.__st = { states: [], hellos: 0, events: [] };
        g.__t = new g.__pxekitWsTransport({ endpoint: async () => ({ url: `ws://127.0.0.1:${port}/api`, token }), minDelayMs: 50, maxDelayMs: 400 });
        g.__t.onConnection((s) => g.__st.states.push(s));
        g.__t.onHello(() => g.__st.hellos++);
        g.__t.onEvent((e) => g.__st.events.push(e));
      },
      { port, token: TOKEN },
    );
    return page;
  }
  const state = (page: Page) => page.evaluate(() => (globalThis as unknown as { __st: PageState }).__st);
  const call = (page: Page, cmd: string) =>
    page.evaluate(
      (cmd) =>
        (globalThis as unknown as { __t: { request(c: string, p: unknown): Promise<unknown> } }).__t.request(cmd, {}).then(
          (r) => ({ ok: true, r }),
          (e: { code?: string; message: string; name: string }) => ({ ok: false, code: e.code, message: e.message, name: e.name }),
        ),
      cmd,
    );

  test('ws transport: token subprotocol, ids, errors, hello, events, reconnect', { skip, timeout: 60_000 }, async () => {
    const server = new ScriptedServer();
    await server.start();
    const page = await open(server.port);
    const errors = collectErrors(page);
    try {
      await page.waitForFunction(() => (globalThis as unknown as { __st: PageState }).__st.hellos === 1);
      assert.deepEqual(server.protocols, [`pxekit.v1.${TOKEN}`]);

      // Out of order: sessions.list is held until engine.status is answered; each gets its own result.
      const heldCall = call(page, 'sessions.list');
      while (!server.requests.some((r) => r.cmd === 'sessions.list')) await new Promise((r) => setTimeout(r, 20));
      const status = await call(page, 'engine.status');
      assert.deepEqual(await heldCall, { ok: true, r: [] });
      const statusId = server.requests.find((r) => r.cmd === 'engine.status')!.id;
      assert.deepEqual(status, { ok: true, r: { type: 'status', at: statusId, state: 'stopped', message: `answer to ${statusId}` } });
      assert.deepEqual(await call(page, 'library.add'), { ok: false, code: 'library-error', message: 'No such file', name: 'ApiError' });
      assert.ok(server.requests.every((r) => r.v === 1 && typeof r.id === 'number'));
      assert.equal(new Set(server.requests.map((r) => r.id)).size, server.requests.length, 'ids are unique');

      server.broadcast({ type: 'log', at: 5, level: 'info', source: 'engine', message: 'hello log' });
      await page.waitForFunction(() => (globalThis as unknown as { __st: PageState }).__st.events.length === 1);

      // The engine goes away: an in-flight request fails, a new one waits, and both sides meet again on the same port.
      const port = server.port;
      const inflight = call(page, 'sessions.list'); // held by the server: never answered before the cut
      await new Promise((r) => setTimeout(r, 100));
      await server.stop();
      assert.deepEqual(await inflight, { ok: false, code: 'disconnected', message: 'lost the connection to the engine', name: 'ApiError' });
      await page.waitForFunction(() => (globalThis as unknown as { __st: PageState }).__st.states.at(-1) !== 'open');
      // A request made while disconnected is refused at once, never queued for the next connection.
      const refused = await call(page, 'serve.start');
      assert.deepEqual(refused, { ok: false, code: 'disconnected', message: "PXE Kit's engine is not reachable: nothing was sent. Try again once it is back.", name: 'ApiError' });
      await new Promise((r) => setTimeout(r, 600)); // a few refused attempts (backoff)
      const again = new ScriptedServer();
      await again.start(port);
      await page.waitForFunction(() => (globalThis as unknown as { __st: PageState }).__st.hellos === 2);
      assert.equal(((await call(page, 'engine.status')) as { ok: boolean }).ok, true, 'commands go out again once reconnected');
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(again.requests.map((r) => r.cmd), ['engine.status'], 'the refused request never reaches the engine that came back');
      const st = await state(page);
      assert.equal(st.hellos, 2, 'a fresh hello after reconnecting');
      assert.equal(st.states.at(-1), 'open');
      assert.ok(st.states.filter((s) => s === 'connecting').length >= 3, `retried with backoff: ${st.states.join(',')}`);
      assert.deepEqual(again.protocols, [`pxekit.v1.${TOKEN}`]);
      await again.stop();
      assert.deepEqual(
        errors.filter((e) => !/WebSocket connection to .* failed/.test(e)),
        [],
      );
    } finally {
      await page.close();
      await server.stop().catch(() => {});
    }
  });
}
