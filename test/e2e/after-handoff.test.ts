// End-to-end: what happens after the hand-off, with real firmware.
// - A BIOS and a UEFI machine booting a live ISO whose initramfs runs its own DHCP client
//   (udhcpc with its own vendor class, src/lab/os-fixture.ts) reach "OS network up".
// - memtest86+'s BIOS image offered to a UEFI machine ends as a named refusal, never "handed off".
// - iPXE's own ipxe.iso served as an ISO starts iPXE again, which boots from the network again:
//   the machine is reported looping, with its count, and every boot is counted.
// - An ISO cut short is refused at serve, with both sizes.
// Before, each of these was "handed off" (or said nothing) while the machine's screen showed a failure.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { e2eSkipReason, MARKER_TIMEOUT, TEST_TIMEOUT } from '../helpers/qemu-boot.js';
import { buildLiveIso, forMac } from '../helpers/live-iso.js';
import { ensureOsFixtures, type OsFixtures } from '../../src/lab/os-fixture.js';
import { VirtualLab } from '../../src/lab/virtual-lab.js';
import { QemuClient, randomMac, type Firmware } from '../../src/lab/qemu.js';
import { LabEngine, type AnyEvent } from '../../src/lab/engine-cli.js';
import { MEMTEST_BIN } from '../helpers/netboot-trees.js';

const skip = e2eSkipReason();
type Session = { state: string; boots: number; loops?: number; os?: { state: string; afterMs: number; how: string }; failure?: { code: string; message: string }; timeline: { text: string }[] };
const sessionOf = (e: AnyEvent) => e.session as Session;
const IPXE_ISO = '/usr/lib/ipxe/ipxe.iso';

let fixtures: OsFixtures | undefined;
const osFixtures = (): OsFixtures => (fixtures ??= ensureOsFixtures({ log: (l) => console.error(l) }));

function serve(t: TestContext, lab: VirtualLab, image: string, extra: string[] = []): LabEngine {
  const engine = LabEngine.start(lab, { mode: 'dhcp', kernel: image, dataDir: lab.file('data'), args: ['--range', `${lab.subnet}.20-${lab.subnet}.40`, ...extra] });
  t.after(() => engine.stop());
  return engine;
}

const states = (engine: LabEngine, mac: string) => engine.events.filter((e) => e.type === 'session' && forMac(mac)(e)).map((e) => sessionOf(e).state);

