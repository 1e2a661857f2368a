// Reply shapes and the RFC 2131 4.3.2 REQUEST states, with the handlers driven
// directly (the wire is covered by the integration tests).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildReply, maxPayloadFor } from '../../src/dhcp/reply.js';
import { handleFullDhcp } from '../../src/dhcp/full-mode.js';
import { handleBootServer, handleProxy } from '../../src/dhcp/proxy-mode.js';
import { LeaseStore } from '../../src/dhcp/leases.js';
import { decodePacket, encodePacketReport } from '../../src/dhcp/codec.js';
import { blankPacket, chaddrFromMac, MessageType, Opt, type DhcpPacket } from '../../src/dhcp/packet.js';
import { getIp, getString, ipBytes, messageType, parseSubOptions } from '../../src/dhcp/options.js';
import type { Destination, HandlerContext, DhcpServerOptions } from '../../src/dhcp/context.js';
import type { BootPolicy } from '../../src/boot/decision.js';

const SERVER = '10.5.0.1';
const MAC = '52:54:00:12:34:56';
const policy: BootPolicy = {
  decide: (c) => (c.arch === 'efi-arm64' ? { kind: 'refuse', reason: 'no arm64' } : { kind: 'offer', bootFile: 'ipxe.efi', nextServer: SERVER, httpClient: c.isHttpBoot, description: 'x' }),
};

function req(type: number, opts: Array<[number, Buffer]> = [], fields: Partial<DhcpPacket> = {}, mac = MAC): DhcpPacket {
  const p = blankPacket({ xid: 42, chaddr: chaddrFromMac(mac), ...fields });
  p.options.set(Opt.MESSAGE_TYPE, Buffer.from([type]));
  for (const [k, v] of opts) p.options.set(k, v);
  return p;
}
const PXE: Array<[number, Buffer]> = [[Opt.VENDOR_CLASS, Buffer.from('PXEClient:Arch:00007:UNDI:003000')], [Opt.CLIENT_ARCH, Buffer.from([0, 7])]];

