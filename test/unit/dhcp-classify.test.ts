import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { readPcapUdp } from '../helpers/pcap.js';
import { decodePacket } from '../../src/dhcp/codec.js';
import { classifyClient, archFromCode, archCodeFromVendorClass } from '../../src/dhcp/classify.js';
import { blankPacket, chaddrFromMac, Opt } from '../../src/dhcp/packet.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../../../test/fixtures/captures/${name}`, import.meta.url));
const requests = (name: string) => readPcapUdp(fixture(name)).filter((f) => f.dstPort === 67).map((f) => decodePacket(f.payload));

test('BIOS iPXE client from the capture', () => {
  const c = classifyClient(requests('bios-ipxe-dhcp.pcap')[0]);
  assert.equal(c.mac, '52:54:00:aa:00:01');
  assert.equal(c.arch, 'bios');
  assert.equal(c.archCode, 0);
  assert.equal(c.isPxe, true);
  assert.equal(c.isIpxe, true);
  assert.equal(c.isHttpBoot, false);
  assert.equal(c.userClass, 'iPXE');
  assert.equal(c.vendorClass, 'PXEClient:Arch:00000:UNDI:002001');
});

test('EDK2 firmware, then the ipxe.efi it loaded, from the capture', () => {
  const all = requests('uefi-edk2-dhcp.pcap');
  const fw = classifyClient(all[0]);
  assert.equal(fw.arch, 'efi-x64');
  assert.equal(fw.isPxe, true);
  assert.equal(fw.isIpxe, false);
  assert.match(fw.uuid ?? '', /^[0-9a-f]{32}$/);
  const ipxe = classifyClient(all[all.length - 1]);
  assert.equal(ipxe.arch, 'efi-x64');
  assert.equal(ipxe.isIpxe, true);
});

test('arch codes', () => {
  const expected: Array<[number, string]> = [
    [0, 'bios'], [6, 'efi-ia32'], [7, 'efi-x64'], [9, 'efi-x64'], [10, 'efi-arm32'], [11, 'efi-arm64'],
    [15, 'efi-ia32-http'], [16, 'efi-x64-http'], [19, 'efi-arm64-http'], [2, 'unknown'], [1234, 'unknown'],
  ];
  for (const [code, arch] of expected) assert.equal(archFromCode(code), arch, `code ${code}`);
  assert.equal(archFromCode(undefined), 'unknown');
});

function packet(opts: Array<[number, Buffer]>) {
  const p = blankPacket({ chaddr: chaddrFromMac('AA:BB:CC:00:11:22') });
  for (const [k, v] of opts) p.options.set(k, v);
  return p;
}

test('vendor class gives the arch when option 93 is missing; HTTPClient; option 175 alone means iPXE', () => {
  assert.equal(archCodeFromVendorClass('PXEClient:Arch:00007:UNDI:003016'), 7);
  assert.equal(archCodeFromVendorClass('PXEClient'), undefined);
  const a = classifyClient(packet([[Opt.VENDOR_CLASS, Buffer.from('PXEClient:Arch:00011:UNDI:003000')]]));
  assert.equal(a.arch, 'efi-arm64');
  assert.equal(a.archCode, 11);
  assert.equal(a.mac, 'aa:bb:cc:00:11:22');
  const h = classifyClient(packet([[Opt.VENDOR_CLASS, Buffer.from('HTTPClient:Arch:00016:UNDI:003001')], [Opt.CLIENT_ARCH, Buffer.from([0, 16])]]));
  assert.equal(h.isHttpBoot, true);
  assert.equal(h.isPxe, false);
  assert.equal(h.arch, 'efi-x64-http');
  const e = classifyClient(packet([[Opt.ETHERBOOT, Buffer.from([0xb1, 1, 1])]]));
  assert.equal(e.isIpxe, true);
  const plain = classifyClient(packet([[Opt.VENDOR_CLASS, Buffer.from('udhcp 1.35.0')]]));
  assert.deepEqual([plain.isPxe, plain.isIpxe, plain.isHttpBoot, plain.arch], [false, false, false, 'unknown']);
  // RFC 3004 form of option 77.
  const rfc = classifyClient(packet([[Opt.USER_CLASS, Buffer.from([4, ...Buffer.from('iPXE'), 3, ...Buffer.from('foo')])]]));
  assert.equal(rfc.isIpxe, true);
  assert.equal(rfc.userClass, 'iPXE,foo');
});
