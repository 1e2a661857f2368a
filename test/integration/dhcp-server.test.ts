// Full DHCP mode against real clients (busybox udhcpc, ISC dhclient) over a veth
// into a test namespace; the server runs in this process on the root-namespace end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, chmodSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, requireRoot } from '../helpers/lab.js';
import { udhcpc, testPolicy, collector, tempDir, macOfLink, waitProc, runAsync } from '../helpers/dhcp-lab.js';
import { DhcpServer, type DhcpServerOptions } from '../../src/dhcp/server.js';
import { readPcapUdp } from '../helpers/pcap.js';
import { decodePacket } from '../../src/dhcp/codec.js';
import { getString, messageType, parseSubOptions } from '../../src/dhcp/options.js';
import { fileURLToPath } from 'node:url';

const skip = requireRoot();
const PXE_BIOS = ['-V', 'PXEClient:Arch:00000:UNDI:002001', '-x', '0x5d:0000'];

async function startServer(lab: Lab, dataDir: string, extra: Partial<DhcpServerOptions> = {}) {
  const c = collector();
  const server = new DhcpServer({
    iface: lab.serverIf, serverIp: lab.serverIp, prefix: 24, range: `${lab.subnet}.10-${lab.subnet}.40`,
    leaseSeconds: 600, dataDir, mode: 'dhcp', policy: testPolicy(lab.serverIp), emit: c.emit, ...extra,
  });
  await server.start();
  return { server, c };
}

function setup(t: { after: (fn: () => void | Promise<void>) => void }) {
  const lab = Lab.create({ serverInRoot: true });
  const tmp = tempDir('pxk-dhcp-');
  t.after(() => {
    lab.destroy();
    tmp.cleanup();
  });
  return { lab, dir: tmp.dir };
}

test('udhcpc as PXE BIOS firmware gets an address from the pool and the boot file', { skip }, async (t) => {
  const { lab, dir } = setup(t);
  const { server, c } = await startServer(lab, dir, { router: `${lab.subnet}.254`, dns: [`${lab.subnet}.53`] });
  t.after(() => server.stop());
  const r = await udhcpc(lab, lab.clientNs, lab.clientIf, [...PXE_BIOS, '-O', '0x42', '-O', '0x43']);
  assert.equal(r.code, 0, r.stderr);
  const last = Number(r.env.ip.split('.')[3]);
  assert.ok(r.env.ip.startsWith(`${lab.subnet}.`) && last >= 10 && last <= 40, r.env.ip);
  assert.equal(r.env.boot_file, 'undionly.kpxe');
  assert.equal(r.env.siaddr, lab.serverIp);
  assert.equal(r.env.serverid, lab.serverIp);
  assert.equal(r.env.subnet, '255.255.255.0');
  assert.equal(r.env.router, `${lab.subnet}.254`);
  assert.equal(r.env.dns, `${lab.subnet}.53`);
  assert.equal(r.env.lease, '600');
  const mac = macOfLink(lab, lab.clientNs, lab.clientIf);
  assert.equal(server.macForIp(r.env.ip), mac);
  assert.equal(server.leases?.ipForMac(mac), r.env.ip);
  const out = c.dhcp('out', mac).map((e) => e.message);
  assert.deepEqual(out, ['offer', 'ack']);
  const ack = c.dhcp('out', mac)[1];
  assert.equal(ack.bootFile, 'undionly.kpxe');
  assert.equal(ack.arch, 'bios');
  assert.equal(ack.proxy, false);
  assert.deepEqual(c.dhcp('in', mac).map((e) => e.message), ['discover', 'request']);
});

test('a plain client gets an address but no boot file; no router unless configured', { skip }, async (t) => {
  const { lab, dir } = setup(t);
  const { server } = await startServer(lab, dir);
  t.after(() => server.stop());
  const r = await udhcpc(lab, lab.clientNs, lab.clientIf, []);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.env.ip);
  assert.equal(r.env.boot_file, undefined);
  assert.equal(r.env.router, undefined);
});

test('a refused PXE client still gets an address, and the refusal is reported', { skip }, async (t) => {
  const { lab, dir } = setup(t);
  const { server, c } = await startServer(lab, dir);
  t.after(() => server.stop());
  const r = await udhcpc(lab, lab.clientNs, lab.clientIf, ['-V', 'PXEClient:Arch:00011:UNDI:003000', '-x', '0x5d:000b']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.env.ip);
  assert.equal(r.env.boot_file, undefined);
  assert.equal(r.env.bootfile, undefined);
  assert.ok(c.dhcp('out').some((e) => e.message === 'ack' && e.refusal?.includes('arm64')));
  assert.ok(c.events.some((e) => e.type === 'log' && e.level === 'warn' && e.message.includes('arm64')));
});

