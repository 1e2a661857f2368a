// Every screen of the real renderer over the in-memory fake transport: what a
// technician must see (warnings, diagnosis, progress, timeline), keyboard use,
// commands sent with the contract's parameters, screenshots (light and dark)
// and axe-core with no serious or critical violations.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { browserSkipReason, collectErrors, screenshot } from './helpers/browser.js';
import { describeViolations, seriousViolations } from './helpers/axe.js';
import { harnessSkipReason, harnessSuite, openHarness, scenario } from './helpers/harness.js';
import type { HarnessWindow } from './helpers/page-types.js';

const skip = browserSkipReason() ?? harnessSkipReason();

async function requests(page: Page): Promise<Array<{ cmd: string; params: Record<string, unknown> }>> {
  return page.evaluate(() => (globalThis as unknown as HarnessWindow).__pxekitFake.requests as Array<{ cmd: string; params: Record<string, unknown> }>);
}

describe('renderer screens (fake transport)', { skip }, () => {
  const h = harnessSuite();

  async function fresh(colorScheme: 'light' | 'dark' = 'light'): Promise<{ page: Page; errors: string[] }> {
    const page = await h.b.browser.newPage({ viewport: { width: 1280, height: 860 }, colorScheme });
    const errors = collectErrors(page);
    await openHarness(page, h.server.url);
    return { page, errors };
  }

  for (const scheme of ['light', 'dark'] as const) {
    test(`each screen in ${scheme}: screenshot, no serious axe violations`, async () => {
      const { page, errors } = await fresh(scheme);
      try {
        for (const [screen, heading] of [
          ['network', 'Network interface'],
          ['images', 'Images'],
          ['clients', 'Machines'],
          ['log', 'Log'],
        ] as const) {
          await page.evaluate((s) => (globalThis as unknown as HarnessWindow).__pxekitHarness.show(s), screen);
          await page.getByRole('heading', { level: 2, name: heading, exact: true }).waitFor();
          await screenshot(page, `${screen}-${scheme}`);
          const v = await seriousViolations(page);
          assert.deepEqual(v, [], `${screen} (${scheme}):\n${describeViolations(v)}`);
        }
        // The OS preference decides the palette unless the toggle overrides it.
        const bg = await page.evaluate(() => {
          const g = globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string }; document: { body: unknown } };
          return g.getComputedStyle(g.document.body).backgroundColor;
        });
        assert.equal(bg, scheme === 'dark' ? 'rgb(17, 19, 22)' : 'rgb(246, 247, 249)');
        assert.deepEqual(errors, []);
      } finally {
        await page.close();
      }
    });
  }

  test('the theme toggle overrides the OS preference', async () => {
    const { page } = await fresh('light');
    try {
      await page.getByLabel('Theme').selectOption('dark');
      assert.equal(await page.locator('html').getAttribute('data-theme'), 'dark');
      const bg = await page.evaluate(() => {
        const g = globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string }; document: { body: unknown } };
        return g.getComputedStyle(g.document.body).backgroundColor;
      });
      assert.equal(bg, 'rgb(17, 19, 22)');
    } finally {
      await page.close();
    }
  });

  test('NIC picker: details and every warning, other DHCP server, keyboard selection', async () => {
    const { page } = await fresh();
    try {
      const list = page.getByRole('list', { name: 'Network interfaces' });
      await list.waitFor();
      const text = await list.innerText();
      assert.match(text, /eth1[\s\S]*3c:ec:ef:10:20:30[\s\S]*192\.168\.50\.1\/24/);
      assert.match(text, /Link down: plug the cable/);
      assert.match(text, /no IPv4 address: give usb0 a static address/);
      assert.match(text, /Wi-Fi: firmware cannot network-boot over Wi-Fi/);
      assert.doesNotMatch(text, /\blo\b/, 'loopback is not offered');
      const alert = await page.getByRole('alert').filter({ hasText: 'Another DHCP server' }).innerText();
      assert.match(alert, /192\.168\.50\.254 \(offered 192\.168\.50\.117\)/);
      // Keyboard only: Tab to the radio group, Space selects.
      await page.getByRole('radio', { name: /eth1/ }).focus();
      await page.keyboard.press('Space');
      assert.equal(await page.getByRole('radio', { name: /eth1/ }).isChecked(), true);
      await page.getByRole('radio', { name: /^DHCP server/ }).check();
      await page.getByLabel(/Address range/).fill('192.168.50.20-192.168.50.40');
      // Secure Boot: auto by default; the technician picks the signed chain for every UEFI machine.
      assert.equal(await page.getByRole('radio', { name: /^Auto: the signed chain/ }).isChecked(), true);
      await page.getByRole('radio', { name: /^Signed chain always/ }).check();
      await page.getByRole('button', { name: 'Next: choose an image' }).press('Enter');
      await page.getByRole('heading', { level: 2, name: 'Images', exact: true }).waitFor();
      // Serve the Debian ISO: one click, with the NIC, mode and range chosen above.
      await page.getByRole('button', { name: /^Serv(e|ing) Debian 12 netinst$/ }).click();
      await page.getByRole('heading', { level: 2, name: 'Machines' }).waitFor();
      const serve = (await requests(page)).find((r) => r.cmd === 'serve.start');
      assert.deepEqual(serve?.params, { iface: 'eth1', mode: 'dhcp', secureBoot: 'signed', imageId: 'deb12', range: '192.168.50.20-192.168.50.40' });
    } finally {
      await page.close();
    }
  });

  test('Alt+digit switches screens', async () => {
    const { page } = await fresh();
    try {
      await page.keyboard.press('Alt+4');
      await page.getByRole('heading', { level: 2, name: 'Log' }).waitFor();
      await page.keyboard.press('Alt+2');
      await page.getByRole('heading', { level: 2, name: 'Images', exact: true }).waitFor();
    } finally {
      await page.close();
    }
  });

  test('image library: detected OS, size, checksum progress, missing file, add by path, assignments, menu', async () => {
    const { page } = await fresh();
    try {
      await page.getByRole('button', { name: 'Images' }).click();
      const table = page.getByRole('table', { name: 'Image library' });
      await table.getByText('Debian 12.7').waitFor();
      assert.match(await table.innerText(), /631 MB/);
      assert.equal(await table.getByRole('progressbar', { name: 'Checksum of Ubuntu 24.04 live server' }).getAttribute('aria-valuenow'), '42');
      assert.match(await table.getByRole('row', { name: /rescue kernel/ }).innerText(), /File missing/);
      // Each image says whether it boots with Secure Boot on, and why on hover.
      const deb = table.getByRole('row', { name: /Debian 12 netinst/ });
      assert.match(await deb.innerText(), /Secure Boot: boots/);
      assert.match((await deb.getByRole('note').filter({ hasText: 'Secure Boot' }).getAttribute('title')) ?? '', /Debian Secure Boot Signer/);
      assert.match(await table.getByRole('row', { name: /Ubuntu 24\.04 live server/ }).innerText(), /Secure Boot: needs a key enrolled \(MOK\)/);
      assert.equal(await page.getByRole('button', { name: 'Serve rescue kernel' }).isDisabled(), true);

      await page.getByLabel('Image path').fill('/srv/tftp/vmlinuz');
      await page.getByLabel(/Initrd paths/).fill('/srv/tftp/initrd.img');
      await page.getByLabel(/Kernel command line/).fill('console=ttyS0 quiet');
      await page.getByRole('button', { name: 'Add image' }).click();
      await table.getByRole('row', { name: /\/srv\/tftp\/vmlinuz/ }).waitFor();
      const add = (await requests(page)).find((r) => r.cmd === 'library.add');
      assert.deepEqual(add?.params, { path: '/srv/tftp/vmlinuz', initrds: ['/srv/tftp/initrd.img'], cmdline: 'console=ttyS0 quiet' });

      const assigned = page.getByRole('table', { name: 'Assignments' });
      assert.match(await assigned.innerText(), /52:54:00:00:00:01\s+Debian 12 netinst\s+yes/);
      await page.getByLabel('MAC address').fill('52-54-00-00-00-09');
      await page.getByLabel('Image', { exact: true }).selectOption('ubu');
      await page.getByRole('button', { name: 'Assign', exact: true }).click();
      await assigned.getByText('52:54:00:00:00:09').waitFor();
      await page.getByRole('button', { name: 'Clear assignment for 52:54:00:00:00:01' }).click();
      await assigned.getByText('52:54:00:00:00:01').waitFor({ state: 'detached' });

      await page.getByLabel('Timeout (seconds)').fill('30');
      await page.getByRole('button', { name: 'Save menu' }).click();
      await page.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
      const menu = (await requests(page)).find((r) => r.cmd === 'menu.set');
      assert.deepEqual(menu?.params, { enabled: true, timeoutSeconds: 30, defaultEntryId: 'deb12', includeLocalBoot: true });
    } finally {
      await page.close();
    }
  });

  test('machines: one row each, progress with rate and ETA, failure with diagnosis, timeline on click', async () => {
    const { page } = await fresh();
    try {
      await page.getByRole('button', { name: /Machines/ }).click();
      const rows = page.locator('tr.client');
      await rows.first().waitFor();
      assert.equal(await rows.count(), scenario.sessions.length);
      const loading = page.locator(`tr.client[data-mac="${scenario.LOADING_MAC}"]`);
      const bar = loading.getByRole('progressbar');
      assert.equal(await bar.getAttribute('aria-valuenow'), '62');
      // 19 MB left at 9.1 MB/s: about 2 s.
      assert.match(await bar.getAttribute('aria-valuetext') ?? '', /62% · initrd: 29\.6 MB of 47\.7 MB · 9\.1 MB\/s · ETA 2 s/);
      // One line per machine: IP, state words, the step and the bytes; vendor, firmware and architecture one click away.
      assert.match(await loading.innerText(), /192\.168\.50\.102[\s\S]*Booting[\s\S]*4\/5 Downloading OS · initrd 29\.6 MB of 47\.7 MB/);

      const failed = page.locator(`tr.client[data-mac="${scenario.FAILED_MAC}"]`);
      const ft = await failed.innerText();
      assert.match(ft, /Failed[\s\S]*PXE-E23/);
      assert.match(ft, /grubx64\.efi", which is not published/);

      const toggle = failed.getByRole('button', { name: scenario.FAILED_MAC });
      assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
      await toggle.click();
      assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
      const details = await page.locator(`#client-${scenario.FAILED_MAC.replace(/:/g, '')}-tl`).innerText();
      assert.match(details, /grubx64\.efi", which is not published/);
      assert.match(details, /Screen shows: PXE-E23/);
      assert.match(details, /If the image file was moved or deleted, add it again under Images/);
      assert.match(details, /QEMU\/KVM · PXE \(UNDI 3\.16\)[\s\S]*UEFI x64/);
      const tl = await page.getByRole('heading', { name: `Timeline of ${scenario.FAILED_MAC}` }).locator('..').innerText();
      assert.match(tl, /Asking for an address DISCOVER \(UEFI x64\)[\s\S]*Failed grubx64\.efi not found/);
      await screenshot(page, 'clients-timeline');

      // A live update replaces the row's fields and appends its new timeline entry to the two it had.
      await page.evaluate((mac) => {
        const fake = (globalThis as unknown as HarnessWindow).__pxekitFake;
        const at = Date.now() + 1000;
        fake.emit({
          type: 'session',
          reason: 'state',
          at,
          session: { mac, ip: '192.168.50.102', arch: 'efi-x64', isIpxe: true, firstSeen: at - 30_000, lastSeen: at, state: 'handed-off', progress: 100, transfers: [], timeline: [{ at, state: 'handed-off', text: 'done' }], timelineFrom: 2, boots: 1 },
        });
      }, scenario.LOADING_MAC);
      await loading.locator('[data-state="handed-off"]').waitFor();
      assert.equal(await bar.getAttribute('aria-valuenow'), '100');
      assert.equal(await page.getByTestId('served-count').innerText(), '2 of 3');
      await loading.getByRole('button', { name: scenario.LOADING_MAC }).click();
      const loadingTl = await page.getByRole('heading', { name: `Timeline of ${scenario.LOADING_MAC}` }).locator('..').innerText();
      assert.match(loadingTl, /DISCOVER \(UEFI x64\)[\s\S]*initrd over HTTP[\s\S]*Handed off done/);

      // The engine let a machine go (its limit on machines tracked, decisions §16): the row goes too.
      await page.evaluate((mac) => {
        const fake = (globalThis as unknown as HarnessWindow).__pxekitFake;
        fake.emit({ type: 'session-forgotten', at: Date.now() + 2000, mac, forgotten: 1 });
      }, scenario.FAILED_MAC);
      await failed.waitFor({ state: 'detached' });
      assert.equal(await page.getByTestId('served-count').innerText(), '2 of 2');
    } finally {
      await page.close();
    }
  });

  test('status bar: interface, mode, ports, served count; Stop sends serve.stop; lost connection shown', async () => {
    const { page } = await fresh();
    try {
      const bar = page.getByRole('contentinfo', { name: 'Serving status' });
      await bar.getByText('Serving', { exact: true }).waitFor();
      const t = await bar.innerText();
      assert.match(t, /eth1 \(192\.168\.50\.1\)/);
      assert.match(t, /Proxy DHCP/);
      assert.match(t, /DHCP 67 · PXE 4011 · TFTP 69 · HTTP 8080/);
      assert.match(t, /1 of 3/);
      await bar.getByRole('button', { name: 'Stop serving' }).click();
      await bar.getByText('Stopped', { exact: true }).waitFor();
      assert.ok((await requests(page)).some((r) => r.cmd === 'serve.stop'));
      assert.equal(await bar.getByRole('button', { name: 'Stop serving' }).isDisabled(), true);
      await page.evaluate(() => (globalThis as unknown as HarnessWindow).__pxekitFake.drop());
      await bar.getByText(/engine not reachable/).waitFor();
    } finally {
      await page.close();
    }
  });

  test('after a reconnect, the replayed events do not double the log; newer ones are added', async () => {
    const { page } = await fresh();
    try {
      await page.getByRole('button', { name: 'Log' }).click();
      await page.evaluate(() => {
        const fake = (globalThis as unknown as HarnessWindow).__pxekitFake;
        const ev = { type: 'log', at: Date.now(), level: 'warn', source: 'tftp', message: 'replayed once' };
        fake.emit(ev);
        fake.drop();
        fake.open(); // a fresh hello, then the server replays its recent events
        fake.emit(ev);
        fake.emit({ ...ev, at: ev.at + 1, message: 'new after reconnect' });
      });
      await page.locator('.log-row', { hasText: 'new after reconnect' }).waitFor();
      assert.equal(await page.locator('.log-row', { hasText: 'replayed once' }).count(), 1);
    } finally {
      await page.close();
    }
  });

  test('a failing command shows the engine message', async () => {
    const { page } = await fresh();
    try {
      await page.evaluate(() => {
        const fake = (globalThis as unknown as HarnessWindow).__pxekitFake as unknown as { handle(cmd: string, fn: () => never): void };
        fake.handle('library.add', () => {
          throw Object.assign(new Error('No such file: /nope.iso'), { code: 'library-error' });
        });
      });
      await page.getByRole('button', { name: 'Images' }).click();
      await page.getByLabel('Image path').fill('/nope.iso');
      await page.getByRole('button', { name: 'Add image' }).click();
      await page.getByRole('alert').filter({ hasText: 'No such file: /nope.iso' }).waitFor();
    } finally {
      await page.close();
    }
  });
});
