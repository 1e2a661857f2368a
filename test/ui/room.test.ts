// The Machines screen as a room of 40 machines at 1366x768 (issue 20 part 5), over the
// fake transport: failures on the first screen, every row without page scroll, counts,
// filter and search, labels sent with machines.setLabel, progress by bytes and steps,
// one notification per machine per boot, and axe finds nothing.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { ClientSession } from '../../src/sessions/session.js';
import { browserSkipReason, collectErrors, screenshot } from './helpers/browser.js';
import { describeViolations, seriousViolations } from './helpers/axe.js';
import { harnessSkipReason, harnessSuite, openHarness, scenario } from './helpers/harness.js';
import type { HarnessWindow } from './helpers/page-types.js';

const skip = browserSkipReason() ?? harnessSkipReason();
const VIEWPORT = { width: 1366, height: 768 };

const mac = (i: number) => `52:54:00:00:01:${i.toString(16).padStart(2, '0')}`;

/** 40 machines: 10 handed off, 22 booting, 3 stalled, 5 failed; the failed ones came last, so only the order brings them up. */
function room(now: number): ClientSession[] {
  const out: ClientSession[] = [];
  for (let i = 0; i < 40; i++) {
    const base: ClientSession = {
      mac: mac(i),
      ip: `192.168.50.${100 + i}`,
      arch: i % 2 ? 'efi-x64' : 'bios',
      vendorClass: 'PXEClient:Arch:00007:UNDI:003016',
      isIpxe: true,
      firstSeen: now - 120_000 + i * 1000,
      lastSeen: now,
      state: 'payload',
      progress: 45,
      transfers: [],
      timeline: [{ at: now - 120_000 + i * 1000, state: 'dhcp', text: 'DISCOVER' }],
      timelineFrom: 0,
      boots: 1,
    };
    if (i < 10) out.push({ ...base, state: 'handed-off', progress: 100 });
    else if (i < 32) {
      // Downloading: 300 MB of 600 MB read is 50 %, whatever the engine's per-state guess (45).
      const current = { id: `t${i}`, protocol: 'http' as const, file: '/images/debian.iso', role: 'ISO', bytes: 300_000_000 + i, size: 600_000_000, rate: 20_000_000, state: 'running' as const, startedAt: now - 15_000 };
      out.push(i % 3 === 0 ? { ...base, state: 'bound', progress: 10 } : { ...base, current, timeline: [...base.timeline, { at: now - 15_000, state: 'payload', text: 'ISO over HTTP' }] });
    } else if (i < 35) out.push({ ...base, state: 'bound', progress: 10, lastSeen: now - 60_000 });
    else {
      out.push({
        ...base,
        state: 'failed',
        progress: 15,
        failure: { code: 'timeout', message: `Transfer of ipxe.efi stalled (machine ${i})`, pxeError: 'PXE-E32: TFTP open timeout', at: now - 5000 },
        diagnosis: { code: 'no-tftp-after-ack', title: 'TFTP never got through', pxeError: 'PXE-E32: TFTP open timeout', causes: ['A firewall drops UDP 69'], fix: 'Allow UDP 69 on the laptop and power-cycle the machine.', evidence: [], at: now - 5000, mac: mac(i) },
        timeline: [...base.timeline, { at: now - 5000, state: 'failed', text: 'TFTP timeout' }],
      });
    }
  }
  return out;
}

const FAILED = [35, 36, 37, 38, 39].map(mac);
const STALLED = [32, 33, 34].map(mac);

async function requests(page: Page): Promise<Array<{ cmd: string; params: Record<string, unknown> }>> {
  return page.evaluate(() => (globalThis as unknown as HarnessWindow).__pxekitFake.requests as Array<{ cmd: string; params: Record<string, unknown> }>);
}

/** Stubs the Notification and WebAudio APIs before the page loads, recording what the page asks of them. */
async function recordNotices(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const g = globalThis as unknown as Record<string, unknown> & { __notices: Array<{ title: string; body?: string }>; __beeps: number };
    g.__notices = [];
    g.__beeps = 0;
    class FakeNotification {
      static permission = 'granted';
      static requestPermission = async () => 'granted';
      constructor(title: string, opts?: { body?: string }) {
        g.__notices.push({ title, body: opts?.body });
      }
    }
    const node = () => ({ connect: (n: unknown) => n, frequency: { value: 0 }, gain: { value: 0 }, start: () => void g.__beeps++, stop: () => undefined });
    class FakeAudio {
      currentTime = 0;
      destination = {};
      resume = async () => undefined;
      createOscillator = node;
      createGain = node;
    }
    g.Notification = FakeNotification;
    g.AudioContext = FakeAudio;
  });
}