for (const firmware of ['bios', 'uefi'] as Firmware[]) {
  test(`${firmware.toUpperCase()}: a live ISO whose system runs its own DHCP client reaches "OS network up"`, { skip, timeout: TEST_TIMEOUT }, async (t) => {
    const fx = osFixtures();
    const lab = VirtualLab.create();
    t.after(() => lab.destroy());
    const iso = buildLiveIso(lab.file('live-src'), lab.file('live.iso'), fx);
    const engine = serve(t, lab, iso, ['--cmdline', `console=ttyS0 pxekit.token=${randomBytes(4).toString('hex')}`]);
    await engine.serving(90_000);
    const qemu = QemuClient.start({ lab, firmware });
    t.after(() => qemu.kill());
    const mac = qemu.mac;
    let up: AnyEvent;
    try {
      up = await engine.waitFor((e) => e.type === 'session' && forMac(mac)(e) && sessionOf(e).state === 'os-up', 'OS network up', MARKER_TIMEOUT[firmware]);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${qemu.tail(30)}`);
    }
    const s = sessionOf(up);
    assert.match(String(s.os?.how), new RegExp(`its DHCP client "${fx.vendorClass}"`));
    assert.ok((s.os?.afterMs ?? -1) >= 0);
    assert.equal(s.boots, 1, 'the OS asking for its address is no new boot attempt');
    const seen = states(engine, mac);
    assert.ok(seen.indexOf('handed-off') >= 0 && seen.indexOf('handed-off') < seen.indexOf('os-up'), `handed off, then OS network up: ${JSON.stringify([...new Set(seen)])}`);
    assert.ok(!seen.includes('failed'), `never failed: ${JSON.stringify([...new Set(seen)])}`);
    await qemu.waitForLine(fx.marker, 60_000);
    assert.equal(await engine.stop(), 0);
  });
}

test("UEFI: memtest86+'s BIOS image is refused to a UEFI machine with why, never handed off", { skip: skip ?? (existsSync(MEMTEST_BIN) ? undefined : `${MEMTEST_BIN} missing (memtest86+ package)`), timeout: TEST_TIMEOUT }, async (t) => {
  const lab = VirtualLab.create();
  t.after(() => lab.destroy());
  const engine = serve(t, lab, MEMTEST_BIN);
  const status = await engine.serving(90_000);
  assert.match(String(status.image), /memtest86\+/);
  const mac = randomMac();
  const qemu = QemuClient.start({ lab, firmware: 'uefi', mac });
  t.after(() => qemu.kill());
  const failed = await engine.waitFor((e) => e.type === 'session' && forMac(mac)(e) && sessionOf(e).state === 'failed', 'refused', MARKER_TIMEOUT.uefi);
  const f = sessionOf(failed).failure!;
  assert.equal(f.code, 'no-boot-file');
  assert.match(f.message, /memtest86\+ \(a memory test\) runs on BIOS machines only, and this is a 64-bit x86 UEFI machine/);
  assert.ok(!states(engine, mac).includes('handed-off'));
  const sent = engine.events.filter((e) => e.type === 'transfer' && forMac(mac)(e) && e.phase === 'done');
  assert.deepEqual(sent.map((e) => e.file), [], 'nothing was sent to it');
  assert.equal(await engine.stop(), 0);
});

test('BIOS: an ISO that boots from the network again (iPXE\'s ipxe.iso) is reported looping, with its count; every boot is counted', { skip: skip ?? (existsSync(IPXE_ISO) ? undefined : `${IPXE_ISO} missing (ipxe package)`), timeout: TEST_TIMEOUT }, async (t) => {
  const lab = VirtualLab.create();
  t.after(() => lab.destroy());
  const engine = serve(t, lab, IPXE_ISO);
  await engine.serving(90_000);
  const mac = randomMac();
  const qemu = QemuClient.start({ lab, firmware: 'bios', mac });
  t.after(() => qemu.kill());
  let looping: AnyEvent;
  try {
    looping = await engine.waitFor((e) => e.type === 'session' && forMac(mac)(e) && (sessionOf(e).loops ?? 0) >= 2 && sessionOf(e).state === 'failed', 'looping twice', MARKER_TIMEOUT.bios);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${qemu.tail(30)}`);
  }
  const s = sessionOf(looping);
  assert.equal(s.failure?.code, 'boot-loop');
  assert.match(s.failure!.message, /\(as iPXE\), with no sign of its operating system: what it was given did not start \(looping: 2 times\)\. The ISO it was given starts iPXE itself/);
  assert.ok(s.boots >= 3, `every boot counted: ${s.boots}`);
  assert.equal(await engine.stop(), 0);
});

test('an ISO cut short is refused at serve with both sizes', { skip, timeout: TEST_TIMEOUT }, async (t) => {
  const fx = osFixtures();
  const lab = VirtualLab.create();
  t.after(() => lab.destroy());
  const iso = buildLiveIso(lab.file('live-src'), lab.file('live.iso'), fx);
  const cut = lab.file('cut.iso');
  const bytes = readFileSync(iso);
  writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 3)));
  const engine = serve(t, lab, cut);
  assert.equal(await engine.exited, 1, 'pxekit serve exits 1');
  assert.match(engine.stderr.join('\n') + engine.events.map((e) => JSON.stringify(e)).join('\n'), /cut short: its volume is [\d.]+ MB but the file holds [\d.]+ MB/);
});
