// How sockets are tied to the chosen NIC, per OS (src/net/bind-proof.ts): the decision
// table with injected platforms and setsockopt results, the refusal (no DHCP on a platform
// without a proven binding, never a fallback to every interface), the constants against
// the header lines they cite, and the receiving-interface check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import dgram from 'node:dgram';
import type { networkInterfaces } from 'node:os';
import {
  BindingNotProven, DARWIN_CONSTANTS, LINUX_CONSTANTS, ReceiveGuard, decideBinding, otherNetworks, receiveGuardFor, refusalMessage, tieDarwin, type HeaderConstant,
} from '../../src/net/bind-proof.js';
import { bindPlatform, bindProofOf, openUdpSocket } from '../../src/net/udp.js';
import { DhcpServer } from '../../src/dhcp/server.js';
import { collector, tempDir, testPolicy } from '../helpers/dhcp-lab.js';

test('decision table: a successful tie proves the binding on Linux, macOS and Windows only', () => {
  assert.deepEqual(decideBinding('linux', 'eth1', { ok: true }), { proven: true, platform: 'linux', how: 'SO_BINDTODEVICE eth1' });
  assert.deepEqual(decideBinding('darwin', 'en5', { ok: true }), { proven: true, platform: 'darwin', how: 'IP_BOUND_IF en5' });
  assert.equal(decideBinding('win32', 'Ethernet 2', { ok: true }).proven, true);
  for (const p of ['freebsd', 'openbsd', 'sunos', 'aix', 'android'] as NodeJS.Platform[]) {
    const d = decideBinding(p, 'em0', { ok: true });
    assert.equal(d.proven, false, p);
    assert.match(refusalMessage(d as Extract<typeof d, { proven: false }>, 'em0'), new RegExp(`no way to tie a socket to one network card on ${p}.*will not answer DHCP`));
  }
});

test('decision table: a failed setsockopt refuses, on every OS, with the OS and what failed', () => {
  for (const [p, what, where] of [['linux', 'SO_BINDTODEVICE', 'this Linux machine'], ['darwin', 'IP_BOUND_IF', 'this Mac'], ['win32', "binding en5's address", 'this Windows PC']] as const) {
    const d = decideBinding(p, 'en5', { ok: false, error: 'EPERM' });
    assert.equal(d.proven, false);
    const msg = new BindingNotProven(d as Extract<typeof d, { proven: false }>, 'en5').message;
    assert.ok(msg.startsWith(`cannot tie the DHCP socket to en5 on ${where}: ${what} failed (EPERM)`), msg);
    assert.match(msg, /PXE Kit will not answer DHCP, so it cannot answer on Wi-Fi or another network by mistake$/);
  }
});

test('macOS: IP_BOUND_IF is setsockopt(fd, IPPROTO_IP=0, 25, &ifindex); a failing setsockopt refuses', () => {
  const calls: Array<[number, number, number, number]> = [];
  const ok = tieDarwin(7, 13, (fd, level, name, v) => (calls.push([fd, level, name, v.readUInt32LE(0)]), 0), () => 'unused');
  assert.deepEqual(ok, { ok: true });
  assert.deepEqual(calls, [[7, 0, 25, 13]]);
  const failed = tieDarwin(7, 13, () => -1, () => 'setsockopt(IP_BOUND_IF) failed: EINVAL (errno 22)');
  assert.equal(failed.ok, false);
  const d = decideBinding('darwin', 'en5', failed);
  assert.equal(d.proven, false);
  assert.throws(() => {
    if (!d.proven) throw new BindingNotProven(d, 'en5');
  }, /cannot tie the DHCP socket to en5 on this Mac: IP_BOUND_IF failed \(setsockopt\(IP_BOUND_IF\) failed: EINVAL \(errno 22\)\)/);
});

function checkLine(name: string, c: HeaderConstant): void {
  const m = /^#define\s+(\w+)\s+(0x[0-9a-fA-F]+|\d+)\b/.exec(c.line);
  assert.ok(m, `${name}: ${c.line}`);
  assert.equal(m[1], name, `${name} cites the line of ${m[1]}`);
  assert.equal(Number(m[2]), c.value, `${name} is ${c.value} but ${c.header} says ${m[2]}`);
}

test('the constants match the header lines they cite (macOS from xnu; Linux also against /usr/include)', () => {
  for (const [name, c] of Object.entries(DARWIN_CONSTANTS)) checkLine(name, c);
  assert.equal(DARWIN_CONSTANTS.IP_BOUND_IF.value, 25);
  assert.equal(DARWIN_CONSTANTS.IP_RECVIF.value, 20);
  assert.equal(DARWIN_CONSTANTS.IPPROTO_IP.value, 0);
  for (const [name, c] of Object.entries(LINUX_CONSTANTS)) {
    checkLine(name, c);
    const [file, line] = c.header.split(':');
    assert.ok(existsSync(file), `${file} (Debian's linux-libc-dev) is needed to check ${name}`);
    assert.equal(readFileSync(file, 'utf8').split('\n')[Number(line) - 1], c.line, `${c.header}`);
  }
});

