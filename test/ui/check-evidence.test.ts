// Issue 20 points 7 and 5, over the fake transport: the preflight check from the Network
// screen (its findings in words, with the fix), "Save evidence" on the Machines screen
// (the paths), the previous run's machines greyed, not counted and clearable, and the
// room at 200 % zoom (1366x768 at 200 % is a 683x384 CSS viewport). axe finds nothing.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { HostCheck } from '../../src/diagnostics/checks.js';
import type { ClientSession } from '../../src/sessions/session.js';
import type { StatusEvent } from '../../src/sessions/status.js';
import { collectErrors, screenshot } from './helpers/browser.js';
import { describeViolations, seriousViolations } from './helpers/axe.js';
import { harnessSuite, openHarness, scenario } from './helpers/harness.js';
import type { HarnessWindow } from './helpers/page-types.js';

const VIEWPORT = { width: 1366, height: 768 };
const stopped: StatusEvent = { type: 'status', at: Date.now(), state: 'stopped' };

const CHECKS: HostCheck[] = [
  { id: 'interface', status: 'ok', title: 'Interface eth1', detail: '192.168.50.1/24, link up, MAC 3c:ec:ef:10:20:30' },
  { id: 'wifi', status: 'ok', title: 'eth1 is wired', detail: 'not a wireless interface' },
  { id: 'privilege', status: 'ok', title: 'Privilege for ports 67, 69 and 4011', detail: 'running as root' },
  {
    id: 'port-67',
    status: 'fail',
    title: 'DHCP (UDP 67) free on eth1',
    detail: 'UDP port 67 is already in use by dnsmasq (pid 812).',
    fix: 'Stop that program (sudo systemctl stop dnsmasq), or serve in proxy mode.',
  },
  { id: 'firewall', status: 'skip', title: 'Windows Firewall lets DHCP, TFTP and HTTP in', detail: 'not Windows' },
];

async function requests(page: Page): Promise<Array<{ cmd: string; params: Record<string, unknown> }>> {
  return page.evaluate(() => (globalThis as unknown as HarnessWindow).__pxekitFake.requests as Array<{ cmd: string; params: Record<string, unknown> }>);
}

async function axeClean(page: Page, where: string): Promise<void> {
  const v = await seriousViolations(page);
  assert.equal(v.length, 0, `axe on ${where}:\n${describeViolations(v)}`);
}

/** The page is no wider than the window (no horizontal scroll). */
async function noHorizontalScroll(page: Page): Promise<void> {
  const d = await page.evaluate(() => {
    const g = globalThis as unknown as { innerWidth: number; document: { scrollingElement: { scrollWidth: number } } };
    return { w: g.innerWidth, sw: g.document.scrollingElement.scrollWidth };
  });
  assert.ok(d.sw <= d.w, `no horizontal scroll: the page is ${d.sw} px wide at ${d.w}`);
}

function previousRun(now: number): ClientSession[] {
  return ['52:54:00:00:09:01', '52:54:00:00:09:02', '52:54:00:00:09:03'].map((mac, i) => ({
    mac,
    ip: `192.168.50.${200 + i}`,
    arch: 'bios',
    vendorClass: 'PXEClient:Arch:00000:UNDI:002001',
    isIpxe: true,
    firstSeen: now - 3_600_000 + i,
    lastSeen: now - 3_500_000,
    state: i === 0 ? 'failed' : 'handed-off',
    progress: i === 0 ? 15 : 100,
    transfers: [],
    timeline: [{ at: now - 3_600_000, state: 'dhcp', text: 'DISCOVER' }],
    timelineFrom: 0,
    boots: 1,
    previousRun: true,
    ...(i === 0 ? { failure: { code: 'timeout' as const, message: 'Transfer of ipxe.efi stalled', at: now - 3_500_000 } } : {}),
  }));
}

