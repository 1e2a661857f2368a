// NICs ranked from a fake /sys/class/net: physical wired with link and IPv4 first, Wi-Fi
// after, bridges, their ports, taps, veths, Docker and libvirt networks last (the UI folds
// them away), loopback at the end; the best one is what the UI preselects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import type { NetworkInterfaceInfo } from 'node:os';
import { join } from 'node:path';
import { bestInterface, listInterfaces } from '../../src/net/interfaces.js';
import { tempDir } from '../helpers/iso-build.js';

type Nic = { files?: Record<string, string>; dirs?: string[]; up?: boolean; ip?: string };

function fakeSys(root: string, nics: Record<string, Nic>): string {
  const net = join(root, 'class', 'net');
  for (const [name, n] of Object.entries(nics)) {
    const d = join(net, name);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'operstate'), n.up === false ? 'down\n' : 'up\n');
    writeFileSync(join(d, 'address'), `52:54:00:00:00:${(Object.keys(nics).indexOf(name) + 16).toString(16)}\n`);
    writeFileSync(join(d, 'flags'), n.up === false ? '0x1003\n' : '0x11003\n');
    for (const sub of n.dirs ?? []) mkdirSync(join(d, sub), { recursive: true });
    for (const [f, v] of Object.entries(n.files ?? {})) writeFileSync(join(d, f), v);
  }
  return net;
}

function v4(address: string): NetworkInterfaceInfo[] {
  return [{ address, netmask: '255.255.255.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: address.startsWith('127.'), cidr: `${address}/24` }];
}

test('ranking on a fake /sys tree: wired with link and IPv4 first, Wi-Fi after, virtual ones last and said what they are', (t) => {
  const root = tempDir(t, 'pxk-sys-');
  const sysNet = fakeSys(root, {
    lo: { ip: '127.0.0.1' },
    eno1: { dirs: ['device'], up: false },
    enp3s0: { dirs: ['device'], ip: '192.168.50.1' },
    usb0: { dirs: ['device'] },
    wlp2s0: { dirs: ['device', 'wireless'], ip: '10.0.0.23' },
    br0: { dirs: ['bridge'], ip: '10.10.0.1' },
    vethab12: { dirs: ['brport'] },
    tap0: { files: { tun_flags: '0x1002\n' } },
    docker0: { dirs: ['bridge'], ip: '172.17.0.1' },
    virbr0: { dirs: ['bridge'], ip: '192.168.122.1' },
    veth9: { ip: '10.99.0.1' },
  });
  // The bridge port's master, as Linux links it.
  symlinkSync(join(sysNet, 'br0'), join(sysNet, 'vethab12', 'brport', 'bridge'));
  writeFileSync(join(sysNet, 'br0', 'uevent'), 'DEVTYPE=bridge\nINTERFACE=br0\n');
  const osInterfaces = { lo: v4('127.0.0.1'), enp3s0: v4('192.168.50.1'), wlp2s0: v4('10.0.0.23'), br0: v4('10.10.0.1'), docker0: v4('172.17.0.1'), virbr0: v4('192.168.122.1'), veth9: v4('10.99.0.1') };
  const list = listInterfaces({ sysNet, osInterfaces, platform: 'linux' });
  assert.deepEqual(
    list.map((n) => [n.name, n.hardware, n.virtualKind ?? '']),
    [
      ['enp3s0', 'wired', ''],
      ['usb0', 'wired', ''], // link, no IPv4: a static address makes it usable
      ['eno1', 'wired', ''], // no link
      ['wlp2s0', 'wifi', ''],
      ['br0', 'virtual', 'bridge'],
      ['docker0', 'virtual', 'Docker network'],
      ['veth9', 'virtual', 'container link (veth)'],
      ['virbr0', 'virtual', 'virtual machine network (libvirt)'],
      ['tap0', 'virtual', 'virtual machine link (tap)'],
      ['vethab12', 'virtual', 'bridge port of br0'],
      ['lo', 'loopback', ''],
    ],
  );
  assert.equal(bestInterface(list)?.name, 'enp3s0');
  // Without a usable wired NIC, Wi-Fi (usable, with a warning) comes next.
  const noWired = list.filter((n) => n.hardware !== 'wired');
  assert.equal(bestInterface(noWired)?.name, 'wlp2s0');
  // Only virtual ones (the lab's namespace): the best usable virtual one.
  assert.equal(bestInterface(list.filter((n) => n.hardware === 'virtual'))?.name, 'br0');
  assert.equal(bestInterface(list.filter((n) => n.hardware === 'loopback')), undefined);
});
