import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { readPcapUdp } from '../helpers/pcap.js';
import { decodePacket, encodePacket, encodePacketReport, DhcpDecodeError } from '../../src/dhcp/codec.js';
import { blankPacket, macOf, MessageType, Opt, BOOTREPLY, chaddrFromMac } from '../../src/dhcp/packet.js';
import * as o from '../../src/dhcp/options.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../../../test/fixtures/captures/${name}`, import.meta.url));
const dhcpFrames = (name: string) => readPcapUdp(fixture(name)).filter((f) => f.dstPort === 67 || f.dstPort === 68);

test('decodes the real BIOS iPXE DISCOVER', () => {
  const [discover] = dhcpFrames('bios-ipxe-dhcp.pcap');
  const p = decodePacket(discover.payload);
  assert.equal(p.op, 1);
  assert.equal(macOf(p), '52:54:00:aa:00:01');
  assert.equal(o.messageType(p), MessageType.DISCOVER);
  assert.equal(o.getString(p, Opt.VENDOR_CLASS), 'PXEClient:Arch:00000:UNDI:002001');
  assert.deepEqual(o.userClasses(p), ['iPXE']);
  assert.equal(o.clientArch(p), 0);
  assert.deepEqual(o.clientNdi(p), { type: 1, major: 2, minor: 1 });
  assert.ok(p.options.has(Opt.ETHERBOOT));
  assert.ok(o.parseSubOptions(p.options.get(Opt.ETHERBOOT)!)!.size > 0);
  assert.ok((o.maxMessageSize(p) ?? 0) >= 576);
  assert.equal(o.clientId(p), '01525400aa0001');
  assert.ok(o.paramRequestList(p)!.includes(Opt.BOOTFILE));
});

test('decodes the real dnsmasq OFFER and ACK (replies too)', () => {
  const frames = dhcpFrames('bios-ipxe-dhcp.pcap');
  const offer = decodePacket(frames[1].payload);
  assert.equal(offer.op, BOOTREPLY);
  assert.equal(o.messageType(offer), MessageType.OFFER);
  assert.equal(offer.yiaddr, '192.168.77.100');
  assert.equal(o.getIp(offer, Opt.SERVER_ID), '192.168.77.1');
  assert.equal(o.getIp(offer, Opt.SUBNET_MASK), '255.255.255.0');
  assert.ok(o.getString(offer, Opt.BOOTFILE));
  assert.ok(frames.some((f) => o.messageType(decodePacket(f.payload)) === MessageType.ACK));
});

test('decodes the real EDK2 (OVMF) DORA: arch 7, UUID, broadcast flag', () => {
  const frames = dhcpFrames('uefi-edk2-dhcp.pcap');
  const discover = decodePacket(frames[0].payload);
  assert.equal(o.clientArch(discover), 7);
  assert.equal(discover.flags & 0x8000, 0x8000);
  assert.equal(o.clientUuid(discover)?.length, 32);
  assert.equal(o.getString(discover, Opt.VENDOR_CLASS), 'PXEClient:Arch:00007:UNDI:003000');
  const request = frames.map((f) => decodePacket(f.payload)).find((p) => o.messageType(p) === MessageType.REQUEST)!;
  assert.equal(o.getIp(request, Opt.REQUESTED_IP), '192.168.77.101');
  assert.equal(o.getIp(request, Opt.SERVER_ID), '192.168.77.1');
  assert.equal(o.paramRequestList(request)?.length, 35);
});

test('every capture packet round-trips through encode/decode', () => {
  for (const name of ['bios-ipxe-dhcp.pcap', 'uefi-edk2-dhcp.pcap']) {
    for (const f of dhcpFrames(name)) {
      const p = decodePacket(f.payload);
      const again = decodePacket(encodePacket(p, { maxPayload: 1500 }));
      assert.deepEqual(again, p, `${name} frame ${f.index}`);
    }
  }
});

test('long options are split and concatenated (RFC 3396)', () => {
  const p = blankPacket({ xid: 7, chaddr: chaddrFromMac('52:54:00:00:00:01') });
  p.options.set(Opt.MESSAGE_TYPE, Buffer.from([1]));
  const big = randomBytes(600);
  p.options.set(Opt.VENDOR_SPECIFIC, big);
  const buf = encodePacket(p, { maxPayload: 1400 });
  assert.deepEqual(decodePacket(buf).options.get(Opt.VENDOR_SPECIFIC), big);
});

test('option overload: file and sname carry options when the options field is full', () => {
  const p = blankPacket({ op: BOOTREPLY, xid: 9 });
  p.options.set(Opt.MESSAGE_TYPE, Buffer.from([2]));
  for (let code = 200; code < 212; code++) p.options.set(code, Buffer.alloc(40, code));
  const r = encodePacketReport(p, { maxPayload: 548 });
  assert.equal(r.buffer.length <= 548, true);
  assert.equal(r.overload, 3);
  // After 53 and 52, the options field holds 7 options of 42 octets, file 3, sname 1.
  assert.deepEqual(r.dropped, [211]);
  const back = decodePacket(r.buffer);
  for (let code = 200; code < 211; code++) assert.deepEqual(back.options.get(code), Buffer.alloc(40, code));
  assert.equal(back.file, '');
  // A boot file name in the file field keeps it from being overloaded.
  p.file = 'undionly.kpxe';
  const r2 = encodePacketReport(p, { maxPayload: 548 });
  assert.equal(r2.overload, 2);
  assert.equal(decodePacket(r2.buffer).file, 'undionly.kpxe');
});

