// Picking images instead of typing them, the served image marked, NICs ranked with the best
// preselected and virtual ones folded, a new screen opening at its first field: at 1366x768
// and at 200 % zoom (the same CSS viewport halved, deviceScaleFactor 2), axe clean.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { collectErrors, screenshot } from './helpers/browser.js';
import { describeViolations, seriousViolations } from './helpers/axe.js';
import { harnessSuite, openHarness, scenario } from './helpers/harness.js';
import type { HarnessWindow } from './helpers/page-types.js';
import type { FileListing, LibraryEntry } from '../../src/api/contract.js';
import type { NetInterface } from '../../src/net/interfaces.js';

const HOME = '/home/tech';
const ROOTS = [
  { path: HOME, label: 'Home (tech)' },
  { path: '/home/tech/.local/share/pxekit/images', label: 'PXE Kit images folder' },
];
const REFUSED_TAIL = 'PXE Kit serves ISO images, Linux kernels (vmlinuz), iPXE scripts, EFI programs and PXE programs.';
const files: Record<string, FileListing> = {
  '': { dir: null, roots: ROOTS, entries: ROOTS.map((r) => ({ name: r.label, path: r.path, kind: 'dir', size: 0 })) },
  [HOME]: { dir: HOME, roots: ROOTS, entries: [{ name: 'Downloads', path: `${HOME}/Downloads`, kind: 'dir', size: 0 }] },
  [`${HOME}/Downloads`]: {
    dir: `${HOME}/Downloads`,
    parent: HOME,
    roots: ROOTS,
    entries: [
      { name: 'debian-12.8.0-amd64-netinst.iso', path: `${HOME}/Downloads/debian-12.8.0-amd64-netinst.iso`, kind: 'file', size: 661_651_456, image: { ok: true, kind: 'iso', what: 'an ISO image (ISO 9660)' } },
      {
        name: 'garbage.iso',
        path: `${HOME}/Downloads/garbage.iso`,
        kind: 'file',
        size: 6_291_456,
        image: { ok: false, what: 'random data', reason: `not an ISO 9660/UDF image: it looks like random data: it is not an image (or it is encrypted or damaged): download the image again. ${REFUSED_TAIL}` },
      },
      { name: 'notes.txt', path: `${HOME}/Downloads/notes.txt`, kind: 'file', size: 6, image: { ok: false, what: 'a text file', reason: `it looks like a text file, not a boot image: an iPXE script must start with "#!ipxe". ${REFUSED_TAIL}` } },
    ],
  },
};

const nic = (name: string, o: Partial<NetInterface>): NetInterface => ({ name, mac: '52:54:00:aa:bb:01', ipv4: null, linkUp: true, wireless: false, loopback: false, usable: false, note: '', ...o });
const ip = (address: string) => ({ address, prefix: 24, netmask: '255.255.255.0' });
/** As the engine sends them: ranked best first. */
const rankedNics: NetInterface[] = [
  nic('enp3s0', { hardware: 'wired', ipv4: ip('192.168.50.1'), usable: true, rank: 0 }),
  nic('eno1', { hardware: 'wired', linkUp: false, rank: 7, note: 'link down' }),
  nic('wlp2s0', { hardware: 'wifi', wireless: true, ipv4: ip('10.0.0.23'), usable: true, rank: 20, note: 'Wi-Fi' }),
  nic('br0', { hardware: 'virtual', virtualKind: 'bridge', ipv4: ip('10.10.0.1'), usable: true, rank: 40 }),
  nic('docker0', { hardware: 'virtual', virtualKind: 'Docker network', ipv4: ip('172.17.0.1'), usable: true, rank: 40 }),
  nic('vethab12', { hardware: 'virtual', virtualKind: 'bridge port of br0', rank: 43 }),
  nic('tap0', { hardware: 'virtual', virtualKind: 'virtual machine link (tap)', rank: 43 }),
  nic('lo', { hardware: 'loopback', loopback: true, ipv4: ip('127.0.0.1'), rank: 91 }),
];

