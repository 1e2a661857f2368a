// End-to-end: a casper-layout live ISO built from the lab's Debian kernel + marker
// initramfs, served in place by the real `pxekit serve live.iso`, boots QEMU on BIOS
// (SeaBIOS + iPXE ROM) and UEFI (OVMF's PXE), the latter also with Secure Boot enforced: the
// loader (iPXE on BIOS, the signed shim + GRUB on UEFI) loads casper/vmlinuz and casper/initrd
// out of the ISO, and the kernel command line carries casper's url= pointing at the ISO.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { e2eSkipReason, fixturesOnce, MARKER_TIMEOUT, SECURE_BOOT_ON, TEST_TIMEOUT } from '../helpers/qemu-boot.js';
import { buildLiveIso, forMac } from '../helpers/live-iso.js';
import { VirtualLab } from '../../src/lab/virtual-lab.js';
import { QemuClient } from '../../src/lab/qemu.js';
import { LabEngine } from '../../src/lab/engine-cli.js';
import { join } from 'node:path';
import { packageRoot } from '../../src/lab/fixtures.js';

const skip = e2eSkipReason();

const CASES = [
  { firmware: 'bios', secureBoot: false, ownChain: false },
  { firmware: 'uefi', secureBoot: false, ownChain: false },
  { firmware: 'uefi', secureBoot: true, ownChain: false },
  // Media carrying their own signed shim and network GRUB (as Fedora's do): PXE Kit hands out those.
  { firmware: 'uefi', secureBoot: true, ownChain: true },
] as const;

for (const { firmware, secureBoot, ownChain } of CASES) {
  const what = `${firmware.toUpperCase()}${secureBoot ? ' with Secure Boot on' : ''}`;
  const media = ownChain ? 'a casper live ISO with its own shim and GRUB' : 'a casper live ISO';
  test(`${what}: a machine boots ${media} served in place by pxekit serve live.iso`, { skip, timeout: TEST_TIMEOUT }, async (t) => {
    const fx = fixturesOnce();
    const lab = VirtualLab.create();
    t.after(() => lab.destroy());
    const sb = join(packageRoot(), 'resources', 'secureboot');
    const own = ownChain ? { shim: join(sb, 'shimx64.efi'), grub: join(sb, 'grubnetx64.efi') } : undefined;
    const iso = buildLiveIso(lab.file('live-src'), lab.file('live.iso'), fx, { ownChain: own });
    const token = randomBytes(4).toString('hex');
    const engine = LabEngine.start(lab, {
      mode: 'dhcp',
      kernel: iso,
      cmdline: `console=ttyS0 pxekit.token=${token}`,
      dataDir: lab.file('data'),
      args: ['--range', `${lab.subnet}.20-${lab.subnet}.40`],
    });
    t.after(() => engine.stop());
    const status = await engine.serving(90_000);
    assert.match(String(status.image), /Ubuntu 24\.04 LTS/);
    const qemu = QemuClient.start({ lab, firmware, secureBoot });
    t.after(() => qemu.kill());
    let line: string;
    try {
      line = await qemu.waitForLine(fx.marker, MARKER_TIMEOUT[firmware]);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${engine.tail(25)}`);
    }
    assert.match(line, new RegExp(`pxekit\\.token=${token}\\b`));
    // casper's arguments, pointing at the ISO PXE Kit serves, then the user's.
    assert.match(line, new RegExp(`boot=casper netboot=url url=http://[0-9.]+:8080/iso/live\\.iso ip=dhcp console=ttyS0 pxekit\\.token=${token}`));
    const done = engine.events.filter((e) => forMac(qemu.mac)(e) && e.type === 'transfer' && e.phase === 'done').map((e) => String(e.file).replace(/^\/+/, ''));
    assert.ok(done.includes('iso/live/casper/vmlinuz'), `kernel read from inside the ISO: ${JSON.stringify(done)}`);
    assert.ok(done.includes('iso/live/casper/initrd'), `initrd read from inside the ISO: ${JSON.stringify(done)}`);
    // UEFI goes through the signed chain (--secure-boot auto: a Linux ISO), which the firmware accepts with Secure Boot on.
    if (firmware === 'uefi' && !ownChain) assert.ok(done.includes('shimx64.efi') && done.includes('grubx64.efi'), `signed chain used: ${JSON.stringify(done)}`);
    if (ownChain) {
      // The media's shim by its path in the ISO; shim then reads grubx64.efi from that same directory.
      assert.ok(done.includes('iso/live/EFI/BOOT/BOOTX64.EFI') && done.includes('iso/live/EFI/BOOT/grubx64.efi'), `the media's own chain: ${JSON.stringify(done)}`);
      assert.ok(!done.includes('shimx64.efi') && !done.includes('grubx64.efi'), `not PXE Kit's chain: ${JSON.stringify(done)}`);
    }
    if (secureBoot) assert.ok(qemu.lines.some((l) => l.includes(SECURE_BOOT_ON)), `the firmware did not enforce Secure Boot\n${qemu.tail()}`);
    await engine.waitFor((e) => e.type === 'session' && forMac(qemu.mac)(e) && (e.session as { state: string }).state === 'handed-off', 'handed-off', 10_000);
    // casper's initramfs would now fetch the ISO: check that URL really serves it (by range, as a client would).
    const head = lab.exec('curl', ['-s', '-r', '32769-32773', `http://${lab.serverIp}:8080/iso/live.iso`]);
    assert.equal(head, 'CD001');
    assert.equal(await engine.stop(), 0);
  });
}
