// End-to-end: the hand-off comes from the machine's own report, once.
// - A Windows-layout ISO (boot.wim and install.wim made with wimtools) served with a wimboot
//   stand-in: a BIOS and a UEFI machine each run the generated wimboot script to its hand-off
//   report. Each fetches only its own firmware's boot manager, is handed off exactly once, is
//   never called failed after, and boot-once is recorded at the report.
// - A hybrid (BIOS + UEFI El Torito) isolinux ISO sanbooted by BIOS boots to the marker through
//   hundreds of HTTP Range reads: one download whose bytes grow, handed off once (before this,
//   every read handed the machine off again).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { e2eSkipReason, fixturesOnce, MARKER_TIMEOUT, TEST_TIMEOUT } from '../helpers/qemu-boot.js';
import { forMac } from '../helpers/live-iso.js';
import { buildIso, fatImage } from '../helpers/iso-build.js';
import { wimbootStandin } from '../helpers/wimboot-standin.js';
import { windowsSetupIso } from '../helpers/windows-media.js';
import { VirtualLab } from '../../src/lab/virtual-lab.js';
import { QemuClient, randomMac, type Firmware } from '../../src/lab/qemu.js';
import { LabEngine, type AnyEvent } from '../../src/lab/engine-cli.js';

const skip = e2eSkipReason();
const fileOf = (e: AnyEvent) => String(e.file ?? '').replace(/^\/+/, '');
type Session = { state: string; transfers: { file: string; bytes: number; size?: number }[] };
const sessionOf = (e: AnyEvent) => e.session as Session;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