/** The rows' count once it settles at `n` (React draws after the event), or the count it stayed at. */
async function countIs(rows: ReturnType<Page['locator']>, n: number): Promise<number> {
  const until = Date.now() + 3000;
  let c = await rows.count();
  while (c !== n && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
    c = await rows.count();
  }
  return c;
}

const notices = (page: Page) => page.evaluate(() => (globalThis as unknown as { __notices: Array<{ title: string; body?: string }> }).__notices);
const beeps = (page: Page) => page.evaluate(() => (globalThis as unknown as { __beeps: number }).__beeps);

describe('the room: 40 machines at 1366x768 (fake transport)', { skip }, () => {
  const h = harnessSuite();

  async function openRoom(opts: { notices?: boolean } = {}): Promise<{ page: Page; errors: string[]; sessions: ClientSession[] }> {
    const page = await h.b.browser.newPage({ viewport: VIEWPORT });
    const errors = collectErrors(page);
    if (opts.notices) await recordNotices(page);
    const sessions = room(Date.now());
    await openHarness(page, h.server.url, { ...scenario, sessions });
    await page.evaluate(() => (globalThis as unknown as HarnessWindow).__pxekitHarness.show('clients'));
    await page.locator('tr.client').nth(39).waitFor();
    return { page, errors, sessions };
  }

  test('failures first and on the first screen, every row without page scroll, counts right, axe clean', async () => {
    const { page, errors } = await openRoom();
    try {
      const rows = page.locator('tbody tr.client');
      assert.equal(await rows.count(), 40);
      // Order: the five failures, then the three stalls, then booting, then the finished ones.
      const order = await rows.evaluateAll((trs) => trs.map((tr) => (tr as unknown as { dataset: Record<string, string> }).dataset.mac));
      assert.deepEqual(order.slice(0, 5).sort(), [...FAILED].sort());
      assert.deepEqual(order.slice(5, 8).sort(), [...STALLED].sort());
      assert.deepEqual(order.slice(30).sort(), Array.from({ length: 10 }, (_, i) => mac(i)).sort());

      // Everything fits at 1366x768: no page scroll either way, and every row above the status bar.
      const dims = await page.evaluate(() => {
        const g = globalThis as unknown as { innerWidth: number; innerHeight: number; document: { scrollingElement: { scrollHeight: number; scrollWidth: number }; querySelector(s: string): { getBoundingClientRect(): { top: number } } | null } };
        return { w: g.innerWidth, h: g.innerHeight, sh: g.document.scrollingElement.scrollHeight, sw: g.document.scrollingElement.scrollWidth, barTop: g.document.querySelector('.statusbar')?.getBoundingClientRect().top ?? g.innerHeight };
      });
      assert.ok(dims.sw <= dims.w, `no horizontal scroll: ${dims.sw} > ${dims.w}`);
      assert.ok(dims.sh <= dims.h, `no page scroll: the page is ${dims.sh} px tall at ${dims.h}`);
      for (let i = 0; i < 40; i++) {
        const box = await rows.nth(i).boundingBox();
        assert.ok(box, `row ${i} is laid out`);
        assert.ok(box.y >= 0 && box.y + box.height <= dims.barTop && box.x >= 0 && box.x + box.width <= dims.w, `row ${i} (${order[i]}) is on the first screen: ${JSON.stringify(box)}, status bar at ${dims.barTop}`);
        assert.ok(box.height <= 32, `row ${i} is one line: ${box.height} px`);
      }
      for (const m of FAILED) {
        const box = await page.locator(`tr.client[data-mac="${m}"]`).boundingBox();
        assert.ok(box && box.y + box.height <= dims.barTop, `failed ${m} visible`);
        assert.match(await page.locator(`tr.client[data-mac="${m}"]`).innerText(), /Failed[\s\S]*PXE-E32[\s\S]*TFTP never got through/);
      }

      const count = async (g: string) => (await page.locator(`[data-count="${g}"] strong`).innerText()).trim();
      assert.deepEqual({ all: await count('all'), failed: await count('failed'), stalled: await count('stalled'), booting: await count('booting'), done: await count('done') }, { all: '40', failed: '5', stalled: '3', booting: '22', done: '10' });

      // Progress by bytes and steps: 300 MB of 600 MB is 50 %, at step 4 of 5.
      const dl = page.locator(`tr.client[data-mac="${mac(11)}"]`);
      assert.equal(await dl.getByRole('progressbar').getAttribute('aria-valuenow'), '50');
      assert.match(await dl.innerText(), /4\/5 Downloading OS/);
      assert.match(await page.locator(`tr.client[data-mac="${mac(12)}"]`).innerText(), /1\/5 Getting an address/);

      await screenshot(page, 'room-40-1366x768');
      const v = await seriousViolations(page);
      assert.deepEqual(v, [], describeViolations(v));

      // The diagnosis is one click away, and collapses again.
      const failed = page.locator(`tr.client[data-mac="${FAILED[0]}"]`);
      const toggle = failed.getByRole('button', { name: FAILED[0] });
      assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
      await toggle.click();
      const details = page.locator(`#client-${FAILED[0].replace(/:/g, '')}-tl`);
      const text = await details.innerText();
      assert.match(text, /Transfer of ipxe\.efi stalled[\s\S]*Screen shows: PXE-E32: TFTP open timeout[\s\S]*A firewall drops UDP 69[\s\S]*Allow UDP 69 on the laptop/);
      assert.match(text, /Timeline of 52:54:00:00:01:23/);
      await screenshot(page, 'room-diagnosis-open');
      const v2 = await seriousViolations(page);
      assert.deepEqual(v2, [], describeViolations(v2));
      await toggle.click();
      await details.waitFor({ state: 'detached' });
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });

  test('a count filters, a search narrows by IP, state words, MAC without colons', async () => {
    const { page } = await openRoom();
    try {
      const rows = page.locator('tbody tr.client');
      await page.getByRole('button', { name: /^Failed/ }).click();
      assert.equal(await page.getByRole('button', { name: /^Failed/ }).getAttribute('aria-pressed'), 'true');
      assert.equal(await countIs(rows, 5), 5);
      assert.match(await page.locator('.room-summary').innerText(), /Showing 5 of 40/);
      await page.getByRole('button', { name: /^Stalled/ }).click();
      assert.equal(await countIs(rows, 3), 3);
      await page.getByRole('button', { name: /^All \d/ }).click();
      assert.equal(await countIs(rows, 40), 40);

      const search = page.getByRole('searchbox', { name: 'Search machines' });
      await search.fill('192.168.50.117');
      assert.equal(await countIs(rows, 1), 1);
      assert.equal(await rows.first().getAttribute('data-mac'), mac(17));
      await search.fill('handed off');
      assert.equal(await countIs(rows, 10), 10);
      await search.fill('000101');
      assert.equal(await countIs(rows, 1), 1);
      await search.fill('pxe-e32');
      assert.equal(await countIs(rows, 5), 5);
      await search.fill('nothing like this');
      assert.equal(await countIs(rows, 0), 0);
      await page.getByText('No machine matches.').waitFor();
      // A filter and a search together.
      await search.fill('debian.iso');
      assert.equal(await countIs(rows, 15), 15);
      await page.getByRole('button', { name: /^Handed off/ }).click();
      assert.equal(await countIs(rows, 0), 0);
    } finally {
      await page.close();
    }
  });

  test('a label set in the row is sent with machines.setLabel, shown, searchable, and removed with an empty one', async () => {
    const { page } = await openRoom();
    try {
      const m = mac(20);
      const row = page.locator(`tr.client[data-mac="${m}"]`);
      await row.getByRole('button', { name: 'Edit label' }).click();
      const input = page.getByRole('textbox', { name: `Label for ${m}` });
      await input.fill('Desk 12');
      await input.press('Enter');
      await row.getByText('Desk 12').waitFor();
      const sent = (await requests(page)).filter((r) => r.cmd === 'machines.setLabel');
      assert.deepEqual(sent.map((r) => r.params), [{ mac: m, label: 'Desk 12' }]);
      // The row's button keeps the MAC in its name for a screen reader; the label is what shows.
      assert.equal(await row.getByRole('button', { name: `Desk 12 ${m}` }).count(), 1);
      await page.getByRole('searchbox', { name: 'Search machines' }).fill('desk 12');
      assert.equal(await page.locator('tbody tr.client').count(), 1);
      await page.getByRole('searchbox', { name: 'Search machines' }).fill('');

      // Labels from another UI arrive as an event; Escape leaves a label as it was.
      await page.evaluate((mm) => (globalThis as unknown as HarnessWindow).__pxekitFake.emit({ type: 'labels', at: Date.now(), labels: { [mm]: 'Desk 12', '52:54:00:00:01:15': 'Lab left' } }), m);
      await page.locator(`tr.client[data-mac="${mac(21)}"]`).getByText('Lab left').waitFor();
      await row.getByRole('button', { name: 'Edit label' }).click();
      await input.fill('Something else');
      await input.press('Escape');
      await row.getByText('Desk 12').waitFor();
      assert.equal((await requests(page)).filter((r) => r.cmd === 'machines.setLabel').length, 1);

      await row.getByRole('button', { name: 'Edit label' }).click();
      await input.fill('');
      await input.press('Enter');
      await row.getByRole('button', { name: m }).locator('code').waitFor();
      assert.deepEqual((await requests(page)).filter((r) => r.cmd === 'machines.setLabel').at(-1)?.params, { mac: m, label: '' });
      const v = await seriousViolations(page);
      assert.deepEqual(v, [], describeViolations(v));
    } finally {
      await page.close();
    }
  });

  test('one notification per machine per boot when it fails or is handed off; the sound only when turned on', async () => {
    const { page, sessions } = await openRoom({ notices: true });
    try {
      // The machines that had already failed or finished when the page opened stay quiet.
      assert.deepEqual(await notices(page), []);
      const update = (s: ClientSession) => page.evaluate((ss) => (globalThis as unknown as HarnessWindow).__pxekitFake.emit({ type: 'session', reason: 'state', at: ss.lastSeen, session: ss }), s);
      const fail = (s: ClientSession, at: number): ClientSession => ({ ...s, state: 'failed', lastSeen: at, timeline: [], timelineFrom: s.timeline.length, failure: { code: 'not-found', message: 'The machine asked for "x.efi", which is not published.', pxeError: 'PXE-E23: Client received TFTP error from server', at } });
      const booting = sessions[20];
      const t = Date.now() + 1000;
      await update(fail(booting, t));
      await page.locator(`tr.client[data-mac="${booting.mac}"][data-group="failed"]`).waitFor();
      await update(fail(booting, t + 100));
      await update({ ...fail(booting, t + 200), diagnosis: { code: 'payload-not-found', title: 'x.efi is not served', causes: [], fix: 'Add it.', evidence: [], at: t + 200 } });
      let n = await notices(page);
      assert.equal(n.length, 1, JSON.stringify(n));
      assert.equal(n[0].title, `${booting.mac} failed to boot`);
      assert.match(n[0].body ?? '', /x\.efi", which is not published[\s\S]*PXE-E23/);
      assert.match(await page.locator('[data-count="failed"] strong').innerText(), /^6$/);

      const done = sessions[21];
      await update({ ...done, state: 'handed-off', progress: 100, lastSeen: t + 300, timeline: [], timelineFrom: done.timeline.length });
      await page.locator(`tr.client[data-mac="${done.mac}"][data-group="done"]`).waitFor();
      n = await notices(page);
      assert.equal(n.length, 2);
      assert.match(n[1].title, /52:54:00:00:01:15 is handed off/);
      assert.equal(await beeps(page), 0, 'no sound unless turned on');

      // The same machine starts over (a second boot) and fails again: a new notice, with a beep now.
      await page.getByRole('checkbox', { name: 'Sound' }).check();
      const afterToggle = await beeps(page);
      assert.ok(afterToggle >= 1, 'turning the sound on plays a beep (and unlocks audio)');
      await update({ ...booting, state: 'dhcp', boots: 2, lastSeen: t + 400, failure: undefined, diagnosis: undefined, timeline: [], timelineFrom: 10 });
      await update({ ...fail(booting, t + 500), boots: 2, timelineFrom: 10 });
      await page.locator(`tr.client[data-mac="${booting.mac}"][data-group="failed"]`).waitFor();
      n = await notices(page);
      assert.equal(n.length, 3);
      assert.ok((await beeps(page)) > afterToggle, 'the failure beeped');

      // Notifications turned off: nothing more is shown.
      await page.getByRole('checkbox', { name: 'Notify' }).uncheck();
      const other = sessions[22];
      await update(fail(other, t + 600));
      await page.locator(`tr.client[data-mac="${other.mac}"][data-group="failed"]`).waitFor();
      assert.equal((await notices(page)).length, 3);
    } finally {
      await page.close();
    }
  });
});
