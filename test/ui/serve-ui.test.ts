// The whole desktop flow in a browser against the real engine: `pxekit serve --ui`
// in a lab namespace, Chromium started inside that namespace (the UI listens on
// the namespace's 127.0.0.1; see helpers/browser.ts), a QEMU BIOS machine on the
// lab's switch. The test picks the NIC, adds the Debian kernel + marker initramfs
// with its command line, clicks Serve, and watches the machine go from DHCP to
// handed-off with its progress at 100%; then a second machine (busybox udhcpc +
// tftp-hpa in a namespace on the same switch) asks for a file that does not exist
// and its row shows the diagnosis. Screenshots and axe-core on every screen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { VirtualLab } from '../../src/lab/virtual-lab.js';
import { QemuClient } from '../../src/lab/qemu.js';
import { browserSkipReason, collectErrors, launchBrowser, screenshot } from './helpers/browser.js';
import { describeViolations, seriousViolations } from './helpers/axe.js';
import { UiEngine } from './helpers/ui-engine.js';
import { e2eSkipReason, fixturesOnce, MARKER_TIMEOUT, TEST_TIMEOUT } from '../helpers/qemu-boot.js';

const RENDERER_INDEX = fileURLToPath(new URL('../../../renderer/dist/index.html', import.meta.url));
const skip = e2eSkipReason() ?? browserSkipReason() ?? (existsSync(RENDERER_INDEX) ? undefined : `${RENDERER_INDEX} missing: npm run build`);

async function checkA11y(page: Page, screen: string): Promise<void> {
  const v = await seriousViolations(page);
  assert.deepEqual(v, [], `${screen}:\n${describeViolations(v)}`);
}

/** Records every state/progress the machine's row shows, from the DOM, as it changes. */
async function watchRow(page: Page, mac: string): Promise<void> {
  await page.evaluate((mac) => {
    type El = { getAttribute(n: string): string | null; querySelector(s: string): El | null };
    const g = globalThis as unknown as {
      document: { querySelector(s: string): El | null; body: unknown };
      MutationObserver: new (cb: () => void) => { observe(n: unknown, o: object): void };
      __seen: Array<{ state: string; progress: string }>;
    };
    g.__seen = [];
    const record = () => {
      const row = g.document.querySelector(`tr.client[data-mac="${mac}"]`);
      if (!row) return;
      const state = row.querySelector('[data-state]')?.getAttribute('data-state') ?? '';
      const progress = row.querySelector('[role="progressbar"]')?.getAttribute('aria-valuenow') ?? '';
      const last = g.__seen[g.__seen.length - 1];
      if (!last || last.state !== state || last.progress !== progress) g.__seen.push({ state, progress });
    };
    new g.MutationObserver(record).observe(g.document.body, { subtree: true, childList: true, attributes: true, characterData: true });
    record();
  }, mac);
}

const seen = (page: Page) => page.evaluate(() => (globalThis as unknown as { __seen: Array<{ state: string; progress: string }> }).__seen);

