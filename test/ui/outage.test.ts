// The banner above every screen (issue 20, parts 1 and 6), in Chromium at 1366x768:
// - site problems from status.site with their fix and one-click action, the worst one in the
//   status bar, and site diagnoses without a MAC as dismissible entries (fake transport);
// - the engine killed: the real App over the real WebSocket transport against a scripted
//   engine; the banner says so within seconds, the machine rows are marked stale, a Serve
//   clicked meanwhile is refused with a message and, once the engine is back, never sent;
// - a page whose token is no longer valid, against the real API server (in process) serving
//   the built renderer: said as such, not "retrying" forever;
// - axe finds nothing serious with the banners up.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Page } from 'playwright-core';
import { browserSkipReason, collectErrors, launchBrowser, screenshot, type LaunchedBrowser } from './helpers/browser.js';
import { describeViolations, seriousViolations } from './helpers/axe.js';
import { harnessSkipReason, openHarness, scenario, startHarnessServer } from './helpers/harness.js';
import type { HarnessWindow } from './helpers/page-types.js';
import { Controller } from '../../src/api/controller.js';
import { ApiServer, generateToken } from '../../src/api/ws-server.js';
import type { SiteProblem, StatusEvent } from '../../src/sessions/status.js';

const RENDERER_DIR = fileURLToPath(new URL('../../../renderer/dist/', import.meta.url));
const skip = browserSkipReason() ?? harnessSkipReason() ?? (existsSync(join(RENDERER_DIR, 'index.html')) ? undefined : `${RENDERER_DIR}index.html missing: npm run build`);
const VIEWPORT = { width: 1366, height: 768 };
const TOKEN = 'b'.repeat(64);

const otherDhcp: SiteProblem = {
  code: 'other-dhcp-server',
  severity: 'error',
  title: 'Another DHCP server appeared on eth1 (192.168.50.254): PXE Kit stopped handing out addresses.',
  fix: 'Switch to proxy mode so that server hands out addresses and PXE Kit adds the boot information, or unplug it.',
  action: { id: 'switch-to-proxy', label: 'Switch to proxy and go on' },
  since: Date.now() - 5000,
};
const noMachines: SiteProblem = {
  code: 'no-machines-yet',
  severity: 'info',
  title: 'No machine has asked to boot yet.',
  fix: 'Power on a machine and pick network boot (F12) in its boot menu.',
  since: Date.now() - 60_000,
};

/** A scripted engine on a fixed port: hello with the scenario, answers the renderer's load commands, records every request. */
class ScriptedEngine {
  readonly requests: Array<{ cmd: string; params: unknown }> = [];
  private wss?: WebSocketServer;
  private readonly sockets = new Set<WebSocket>();
  port = 0;

  async start(port = 0): Promise<void> {
    this.wss = new WebSocketServer({ host: '127.0.0.1', port, handleProtocols: (p) => [...p][0] ?? false });
    await new Promise<void>((r) => this.wss!.once('listening', () => r()));
    this.port = (this.wss.address() as { port: number }).port;
    this.wss.on('connection', (ws) => {
      this.sockets.add(ws);
      ws.on('close', () => this.sockets.delete(ws));
      ws.send(JSON.stringify({ v: 1, hello: { status: { ...scenario.status, at: Date.now() }, sessions: scenario.sessions, engineVersion: 'scripted' } }));
      ws.on('message', (data) => {
        const r = JSON.parse(String(data)) as { id: number; cmd: string; params: unknown };
        this.requests.push({ cmd: r.cmd, params: r.params });
        const results: Record<string, unknown> = {
          'interfaces.list': scenario.interfaces,
          'library.list': scenario.library,
          'settings.get': { assignments: [], menu: scenario.menu },
          'sessions.list': scenario.sessions,
          'wimboot.status': { downloadUrl: 'https://github.com/ipxe/wimboot/releases' },
        };
        const result = r.cmd in results ? results[r.cmd] : { type: 'status', at: Date.now(), state: 'serving' };
        ws.send(JSON.stringify({ v: 1, id: r.id, ok: true, result }));
      });
    });
  }

  /** The engine dies: connections cut, port closed. */
  async kill(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    await new Promise<void>((r) => (this.wss ? this.wss.close(() => r()) : r()));
  }
}