for (const firmware of ['bios', 'uefi'] as Firmware[]) {
  test(`${firmware.toUpperCase()}: a machine runs the wimboot script to its hand-off report, fetches its own boot manager only, and is handed off once`, { skip, timeout: TEST_TIMEOUT }, async (t) => {
    fixturesOnce();
    const lab = VirtualLab.create();
    t.after(() => lab.destroy());
    const iso = windowsSetupIso(lab.file(''));
    const data = lab.file('data');
    const engine = LabEngine.start(lab, { mode: 'dhcp', kernel: iso, dataDir: data, args: ['--boot-once', '--wimboot', wimbootStandin(lab.file('helpers')), '--range', `${lab.subnet}.20-${lab.subnet}.40`] });
    t.after(() => engine.stop());
    const status = await engine.serving(90_000);
    assert.match(String(status.image), /wimboot/);
    const mac = randomMac();
    const mine = forMac(mac);
    const qemu = QemuClient.start({ lab, firmware, mac });
    t.after(() => qemu.kill());
    try {
      await engine.waitFor((e) => e.type === 'session' && mine(e) && sessionOf(e).state === 'handed-off', 'handed-off', MARKER_TIMEOUT[firmware]);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${qemu.tail()}`);
    }
    // The report came from the script, after every file it loads.
    const done = engine.events.filter((e) => mine(e) && e.type === 'transfer' && e.phase === 'done').map(fileOf);
    const report = done.findIndex((f) => f.startsWith('handoff/'));
    assert.ok(report > 0, `the script reported its hand-off: ${JSON.stringify(done)}`);
    for (const f of ['iso/win/boot/bcd', 'iso/win/boot/boot.sdi', 'iso/win/sources/boot.wim']) {
      const at = done.indexOf(f);
      assert.ok(at >= 0 && at < report, `${f} loaded before the report: ${JSON.stringify(done)}`);
    }
    const own = firmware === 'bios' ? 'iso/win/bootmgr' : 'iso/win/efi/boot/bootx64.efi';
    const other = firmware === 'bios' ? 'iso/win/efi/boot/bootx64.efi' : 'iso/win/bootmgr';
    assert.ok(done.includes(own) && !done.includes(other), `${firmware} fetches ${own} only: ${JSON.stringify(done)}`);
    // Boot-once is recorded at the report.
    const state = JSON.parse(readFileSync(join(data, 'library.json'), 'utf8')) as { bootedOnce: Record<string, unknown> };
    assert.ok(state.bootedOnce[mac], `boot-once recorded for ${mac}`);
    // What the stand-in does next (it boots Linux with Windows' files as initrds) changes nothing.
    await new Promise((r) => setTimeout(r, 15_000));
    const states = engine.events.filter((e) => e.type === 'session' && mine(e)).map((e) => sessionOf(e).state);
    assert.equal(states.filter((s, i) => s === 'handed-off' && states[i - 1] !== 'handed-off').length, 1, `handed off once: ${states.join(' ')}`);
    assert.ok(!states.includes('failed'), `never failed: ${states.join(' ')}`);
    assert.equal(states.at(-1), 'handed-off');
    // Setup media: WinPE got the files that connect the engine's SMB share of the ISO, and that share
    // (on the served NIC, read-only, with the account the script names) holds install.wim byte for byte.
    for (const f of ['winpe/win/winpeshl.ini', 'winpe/win/pxekit-setup.cmd']) assert.ok(done.indexOf(f) >= 0 && done.indexOf(f) < report, `${f} injected before the report`);
    const script = lab.exec('curl', ['-s', `http://${lab.serverIp}:8080/winpe/win/pxekit-setup.cmd`]);
    const m = /net use Z: \\\\([0-9.]+)\\(\w+) \/user:(\w+) (\S+) \/persistent:no/.exec(script);
    assert.ok(m, `the script connects a share: ${script}`);
    assert.equal(m[1], lab.serverIp);
    const copy = lab.file(`install-${firmware}.wim`);
    lab.exec('smbclient', [`//${m[1]}/${m[2]}`, '-U', `${m[3]}%${m[4]}`, '-m', 'SMB3', '-c', `get sources/install.wim ${copy}`]);
    assert.equal(sha256(readFileSync(copy)), sha256(readFileSync(join(lab.file('win-src'), 'sources', 'install.wim'))), 'install.wim over SMB is the ISO\'s');
    assert.equal(await engine.stop(), 0);
    // Stopped with the engine: nothing answers on 445 any more.
    const after = lab.exec('smbclient', [`//${m[1]}/${m[2]}`, '-U', `${m[3]}%${m[4]}`, '-m', 'SMB3', '-c', 'ls'], { allowFail: true });
    assert.doesNotMatch(after, /install\.wim|sources/, `share gone after stop: ${after}`);
  });
}

test('BIOS: a hybrid isolinux ISO sanbooted by ranges boots, as one growing download handed off once', { skip, timeout: TEST_TIMEOUT }, async (t) => {
  const fx = fixturesOnce();
  const lab = VirtualLab.create();
  t.after(() => lab.destroy());
  const src = lab.file('hybrid-src');
  mkdirSync(join(src, 'isolinux'), { recursive: true });
  mkdirSync(join(src, 'boot'), { recursive: true });
  copyFileSync('/usr/lib/ISOLINUX/isolinux.bin', join(src, 'isolinux', 'isolinux.bin'));
  copyFileSync('/usr/lib/syslinux/modules/bios/ldlinux.c32', join(src, 'isolinux', 'ldlinux.c32'));
  // Not a Linux layout PXE Kit recognises (no casper/, live/, images/pxeboot/): served by sanboot.
  copyFileSync(fx.kernel, join(src, 'boot', 'k'));
  copyFileSync(fx.initrd, join(src, 'boot', 'i'));
  writeFileSync(join(src, 'isolinux', 'isolinux.cfg'), 'DEFAULT l\nPROMPT 0\nTIMEOUT 1\nLABEL l\n  KERNEL /boot/k\n  APPEND initrd=/boot/i console=ttyS0 pxekit.token=hybrid\n');
  writeFileSync(join(src, 'efiboot.img'), fatImage(1440 * 1024));
  // The size of the field's small rescue ISOs: the reads, not the bytes, are what matter.
  writeFileSync(join(src, 'filler.bin'), Buffer.alloc(40 * 1024 * 1024, 7));
  const iso = buildIso(src, lab.file('hybrid.iso'), {
    rockRidge: true,
    extra: ['-c', 'isolinux/boot.cat', '-b', 'isolinux/isolinux.bin', '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table',
      '-eltorito-alt-boot', '-e', 'efiboot.img', '-no-emul-boot', '-isohybrid-mbr', '/usr/lib/ISOLINUX/isohdpfx.bin'],
  });
  const engine = LabEngine.start(lab, { mode: 'dhcp', kernel: iso, dataDir: lab.file('data'), args: ['--range', `${lab.subnet}.20-${lab.subnet}.40`] });
  t.after(() => engine.stop());
  const status = await engine.serving(90_000);
  assert.match(String(status.image), /sanboot/);
  const qemu = QemuClient.start({ lab, firmware: 'bios' });
  t.after(() => qemu.kill());
  const line = await qemu.waitForLine(fx.marker, MARKER_TIMEOUT.bios);
  assert.match(line, /pxekit\.token=hybrid/);
  const mine = forMac(qemu.mac);
  const reads = engine.events.filter((e) => mine(e) && e.type === 'transfer' && e.phase === 'done' && fileOf(e) === 'iso/hybrid.iso');
  assert.ok(reads.length > 50, `the ISO was read by many ranges (${reads.length})`);
  const sessions = engine.events.filter((e) => e.type === 'session' && mine(e)).map(sessionOf);
  const states = sessions.map((s) => s.state);
  assert.equal(states.filter((s, i) => s === 'handed-off' && states[i - 1] !== 'handed-off').length, 1, `handed off once, not once per read: ${states.length} updates`);
  assert.equal(states.at(-1), 'handed-off');
  const last = sessions.at(-1)!;
  const disk = last.transfers.filter((x) => x.file.replace(/^\/+/, '') === 'iso/hybrid.iso');
  assert.equal(disk.length, 1, 'one download for all the reads');
  const sum = reads.reduce((a, e) => a + Number(e.bytes), 0);
  // Progress updates are spaced out: the last one carries nearly all the reads.
  assert.ok(disk[0].bytes <= sum && disk[0].bytes > sum * 0.8, `its bytes are the bytes read: ${disk[0].bytes} of ${sum}`);
  assert.equal(disk[0].size, readFileSync(iso).length, 'its size is the whole ISO');
  // Growing: the download's bytes over the session updates never go down, and went up many times.
  const seen = sessions.map((s) => s.transfers.find((x) => x.file.replace(/^\/+/, '') === 'iso/hybrid.iso')?.bytes ?? 0);
  assert.ok(seen.every((b, i) => i === 0 || b >= seen[i - 1]), 'bytes never go down');
  // At least one value between none and the last: the reads arrive as one download that grows, not as one
  // jump (how many updates fall inside the boot depends on how fast the machine reads).
  assert.ok(new Set(seen).size >= 3, `bytes grew over several updates: ${[...new Set(seen)].join(' ')}`);
  assert.equal(await engine.stop(), 0);
});
