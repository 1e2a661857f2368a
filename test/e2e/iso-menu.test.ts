// End-to-end, BIOS (the faster emulation): the library's iPXE menu, driven from the
// serial console like a technician at the machine, and boot-once sending the second
// network boot of a machine to its local disk. Both against the real `pxekit serve`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { e2eSkipReason, fixturesOnce, MARKER_TIMEOUT, TEST_TIMEOUT, typeUntilRequest } from '../helpers/qemu-boot.js';
import { buildLiveIso, forMac } from '../helpers/live-iso.js';
import { VirtualLab } from '../../src/lab/virtual-lab.js';
import { QemuClient, randomMac } from '../../src/lab/qemu.js';
import { LabEngine, type AnyEvent } from '../../src/lab/engine-cli.js';
import { ImageLibrary } from '../../src/images/library.js';
import { macToHyphens } from '../../src/boot/ipxe-script.js';

const skip = e2eSkipReason();
const fileOf = (e: AnyEvent) => String(e.file ?? '').replace(/^\/+/, '');

test('menu: the technician picks the second entry on the serial console and that image boots', { skip, timeout: TEST_TIMEOUT }, async (t) => {
  const fx = fixturesOnce();
  const lab = VirtualLab.create();
  t.after(() => lab.destroy());
  const iso = buildLiveIso(lab.file('live-src'), lab.file('live.iso'), fx);
  const data = lab.file('data');
  const lib = new ImageLibrary(data, { hashInBackground: false });
  const a = await lib.add({ path: fx.kernel, name: 'Kernel A', initrds: [fx.initrd], cmdline: 'console=ttyS0 pxekit.token=entryA' });
  const b = await lib.add({ path: iso, name: 'Live B', cmdline: 'console=ttyS0 pxekit.token=entryB' });
  // A long timeout and entry A as the default: only a key press reaches B.
  await lib.setMenu({ enabled: true, timeoutSeconds: 300, defaultEntryId: a.id, includeLocalBoot: true });

  const engine = LabEngine.start(lab, { mode: 'dhcp', kernel: iso, dataDir: data, args: ['--library', '--range', `${lab.subnet}.20-${lab.subnet}.40`] });
  t.after(() => engine.stop());
  await engine.serving(90_000);
  const qemu = QemuClient.start({ lab, firmware: 'bios', serialInput: true });
  t.after(() => qemu.kill());
  const mine = forMac(qemu.mac);
  const scriptPath = `ipxe/${macToHyphens(qemu.mac)}.ipxe`;
  await engine.waitFor((e) => mine(e) && e.type === 'transfer' && e.phase === 'done' && fileOf(e) === scriptPath, 'the menu script fetched', MARKER_TIMEOUT.bios);
  // Type "2" until iPXE asks for entry B's script (the menu may still be drawing).
  await typeUntilRequest({ qemu, engine, mine }, '2', `ipxe/img/${b.id}/`, 'entry B chosen');
  assert.ok(qemu.lines.some((l) => l.includes('Live B')), `the menu shows the library entries on the console\n${qemu.tail()}`);
  const line = await qemu.waitForLine(fx.marker, MARKER_TIMEOUT.bios);
  assert.match(line, /pxekit\.token=entryB\b/);
  assert.match(line, /boot=casper/);
  const files = engine.events.filter((e) => mine(e) && e.type === 'transfer').map(fileOf);
  assert.ok(!files.some((f) => f.startsWith(`lib/${a.id}/`)), `entry A was not loaded: ${JSON.stringify(files)}`);
  assert.equal(await engine.stop(), 0);
});

test('boot once: the second network boot of a machine gets the local-disk script, and the image does not boot again', { skip, timeout: TEST_TIMEOUT }, async (t) => {
  const fx = fixturesOnce();
  const lab = VirtualLab.create();
  t.after(() => lab.destroy());
  const iso = buildLiveIso(lab.file('live-src'), lab.file('live.iso'), fx);
  const data = lab.file('data');
  const engine = LabEngine.start(lab, { mode: 'dhcp', kernel: iso, cmdline: 'console=ttyS0', dataDir: data, args: ['--boot-once', '--range', `${lab.subnet}.20-${lab.subnet}.40`] });
  t.after(() => engine.stop());
  await engine.serving(90_000);
  const mac = randomMac();
  const mine = forMac(mac);
  const scriptPath = `ipxe/${macToHyphens(mac)}.ipxe`;

  const first = QemuClient.start({ lab, firmware: 'bios', mac });
  t.after(() => first.kill());
  await first.waitForLine(fx.marker, MARKER_TIMEOUT.bios);
  await engine.waitFor((e) => e.type === 'session' && mine(e) && (e.session as { state: string }).state === 'handed-off', 'handed-off', 10_000);
  assert.equal(await first.waitExit(60_000), 0);
  const state = JSON.parse(readFileSync(`${data}/library.json`, 'utf8')) as { bootedOnce: Record<string, { imageId: string }> };
  assert.ok(state.bootedOnce[mac], `boot-once record persisted for ${mac}`);
  // What that machine would be served now: the local-disk script.
  const served = lab.exec('curl', ['-s', `http://${lab.serverIp}:8080/${scriptPath}`]);
  assert.match(served, /already booted .* once/);
  assert.match(served, /sanboot --no-describe --drive 0x80/);
  assert.doesNotMatch(served, /casper/);

  const kernelsBefore = engine.events.filter((e) => mine(e) && e.type === 'transfer' && e.phase === 'done' && fileOf(e).endsWith('casper/vmlinuz')).length;
  const scriptsBefore = engine.events.filter((e) => mine(e) && e.type === 'transfer' && e.phase === 'done' && fileOf(e) === scriptPath).length;
  const second = QemuClient.start({ lab, firmware: 'bios', mac });
  t.after(() => second.kill());
  await engine.waitFor(
    (e) => mine(e) && e.type === 'transfer' && e.phase === 'done' && fileOf(e) === scriptPath && engine.events.filter((x) => mine(x) && x.type === 'transfer' && x.phase === 'done' && fileOf(x) === scriptPath).length > scriptsBefore,
    'the second boot fetched its script',
    MARKER_TIMEOUT.bios,
  );
  // iPXE echoes the local-disk script's words on the console, then tries the disk (QEMU has none).
  await second.waitForLine(/booting from the local disk/, 60_000);
  await new Promise((r) => setTimeout(r, 15_000));
  assert.ok(!second.lines.some((l) => l.includes(fx.marker)), `the image booted again:\n${second.tail()}`);
  const kernelsAfter = engine.events.filter((e) => mine(e) && e.type === 'transfer' && e.phase === 'done' && fileOf(e).endsWith('casper/vmlinuz')).length;
  assert.equal(kernelsAfter, kernelsBefore, 'no kernel download on the second boot');
  await second.kill();
  assert.equal(await engine.stop(), 0);
});
