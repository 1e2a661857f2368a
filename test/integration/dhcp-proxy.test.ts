// proxyDHCP beside dnsmasq (the network's only address server), and the probe
// that decides between DHCP and proxy mode. Topology: the lab's client
// namespace is a bridge ("switch"); dnsmasq and the PXE client are hosts on it;
// PXE Kit runs in this process on the root-namespace end of the lab veth.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Lab, requireRoot } from '../helpers/lab.js';
import { addBridgedHost, collector, macOfLink, runAsync, startDnsmasq, tempDir, testPolicy, udhcpc } from '../helpers/dhcp-lab.js';
import { DhcpServer } from '../../src/dhcp/server.js';
import { probeDhcpServers } from '../../src/dhcp/probe.js';
import { openUdpSocket } from '../../src/net/udp.js';

const skip = requireRoot();
const pxeClientScript = fileURLToPath(new URL('../helpers/dhcp-pxe-client.js', import.meta.url));

function setup(t: { after: (fn: () => void | Promise<void>) => void }) {
  const lab = Lab.create({ serverInRoot: true });
  const tmp = tempDir('pxk-proxy-');
  t.after(() => {
    lab.destroy();
    tmp.cleanup();
  });
  const dnsHost = addBridgedHost(lab, 1, `${lab.subnet}.2/24`);
  return { lab, dir: tmp.dir, dnsHost };
}

test('proxy mode: the PXE client gets its address from dnsmasq and its boot file from us (67 and 4011)', { skip }, async (t) => {
  const { lab, dir, dnsHost } = setup(t);
  await startDnsmasq(lab, dnsHost, dir);
  const pxe = addBridgedHost(lab, 2);
  const c = collector();
  const server = new DhcpServer({
    iface: lab.serverIf, serverIp: lab.serverIp, prefix: 24, leaseSeconds: 600, dataDir: dir, mode: 'proxy',
    policy: testPolicy(lab.serverIp), emit: c.emit,
  });
  await server.start();
  t.after(() => server.stop());

  const r = await runAsync(lab, pxe.ns, process.execPath, [pxeClientScript, pxe.iface]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  const dnsmasqId = `${lab.subnet}.2`;
  const addr = out.offers.find((o: { serverId: string }) => o.serverId === dnsmasqId);
  const proxy = out.offers.find((o: { serverId: string }) => o.serverId === lab.serverIp);
  assert.ok(addr, `no OFFER from dnsmasq: ${r.stdout}`);
  assert.ok(proxy, `no proxy OFFER from PXE Kit: ${r.stdout}`);
  assert.equal(new Set(out.offers.map((o: { serverId: string }) => o.serverId)).size, 2, 'offers from exactly two servers');
  assert.match(addr.yiaddr, new RegExp(`^${lab.subnet}\\.(1[0-4]\\d|150)$`));
  // PXE spec 2.1 proxy offer: no address, no lease, server id, PXEClient, option 43, boot file.
  assert.equal(proxy.yiaddr, '0.0.0.0');
  assert.equal(proxy.lease, false);
  assert.equal(proxy.vendorClass, 'PXEClient');
  assert.equal(proxy.discoveryControl, 8);
  assert.equal(proxy.file, 'ipxe.efi');
  assert.equal(proxy.bootfile, 'ipxe.efi');
  assert.equal(proxy.siaddr, lab.serverIp);
  assert.equal(proxy.uuidEcho, true);
  assert.equal(out.ack.serverId, dnsmasqId);
  // The boot server on 4011 answers the configured client, unicast to its source.
  assert.ok(out.bootAck, `no ACK from port 4011: ${r.stdout}`);
  assert.equal(out.bootAck.from, `${lab.serverIp}:4011`);
  assert.equal(out.bootAck.file, 'ipxe.efi');
  assert.equal(out.bootAck.ciaddr, out.ack.yiaddr);
  // No address handling by us, but we know who has which address.
  assert.equal(server.macForIp(out.ack.yiaddr), out.mac);
  const sent = c.dhcp('out', out.mac);
  // One proxy OFFER per DISCOVER (the client retransmits while dnsmasq pings), then the 4011 ACK.
  const outSeq = sent.map((e) => `${e.message}:${e.port}:${e.proxy}`).join(' ');
  assert.match(outSeq, /^(offer:67:true )+ack:4011:true$/);
  assert.ok(sent.every((e) => e.bootFile === 'ipxe.efi' && e.arch === 'efi-x64' && e.serverId === lab.serverIp));
  const inSeq = c.dhcp('in', out.mac).map((e) => `${e.message}:${e.port}:${e.serverId ?? ''}`).join(' ');
  assert.match(inSeq, new RegExp(`^(discover:67: )+request:67:${dnsmasqId.replace(/\./g, '\\.')} request:4011:$`));

  // A non-PXE client on the same network is dnsmasq's alone.
  const sentBefore = c.dhcp('out').length;
  const plain = await udhcpc(lab, pxe.ns, pxe.iface, []);
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal(plain.env.serverid, dnsmasqId);
  assert.equal(plain.env.boot_file, undefined);
  assert.equal(c.dhcp('out').length, sentBefore, 'no reply to the non-PXE client');
});

test('proxy mode: a refused client gets nothing from us', { skip }, async (t) => {
  const { lab, dir, dnsHost } = setup(t);
  await startDnsmasq(lab, dnsHost, dir);
  const host = addBridgedHost(lab, 2);
  const c = collector();
  const server = new DhcpServer({
    iface: lab.serverIf, serverIp: lab.serverIp, prefix: 24, leaseSeconds: 600, dataDir: dir, mode: 'proxy',
    policy: testPolicy(lab.serverIp), emit: c.emit,
  });
  await server.start();
  t.after(() => server.stop());
  const r = await udhcpc(lab, host.ns, host.iface, ['-V', 'PXEClient:Arch:00011:UNDI:003000', '-x', '0x5d:000b']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.env.serverid, `${lab.subnet}.2`);
  assert.equal(c.dhcp('out').length, 0);
  assert.ok(c.dhcp('in').length > 0, 'the request was seen');
  assert.ok(c.events.some((e) => e.type === 'log' && e.source === 'proxy' && /arm64/.test(e.message)));
});

test('probe finds dnsmasq when it runs, and nothing when it does not', { skip }, async (t) => {
  const { lab, dir, dnsHost } = setup(t);
  const mac = macOfLink(lab, null, lab.serverIf);
  const before = await probeDhcpServers({ iface: lab.serverIf, ifaceAddress: lab.serverIp, mac, seconds: 2 });
  assert.deepEqual([...before], []);
  assert.equal(before.warning, undefined);

  const dns = await startDnsmasq(lab, dnsHost, dir);
  // Let the root namespace learn dnsmasq's MAC (the probe reports it from the ARP table).
  lab.exec(null, 'ping', ['-c', '1', '-W', '2', '-I', lab.serverIf, `${lab.subnet}.2`]);
  // dnsmasq pings an address (about 3 s) before it offers it to a client it does not know.
  const found = await probeDhcpServers({ iface: lab.serverIf, ifaceAddress: lab.serverIp, mac, seconds: 5 });
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0].serverId, `${lab.subnet}.2`);
  assert.equal(found[0].from, `${lab.subnet}.2`);
  assert.match(found[0].offeredIp, new RegExp(`^${lab.subnet}\\.`));
  assert.equal(found[0].mac, macOfLink(lab, dnsHost.ns, dnsHost.iface));

  // A proxyDHCP server (PXE Kit in proxy mode) must not count as a DHCP server.
  const server = new DhcpServer({
    iface: lab.serverIf, serverIp: lab.serverIp, prefix: 24, leaseSeconds: 600, dataDir: dir, mode: 'proxy',
    policy: testPolicy(lab.serverIp), emit: () => undefined,
  });
  dns.proc.kill('SIGTERM');
  await new Promise((r) => dns.proc.once('exit', r));
  await server.start();
  t.after(() => server.stop());
  const after = await probeDhcpServers({ iface: lab.serverIf, ifaceAddress: lab.serverIp, mac, seconds: 2 });
  assert.deepEqual([...after], []);
});