test('desktop flow in a browser: pick NIC, add image, Serve, a QEMU machine boots to hand-off; a missing file shows its diagnosis', { skip, timeout: TEST_TIMEOUT }, async (t) => {
  const fx = fixturesOnce();
  const lab = VirtualLab.create();
  const held: { engine?: UiEngine; qemu?: QemuClient; browser?: Awaited<ReturnType<typeof launchBrowser>> } = {};
  t.after(async () => {
    await held.browser?.close();
    await held.qemu?.kill();
    await held.engine?.stop();
    await lab.destroy();
  });

  const engine = (held.engine = UiEngine.start(lab, lab.file('data')));
  const url = await engine.url();
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/#token=[0-9a-f]{64}$/);
  const browser = (held.browser = await launchBrowser(lab.ns));
  const page = await browser.browser.newPage({ viewport: { width: 1280, height: 860 } });
  const errors = collectErrors(page);
  await page.goto(url);

  // 1. Network: the lab's bridge with its address; choose DHCP mode and a range.
  await page.getByTestId('engine-state').filter({ hasText: 'Stopped' }).waitFor({ timeout: 20_000 });
  const nic = page.getByRole('radio', { name: new RegExp(`^${lab.bridge}\\b`) });
  await nic.waitFor();
  const card = await page.locator('li.nic', { has: nic }).innerText();
  assert.match(card, new RegExp(`IPv4 ${lab.serverIp.replace(/\./g, '\\.')}/24`));
  assert.match(card, /link up/);
  await nic.check();
  await page.getByRole('radio', { name: /^DHCP server/ }).check();
  await page.getByLabel(/Address range/).fill(`${lab.subnet}.20-${lab.subnet}.40`);
  await screenshot(page, 'real-network');
  await checkA11y(page, 'network');
  await page.getByRole('button', { name: 'Next: choose an image' }).click();

  // 2. Images: add the kernel with its initrd and command line; Serve it.
  const token = randomBytes(4).toString('hex');
  await page.getByLabel('Image path').fill(fx.kernel);
  await page.getByLabel(/Initrd paths/).fill(fx.initrd);
  await page.getByLabel(/Kernel command line/).fill(`console=ttyS0 pxekit.token=${token}`);
  await page.getByRole('button', { name: 'Add image' }).click();
  const table = page.getByRole('table', { name: 'Image library' });
  const row = table.locator('tbody tr', { hasText: fx.kernel });
  await row.waitFor({ timeout: 30_000 });
  assert.match(await row.innerText(), /Linux kernel/);
  // The real engine read the kernel's signature: Debian's shim trusts Debian's kernel.
  assert.match(await row.innerText(), /Secure Boot: boots/);
  await screenshot(page, 'real-images');
  await checkA11y(page, 'images');
  await row.getByRole('button', { name: /^Serve / }).click();

  // 3. Serving: the status bar says where and how.
  const bar = page.getByRole('contentinfo', { name: 'Serving status' });
  await bar.getByText('Serving', { exact: true }).waitFor({ timeout: 60_000 });
  const barText = await bar.innerText();
  assert.match(barText, new RegExp(`${lab.bridge} \\(${lab.serverIp.replace(/\./g, '\\.')}\\)`));
  assert.match(barText, /DHCP server/);
  assert.match(barText, /DHCP 67 · PXE 4011 · TFTP 69 · HTTP \d+/);
  await page.getByRole('heading', { level: 2, name: 'Machines' }).waitFor();

  // 4. A machine boots.
  const qemu = (held.qemu = QemuClient.start({ lab, firmware: 'bios' }));
  await watchRow(page, qemu.mac);
  const clientRow = page.locator(`tr.client[data-mac="${qemu.mac}"]`);
  await clientRow.waitFor({ timeout: 120_000 });
  const marker = await qemu.waitForLine(fx.marker, MARKER_TIMEOUT.bios).catch((err: Error) => {
    throw new Error(`${err.message}\n${engine.tail()}`);
  });
  assert.match(marker, new RegExp(`pxekit\\.token=${token}\\b`), 'the kernel got the command line typed in the UI');
  await clientRow.locator('[data-state="handed-off"]').waitFor({ timeout: 30_000 });
  assert.equal(await clientRow.getByRole('progressbar').getAttribute('aria-valuenow'), '100');
  const states = (await seen(page)).map((s) => s.state);
  t.diagnostic(`states seen in the row: ${states.join(' -> ')}`);
  assert.ok(states.length >= 2 && states[0] !== 'handed-off', `the row was live before the hand-off: ${states.join(' -> ')}`);
  assert.equal(states.at(-1), 'handed-off');
  assert.ok(!states.includes('failed'), `no failure on the way: ${states.join(' -> ')}`);
  const progress = (await seen(page)).map((s) => Number(s.progress));
  assert.ok(progress.some((p) => p > 0 && p < 100), `progress moved before 100%: ${progress.join(', ')}`);
  assert.match(await clientRow.innerText(), new RegExp(`${lab.subnet.replace(/\./g, '\\.')}\\.(2\\d|3\\d|40)[\\s\\S]*Handed off[\\s\\S]*5/5 Handed off`));
  // The timeline tells the story from the first DHCP request to the hand-off; vendor and firmware are beside it.
  await clientRow.getByRole('button', { name: qemu.mac }).click();
  assert.match(await page.locator(`#client-${qemu.mac.replace(/:/g, '')}-tl`).innerText(), /QEMU\/KVM[\s\S]*BIOS[\s\S]*100%/);
  const tl = await page.getByRole('heading', { name: `Timeline of ${qemu.mac}` }).locator('..').innerText();
  // QEMU's NIC ROM is iPXE: its first DHCP request already says so, and the tracker starts it at "iPXE started".
  const entries = tl.split('\n').slice(1);
  assert.match(entries[0], /Asking for an address|asked for its configuration/, `the timeline starts at the DHCP request:\n${tl}`);
  assert.match(tl, /vmlinuz[\s\S]*initrd[\s\S]*Handed off/);
  await screenshot(page, 'real-clients-handed-off');
  await checkA11y(page, 'clients');
  assert.match(await page.getByTestId('served-count').innerText(), /^1 of 1$/);

  // 5. A machine asks for a file that does not exist: its row says so, with what to do.
  const host = lab.addHost();
  const lease = lab.exec('busybox', ['udhcpc', '-i', host.ifname, '-f', '-q', '-n', '-t', '5', '-T', '1', '-V', 'PXEClient:Arch:00000:UNDI:002001', '-x', '0x5d:0000', '-s', '/bin/true'], { ns: host.ns, allowFail: true });
  const hostMac = lab.exec('cat', [`/sys/class/net/${host.ifname}/address`], { ns: host.ns }).trim();
  // udhcpc with /bin/true as its script does not configure the address: do it from its lease in the engine's view.
  const hostRow = page.locator(`tr.client[data-mac="${hostMac}"]`);
  await hostRow.waitFor({ timeout: 30_000 }).catch(() => {
    throw new Error(`the second machine never showed up (udhcpc: ${lease})\n${engine.tail()}`);
  });
  const ip = (await hostRow.locator('td.ip').innerText()).trim();
  assert.match(ip, new RegExp(`^${lab.subnet.replace(/\./g, '\\.')}\\.\\d+$`), `the second machine got an address: ${ip}`);
  lab.exec('ip', ['addr', 'add', `${ip}/24`, 'dev', host.ifname], { ns: host.ns });
  lab.exec('tftp', [lab.serverIp, '-c', 'get', 'missing/grubx64.efi', '/dev/null'], { ns: host.ns, allowFail: true });
  await hostRow.locator('[data-state="failed"]').waitFor({ timeout: 30_000 });
  // The diagnosis is an update of its own, right after the one that marks the failure (two
  // messages on the event stream): the row may be drawn between them. Wait for it, then check all.
  // The line shows the PXE error and the title; the whole diagnosis is one click away.
  await hostRow.locator('td.failure', { hasText: 'PXE-E3B' }).waitFor({ timeout: 15_000 });
  await hostRow.getByRole('button', { name: hostMac }).click();
  const details = page.locator(`#client-${hostMac.replace(/:/g, '')}-tl`);
  await details.locator('.failure', { hasText: 'came from another DHCP server' }).waitFor({ timeout: 15_000 }).catch(() => undefined);
  const failure = await details.locator('.failure').innerText();
  assert.match(failure, /missing\/grubx64\.efi/);
  assert.match(failure, /which PXE Kit does not serve/);
  assert.match(failure, /Screen shows: PXE-E3B/);
  // The engine's diagnosis from what it saw on the wire: a BIOS machine asking for an EFI
  // program's name means the name came from elsewhere; the fix says to let PXE Kit choose it.
  assert.match(failure, /boot file name came from another DHCP server/);
  assert.match(failure, /let PXE Kit answer as proxyDHCP/);
  await screenshot(page, 'real-clients-failure');
  await checkA11y(page, 'clients with a failure');

  // 6. The log has both machines; filtering by MAC narrows it.
  await page.getByRole('button', { name: 'Log' }).click();
  const scroller = page.getByRole('region', { name: 'Log lines' });
  await scroller.locator('.log-row', { hasText: 'missing/grubx64.efi' }).first().waitFor();
  await page.getByLabel('Client').selectOption(qemu.mac);
  await scroller.locator('.log-row', { hasText: 'Handed off' }).first().waitFor();
  assert.equal(await scroller.locator('.log-row', { hasText: 'missing/grubx64.efi' }).count(), 0);
  // From DHCP to the hand-off, in the machine's own log lines (few enough to all be rendered).
  const lines = await scroller.locator('.log-row .log-text').allInnerTexts();
  const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
  assert.ok(at(/^<- DISCOVER/) >= 0 && at(/^-> ACK/) > at(/^<- DISCOVER/), `DHCP exchange in the log:\n${lines.join('\n')}`);
  assert.ok(at(/Handed off/) > at(/^-> ACK/), `hand-off after DHCP:\n${lines.join('\n')}`);
  await screenshot(page, 'real-log');
  await checkA11y(page, 'log');

  // 7. Stop: the engine stops serving (ports released), the UI says so.
  await bar.getByRole('button', { name: 'Stop serving' }).click();
  await bar.getByText('Stopped', { exact: true }).waitFor({ timeout: 30_000 });
  assert.deepEqual(errors, [], 'no errors in the page');
});
