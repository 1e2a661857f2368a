// `pxekit check`: host checks against real conditions made in a lab namespace:
// ports held by other programs (named, with their PID), a NIC without IPv4; and
// the Wi-Fi warning from the same function the API calls.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, requireRoot } from '../helpers/lab.js';
import { runAsync } from '../helpers/dhcp-lab.js';
import { CLI } from '../helpers/engine-process.js';
import { runHostChecks, type HostCheck } from '../../src/diagnostics/checks.js';
import { listInterfaces } from '../../src/net/interfaces.js';

const skip = requireRoot();

async function check(lab: Lab, args: string[]): Promise<{ code: number | null; checks: HostCheck[] }> {
  const r = await runAsync(lab, lab.serverNs, process.execPath, [CLI, 'check', '--json', ...args]);
  return { code: r.code, checks: r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as HostCheck) };
}

const byId = (cs: HostCheck[], id: string) => cs.find((c) => c.id === id)!;

test('pxekit check: all clear, then ports 69 and 8080 held by another program (named), exit status 1', { skip, timeout: 60_000 }, async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const clear = await check(lab, ['--iface', lab.serverIf]);
  assert.equal(clear.code, 0, JSON.stringify(clear.checks));
  for (const id of ['interface', 'wifi', 'privilege', 'port-67', 'port-69', 'port-4011', 'port-http']) assert.equal(byId(clear.checks, id).status, 'ok', id);
  assert.equal(byId(clear.checks, 'firewall').status, 'skip');

  // Another TFTP server and a web server on this machine.
  const holder = lab.spawn(lab.serverNs, 'python3', [
    '-c',
    'import socket,time\nu=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);u.bind(("0.0.0.0",69))\nt=socket.socket();t.bind(("0.0.0.0",8080));t.listen()\nprint("ready",flush=True)\ntime.sleep(60)',
  ]);
  await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
  const busy = await check(lab, ['--iface', lab.serverIf]);
  assert.equal(busy.code, 1);
  const tftp = byId(busy.checks, 'port-69');
  assert.equal(tftp.status, 'fail');
  assert.match(tftp.detail, new RegExp(`in use by python3 \\(pid ${holder.pid}\\)`));
  assert.match(tftp.fix ?? '', /Another TFTP server/);
  const http = byId(busy.checks, 'port-http');
  assert.equal(http.status, 'fail');
  assert.match(http.detail, /TCP port 8080 is already in use by python3 \(pid \d+\)/);
  assert.match(http.fix ?? '', /--http-port/);
  assert.equal(byId(busy.checks, 'port-67').status, 'ok');
});

test('pxekit check: a NIC without IPv4 says how to give it one', { skip, timeout: 30_000 }, async (t) => {
  const lab = Lab.create({ serverWithoutAddress: true });
  t.after(() => lab.destroy());
  const r = await check(lab, ['--iface', lab.serverIf]);
  assert.equal(r.code, 1);
  const nic = byId(r.checks, 'interface');
  assert.equal(nic.status, 'fail');
  assert.match(nic.detail, /has no IPv4 address/);
  assert.match(nic.fix ?? '', /ip addr add/);
  assert.equal(byId(r.checks, 'port-69').status, 'skip');
});

test('runHostChecks (the API entry point) warns about a Wi-Fi NIC', { skip, timeout: 30_000 }, async (t) => {
  const lab = Lab.create({ serverInRoot: true });
  t.after(() => lab.destroy());
  // This machine has no Wi-Fi NIC: the lab's veth is presented as one (the detection itself reads /sys/class/net/X/wireless).
  const nics = listInterfaces().map((n) => (n.name === lab.serverIf ? { ...n, wireless: true } : n));
  const checks = await runHostChecks({ iface: lab.serverIf, interfaces: nics, httpPort: 18080 });
  const wifi = byId(checks, 'wifi');
  assert.equal(wifi.status, 'warn');
  assert.match(wifi.fix ?? '', /wired NIC/);
});
