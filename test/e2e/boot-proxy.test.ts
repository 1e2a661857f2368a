// End-to-end: the site's own DHCP server (dnsmasq, DHCP only) hands out the
// addresses; `pxekit serve --mode proxy` beside it only adds the boot
// information (proxyDHCP), and real PXE firmware (QEMU) boots from it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootOnce, e2eSkipReason, TEST_TIMEOUT } from '../helpers/qemu-boot.js';

const skip = e2eSkipReason();

for (const firmware of ['bios', 'uefi'] as const) {
  test(`${firmware.toUpperCase()} machine boots over PXE in proxy mode beside the site's DHCP server`, { skip, timeout: TEST_TIMEOUT }, async (t) => {
    const r = await bootOnce(t, firmware, 'proxy');
    const mac = r.qemu.mac;
    // The site server, not PXE Kit, gave the machine its address.
    const siteAck = r.siteLog.find((l) => /DHCPACK\(pxksite0\) \S+ /.test(l) && l.toLowerCase().includes(mac));
    assert.ok(siteAck, `the site DHCP server never acknowledged ${mac}:\n${r.siteLog.slice(-20).join('\n')}`);
    const siteIp = /DHCPACK\(pxksite0\) (\S+) /.exec(siteAck)![1];
    assert.match(siteIp, new RegExp(`^${r.lab.subnet.replace(/\./g, '\\.')}\\.1\\d\\d$`), 'address from the site range .100-.199');
    // PXE Kit answered the machine, but only ever with proxyDHCP replies: never an address of its own.
    const replies = r.engine.events.filter((e) => e.type === 'dhcp' && e.direction === 'out' && String(e.mac).toLowerCase() === mac);
    assert.ok(replies.length > 0, 'PXE Kit sent no proxyDHCP reply');
    for (const e of replies) assert.equal(e.proxy, true, `non-proxy reply in proxy mode: ${JSON.stringify(e)}`);
  });
}
