// A busy field day in plain contract data, for the harness (fake transport) tests:
// NICs with every warning, another DHCP server on the segment, machines at every
// stage including a failed one, a library with a checksum running and a missing file.
import type { Assignment, LibraryEntry, MenuSettings } from '../../../src/api/contract.js';
import type { NetInterface } from '../../../src/net/interfaces.js';
import type { ClientSession } from '../../../src/sessions/session.js';
import type { StatusEvent } from '../../../src/sessions/status.js';

const now = Date.now();

export const interfaces: NetInterface[] = [
  { name: 'lo', mac: '00:00:00:00:00:00', ipv4: { address: '127.0.0.1', prefix: 8, netmask: '255.0.0.0' }, linkUp: true, wireless: false, loopback: true, usable: false, note: 'loopback' },
  { name: 'eth1', mac: '3c:ec:ef:10:20:30', ipv4: { address: '192.168.50.1', prefix: 24, netmask: '255.255.255.0' }, linkUp: true, wireless: false, loopback: false, usable: true, note: '' },
  { name: 'enp0s31f6', mac: 'f4:8e:38:aa:bb:cc', ipv4: null, linkUp: false, wireless: false, loopback: false, usable: false, note: 'link down: plug the cable into the switch with the machines to boot' },
  {
    name: 'usb0',
    mac: '02:11:22:33:44:55',
    ipv4: null,
    linkUp: true,
    wireless: false,
    loopback: false,
    usable: false,
    note: 'no IPv4 address: give usb0 a static address on the boot network, e.g. "sudo ip addr add 192.168.50.1/24 dev usb0"',
  },
  { name: 'wlan0', mac: '8c:16:45:01:02:03', ipv4: { address: '10.1.2.3', prefix: 24, netmask: '255.255.255.0' }, linkUp: true, wireless: true, loopback: false, usable: true, note: 'Wi-Fi' },
];

export const status: StatusEvent = {
  type: 'status',
  at: now,
  state: 'serving',
  iface: 'eth1',
  address: '192.168.50.1',
  mode: 'proxy',
  modeReason: 'another DHCP server answered: 192.168.50.254',
  ports: { dhcp: 67, pxe: 4011, tftp: 69, http: 8080 },
  image: '/srv/images/debian-12.7.0-amd64-netinst.iso',
  otherDhcpServers: [{ serverId: '192.168.50.254', from: '192.168.50.254', offeredIp: '192.168.50.117' }],
};

export const FAILED_MAC = '52:54:00:00:00:03';
export const LOADING_MAC = '52:54:00:00:00:02';

export const sessions: ClientSession[] = [
  {
    mac: '52:54:00:00:00:01',
    ip: '192.168.50.101',
    arch: 'bios',
    vendorClass: 'PXEClient:Arch:00000:UNDI:002001',
    isIpxe: true,
    firstSeen: now - 60_000,
    lastSeen: now - 5_000,
    state: 'handed-off',
    progress: 100,
    transfers: [
      { id: 't1', protocol: 'tftp', file: 'undionly.kpxe', role: 'boot program', bytes: 70_000, size: 70_000, rate: 0, state: 'done', startedAt: now - 55_000, endedAt: now - 54_000 },
      { id: 't2', protocol: 'http', file: '/boot/vmlinuz', role: 'kernel', bytes: 8_000_000, size: 8_000_000, rate: 0, state: 'done', startedAt: now - 40_000, endedAt: now - 30_000 },
    ],
    timeline: [
      { at: now - 60_000, state: 'dhcp', text: 'DISCOVER (BIOS)' },
      { at: now - 55_000, state: 'boot-program', text: 'undionly.kpxe over TFTP' },
      { at: now - 45_000, state: 'ipxe', text: 'iPXE asked for its script' },
      { at: now - 5_000, state: 'handed-off', text: 'kernel and initrd delivered' },
    ],
    timelineFrom: 0,
    boots: 1,
  },
  {
    mac: LOADING_MAC,
    ip: '192.168.50.102',
    arch: 'efi-x64',
    vendorClass: 'PXEClient:Arch:00007:UNDI:003016',
    isIpxe: true,
    firstSeen: now - 30_000,
    lastSeen: now,
    state: 'payload',
    progress: 62,
    current: { id: 't3', protocol: 'http', file: '/boot/initrd.img', role: 'initrd', bytes: 31_000_000, size: 50_000_000, rate: 9_500_000, state: 'running', startedAt: now - 4_000 },
    transfers: [],
    timeline: [
      { at: now - 30_000, state: 'dhcp', text: 'DISCOVER (UEFI x64)' },
      { at: now - 4_000, state: 'payload', text: 'initrd over HTTP' },
    ],
    timelineFrom: 0,
    boots: 1,
  },
  {
    mac: FAILED_MAC,
    ip: '192.168.50.103',
    arch: 'efi-x64',
    vendorClass: 'PXEClient:Arch:00007:UNDI:003016',
    isIpxe: false,
    firstSeen: now - 20_000,
    lastSeen: now - 10_000,
    state: 'failed',
    progress: 15,
    transfers: [],
    failure: { code: 'not-found', message: 'The machine asked for "grubx64.efi", which is not published.', pxeError: 'PXE-E23: Client received TFTP error from server', at: now - 10_000 },
    timeline: [
      { at: now - 20_000, state: 'dhcp', text: 'DISCOVER (UEFI x64)' },
      { at: now - 10_000, state: 'failed', text: 'grubx64.efi not found' },
    ],
    timelineFrom: 0,
    boots: 1,
  },
];

export const library: LibraryEntry[] = [
  {
    id: 'deb12',
    name: 'Debian 12 netinst',
    kind: 'iso',
    path: '/srv/images/debian-12.7.0-amd64-netinst.iso',
    size: 661_651_456,
    os: 'Debian',
    version: '12.7',
    sha256: '8fde79cfc6b20a696200fc5c15219cf6d721e8feb367e9e0e33a79d1cb68fa83',
    present: true,
    addedAt: now - 86_400_000,
    secureBoot: { verdict: 'boots', reason: "PXE Kit's shim is signed by Microsoft; it accepts programs signed with Debian Secure Boot CA's key, and linux is signed by Debian Secure Boot Signer 2022 - linux." },
  },
  {
    id: 'ubu',
    name: 'Ubuntu 24.04 live server',
    kind: 'iso',
    path: '/srv/images/ubuntu-24.04-live-server-amd64.iso',
    size: 2_754_981_888,
    os: 'Ubuntu',
    version: '24.04',
    sha256Progress: 0.42,
    present: true,
    addedAt: now - 1000,
    secureBoot: { verdict: 'needs-mok', reason: 'casper/vmlinuz is signed by Canonical Ltd. Secure Boot Signing: it boots once its signer\'s key is enrolled with MokManager.' },
  },
  { id: 'old', name: 'rescue kernel', kind: 'kernel', path: '/home/tech/rescue/vmlinuz', size: 11_000_000, present: false, addedAt: now - 10_000_000 },
];

export const assignments: Assignment[] = [{ mac: '52:54:00:00:00:01', imageId: 'deb12', bootOnce: true }];
export const menu: MenuSettings = { enabled: true, timeoutSeconds: 10, defaultEntryId: 'deb12', includeLocalBoot: true };
