// The live log with 100,000 lines: the DOM holds only the visible rows (and stays
// that way while scrolling, filtering and as lines keep coming), the ring keeps
// the last 100,000, filters/search/pause work on the whole buffer.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { browserSkipReason, collectErrors, launchBrowser, screenshot, type LaunchedBrowser } from './helpers/browser.js';
import { describeViolations, seriousViolations } from './helpers/axe.js';
import { harnessSkipReason, openHarness, startHarnessServer } from './helpers/harness.js';
import type { HarnessWindow } from './helpers/page-types.js';

const skip = browserSkipReason() ?? harnessSkipReason();
const MACS = ['52:54:00:00:00:01', '52:54:00:00:00:02', '52:54:00:00:00:03', '52:54:00:00:00:04'];
/** Rows in the DOM must stay far below the line count: a screenful plus overscan. */
const MAX_ROWS = 120;

/** The lines floodLog makes (see renderer/src/harness.tsx), to count what the ring holds after 100,000 + 30,000. */
interface Flooded {
  level: string;
  source: string;
  mac: string;
}
function flooded(n: number): Flooded[] {
  const sources = ['dhcp', 'tftp', 'http', 'boot', 'engine'];
  const levels = ['debug', 'info', 'info', 'info', 'warn', 'error'];
  return Array.from({ length: n }, (_, i) => ({ level: levels[i % 6], source: sources[i % 5], mac: MACS[i % 4] }));
}
const held = [...flooded(100_000), ...flooded(30_000)].slice(-100_000);
const expectedCount = (pred: (l: Flooded) => boolean) => held.filter(pred).length;

const rowCount = (page: Page) => page.locator('.log-row').count();
const countText = (page: Page) => page.getByTestId('log-count').innerText();

async function flood(page: Page, n: number): Promise<void> {
  await page.evaluate(({ n, macs }) => (globalThis as unknown as HarnessWindow).__pxekitHarness.floodLog(n, macs), { n, macs: MACS });
}

describe('log viewer with 100,000 lines', { skip }, () => {
  let b: LaunchedBrowser;
  let server: Awaited<ReturnType<typeof startHarnessServer>>;
  let page: Page;
  let errors: string[];
  before(async () => {
    server = await startHarnessServer();
    b = await launchBrowser();
    page = await b.browser.newPage({ viewport: { width: 1280, height: 860 } });
    errors = collectErrors(page);
    await openHarness(page, server.url, {});
    await page.getByRole('button', { name: 'Log' }).click();
  });
  after(async () => {
    await b?.close();
    await server?.close();
  });

  test('100,000 lines: a handful of rows in the DOM, following the newest', async () => {
    await flood(page, 100_000);
    // floodLog: one line in six is debug, hidden by the default "info and above".
    await page.getByTestId('log-count').filter({ hasText: '83,333 of 100,000 lines' }).waitFor();
    const rows = await rowCount(page);
    assert.ok(rows > 10 && rows < MAX_ROWS, `${rows} rows in the DOM`);
    // Following: the last line is on screen.
    await page.locator('.log-row', { hasText: 'flood line 99999' }).waitFor();
    await screenshot(page, 'log-100k');
    const v = await seriousViolations(page);
    assert.deepEqual(v, [], describeViolations(v));
  });

  test('scrolling to the middle renders just that window', async () => {
    const scroller = page.getByRole('region', { name: 'Log lines' });
    await scroller.evaluate((el) => {
      const e = el as unknown as { scrollTop: number; scrollHeight: number; dispatchEvent(ev: unknown): void };
      e.scrollTop = e.scrollHeight / 2;
    });
    await page.locator('.log-row', { hasText: /flood line 5\d{4}\b/ }).first().waitFor();
    assert.equal(await page.locator('.log-row', { hasText: 'flood line 99999' }).count(), 0, 'the newest line is no longer rendered');
    assert.ok((await rowCount(page)) < MAX_ROWS);
    assert.equal(await page.getByRole('checkbox', { name: 'Follow' }).isChecked(), false, 'scrolling up stops following');
  });

  test('more lines keep the ring at 100,000 and the DOM small', async () => {
    await flood(page, 30_000);
    const visible = expectedCount((l) => l.level !== 'debug').toLocaleString('en');
    await page.getByTestId('log-count').filter({ hasText: `${visible} of 100,000 lines` }).waitFor();
    assert.ok((await rowCount(page)) < MAX_ROWS);
  });

  test('filters: client, protocol, level, search', async () => {
    const fmt = (n: number) => n.toLocaleString('en');
    await page.getByLabel('Client').selectOption(MACS[2]);
    assert.match(await countText(page), new RegExp(`^${fmt(expectedCount((l) => l.mac === MACS[2] && l.level !== 'debug'))} of 100,000`));
    await page.getByLabel('Protocol').selectOption('tftp');
    assert.match(await countText(page), new RegExp(`^${fmt(expectedCount((l) => l.mac === MACS[2] && l.source === 'tftp' && l.level !== 'debug'))} of 100,000`));
    await page.getByLabel('Protocol').selectOption('');
    await page.getByLabel('Client').selectOption('');
    await page.getByLabel('Level').selectOption('error');
    assert.match(await countText(page), new RegExp(`^${fmt(expectedCount((l) => l.level === 'error'))} of 100,000`));
    await page.getByLabel('Level').selectOption('info');
    await page.getByLabel('Search').fill('flood line 29999');
    // Only the second flood's line 29,999 is left (the first flood's was overwritten).
    await page.getByTestId('log-count').filter({ hasText: /^1 of 100,000/ }).waitFor();
    assert.equal(await rowCount(page), 1);
    await page.getByLabel('Search').fill('');
    assert.ok((await rowCount(page)) < MAX_ROWS);
  });

  test('pause freezes the view while lines keep arriving; resume catches up', async () => {
    await page.getByRole('button', { name: 'Pause' }).click();
    const before = await countText(page);
    assert.match(before, /\(paused\)/);
    await page.evaluate(() =>
      (globalThis as unknown as HarnessWindow).__pxekitFake.emit({ type: 'log', at: Date.now(), level: 'error', source: 'tftp', message: 'after pause', mac: '52:54:00:00:00:01' }),
    );
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await countText(page), before);
    assert.equal(await page.locator('.log-row', { hasText: 'after pause' }).count(), 0);
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.getByRole('checkbox', { name: 'Follow' }).check();
    await page.locator('.log-row', { hasText: 'after pause' }).waitFor();
    assert.deepEqual(errors, []);
  });
});
