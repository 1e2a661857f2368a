// The errors a technician meets before anything boots: each must say what is
// wrong and what to do. Real kernel behaviour in a test-made namespace/veth.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Lab, requireRoot } from '../helpers/lab.js';
import { listInterfaces, resolveInterface } from '../../src/net/interfaces.js';
import { openUdpSocket } from '../../src/net/udp.js';
import { NetError } from '../../src/net/errors.js';

const skip = requireRoot();

test('a NIC without IPv4 is refused with the command that fixes it', { skip }, (t) => {
  const lab = Lab.create({ serverInRoot: true, serverWithoutAddress: true });
  t.after(() => lab.destroy());
  const nic = listInterfaces().find((n) => n.name === lab.serverIf);
  assert.ok(nic, 'the veth is listed');
  assert.equal(nic.usable, false);
  assert.throws(() => resolveInterface(lab.serverIf), (e: NetError) => e.code === 'NO_IPV4' && /ip addr add/.test(e.message));
});

test('a NIC that is down is refused', { skip }, (t) => {
  const lab = Lab.create({ serverInRoot: true });
  t.after(() => lab.destroy());
  assert.equal(resolveInterface(lab.serverIf).name, lab.serverIf);
  lab.ip(null, ['link', 'set', lab.serverIf, 'down']);
  assert.throws(() => resolveInterface(lab.serverIf), (e: NetError) => e.code === 'INTERFACE_DOWN' && e.message.includes(lab.serverIf));
});

test('an unknown NIC name lists the usable ones', { skip }, (t) => {
  const lab = Lab.create({ serverInRoot: true });
  t.after(() => lab.destroy());
  assert.throws(() => resolveInterface('no-such-nic0'), (e: NetError) => e.code === 'NO_SUCH_INTERFACE' && e.message.includes(lab.serverIf));
});

test('a port already in use names the process that holds it', { skip }, async (t) => {
  const lab = Lab.create({ serverInRoot: true });
  t.after(() => lab.destroy());
  const port = 20000 + (parseInt(lab.id, 16) % 20000);
  // A real other program holding the port on every interface (as dnsmasq would hold 67).
  const holder = spawn('python3', ['-c', `import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('0.0.0.0',${port}))\nprint('bound',flush=True)\ntime.sleep(60)`], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => holder.kill('SIGKILL'));
  await once(holder.stdout!, 'data');
  await assert.rejects(
    openUdpSocket({ iface: lab.serverIf, ifaceAddress: lab.serverIp, port, anyAddress: true, purpose: 'TFTP' }),
    (e: NetError) => e.code === 'PORT_IN_USE' && e.message.includes(`python3 (pid ${holder.pid})`) && e.message.includes(String(port)),
  );
});

test('no privilege for port 67 says how to grant it', { skip }, async (t) => {
  const lab = Lab.create({ serverInRoot: true });
  t.after(() => lab.destroy());
  const script = `import('${new URL('../../src/net/udp.js', import.meta.url).pathname}').then(m => m.openUdpSocket({ iface: '${lab.serverIf}', ifaceAddress: '${lab.serverIp}', port: 67, anyAddress: true, purpose: 'DHCP' })).then(() => console.log('BOUND'), (e) => console.log(e.code + ': ' + e.message))`;
  const child = spawn('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', '--inh-caps=-all', process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  await once(child, 'exit');
  assert.match(out, /^NO_PRIVILEGE: .*port 67\/udp.*(setcap|root)/);
});

test('a program started after us cannot share our port, even with SO_REUSEADDR', { skip }, async (t) => {
  const lab = Lab.create({ serverInRoot: true });
  t.after(() => lab.destroy());
  const port = 20000 + ((parseInt(lab.id, 16) + 7) % 20000);
  const sock = await openUdpSocket({ iface: lab.serverIf, ifaceAddress: lab.serverIp, port, anyAddress: true, purpose: 'DHCP' });
  t.after(() => sock.close());
  const late = spawn('python3', ['-c', `import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ntry:\n  s.bind(('0.0.0.0',${port}))\n  print('SHARED')\nexcept OSError as e:\n  print('REFUSED', e.errno)`], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  late.stdout!.on('data', (d) => (out += d));
  await once(late, 'exit');
  assert.equal(out.trim(), 'REFUSED 98');
});