const stopped = { type: 'status' as const, at: Date.now(), state: 'stopped' as const };

describe('picking images, the served image, ranked NICs (1366x768 and 200 % zoom)', () => {
  const h = harnessSuite();

  async function fresh(zoom: 1 | 2, library: LibraryEntry[] = []): Promise<{ page: Page; errors: string[] }> {
    // 200 % zoom: half the CSS pixels on the same screen.
    const page = await h.b.browser.newPage({ viewport: { width: 1366 / zoom, height: 768 / zoom }, deviceScaleFactor: zoom });
    const errors = collectErrors(page);
    await openHarness(page, h.server.url, { ...scenario, interfaces: rankedNics, status: stopped, sessions: [], library });
    await page.evaluate((f) => Object.assign((globalThis as unknown as HarnessWindow).__pxekitFake.state, { files: f }), files);
    return { page, errors };
  }

  async function noSideways(page: Page, where: string): Promise<void> {
    const { scroll, width } = await page.evaluate(() => {
      const g = globalThis as unknown as { document: { documentElement: { scrollWidth: number } }; innerWidth: number };
      return { scroll: g.document.documentElement.scrollWidth, width: g.innerWidth };
    });
    assert.ok(scroll <= width + 1, `${where}: the page scrolls sideways (${scroll} px wide in a ${width} px window)`);
  }

  async function axeClean(page: Page, where: string): Promise<void> {
    const v = await seriousViolations(page);
    assert.deepEqual(v, [], `${where}:\n${describeViolations(v)}`);
  }

  for (const zoom of [1, 2] as const) {
    test(`browse and pick an image; random data and a text file refused with what they look like; the served image marked (zoom ${zoom * 100} %)`, async () => {
      const { page, errors } = await fresh(zoom);
      try {
        await page.getByRole('button', { name: 'Images', exact: true }).click();
        await page.getByRole('button', { name: 'Browse this computer…' }).click();
        const browser = page.getByRole('region', { name: 'Files on this computer' });
        await browser.getByRole('button', { name: 'Home (tech)' }).first().click();
        await browser.getByRole('button', { name: 'Open folder Downloads' }).click();
        const table = browser.getByRole('table');
        await table.getByText('garbage.iso').waitFor();
        const garbage = table.getByRole('row', { name: /garbage\.iso/ });
        assert.match(await garbage.innerText(), /Not an image: random data[\s\S]*download the image again/);
        assert.equal(await garbage.getByRole('button').count(), 0, 'no Add for random data named .iso');
        const notes = table.getByRole('row', { name: /notes\.txt/ });
        assert.match(await notes.innerText(), /Not an image: a text file[\s\S]*must start with "#!ipxe"/);
        assert.equal(await notes.getByRole('button').count(), 0, 'no Add for a text file');
        assert.match(await table.getByRole('row', { name: /debian-12\.8\.0/ }).innerText(), /an ISO image \(ISO 9660\)/);
        await noSideways(page, 'file browser');
        await axeClean(page, `file browser at ${zoom * 100} %`);
        await screenshot(page, `images-browse-${zoom * 100}`);

        await browser.getByRole('button', { name: 'Add debian-12.8.0-amd64-netinst.iso' }).click();
        const lib = page.getByRole('table', { name: 'Image library' });
        const row = lib.getByRole('row', { name: /debian-12\.8\.0-amd64-netinst\.iso/ });
        await row.waitFor();
        assert.match(await row.innerText(), /ISO image/);
        const add = (await page.evaluate(() => (globalThis as unknown as HarnessWindow).__pxekitFake.requests)).find((r) => r.cmd === 'library.add');
        assert.deepEqual(add?.params, { path: `${HOME}/Downloads/debian-12.8.0-amd64-netinst.iso` });

        // A typed path to the text file is refused by the engine with what it is.
        await page.getByLabel('Image path').fill(`"${HOME}/Downloads/notes.txt"`);
        await page.getByRole('button', { name: 'Add image' }).click();
        await page.getByRole('alert').filter({ hasText: 'notes.txt cannot be served: it looks like a text file' }).waitFor();

        // Serve it: the library marks it, and the summary says image, mode, NIC and since when.
        await row.getByRole('button', { name: /^Serve / }).click();
        await page.getByRole('heading', { level: 2, name: 'Machines' }).waitFor();
        await page.getByRole('button', { name: 'Images', exact: true }).click();
        await row.getByRole('note', { name: 'Serving debian-12.8.0-amd64-netinst.iso' }).waitFor();
        assert.equal(await row.getAttribute('aria-current'), 'true');
        assert.equal(await lib.getByRole('note', { name: /^Serving / }).count(), 1, 'only the served image is marked');
        const summary = page.getByRole('status', { name: 'Now serving' });
        assert.match((await summary.innerText()).replace(/\s+/g, ' '), /Serving debian-12\.8\.0-amd64-netinst\.iso · DHCP server · on enp3s0 · since \d\d:\d\d( [AP]M)? \(\d+ s\)/);
        await noSideways(page, 'images, serving');
        await axeClean(page, `images while serving at ${zoom * 100} %`);
        await screenshot(page, `images-serving-${zoom * 100}`);
        assert.deepEqual(errors, []);
      } finally {
        await page.close();
      }
    });

    test(`NICs ranked, the best preselected, virtual ones folded; no red Stop on a stopped engine (zoom ${zoom * 100} %)`, async () => {
      const { page, errors } = await fresh(zoom);
      try {
        const list = page.getByRole('list', { name: 'Network interfaces' });
        await list.getByRole('radio').first().waitFor();
        const names = await list.locator('.nic-name').allInnerTexts();
        assert.deepEqual(names, ['enp3s0', 'eno1', 'wlp2s0'], 'physical first, in rank order; virtual ones folded');
        assert.equal(await page.getByRole('radio', { name: /enp3s0/ }).isChecked(), true, 'the best one is preselected');
        const more = page.getByRole('button', { name: /Show virtual interfaces \(4/ });
        assert.equal(await more.getAttribute('aria-expanded'), 'false');
        await more.click();
        assert.deepEqual(await list.locator('.nic-name').allInnerTexts(), ['enp3s0', 'eno1', 'wlp2s0', 'br0', 'docker0', 'vethab12', 'tap0']);
        assert.match(await list.locator('li.nic', { hasText: 'vethab12' }).innerText(), /bridge port of br0/);
        await noSideways(page, 'network');
        await axeClean(page, `network at ${zoom * 100} %`);
        await screenshot(page, `network-ranked-${zoom * 100}`);
        // Stopped: the Stop button is there but not red (nothing to stop).
        const stop = page.getByRole('button', { name: 'Stop serving' });
        assert.equal(await stop.isDisabled(), true);
        const bg = await stop.evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(el).backgroundColor);
        assert.notEqual(bg, 'rgb(179, 38, 30)', 'a disabled Stop serving is not red');
        assert.deepEqual(errors, []);
      } finally {
        await page.close();
      }
    });
  }

  test('a new screen opens at its top with focus on its first field', async () => {
    const { page } = await fresh(2);
    try {
      await page.getByRole('radio', { name: /enp3s0/ }).waitFor();
      const next = page.getByRole('button', { name: 'Next: choose an image' });
      await next.scrollIntoViewIfNeeded();
      assert.ok((await page.evaluate(() => (globalThis as unknown as { scrollY: number }).scrollY)) > 0, 'the Network screen is scrolled down at 200 %');
      await next.click();
      await page.getByRole('heading', { level: 2, name: 'Images', exact: true }).waitFor();
      assert.equal(await page.evaluate(() => (globalThis as unknown as { scrollY: number }).scrollY), 0);
      assert.equal(await page.getByLabel('Image path').evaluate((el) => el === (globalThis as unknown as { document: { activeElement: unknown } }).document.activeElement), true, 'focus on the first field');
    } finally {
      await page.close();
    }
  });
});
