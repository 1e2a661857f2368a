// End-to-end: real PXE firmware (QEMU) boots a Debian kernel + initramfs from
// `pxekit serve --mode dhcp`, PXE Kit being the only DHCP server on the lab's switch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootOnce, e2eSkipReason, TEST_TIMEOUT } from '../helpers/qemu-boot.js';

const skip = e2eSkipReason();

for (const firmware of ['bios', 'uefi'] as const) {
  test(`${firmware.toUpperCase()} machine boots over PXE with PXE Kit as the DHCP server`, { skip, timeout: TEST_TIMEOUT }, async (t) => {
    const r = await bootOnce(t, firmware, 'dhcp');
    const mine = r.engine.events.filter((e) => e.type === 'dhcp' && String(e.mac).toLowerCase() === r.qemu.mac);
    // PXE Kit handed out the address itself, from the range we gave it.
    const acks = mine.filter((e) => e.direction === 'out' && e.message === 'ack' && e.ip);
    assert.ok(acks.length > 0, `no DHCPACK with an address to ${r.qemu.mac}`);
    for (const a of acks) assert.match(String(a.ip), new RegExp(`^${r.lab.subnet.replace(/\./g, '\\.')}\\.(2\\d|3\\d|40)$`));
    // The firmware's first request was seen with the right architecture.
    const discover = mine.find((e) => e.direction === 'in' && e.message === 'discover');
    assert.ok(discover, 'no DHCPDISCOVER from the machine');
    if (firmware === 'uefi') {
      assert.match(String(discover.arch), /efi|uefi|x64/i, `UEFI client classified as ${String(discover.arch)}`);
      // --secure-boot auto: a kernel + initrd goes through the signed chain, which boots with Secure Boot off too.
      const done = r.engine.events
        .filter((e) => e.type === 'transfer' && e.phase === 'done' && String(e.mac).toLowerCase() === r.qemu.mac)
        .map((e) => String(e.file).replace(/^\/+/, ''));
      assert.ok(done.includes('shimx64.efi') && done.includes('grubx64.efi'), `signed chain used: ${JSON.stringify(done)}`);
    }
    else assert.equal(discover.isIpxe, true, "QEMU's BIOS NIC ROM is iPXE: its DISCOVER carries option 175");
  });
}