test('never bigger than the receiver accepts', () => {
  const p = blankPacket();
  p.options.set(Opt.MESSAGE_TYPE, Buffer.from([5]));
  for (let code = 100; code < 140; code++) p.options.set(code, Buffer.alloc(30));
  for (const max of [548, 600, 1000, 1472]) assert.ok(encodePacket(p, { maxPayload: max }).length <= max);
});

test('hand-built RFC-shaped packet: overloaded field options are read after the options field', () => {
  const buf = Buffer.alloc(300);
  buf[0] = 1; buf[1] = 1; buf[2] = 6;
  buf.writeUInt32BE(0x63825363, 236);
  Buffer.from([53, 1, 3, 52, 1, 1, 12, 2, 0x61, 0x62, 255]).copy(buf, 240);
  Buffer.from([12, 2, 0x63, 0x64, 60, 3, 0x50, 0x58, 0x45, 255]).copy(buf, 108); // file field
  const p = decodePacket(buf);
  assert.equal(o.getString(p, Opt.HOSTNAME), 'abcd');
  assert.equal(o.getString(p, Opt.VENDOR_CLASS), 'PXE');
  assert.equal(p.options.has(Opt.OVERLOAD), false);
});

function expectDecodeError(buf: Buffer, what: RegExp): void {
  assert.throws(() => decodePacket(buf), (e: unknown) => e instanceof DhcpDecodeError && what.test(e.message));
}

test('malformed packets throw DhcpDecodeError', () => {
  const good = dhcpFrames('bios-ipxe-dhcp.pcap')[0].payload;
  expectDecodeError(good.subarray(0, 100), /too short/);
  expectDecodeError(good.subarray(0, 260), /runs past|no length|no End/);
  const badCookie = Buffer.from(good); badCookie.writeUInt32BE(0x12345678, 236);
  expectDecodeError(badCookie, /magic cookie/);
  const badHlen = Buffer.from(good); badHlen[2] = 17;
  expectDecodeError(badHlen, /hlen/);
  const ethHlen = Buffer.from(good); ethHlen[2] = 4;
  expectDecodeError(ethHlen, /Ethernet/);
  const badOp = Buffer.from(good); badOp[0] = 3;
  expectDecodeError(badOp, /op/);
  const longOpt = Buffer.from(good.subarray(0, 244)); longOpt[240] = 53; longOpt[241] = 200;
  expectDecodeError(longOpt, /past the end/);
  const badOverload = Buffer.alloc(300); badOverload[0] = 1; badOverload[1] = 1; badOverload[2] = 6;
  badOverload.writeUInt32BE(0x63825363, 236);
  Buffer.from([52, 1, 9, 255]).copy(badOverload, 240);
  expectDecodeError(badOverload, /overload/);
  Buffer.from([52, 1, 1, 255]).copy(badOverload, 240);
  Buffer.from([12, 200]).copy(badOverload, 108 + 126);
  expectDecodeError(badOverload, /file field/);
});

test('fuzz: random, truncated and mutated buffers only ever throw DhcpDecodeError', () => {
  const seeds = ['bios-ipxe-dhcp.pcap', 'uefi-edk2-dhcp.pcap'].flatMap((n) => dhcpFrames(n).map((f) => f.payload));
  let decoded = 0;
  let rejected = 0;
  const attempt = (buf: Buffer): void => {
    try {
      const p = decodePacket(buf);
      decoded++;
      // Whatever decodes must also re-encode and decode again.
      decodePacket(encodePacket(p, { maxPayload: 65000 }));
      classifyOk(p);
    } catch (e) {
      if (!(e instanceof DhcpDecodeError)) throw e;
      rejected++;
    }
  };
  for (let i = 0; i < 3000; i++) attempt(randomBytes(Math.floor(Math.random() * 700)));
  for (const s of seeds) for (let len = 0; len <= s.length; len++) attempt(s.subarray(0, len));
  for (let i = 0; i < 20000; i++) {
    const s = Buffer.from(seeds[i % seeds.length]);
    const flips = 1 + Math.floor(Math.random() * 8);
    // Mutate mostly the options area, where the parser has the most work to do.
    for (let k = 0; k < flips; k++) s[Math.random() < 0.8 ? 236 + Math.floor(Math.random() * (s.length - 236)) : Math.floor(Math.random() * s.length)] = Math.floor(Math.random() * 256);
    attempt(s);
  }
  assert.ok(decoded > 100 && rejected > 100, `decoded ${decoded}, rejected ${rejected}`);
});

function classifyOk(p: ReturnType<typeof decodePacket>): void {
  o.messageType(p); o.clientArch(p); o.clientUuid(p); o.userClasses(p); o.paramRequestList(p); o.maxMessageSize(p);
  const v = p.options.get(Opt.VENDOR_SPECIFIC);
  if (v) o.parseSubOptions(v);
}