test('probe with port 68 taken: shares it with a client that allows sharing, else warns clearly', { skip }, async (t) => {
  const { lab, dir, dnsHost } = setup(t);
  await startDnsmasq(lab, dnsHost, dir);
  const mac = macOfLink(lab, null, lab.serverIf);
  const base = { iface: lab.serverIf, ifaceAddress: lab.serverIp, port: 68, anyAddress: true, broadcast: true };
  // Like dhclient's UDP socket: SO_REUSEADDR set.
  const sharing = await openUdpSocket({ ...base, reuseAddr: true });
  try {
    const found = await probeDhcpServers({ iface: lab.serverIf, ifaceAddress: lab.serverIp, mac, seconds: 5 });
    assert.equal(found.length, 1);
    assert.equal(found.warning, undefined);
  } finally {
    sharing.close();
  }
  // A holder without SO_REUSEADDR, in another process (sockets Node adopts get
  // SO_REUSEADDR from libuv, so it must not be one of ours).
  const holder = lab.spawn(null, 'python3', ['-c', [
    'import socket, sys, time',
    's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
    `s.setsockopt(socket.SOL_SOCKET, 25, b"${lab.serverIf}")`,
    "s.bind(('0.0.0.0', 68))",
    'print("ready", flush=True)',
    'time.sleep(60)',
  ].join('\n')]);
  await new Promise<void>((resolve, reject) => {
    holder.stdout?.once('data', () => resolve());
    holder.once('exit', (code) => reject(new Error(`holder exited ${code}`)));
  });
  try {
    const found = await probeDhcpServers({ iface: lab.serverIf, ifaceAddress: lab.serverIp, mac, seconds: 1 });
    assert.equal(found.length, 0);
    assert.match(found.warning ?? '', /Could not check for another DHCP server.*in use/s);
  } finally {
    holder.kill('SIGKILL');
  }
});