async function context(t: { after: (fn: () => void) => void }, mode: 'dhcp' | 'proxy' = 'dhcp') {
  const dataDir = mkdtempSync(join(tmpdir(), 'pxk-h-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const sent: Array<{ reply: DhcpPacket; to: Destination }> = [];
  const opts: DhcpServerOptions = { iface: 'x', serverIp: SERVER, prefix: 24, leaseSeconds: 300, dataDir, mode, policy, emit: () => undefined };
  const ctx: HandlerContext = {
    opts, prefix: 24, netmask: '255.255.255.0',
    leases: mode === 'dhcp' ? await LeaseStore.open({ serverIp: SERVER, prefix: 24, dataDir }) : undefined,
    send: (_req, reply, to) => void sent.push({ reply: decodePacket(encodePacketReport(reply).buffer), to }),
    log: () => undefined,
    observe: () => undefined,
  };
  return { ctx, sent };
}

test('option order follows the parameter request list; unrequested extras are filtered', () => {
  const r = req(MessageType.DISCOVER, [...PXE, [Opt.PARAM_REQUEST_LIST, Buffer.from([67, 6, 1, 66])]]);
  const reply = buildReply(r, {
    type: MessageType.OFFER, serverIp: SERVER, yiaddr: '10.5.0.9',
    lease: { seconds: 600, netmask: '255.255.255.0', dns: ['10.5.0.53'] },
    boot: { kind: 'offer', bootFile: 'ipxe.efi', nextServer: SERVER, httpClient: false, description: '' }, pxe: true,
  });
  assert.deepEqual([...reply.options.keys()], [53, 54, 51, 58, 59, 67, 6, 1, 66, 60, 43]);
  assert.equal(reply.options.has(Opt.BROADCAST), false, '28 not requested');
  assert.equal(reply.file, 'ipxe.efi');
  assert.equal(reply.siaddr, SERVER);
  assert.equal(parseSubOptions(reply.options.get(43)!)?.get(6)?.[0], 8);
});

test('HTTPClient gets 60 "HTTPClient" and no PXE option 43; long URLs stay out of the file field', () => {
  const url = `http://${SERVER}:8080/${'x'.repeat(200)}.efi`;
  const r = req(MessageType.DISCOVER, [[Opt.VENDOR_CLASS, Buffer.from('HTTPClient:Arch:00016')]]);
  const reply = buildReply(r, { type: MessageType.OFFER, serverIp: SERVER, boot: { kind: 'offer', bootFile: url, nextServer: SERVER, httpClient: true, description: '' }, pxe: true });
  assert.equal(getString(reply, Opt.VENDOR_CLASS), 'HTTPClient');
  assert.equal(reply.options.has(43), false);
  assert.equal(reply.file, '');
  assert.equal(getString(decodePacket(encodePacketReport(reply).buffer), Opt.BOOTFILE), url);
});

test('maximum message size: the reply never exceeds what option 57 allows', () => {
  const r = req(MessageType.DISCOVER, [[Opt.MAX_MESSAGE_SIZE, Buffer.from([0x02, 0x40])]]); // 576
  assert.equal(maxPayloadFor(r), 548);
  assert.equal(maxPayloadFor(req(MessageType.DISCOVER, [[Opt.MAX_MESSAGE_SIZE, Buffer.from([0x05, 0xdc])]])), 1472);
  const reply = buildReply(r, { type: MessageType.OFFER, serverIp: SERVER, yiaddr: '10.5.0.9', lease: { seconds: 1, netmask: '255.255.255.0', dns: Array(80).fill('10.5.0.53') } });
  const { buffer, dropped } = encodePacketReport(reply, { maxPayload: maxPayloadFor(r) });
  assert.ok(buffer.length <= 548);
  assert.deepEqual(dropped, [Opt.DNS]);
});

test('DISCOVER -> OFFER, SELECTING REQUEST -> ACK; another server chosen -> offer released', async (t) => {
  const { ctx, sent } = await context(t);
  await handleFullDhcp(ctx, req(MessageType.DISCOVER, PXE), MessageType.DISCOVER);
  const offer = sent[0].reply;
  assert.equal(messageType(offer), MessageType.OFFER);
  assert.deepEqual(sent[0].to, { socket: 'dhcp', address: '255.255.255.255', port: 68 });
  assert.equal(offer.file, 'ipxe.efi');
  await handleFullDhcp(ctx, req(MessageType.REQUEST, [...PXE, [Opt.SERVER_ID, ipBytes(SERVER)], [Opt.REQUESTED_IP, ipBytes(offer.yiaddr)]]), MessageType.REQUEST);
  assert.equal(messageType(sent[1].reply), MessageType.ACK);
  assert.equal(sent[1].reply.yiaddr, offer.yiaddr);
  // Client B is offered something, then picks another server: no reply, and the offer is let go.
  const B = '52:54:00:00:00:0b';
  await handleFullDhcp(ctx, req(MessageType.DISCOVER, [], {}, B), MessageType.DISCOVER);
  const bIp = sent[2].reply.yiaddr;
  await handleFullDhcp(ctx, req(MessageType.REQUEST, [[Opt.SERVER_ID, ipBytes('10.5.0.77')], [Opt.REQUESTED_IP, ipBytes('10.5.0.200')]], {}, B), MessageType.REQUEST);
  assert.equal(sent.length, 3);
  assert.equal(ctx.leases!.available('52:54:00:00:00:0c', bIp), true);
});

test('INIT-REBOOT: wrong network or taken address -> NAK (broadcast); RENEWING: unicast ACK to ciaddr', async (t) => {
  const { ctx, sent } = await context(t);
  await handleFullDhcp(ctx, req(MessageType.REQUEST, [[Opt.REQUESTED_IP, ipBytes('192.168.1.50')]]), MessageType.REQUEST);
  assert.equal(messageType(sent[0].reply), MessageType.NAK);
  assert.equal(sent[0].to.address, '255.255.255.255');
  assert.equal(sent[0].reply.yiaddr, '0.0.0.0');
  assert.equal(sent[0].reply.options.has(Opt.LEASE_TIME), false);
  await handleFullDhcp(ctx, req(MessageType.REQUEST, [[Opt.REQUESTED_IP, ipBytes('10.5.0.20')]]), MessageType.REQUEST);
  assert.equal(messageType(sent[1].reply), MessageType.ACK);
  await handleFullDhcp(ctx, req(MessageType.REQUEST, [[Opt.REQUESTED_IP, ipBytes('10.5.0.20')]], {}, '52:54:00:00:00:0b'), MessageType.REQUEST);
  assert.equal(messageType(sent[2].reply), MessageType.NAK);
  await handleFullDhcp(ctx, req(MessageType.REQUEST, [], { ciaddr: '10.5.0.20' }), MessageType.REQUEST);
  assert.equal(messageType(sent[3].reply), MessageType.ACK);
  assert.deepEqual(sent[3].to, { socket: 'dhcp', address: '10.5.0.20', port: 68 });
  assert.equal(sent[3].reply.ciaddr, '10.5.0.20');
});

test('relay: replies go to giaddr:67; INFORM gets no lease; RELEASE and DECLINE', async (t) => {
  const { ctx, sent } = await context(t);
  await handleFullDhcp(ctx, req(MessageType.DISCOVER, [], { giaddr: '10.5.0.254' }), MessageType.DISCOVER);
  assert.deepEqual(sent[0].to, { socket: 'dhcp', address: '10.5.0.254', port: 67 });
  assert.equal(sent[0].reply.giaddr, '10.5.0.254');
  await handleFullDhcp(ctx, req(MessageType.DISCOVER, [], { giaddr: '172.16.0.1' }), MessageType.DISCOVER);
  assert.equal(sent.length, 1, 'relayed from a network we do not serve');
  await handleFullDhcp(ctx, req(MessageType.INFORM, PXE, { ciaddr: '10.5.0.99' }), MessageType.INFORM);
  assert.equal(sent[1].reply.yiaddr, '0.0.0.0');
  assert.equal(sent[1].reply.options.has(Opt.LEASE_TIME), false);
  assert.equal(sent[1].reply.file, 'ipxe.efi');
  assert.equal(sent[1].to.address, '10.5.0.99');
  await handleFullDhcp(ctx, req(MessageType.REQUEST, [[Opt.REQUESTED_IP, ipBytes('10.5.0.30')]]), MessageType.REQUEST);
  await handleFullDhcp(ctx, req(MessageType.RELEASE, [[Opt.SERVER_ID, ipBytes(SERVER)]], { ciaddr: '10.5.0.30' }), MessageType.RELEASE);
  assert.equal(ctx.leases!.leaseFor(MAC)?.bound, false);
  await handleFullDhcp(ctx, req(MessageType.DECLINE, [[Opt.SERVER_ID, ipBytes(SERVER)], [Opt.REQUESTED_IP, ipBytes('10.5.0.30')]]), MessageType.DECLINE);
  assert.equal(ctx.leases!.available('52:54:00:00:00:0d', '10.5.0.30'), false);
});

test('proxy: only PXE clients, proxy OFFER without address; REQUESTs to other servers ignored; 4011 ACK to the source', async (t) => {
  const { ctx, sent } = await context(t, 'proxy');
  handleProxy(ctx, req(MessageType.DISCOVER, []), MessageType.DISCOVER);
  assert.equal(sent.length, 0);
  handleProxy(ctx, req(MessageType.DISCOVER, PXE), MessageType.DISCOVER);
  const offer = sent[0].reply;
  assert.equal(offer.yiaddr, '0.0.0.0');
  assert.equal(getIp(offer, Opt.SERVER_ID), SERVER);
  assert.equal(offer.options.has(Opt.LEASE_TIME), false);
  assert.equal(offer.options.has(Opt.SUBNET_MASK), false);
  handleProxy(ctx, req(MessageType.REQUEST, [...PXE, [Opt.SERVER_ID, ipBytes('10.5.0.2')]]), MessageType.REQUEST);
  assert.equal(sent.length, 1);
  handleProxy(ctx, req(MessageType.REQUEST, [...PXE, [Opt.SERVER_ID, ipBytes(SERVER)]]), MessageType.REQUEST);
  assert.equal(messageType(sent[1].reply), MessageType.ACK);
  handleProxy(ctx, req(MessageType.DISCOVER, [[Opt.VENDOR_CLASS, Buffer.from('PXEClient:Arch:00011')]]), MessageType.DISCOVER);
  assert.equal(sent.length, 2, 'refused: silence');
  const item = Buffer.from([71, 4, 0x80, 0x00, 0x00, 0x00, 255]);
  handleBootServer(ctx, req(MessageType.REQUEST, [...PXE, [Opt.VENDOR_SPECIFIC, item]], { ciaddr: '10.5.0.120' }), MessageType.REQUEST, { address: '10.5.0.120', port: 68 });
  assert.deepEqual(sent[2].to, { socket: 'pxe', address: '10.5.0.120', port: 68 });
  assert.equal(sent[2].reply.file, 'ipxe.efi');
  assert.deepEqual(parseSubOptions(sent[2].reply.options.get(43)!)?.get(71), Buffer.from([0x80, 0, 0, 0]));
});
