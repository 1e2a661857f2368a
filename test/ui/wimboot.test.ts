// A Windows image without wimboot: the image card says what it gets instead, what that costs
// and offers the fix (a path, "Use this wimboot" -> wimboot.install); the status bar says so
// while it is served. The real renderer over the fake transport.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { collectErrors, screenshot } from './helpers/browser.js';
import { describeViolations, seriousViolations } from './helpers/axe.js';
import { harnessSuite, openHarness, scenario } from './helpers/harness.js';
import type { HarnessWindow } from './helpers/page-types.js';
import type { LibraryEntry } from '../../src/api/contract.js';
import type { StatusEvent } from '../../src/sessions/status.js';

const WIN: LibraryEntry = {
  id: 'win11',
  name: 'Windows 11 setup',
  kind: 'iso',
  path: '/srv/images/Win11_24H2_English_x64.iso',
  size: 5_819_484_160,
  os: 'Windows setup',
  version: 'ge_release amd64',
  present: true,
  addedAt: Date.now() - 5000,
  secureBoot: { verdict: 'needs-secure-boot-off', reason: 'Windows (wimboot or sanboot) is started by iPXE, which is not signed.' },
  wimboot: 'missing',
  wimbootNote:
    'Served as sanboot of the whole ISO instead of wimboot: Windows setup may stop with "a media driver is missing", and every machine reads the whole ISO over HTTP. Fix: store wimboot once with "pxekit wimboot FILE" (or give --wimboot FILE); download the file named "wimboot" from https://github.com/ipxe/wimboot/releases.',
};

// What the engine reports while it serves that ISO (its description names the file and the method).
const SERVING_WIN: StatusEvent = { ...scenario.status, image: 'Windows setup ge_release amd64 (ISO Win11_24H2_English_x64.iso: iPXE sanboot of the whole ISO over HTTP (no wimboot))' };

describe('wimboot missing (fake transport)', () => {
  const h = harnessSuite();

  test('the image card warns with the cost and the fix; the status bar says so while serving; a refused file shows why; a good one clears it', async () => {
    const page = await h.b.browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors = collectErrors(page);
    try {
      await openHarness(page, h.server.url, { ...scenario, library: [...scenario.library, WIN], status: SERVING_WIN });
      // The status bar, on every screen, while the Windows image is served.
      const bar = page.getByRole('contentinfo', { name: 'Serving status' });
      const barNote = bar.getByRole('status').filter({ hasText: 'no wimboot' });
      await barNote.waitFor();
      assert.match(await barNote.innerText(), /Windows 11 setup: no wimboot, sanboot of the whole ISO \(setup may stop with “a media driver is missing”\)\. Fix it under Images\./);

      await page.getByRole('button', { name: 'Images' }).click();
      const card = page.getByRole('form', { name: 'wimboot missing for Windows 11 setup' });
      await card.waitFor();
      const text = await card.innerText();
      assert.match(text, /No wimboot for Windows 11 setup\. Served as sanboot of the whole ISO instead of wimboot:/);
      assert.match(text, /"a media driver is missing"/);
      assert.match(text, /every machine reads the whole ISO over HTTP/);
      assert.doesNotMatch(text, /Fix:/, 'the fix is the form, not the CLI words');
      assert.equal(await card.getByRole('link', { name: 'github.com/ipxe/wimboot/releases' }).getAttribute('href'), 'https://github.com/ipxe/wimboot/releases');
      // Only the Windows image gets the warning.
      assert.equal(await page.getByRole('form', { name: /^wimboot missing for/ }).count(), 1);
      await screenshot(page, 'images-wimboot-missing');
      const v = await seriousViolations(page);
      assert.deepEqual(v, [], describeViolations(v));

      // A file that is not wimboot: the engine's reason, and the warning stays.
      const input = card.getByLabel(/wimboot file/);
      await input.fill('/home/tech/Downloads/notes.txt');
      await card.getByRole('button', { name: 'Use this wimboot' }).click();
      await card.getByRole('alert').filter({ hasText: 'notes.txt is not wimboot: not a boot program at all (a text file)' }).waitFor();
      assert.equal(await card.isVisible(), true);

      // wimboot itself: stored, the library event clears the card and the status bar note.
      await input.fill('/home/tech/Downloads/wimboot');
      await card.getByRole('button', { name: 'Use this wimboot' }).click();
      await card.waitFor({ state: 'detached' });
      await barNote.waitFor({ state: 'detached' });
      const sent = (await page.evaluate(() => (globalThis as unknown as HarnessWindow).__pxekitFake.requests)).filter((r) => r.cmd === 'wimboot.install');
      assert.deepEqual(
        sent.map((r) => r.params),
        [{ path: '/home/tech/Downloads/notes.txt' }, { path: '/home/tech/Downloads/wimboot' }],
      );
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });

  test('no status-bar note when another image is served', async () => {
    const page = await h.b.browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await openHarness(page, h.server.url, { ...scenario, library: [...scenario.library, WIN] });
      const bar = page.getByRole('contentinfo', { name: 'Serving status' });
      await bar.getByText('Serving', { exact: true }).waitFor();
      await page.getByRole('button', { name: 'Images' }).click();
      await page.getByRole('form', { name: 'wimboot missing for Windows 11 setup' }).waitFor();
      assert.equal(await bar.getByRole('status').filter({ hasText: 'no wimboot' }).count(), 0);
    } finally {
      await page.close();
    }
  });

  test('an image served by path, not in the library: the engine\'s own warning is in the status bar', async () => {
    const page = await h.b.browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      const warning = 'win.iso is Windows, served WITHOUT wimboot: machines get iPXE sanboot of the whole ISO instead. Fix: store wimboot once with "pxekit wimboot FILE".';
      await openHarness(page, h.server.url, { ...scenario, status: { ...SERVING_WIN, image: 'Windows setup (ISO win.iso: iPXE sanboot)', imageWarning: warning } });
      const bar = page.getByRole('contentinfo', { name: 'Serving status' });
      await bar.getByRole('status').filter({ hasText: 'served WITHOUT wimboot' }).waitFor();
      assert.equal(await bar.getByRole('status').filter({ hasText: 'Fix it under Images' }).count(), 0, 'not a library image: the engine\'s words');
    } finally {
      await page.close();
    }
  });
});