test('an OS without a proven binding: openUdpSocket refuses before binding anything', async (t) => {
  const saved = bindPlatform.current;
  t.after(() => (bindPlatform.current = saved));
  bindPlatform.current = 'freebsd';
  await assert.rejects(openUdpSocket({ iface: 'lo', ifaceAddress: '127.0.0.1', port: 0, anyAddress: true, purpose: 'DHCP' }), (err: Error) => {
    assert.ok(err instanceof BindingNotProven);
    assert.equal(err.code, 'BIND_FAILED');
    assert.match(err.message, /^cannot tie the DHCP socket to lo on this freebsd machine: .*will not answer DHCP/);
    return true;
  });
});

test('a platform without a proven binding does not start DHCP (full or proxy), and says why in the log', async (t) => {
  const saved = bindPlatform.current;
  const tmp = tempDir('pxk-bindproof-');
  t.after(() => {
    bindPlatform.current = saved;
    tmp.cleanup();
  });
  bindPlatform.current = 'sunos';
  for (const mode of ['dhcp', 'proxy'] as const) {
    const c = collector();
    const server = new DhcpServer({
      iface: 'lo', serverIp: '127.0.0.1', prefix: 8, range: '127.0.0.10-127.0.0.20', leaseSeconds: 600, dataDir: tmp.dir, mode,
      policy: testPolicy('127.0.0.1'), emit: c.emit, dhcpPort: 0, pxePort: 0,
    });
    await assert.rejects(server.start(), BindingNotProven, mode);
    const logged = c.events.filter((e) => e.type === 'log' && e.level === 'error').map((e) => (e as { message: string }).message);
    assert.ok(logged.some((m) => m.includes('cannot tie the DHCP socket to lo') && m.includes('will not answer DHCP')), JSON.stringify(logged));
    assert.equal(server.stats().sent, 0);
  }
});

test('sockets opened on this OS carry their proof', { skip: process.platform !== 'linux' ? 'decided: the SO_BINDTODEVICE path runs on Linux only' : false }, async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root for SO_BINDTODEVICE on lo');
  const sock = await openUdpSocket({ iface: 'lo', ifaceAddress: '127.0.0.1', port: 0 });
  t.after(() => sock.close());
  assert.deepEqual(bindProofOf(sock), { proven: true, platform: 'linux', how: 'SO_BINDTODEVICE lo' });
  assert.equal(bindProofOf(dgram.createSocket('udp4')), undefined);
});

const ifs = (entries: Record<string, Array<[string, string]>>): ReturnType<typeof networkInterfaces> =>
  Object.fromEntries(
    Object.entries(entries).map(([name, list]) => [
      name,
      list.map(([address, cidr]) => ({ address, cidr, family: 'IPv4' as const, internal: name === 'lo', netmask: '', mac: '00:00:00:00:00:00' })),
    ]),
  );

test('receiving-interface check: a source in another NIC\'s network is dropped; 0.0.0.0 and the own network pass', () => {
  const list = ifs({ lo: [['127.0.0.1', '127.0.0.1/8']], eth1: [['192.168.50.1', '192.168.50.1/24']], wlan0: [['10.20.0.7', '10.20.0.7/16']], eth2: [['192.168.50.9', '192.168.50.9/25']] });
  assert.deepEqual(otherNetworks('eth1', list).map((o) => o.iface), ['wlan0', 'eth2']);
  const g = receiveGuardFor('eth1', '192.168.50.1', list);
  assert.equal(g.wrongInterface('10.20.3.4'), 'wlan0');
  assert.equal(g.wrongInterface('0.0.0.0'), undefined, 'a client without an address carries no evidence');
  assert.equal(g.wrongInterface('192.168.50.77'), undefined, 'the own network');
  assert.equal(g.wrongInterface('172.16.0.1'), undefined, 'no network of ours: a relay or a routed client');
  assert.equal(g.wrongInterface('127.0.0.1'), undefined, 'loopback is not another NIC');
  // eth2 overlaps eth1's network: it proves nothing either way.
  assert.equal(new ReceiveGuard({ address: '192.168.50.1', prefix: 24 }, otherNetworks('eth1', list)).wrongInterface('192.168.50.10'), undefined);
  // Prefix unknown (not in the list): the NIC's own /32; overlapping other networks still ignored.
  assert.equal(receiveGuardFor('tap9', '192.168.50.3', list).wrongInterface('192.168.50.20'), undefined);
});