describe('site banner and outages (1366x768)', { skip }, () => {
  let b: LaunchedBrowser;
  let http: Awaited<ReturnType<typeof startHarnessServer>>;
  before(async () => {
    http = await startHarnessServer();
    b = await launchBrowser();
  });
  after(async () => {
    await b?.close();
    await http?.close();
  });

  async function axeClean(page: Page, what: string): Promise<void> {
    const v = await seriousViolations(page);
    assert.deepEqual(v, [], `${what}:\n${describeViolations(v)}`);
  }

  test('site problems: title, fix and action on every screen, the worst in the status bar; site diagnoses dismissible', async () => {
    const page = await b.browser.newPage({ viewport: VIEWPORT });
    const errors = collectErrors(page);
    try {
      const status: StatusEvent = { ...scenario.status, mode: 'dhcp', site: [noMachines, otherDhcp] };
      await openHarness(page, http.url, { ...scenario, status });
      await page.evaluate((st) => {
        const fake = (globalThis as unknown as HarnessWindow).__pxekitFake as unknown as { handle(cmd: string, fn: () => unknown): void };
        fake.handle('serve.action', () => ({ ...st, at: Date.now(), mode: 'proxy', site: [] }));
      }, status as unknown as Record<string, unknown>);
      const banner = page.getByRole('region', { name: 'Site problems' });
      for (const screen of ['network', 'images', 'clients', 'log']) {
        await page.evaluate((s) => (globalThis as unknown as HarnessWindow).__pxekitHarness.show(s), screen);
        const alert = banner.getByRole('alert').filter({ hasText: otherDhcp.title });
        await alert.waitFor({ timeout: 3000 });
        assert.match(await alert.innerText(), /Switch to proxy mode so that server hands out addresses/);
        await banner.getByRole('status').filter({ hasText: noMachines.title }).waitFor();
        await axeClean(page, `${screen} with site problems`);
      }
      // Worst first in the banner, and in the status bar instead of a plain "Serving".
      const order = await banner.locator('.banner').evaluateAll((els) => els.map((e) => e.getAttribute('data-code')));
      assert.deepEqual(order, ['other-dhcp-server', 'no-machines-yet']);
      const state = page.getByTestId('engine-state');
      assert.equal(await state.innerText(), `Serving: ${otherDhcp.title}`);
      assert.equal(await state.getAttribute('data-severity'), 'error');
      await screenshot(page, 'banner-site-problems');

      // A site diagnosis the engine also keeps as a site problem is said once, by the problem.
      await page.evaluate(() => {
        const at = Date.now() - 1;
        (globalThis as unknown as HarnessWindow).__pxekitFake.emit({
          type: 'diagnosis',
          at,
          diagnosis: { code: 'rogue-dhcp', title: 'Another DHCP server answers on this network.', causes: [], fix: 'Use --mode proxy.', evidence: [], at, keptAs: 'other-dhcp-server' },
        });
      });
      // A site diagnosis (no MAC) with no site problem for it reaches the banner, and goes when dismissed.
      await page.evaluate((st) => {
        const fake = (globalThis as unknown as HarnessWindow).__pxekitFake;
        fake.emit({ ...st, at: Date.now(), site: [st.site[1]] } as never);
        const at = Date.now();
        (globalThis as unknown as HarnessWindow).__pxekitFake.emit({
          type: 'diagnosis',
          at,
          diagnosis: { code: 'no-clients', title: 'No machine asked to boot in 60 s.', causes: ['PXE boot is off in the firmware'], fix: 'Turn on network boot in the firmware setup.', evidence: [], at, keptAs: 'no-machines-yet' },
        });
        // A machine's diagnosis is not a site problem.
        (globalThis as unknown as HarnessWindow).__pxekitFake.emit({
          type: 'diagnosis',
          at,
          mac: '52:54:00:00:00:03',
          diagnosis: { code: 'tftp-file-not-found', title: 'One machine only', causes: [], fix: 'x', evidence: [], at, mac: '52:54:00:00:00:03' },
        });
      }, status as unknown as { site: SiteProblem[] });
      const notice = banner.getByRole('status').filter({ hasText: 'No machine asked to boot in 60 s.' });
      await notice.waitFor({ timeout: 3000 });
      assert.equal(await banner.getByText('Another DHCP server answers on this network.').count(), 0, 'said once, by the site problem with its action');
      assert.match(await notice.innerText(), /Turn on network boot in the firmware setup\./);
      assert.equal(await banner.getByText('One machine only').count(), 0);
      await axeClean(page, 'with a site diagnosis');
      await notice.getByRole('button', { name: /Dismiss/ }).click();
      await notice.waitFor({ state: 'detached' });

      // The one-click action goes to the engine as serve.action with its id; its status clears the problem.
      await banner.getByRole('button', { name: 'Switch to proxy and go on' }).click();
      await banner.getByText(otherDhcp.title).waitFor({ state: 'detached', timeout: 3000 });
      const sent = await page.evaluate(() => (globalThis as unknown as HarnessWindow).__pxekitFake.requests.filter((r) => r.cmd === 'serve.action').map((r) => r.params));
      assert.deepEqual(sent, [{ id: 'switch-to-proxy' }]);
      assert.equal(await state.innerText(), 'Serving');
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });

  test('engine killed: banner within seconds, rows stale, Serve refused and never sent after the engine returns', { timeout: 60_000 }, async () => {
    const engine = new ScriptedEngine();
    await engine.start();
    const port = engine.port;
    const page = await b.browser.newPage({ viewport: VIEWPORT });
    const errors = collectErrors(page);
    try {
      await page.goto(`${http.url}/harness.html?ws=${encodeURIComponent(`ws://127.0.0.1:${port}/api`)}&token=${TOKEN}`);
      const show = (s: string) => page.evaluate((x) => (globalThis as unknown as HarnessWindow).__pxekitHarness.show(x), s);
      await page.getByTestId('engine-state').filter({ hasText: 'Serving' }).waitFor({ timeout: 10_000 });
      await show('network');
      await page.getByRole('radio', { name: /eth1/ }).first().check();
      await show('clients');
      const rows = page.locator('tr.client');
      await rows.first().waitFor();
      const rowCount = await rows.count();
      assert.ok(rowCount >= 3, `${rowCount} machine rows`);
      assert.equal(await page.locator('main.stale').count(), 0, 'live rows are not stale');

      const killedAt = Date.now();
      await engine.kill();
      const outage = page.getByRole('region', { name: 'Site problems' }).getByRole('alert').filter({ hasText: "PXE Kit's engine is not reachable" });
      await outage.waitFor({ timeout: 5000 });
      assert.ok(Date.now() - killedAt < 5000, `banner after ${Date.now() - killedAt} ms`);
      assert.match(await outage.innerText(), /Machines may still be booting, but PXE Kit cannot see them/);
      await page.locator('main.stale').waitFor({ timeout: 2000 });
      assert.equal(await page.locator('main.stale tr.client').count(), rowCount, 'the rows stay, marked stale');
      await page.locator('[data-code="engine-unreachable"]').filter({ hasText: /\(for [1-9]\d* s\)/ }).waitFor({ timeout: 4000 });
      await axeClean(page, 'outage banner on the machines screen');
      await screenshot(page, 'banner-outage');

      // Serve clicked while the engine is away: refused at once with a message.
      await show('images');
      const clicked = Date.now();
      await page.getByRole('button', { name: 'Serve Debian 12 netinst' }).click();
      await page.getByRole('alert').filter({ hasText: /not reachable: nothing was sent/ }).waitFor({ timeout: 2000 });
      assert.ok(Date.now() - clicked < 2000, 'refused at once, not after a timeout');

      // The engine comes back: the page reconnects, the rows are live again, and the Serve is never sent.
      const before = engine.requests.length;
      const back = new ScriptedEngine();
      await back.start(port);
      await outage.waitFor({ state: 'detached', timeout: 10_000 });
      await page.locator('main.stale').waitFor({ state: 'detached' });
      await new Promise((r) => setTimeout(r, 2000));
      const after = [...engine.requests.slice(before), ...back.requests].map((r) => r.cmd);
      assert.ok(after.includes('interfaces.list'), `reconnected and reloaded: ${after.join(',')}`);
      assert.deepEqual(
        after.filter((c) => c.startsWith('serve.')),
        [],
        'nothing clicked during the outage runs later',
      );
      await back.kill();
      assert.deepEqual(
        errors.filter((e) => !/WebSocket connection to .* failed|ERR_CONNECTION_REFUSED/.test(e)),
        [],
      );
    } finally {
      await page.close();
      await engine.kill().catch(() => {});
    }
  });

  test('a page whose token is no longer valid says so (real API server), a good token connects', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pxk-token-'));
    const controller = new Controller({ dataDir: join(dir, 'data'), library: null, logCapacity: 100 });
    const token = generateToken();
    const server = new ApiServer({ controller, token, rendererDir: RENDERER_DIR });
    await server.start();
    const page = await b.browser.newPage({ viewport: VIEWPORT });
    try {
      // An old address: the engine was restarted with a new token.
      await page.goto(`http://127.0.0.1:${server.port}/#token=${generateToken()}`);
      const expired = page.getByRole('alert').filter({ hasText: "This page's access token is no longer valid" });
      await expired.waitFor({ timeout: 8000 });
      assert.match(await expired.innerText(), /open PXE Kit's address again \(pxekit serve --ui prints it\)/);
      assert.equal(await page.getByText(/not reachable/).count(), 0, 'not said to be unreachable');
      assert.equal(await page.getByTestId('engine-state').innerText(), 'Access token no longer valid');
      // It stays said between retries.
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(await expired.count(), 1);
      await axeClean(page, 'expired token banner');
      await screenshot(page, 'banner-token');

      // The address as printed: connected, no banner.
      await page.goto('about:blank');
      await page.goto(server.url);
      await page.getByTestId('engine-state').filter({ hasText: 'Stopped' }).waitFor({ timeout: 8000 });
      assert.equal(await page.getByRole('region', { name: 'Site problems' }).count(), 0);
    } finally {
      await page.close();
      await server.close();
    }
  });
});