test('dhclient (ISC) gets a lease', { skip }, async (t) => {
  const { lab, dir } = setup(t);
  const { server } = await startServer(lab, dir);
  t.after(() => server.stop());
  const script = join(dir, 'dhclient-script');
  const envFile = join(dir, 'dhclient.env');
  writeFileSync(script, `#!/bin/sh\nif [ "$reason" = BOUND ]; then env > ${envFile}; fi\nexit 0\n`);
  chmodSync(script, 0o755);
  const child = lab.spawn(lab.clientNs, 'dhclient', ['-d', '-1', '-v', '-lf', join(dir, 'dhclient.leases'), '-pf', join(dir, 'dhclient.pid'), '-sf', script, lab.clientIf]);
  const done = waitProc(child, 40_000);
  for (let i = 0; i < 300 && !existsSync(envFile) && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
  child.kill('SIGTERM');
  const res = await done;
  assert.ok(existsSync(envFile), `dhclient got no lease:\n${res.stderr}`);
  const env = readFileSync(envFile, 'utf8');
  const ip = /^new_ip_address=(.*)$/m.exec(env)?.[1];
  assert.ok(ip?.startsWith(`${lab.subnet}.`), env);
  assert.match(env, new RegExp(`^new_dhcp_server_identifier=${lab.serverIp.replace(/\./g, '\\.')}$`, 'm'));
  assert.equal(server.macForIp(ip!), macOfLink(lab, lab.clientNs, lab.clientIf));
});

test('leases survive a restart: same client, same address; another client never gets it', { skip }, async (t) => {
  const { lab, dir } = setup(t);
  const macA = macOfLink(lab, lab.clientNs, lab.clientIf);
  const first = await startServer(lab, dir);
  const a1 = await udhcpc(lab, lab.clientNs, lab.clientIf, PXE_BIOS);
  await first.server.stop();
  assert.ok(a1.env.ip, a1.stderr);

  const second = await startServer(lab, dir);
  t.after(() => second.server.stop());
  lab.ip(lab.clientNs, ['link', 'set', lab.clientIf, 'address', '02:00:00:00:be:ef']);
  const b = await udhcpc(lab, lab.clientNs, lab.clientIf, PXE_BIOS);
  assert.ok(b.env.ip, b.stderr);
  assert.notEqual(b.env.ip, a1.env.ip);
  // B even asking for A's address (-r) gets something else.
  lab.ip(lab.clientNs, ['link', 'set', lab.clientIf, 'address', '02:00:00:00:be:f0']);
  const b2 = await udhcpc(lab, lab.clientNs, lab.clientIf, [...PXE_BIOS, '-r', a1.env.ip]);
  assert.ok(b2.env.ip, b2.stderr);
  assert.notEqual(b2.env.ip, a1.env.ip);
  lab.ip(lab.clientNs, ['link', 'set', lab.clientIf, 'address', macA]);
  const a2 = await udhcpc(lab, lab.clientNs, lab.clientIf, PXE_BIOS);
  assert.equal(a2.env.ip, a1.env.ip);
  assert.equal(second.server.macForIp(a1.env.ip), macA);
});

test('bound to interface A: a DISCOVER arriving on interface B of the same host gets no answer', { skip }, async (t) => {
  const { lab, dir } = setup(t);
  const { ns: bNs, nsIf: nsB } = lab.addSecondInterface('10.79.0');
  const { server, c } = await startServer(lab, dir);
  t.after(() => server.stop());

  const onB = await udhcpc(lab, bNs, nsB, PXE_BIOS, 2);
  assert.notEqual(onB.code, 0);
  assert.equal(onB.env.ip, undefined);
  assert.equal(c.dhcp(undefined, macOfLink(lab, bNs, nsB)).length, 0, 'the server must not even hear interface B');
  const onA = await udhcpc(lab, lab.clientNs, lab.clientIf, PXE_BIOS);
  assert.ok(onA.env.ip, onA.stderr);
});

test('malformed packets on 67 and 4011 are dropped and counted; a client still gets a lease', { skip }, async (t) => {
  const { lab, dir } = setup(t);
  const { server, c } = await startServer(lab, dir);
  t.after(() => server.stop());
  lab.ip(lab.clientNs, ['addr', 'add', `${lab.subnet}.200/24`, 'dev', lab.clientIf]);
  const sent = await runAsync(lab, lab.clientNs, 'python3', ['-c', GARBAGE, lab.clientIf, lab.serverIp]);
  assert.equal(sent.code, 0, sent.stderr);
  const total = Number(sent.stdout.trim());
  assert.ok(total >= 1000);
  for (let i = 0; i < 100 && server.stats().dropped < total; i++) await new Promise((r) => setTimeout(r, 50));
  const stats = server.stats();
  assert.equal(stats.dropped, total, JSON.stringify(stats));
  // Reported at most DROP_EVENTS_PER_SECOND a second (the rest in a "(N more)" line): all counted, few events.
  const drops = c.events.filter((e) => e.type === 'drop').length;
  assert.ok(drops >= 1 && drops < total, `${drops} drop events for ${total} malformed packets`);
  assert.equal(c.dhcp('out').length, 0);
  lab.ip(lab.clientNs, ['addr', 'flush', 'dev', lab.clientIf]);
  const r = await udhcpc(lab, lab.clientNs, lab.clientIf, PXE_BIOS);
  assert.ok(r.env.ip, r.stderr);
  assert.equal(r.env.boot_file, 'undionly.kpxe');
});

test('real firmware DISCOVERs from the captures (EDK2, BIOS iPXE) replayed on the wire get proper OFFERs', { skip }, async (t) => {
  const { lab, dir } = setup(t);
  const { server } = await startServer(lab, dir);
  t.after(() => server.stop());
  const cases = [
    { file: 'uefi-edk2-dhcp.pcap', bootFile: 'ipxe.efi', control: 8 },
    { file: 'bios-ipxe-dhcp.pcap', bootFile: `http://${lab.serverIp}:8080/boot.ipxe`, control: 8 },
  ];
  for (const c of cases) {
    const path = fileURLToPath(new URL(`../../../test/fixtures/captures/${c.file}`, import.meta.url));
    const discover = readPcapUdp(path).find((f) => f.dstPort === 67)!.payload;
    const r = await runAsync(lab, lab.clientNs, 'python3', ['-c', REPLAY, lab.clientIf, discover.toString('hex')]);
    assert.equal(r.code, 0, r.stderr);
    const offer = decodePacket(Buffer.from(r.stdout.trim(), 'hex'));
    assert.equal(messageType(offer), 2, c.file);
    assert.equal(offer.xid, decodePacket(discover).xid);
    assert.ok(server.leases?.inPool(offer.yiaddr));
    assert.equal(getString(offer, 67), c.bootFile);
    assert.equal(getString(offer, 60), 'PXEClient');
    assert.equal(parseSubOptions(offer.options.get(43)!)?.get(6)?.[0], c.control);
  }
});

// Sends one captured packet as the client would (from port 68, broadcast) and prints the first reply with its xid, in hex.
const REPLAY = String.raw`
import socket, sys
iface, pkt = sys.argv[1], bytes.fromhex(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.setsockopt(socket.SOL_SOCKET, 25, iface.encode())
s.bind(('0.0.0.0', 68))
s.settimeout(5)
s.sendto(pkt, ('255.255.255.255', 67))
while True:
    data, _ = s.recvfrom(2048)
    if data[4:8] == pkt[4:8] and data[0] == 2:
        print(data.hex()); break
`;

// Sends malformed DHCP-ish packets: random bytes, a valid DISCOVER cut before
// its End option, bad cookies, bad hlen, option lengths past the end. Prints the count.
const GARBAGE = String.raw`
import socket, sys, random, struct, time
iface, server = sys.argv[1], sys.argv[2]
random.seed(7)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.setsockopt(socket.SOL_SOCKET, 25, iface.encode())
hdr = bytes([1, 1, 6, 0]) + struct.pack('!IHH', 0x1234, 0, 0x8000) + bytes(16) + bytes.fromhex('020000000001') + bytes(10) + bytes(192)
opts = bytes([53, 1, 1, 60, 9]) + b'PXEClient' + bytes([93, 2, 0, 0])
good = hdr + bytes.fromhex('63825363') + opts + bytes([255])
pkts = []
for i in range(300): pkts.append(bytes(random.getrandbits(8) for _ in range(random.randrange(0, 600))))
for n in range(0, len(good) - 1): pkts.append(good[:n])
for i in range(100): pkts.append(good[:236] + bytes([random.randrange(256) for _ in range(4)]) + good[240:] if i else good[:236] + b'\0\0\0\0' + good[240:])
pkts.append(good[:2] + bytes([17]) + good[3:])
pkts.append(good[:2] + bytes([4]) + good[3:])
pkts.append(hdr + bytes.fromhex('63825363') + bytes([53, 1, 1, 60, 250]) + b'PXE')
pkts = [p for p in pkts if p != good and not (len(p) >= 240 and p[236:240] == bytes.fromhex('63825363') and p.endswith(bytes([255])) and p[:240] == good[:240])]
n = 0
for i, p in enumerate(pkts):
    for dest in (('255.255.255.255', 67), (server, 4011)):
        s.sendto(p, dest); n += 1
    if i % 20 == 0: time.sleep(0.005)
print(n)
`;
