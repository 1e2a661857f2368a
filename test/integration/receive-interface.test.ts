// The receiving-interface check (src/net/bind-proof.ts) with real packets: the server runs
// in this process on interface A (the lab's veth, root-namespace end); the host also has
// interface B (a second veth into its own namespace, network 10.76.N.0/24).
// - A DISCOVER sent on B gets no answer and the server never hears it (SO_BINDTODEVICE:
//   the kernel drops it before any socket of ours).
// - A datagram that comes in on A from B's network (a source address only B's link can
//   own) is dropped by the check and counted as 'wrong-interface', by DHCP (67) and by
//   TFTP's listening socket (69); nothing is answered.
// - A DISCOVER on A is answered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Lab, requireRoot } from '../helpers/lab.js';
import { udhcpc, testPolicy, collector, tempDir, macOfLink, runAsync } from '../helpers/dhcp-lab.js';
import { DhcpServer } from '../../src/dhcp/server.js';
import { TftpServer } from '../../src/tftp/server.js';
import { PublishedFiles, bufferFile } from '../../src/files/published.js';

const skip = requireRoot();
const PXE_BIOS = ['-V', 'PXEClient:Arch:00000:UNDI:002001', '-x', '0x5d:0000'];

// From source address argv[2] on device argv[1]: a PXE DISCOVER broadcast to 67, then an RRQ
// to argv[3]:69. Waits 2 s for any answer to either; prints "dhcp=<n> tftp=<n>" replies seen.
const SEND_FROM_OTHER_NETWORK = String.raw`
import socket, sys, os, struct, time
dev, src, server = sys.argv[1], sys.argv[2], sys.argv[3]
mac = os.urandom(6)
pkt = struct.pack('!BBBBIHH4s4s4s4s16s64s128s', 1, 1, 6, 0, 0x5eed1234, 0, 0x8000, b'\0'*4, b'\0'*4, b'\0'*4, b'\0'*4, mac + b'\0'*10, b'', b'')
vc = b'PXEClient:Arch:00000:UNDI:002001'
pkt += b'\x63\x82\x53\x63' + b'\x35\x01\x01' + bytes([60, len(vc)]) + vc + b'\x5d\x02\x00\x00' + b'\xff'
d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
d.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
d.setsockopt(socket.SOL_SOCKET, 25, dev.encode())
d.bind((src, 68))
d.sendto(pkt, ('255.255.255.255', 67))
t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
t.setsockopt(socket.SOL_SOCKET, 25, dev.encode())
t.bind((src, 0))
t.sendto(b'\x00\x01hello.bin\x00octet\x00', (server, 69))
seen = {'dhcp': 0, 'tftp': 0}
end = time.time() + 2
for s, k in ((d, 'dhcp'), (t, 'tftp')):
    s.settimeout(0.2)
while time.time() < end:
    for s, k in ((d, 'dhcp'), (t, 'tftp')):
        try:
            data = s.recv(2048)
            if k == 'tftp' or data[4:8] == pkt[4:8]:
                seen[k] += 1
        except socket.timeout:
            pass
print('dhcp=%d tftp=%d' % (seen['dhcp'], seen['tftp']))
`;

test('a datagram from another interface is never answered: B is unheard, B\'s network on A is dropped and counted, A is answered', { skip, timeout: 90_000 }, async (t) => {
  const lab = Lab.create({ serverInRoot: true });
  const tmp = tempDir('pxk-rxif-');
  t.after(() => {
    lab.destroy();
    tmp.cleanup();
  });
  // Interface B: a second NIC of this host, on its own network.
  const bNet = `10.76.${1 + (parseInt(lab.id, 16) % 200)}`;
  const { ns: bNs, nsIf: nsB } = lab.addSecondInterface(bNet);

  // Started after B exists: the check knows B's network.
  const c = collector();
  const dhcp = new DhcpServer({
    iface: lab.serverIf, serverIp: lab.serverIp, prefix: 24, range: `${lab.subnet}.10-${lab.subnet}.40`,
    leaseSeconds: 600, dataDir: tmp.dir, mode: 'dhcp', policy: testPolicy(lab.serverIp), emit: c.emit,
  });
  await dhcp.start();
  t.after(() => dhcp.stop());
  const files = new PublishedFiles();
  files.add(bufferFile('hello.bin', randomBytes(1000), 'image file'));
  const tftp = new TftpServer({ iface: lab.serverIf, ifaceAddress: lab.serverIp, files, emit: c.emit });
  await tftp.start();
  t.after(() => tftp.stop());

  // 1. A DISCOVER on B: no answer; the kernel keeps it from our socket (SO_BINDTODEVICE).
  const onB = await udhcpc(lab, bNs, nsB, PXE_BIOS, 2);
  assert.notEqual(onB.code, 0);
  assert.equal(onB.env.ip, undefined);
  assert.equal(c.dhcp(undefined, macOfLink(lab, bNs, nsB)).length, 0, 'the server must not even hear interface B');
  assert.equal(dhcp.stats().received, 0);

  // 2. On A, from an address of B's network: dropped by the check, counted, unanswered.
  lab.ip(lab.clientNs, ['addr', 'add', `${bNet}.77/24`, 'dev', lab.clientIf]);
  const sent = await runAsync(lab, lab.clientNs, 'python3', ['-c', SEND_FROM_OTHER_NETWORK, lab.clientIf, `${bNet}.77`, lab.serverIp], 20_000);
  assert.equal(sent.code, 0, sent.stderr);
  assert.equal(sent.stdout.trim(), 'dhcp=0 tftp=0', 'nothing answered');
  for (let i = 0; i < 50 && (dhcp.stats().dropReasons['wrong-interface'] ?? 0) + (tftp.stats().droppedByReason['wrong-interface'] ?? 0) < 2; i++) await new Promise((r) => setTimeout(r, 50));
  const ds = dhcp.stats();
  assert.equal(ds.received, 1, JSON.stringify(ds));
  assert.equal(ds.dropReasons['wrong-interface'], 1, JSON.stringify(ds));
  assert.equal(ds.sent, 0);
  assert.equal(c.dhcp('in').length, 0, 'dropped before it became a DHCP event');
  const ts = tftp.stats();
  assert.equal(ts.droppedByReason['wrong-interface'], 1, JSON.stringify(ts));
  assert.equal(ts.requests, 0);
  const drops = c.events.flatMap((e) => (e.type === 'drop' && e.reason === 'wrong-interface' ? [`${e.protocol} ${e.from}`] : [])).sort();
  assert.equal(drops.length, 2, drops.join(', '));
  assert.equal(drops[0], `dhcp ${bNet}.77:68`);
  assert.match(drops[1], new RegExp(`^tftp ${bNet.replace(/\./g, '\\.')}\\.77:\\d+$`));

  // 3. A DISCOVER on A, from a client without an address: answered.
  lab.ip(lab.clientNs, ['addr', 'flush', 'dev', lab.clientIf]);
  const onA = await udhcpc(lab, lab.clientNs, lab.clientIf, PXE_BIOS);
  assert.ok(onA.env.ip?.startsWith(`${lab.subnet}.`), onA.stderr);
  assert.equal(onA.env.boot_file, 'undionly.kpxe');
  assert.equal(dhcp.stats().dropReasons['wrong-interface'], 1);
});