describe('check, evidence, previous run and 200 % zoom (fake transport)', () => {
  const h = harnessSuite();

  test('"Check this network" runs host.check on the chosen NIC and shows each finding with its fix; refused while serving', async () => {
    const page = await h.b.browser.newPage({ viewport: VIEWPORT });
    const errors = collectErrors(page);
    try {
      await openHarness(page, h.server.url, { ...scenario, status: stopped });
      await page.evaluate((checks) => Object.assign((globalThis as unknown as HarnessWindow).__pxekitFake.state, { hostChecks: checks }), CHECKS as unknown as Record<string, unknown>[]);
      await page.evaluate(() => (globalThis as unknown as HarnessWindow).__pxekitHarness.show('network'));
      await page.getByRole('button', { name: 'Check this network' }).click();
      const list = page.getByRole('list', { name: 'Check of eth1' });
      await list.waitFor();
      assert.deepEqual(
        (await requests(page)).filter((r) => r.cmd === 'host.check').map((r) => r.params),
        [{ iface: 'eth1' }],
      );
      const text = await page.locator('.check-result').innerText();
      assert.match(text, /eth1: 1 problem to fix before serving\./);
      const port = page.locator('.finding[data-check="port-67"]');
      assert.equal(await port.getAttribute('data-status'), 'fail');
      assert.match(await port.innerText(), /Problem\s+DHCP \(UDP 67\) free on eth1: UDP port 67 is already in use by dnsmasq \(pid 812\)\.\s+Fix: Stop that program \(sudo systemctl stop dnsmasq\), or serve in proxy mode\./);
      assert.match(await page.locator('.finding[data-check="privilege"]').innerText(), /OK\s+Privilege for ports 67, 69 and 4011: running as root/);
      assert.equal(await page.locator('.check-findings li').count(), CHECKS.length);
      await screenshot(page, 'network-check');
      await axeClean(page, 'the Network screen with findings');

      // Another NIC: the findings were about eth1, so they go.
      await page.locator('label[for="nic-wlan0"]').click();
      assert.equal(await page.locator('.check-result').count(), 0, 'findings of eth1 are not shown for wlan0');

      // Nothing failing: "ready to serve".
      await page.evaluate(() => {
        const f = (globalThis as unknown as HarnessWindow).__pxekitFake;
        f.state.hostChecks = (f.state.hostChecks as Array<{ status: string }>).map((c) => ({ ...c, status: c.status === 'fail' ? 'ok' : c.status, fix: undefined }));
      });
      await page.locator('label[for="nic-eth1"]').click();
      await page.getByRole('button', { name: 'Check this network' }).click();
      await page.getByText('eth1 is ready to serve.').waitFor();

      // While serving, the ports are PXE Kit's own: the engine refuses and the page says why.
      await page.evaluate(() => {
        const f = (globalThis as unknown as HarnessWindow).__pxekitFake;
        f.state.status = { type: 'status', at: Date.now(), state: 'serving', iface: 'eth1', mode: 'dhcp' };
        f.emit(f.state.status);
      });
      await page.getByRole('button', { name: 'Check this network' }).click();
      await page.getByText(/Stop serving to check the network\./).waitFor();
      assert.equal(await page.locator('.check-result').count(), 0);
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });

  test('"Save evidence" on the Machines screen shows where the report and capture went; before serving it says why not', async () => {
    const page = await h.b.browser.newPage({ viewport: VIEWPORT });
    const errors = collectErrors(page);
    try {
      await openHarness(page, h.server.url, { ...scenario, status: stopped });
      await page.evaluate(() => (globalThis as unknown as HarnessWindow).__pxekitHarness.show('clients'));
      const save = page.getByRole('button', { name: 'Save evidence' });
      await save.click();
      await page.getByText(/Nothing has been served since PXE Kit started.*start serving, boot a machine, then save the evidence\./).waitFor();
      assert.equal(await page.locator('.evidence-files').count(), 0);

      await page.evaluate(() => {
        const f = (globalThis as unknown as HarnessWindow).__pxekitFake;
        f.state.served = true;
        f.state.status = { type: 'status', at: Date.now(), state: 'serving', iface: 'eth1', mode: 'dhcp' };
        f.emit(f.state.status);
      });
      await save.click();
      const files = page.getByRole('list', { name: 'Evidence files' });
      await files.waitFor();
      assert.equal((await requests(page)).filter((r) => r.cmd === 'evidence.save').length, 2);
      const html = await page.locator('code[data-file="html"]').innerText();
      assert.match(html, /^\/var\/lib\/pxekit\/evidence\/\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\/pxekit-report-[\dT-]+\.html$/);
      assert.match(await page.locator('code[data-file="pcapng"]').innerText(), /\/pxekit-capture-[\dT-]+\.pcapng$/);
      assert.match(await page.locator('code[data-file="json"]').innerText(), /\/pxekit-report-[\dT-]+\.json$/);
      assert.match(await page.locator('.evidence-files').innerText(), /Saved on the PXE Kit machine in \/var\/lib\/pxekit\/evidence\//);
      assert.equal(await page.getByText(/Nothing has been served/).count(), 0, 'the earlier refusal is gone');
      await noHorizontalScroll(page);
      await axeClean(page, 'the Machines screen with the evidence paths');
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });

  test('machines of the previous run: greyed after this run\'s, not counted, and cleared on request', async () => {
    const page = await h.b.browser.newPage({ viewport: VIEWPORT });
    const errors = collectErrors(page);
    try {
      const live = scenario.sessions;
      await openHarness(page, h.server.url, { ...scenario, sessions: [...previousRun(Date.now()), ...live] });
      await page.evaluate(() => (globalThis as unknown as HarnessWindow).__pxekitHarness.show('clients'));
      const rows = page.locator('tbody tr.client');
      await rows.nth(live.length + 2).waitFor();
      assert.equal(await rows.count(), live.length + 3);
      // This run's machines first, then the previous run's, greyed and saying so.
      const groups = await rows.evaluateAll((trs) => trs.map((tr) => (tr as unknown as { dataset: Record<string, string> }).dataset.group));
      assert.deepEqual(groups.slice(live.length), ['previous', 'previous', 'previous']);
      assert.ok(groups.slice(0, live.length).every((g) => g !== 'previous'), `live rows first: ${groups.join(',')}`);
      const prev = page.locator('tr.client.previous-run');
      assert.equal(await prev.count(), 3);
      assert.match(await prev.first().innerText(), /Previous run[\s\S]*from the previous run: /);
      const liveColor = await rows.first().locator('td.ip').evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { color: string } }).getComputedStyle(el).color);
      const prevColor = await prev.first().locator('td.ip').evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { color: string } }).getComputedStyle(el).color);
      assert.notEqual(prevColor, liveColor, 'previous-run rows are greyed');
      // Not counted: "All" and "Failed" are this run's (one failed machine in the scenario, one in the previous run).
      assert.equal(await page.locator('[data-count="all"] strong').innerText(), String(live.length));
      assert.equal(await page.locator('[data-count="failed"] strong').innerText(), String(live.filter((s) => s.state === 'failed').length));
      // Filtering by state shows this run's machines only.
      await page.locator('[data-count="failed"]').click();
      assert.equal(await prev.count(), 0);
      await page.locator('[data-count="all"]').click();
      assert.equal(await prev.count(), 3);
      assert.match(await page.locator('.previous-run-note').innerText(), /3 machines from the previous run, greyed at the end of the list and not counted\./);
      await axeClean(page, 'the room with the previous run');

      await page.getByRole('button', { name: 'Clear the previous run' }).click();
      assert.equal(await prev.count(), 0);
      assert.equal(await rows.count(), live.length);
      assert.equal(await page.locator('.previous-run-note').count(), 0);
      // Cleared stays cleared across screens.
      await page.evaluate(() => (globalThis as unknown as HarnessWindow).__pxekitHarness.show('network'));
      await page.evaluate(() => (globalThis as unknown as HarnessWindow).__pxekitHarness.show('clients'));
      await rows.first().waitFor();
      assert.equal(await prev.count(), 0);
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });

  test('the room at 200 % zoom (683x384 CSS pixels): no horizontal scroll, rows readable, the diagnosis reachable, axe clean', async () => {
    const page = await h.b.browser.newPage({ viewport: { width: 683, height: 384 }, deviceScaleFactor: 2 });
    const errors = collectErrors(page);
    try {
      await openHarness(page, h.server.url, { ...scenario, sessions: [...scenario.sessions, ...previousRun(Date.now())] });
      await page.evaluate(() => (globalThis as unknown as HarnessWindow).__pxekitHarness.show('clients'));
      const rows = page.locator('tbody tr.client');
      await rows.nth(scenario.sessions.length + 2).waitFor();
      await noHorizontalScroll(page);
      const width = await page.evaluate(() => (globalThis as unknown as { innerWidth: number }).innerWidth);
      const n = await rows.count();
      for (let i = 0; i < n; i++) {
        const box = await rows.nth(i).boundingBox();
        assert.ok(box && box.x >= 0 && box.x + box.width <= width + 0.5, `row ${i} within the window: ${JSON.stringify(box)}`);
        // Readable: a row is not squeezed into a tall column of broken words.
        assert.ok(box.height < 120, `row ${i} is ${box.height} px tall`);
      }
      // Every machine's name is whole on screen (not clipped to nothing).
      for (const cell of await page.locator('tbody tr.client th.machine').all()) {
        const b = await cell.boundingBox();
        assert.ok(b && b.width >= 60, `the machine column is wide enough to read: ${JSON.stringify(b)}`);
      }
      // The rows keep at least half the window: what stays on screen (sticky bars) leaves room to read them.
      const room = await page.evaluate(() => {
        type El = { getBoundingClientRect(): { top: number; bottom: number } } | null;
        const g = globalThis as unknown as { innerHeight: number; getComputedStyle(e: unknown): { position: string }; document: { querySelector(s: string): El } };
        const top = g.document.querySelector('.topbar');
        const bar = g.document.querySelector('.statusbar');
        const stuck = (e: El) => e !== null && ['sticky', 'fixed'].includes(g.getComputedStyle(e).position);
        return { h: g.innerHeight, from: stuck(top) ? top!.getBoundingClientRect().bottom : 0, to: stuck(bar) ? bar!.getBoundingClientRect().top : g.innerHeight };
      });
      assert.ok(room.to - room.from >= room.h / 2, `the sticky bars leave ${room.to - room.from} of ${room.h} px for the machines`);
      // The diagnosis of the failed machine, one click away and on screen.
      await page.locator(`tr.client[data-mac="${scenario.FAILED_MAC}"] button.machine-name`).click();
      const diag = page.locator('.room-diagnosis').first();
      await diag.scrollIntoViewIfNeeded();
      assert.match(await diag.innerText(), /grubx64\.efi/);
      const db = await diag.boundingBox();
      assert.ok(db && db.x >= 0 && db.x + db.width <= width + 0.5, `the diagnosis fits the width: ${JSON.stringify(db)}`);
      // Its fix is readable: scrolled to, nothing sticky covers it.
      const fix = page.locator('.room-diagnosis .diagnosis').first();
      await fix.evaluate((el) => (el as unknown as { scrollIntoView(o: object): void }).scrollIntoView({ block: 'center' }));
      const fb = await fix.boundingBox();
      assert.ok(fb, 'the fix is laid out');
      const uncovered = await page.evaluate(([x, y]) => {
        const d = (globalThis as unknown as { document: { elementFromPoint(x: number, y: number): { closest(s: string): unknown } | null } }).document;
        return d.elementFromPoint(x, y)?.closest('.room-diagnosis') != null;
      }, [fb.x + Math.min(fb.width / 2, 40), fb.y + Math.min(fb.height / 2, 8)]);
      assert.ok(uncovered, `the fix is not under a sticky bar: ${JSON.stringify(fb)}`);
      await noHorizontalScroll(page);
      // The evidence button is reachable too.
      await page.getByRole('button', { name: 'Save evidence' }).scrollIntoViewIfNeeded();
      assert.ok(await page.getByRole('button', { name: 'Save evidence' }).isVisible());
      await screenshot(page, 'room-200-percent');
      await axeClean(page, 'the room at 200 %');
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });
});
