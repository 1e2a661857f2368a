// End-to-end with Secure Boot on and enforced: OVMF's Secure Boot build with Microsoft's keys
// enrolled (as on a business PC). PXE Kit's signed chain (Microsoft-signed shim, Debian-signed
// GRUB) boots the Debian-signed kernel + initrd (a live ISO built around it: iso-live.test.ts);
// the unsigned iPXE is refused by the firmware, and the diagnosis names Secure Boot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootOnce, e2eSkipReason, fixturesOnce, MARKER_TIMEOUT, SECURE_BOOT_ON, TEST_TIMEOUT } from '../helpers/qemu-boot.js';
import { forMac } from '../helpers/live-iso.js';
import { VirtualLab } from '../../src/lab/virtual-lab.js';
import { QemuClient } from '../../src/lab/qemu.js';
import { LabEngine, type AnyEvent } from '../../src/lab/engine-cli.js';

const skip = e2eSkipReason();

function doneFiles(events: AnyEvent[], mac: string): string[] {
  return events.filter((e) => forMac(mac)(e) && e.type === 'transfer' && e.phase === 'done').map((e) => String(e.file).replace(/^\/+/, ''));
}

function sessionsOf(events: AnyEvent[], mac: string): { state: string; failure?: unknown }[] {
  return events.filter((e) => e.type === 'session' && forMac(mac)(e)).map((e) => e.session as { state: string; failure?: unknown });
}

test('Secure Boot on: a Debian-signed kernel + initrd boots through the signed shim and GRUB', { skip, timeout: TEST_TIMEOUT }, async (t) => {
  const r = await bootOnce(t, 'uefi', 'dhcp', { secureBoot: true });
  assert.ok(r.qemu.lines.some((l) => l.includes(SECURE_BOOT_ON)), `the firmware did not enforce Secure Boot\n${r.qemu.tail()}`);
  const done = doneFiles(r.engine.events, r.qemu.mac);
  for (const f of ['shimx64.efi', 'grubx64.efi', 'grub/grub.cfg', `grub/pxekit/${r.qemu.mac}.cfg`, 'image/vmlinuz', 'image/initrd-0.img']) {
    assert.ok(done.includes(f), `${f} delivered: ${JSON.stringify(done)}`);
  }
  // shim's and GRUB's look-ups for optional files are part of the chain, never a failure.
  const sessions = sessionsOf(r.engine.events, r.qemu.mac);
  assert.deepEqual(sessions.filter((s) => s.state === 'failed'), [], 'the session never failed');
  assert.deepEqual(r.engine.events.filter((e) => e.type === 'diagnosis' && forMac(r.qemu.mac)(e)), [], 'no diagnosis');
  const probes = r.engine.events.filter((e) => forMac(r.qemu.mac)(e) && e.type === 'transfer' && e.errorCode === 'not-found');
  assert.ok(probes.length > 0 && probes.every((e) => typeof e.expected === 'string'), `every miss is an expected probe: ${JSON.stringify(probes.map((e) => [e.file, e.expected]))}`);
});

test('Secure Boot on: the unsigned iPXE (--secure-boot ipxe) is refused, and the diagnosis says so', { skip, timeout: TEST_TIMEOUT }, async (t) => {
  const fx = fixturesOnce();
  const lab = VirtualLab.create();
  t.after(() => lab.destroy());
  const engine = LabEngine.start(lab, {
    mode: 'dhcp',
    kernel: fx.kernel,
    initrd: fx.initrd,
    cmdline: 'console=ttyS0',
    dataDir: lab.file('data'),
    args: ['--range', `${lab.subnet}.20-${lab.subnet}.40`, '--secure-boot', 'ipxe'],
  });
  t.after(() => engine.stop());
  await engine.serving(90_000);
  const qemu = QemuClient.start({ lab, firmware: 'uefi', secureBoot: true });
  t.after(() => qemu.kill());
  // OVMF's own words for the refusal.
  await qemu.waitForLine(/Access Denied|Security Violation/, MARKER_TIMEOUT.uefi);
  const d = await engine.waitFor((e) => e.type === 'diagnosis' && forMac(qemu.mac)(e), 'a diagnosis', 120_000);
  const diagnosis = d.diagnosis as { code: string; title: string; fix: string; pxeError: string };
  assert.equal(diagnosis.code, 'secure-boot-refused', JSON.stringify(diagnosis));
  assert.match(diagnosis.title, /refused ipxe\.efi: it is not signed/);
  assert.match(diagnosis.pxeError, /Access Denied/);
  assert.match(diagnosis.fix, /--secure-boot auto\|signed/);
  // The machine's row carries it.
  await engine.waitFor((e) => e.type === 'session' && forMac(qemu.mac)(e) && (e.session as { diagnosis?: { code: string } }).diagnosis?.code === 'secure-boot-refused', 'the session carries the diagnosis', 10_000);
  assert.equal(await engine.stop(), 0);
});
