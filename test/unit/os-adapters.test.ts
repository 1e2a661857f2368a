// NICs and port owners on Windows and macOS, parsed from outputs of the real commands'
// documented formats: the fixtures in test/fixtures/os/{windows,macos}/network were
// constructed from Microsoft's and Apple's documentation and man pages, not recorded on a
// machine (their README.md says from which pages). Through listInterfaces with an injected
// command runner, the ranking and warnings are the Linux ones: the automatic choice never
// picks Wi-Fi or a virtual adapter when a wired one is up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { NetworkInterfaceInfo } from 'node:os';
import { fileURLToPath } from 'node:url';
import { bestInterface, defaultInterface, listInterfaces, type CommandRunner } from '../../src/net/interfaces.js';
import { jsonList, parseWindowsAdapters, WINDOWS_ADAPTERS_SCRIPT } from '../../src/net/adapters-windows.js';
import { parseDefaultRoute, parseHardwarePorts, parseIfconfig, parseMacAdapters } from '../../src/net/adapters-macos.js';
import {
  describePortOwners,
  findPortOwners,
  macLsofArgs,
  parseLsofFields,
  parseNetstat,
  parseTasklistSvc,
  parseWindowsEndpoints,
  windowsPortOwnersScript,
} from '../../src/net/port-owner.js';

const fx = (os: 'windows' | 'macos', name: string): string =>
  readFileSync(fileURLToPath(new URL(`../../../test/fixtures/os/${os}/network/${name}`, import.meta.url)), 'utf8');

function v4(address: string, prefix: number, mac = '00:00:00:00:00:00'): NetworkInterfaceInfo[] {
  const bits = (0xffffffff << (32 - prefix)) >>> 0;
  const netmask = [24, 16, 8, 0].map((s) => (bits >>> s) & 0xff).join('.');
  return [{ address, netmask, family: 'IPv4', mac, internal: address.startsWith('127.'), cidr: `${address}/${prefix}` }];
}

// ---- Windows ----

test('Windows: Get-NetAdapter + Get-NetIPAddress JSON of a laptop (Wi-Fi, USB NIC, Hyper-V, WSL, VPNs, VMware, Bluetooth)', () => {
  const list = parseWindowsAdapters(fx('windows', 'laptop-adapters.json'));
  assert.deepEqual(
    list.map((a) => [a.name, a.hardware, a.virtualKind ?? '', a.linkUp, a.ipv4 ? `${a.ipv4.address}/${a.ipv4.prefix}` : '', a.usb ?? false]),
    [
      ['Ethernet', 'wired', '', false, '169.254.40.17/16', false],
      ['Wi-Fi', 'wifi', '', true, '192.168.1.34/24', false],
      ['Ethernet 2', 'wired', '', true, '192.168.50.1/24', true],
      ['vEthernet (Default Switch)', 'virtual', 'Hyper-V Default Switch (NAT)', true, '172.29.96.1/20', false],
      ['vEthernet (WSL)', 'virtual', 'WSL network (Hyper-V)', true, '172.18.160.1/20', false],
      ['Ethernet 3', 'virtual', 'VPN (TAP/TUN)', false, '', false],
      ['Ethernet 4', 'virtual', 'VPN', true, '10.64.12.7/24', false],
      ['VMware Network Adapter VMnet8', 'virtual', 'VMware network', true, '192.168.183.1/24', false],
      ['Bluetooth Network Connection', 'virtual', 'Bluetooth network', false, '', false],
    ],
  );
  const usb = list.find((a) => a.name === 'Ethernet 2');
  assert.equal(usb?.mac, '00:e0:4c:68:0a:b2');
  assert.equal(usb?.ipv4?.netmask, '255.255.255.0');
  assert.equal(usb?.description, 'Realtek USB GbE Family Controller');
  assert.equal(list.find((a) => a.name === 'Ethernet')?.selfAssigned, true);
  assert.equal(list.find((a) => a.name === 'vEthernet (WSL)')?.ipv4?.netmask, '255.255.240.0');
});

test('Windows: one adapter comes as an object, not an array; 5.1 wraps arrays as {value, Count}; enums may be numbers', () => {
  const [nic, ...rest] = parseWindowsAdapters(fx('windows', 'usb-nic-self-assigned.json'));
  assert.equal(rest.length, 0);
  assert.equal(nic.name, 'Ethernet 2');
  assert.equal(nic.usb, true);
  assert.equal(nic.selfAssigned, true);
  assert.equal(nic.ipv4?.address, '169.254.118.9');
  assert.deepEqual(jsonList({ value: [{ a: 1 }, { a: 2 }], Count: 2 }), [{ a: 1 }, { a: 2 }]);
  assert.deepEqual(jsonList(null), []);
  // The enum as its number (ConvertTo-Json's default), no Status string: MediaConnectionState 2 is Disconnected.
  const numeric = JSON.stringify({ Adapters: { Name: 'Wi-Fi', InterfaceDescription: 'Intel(R) Wi-Fi 6 AX201 160MHz', MediaConnectionState: 2, NdisPhysicalMedium: 9 } });
  const [wifi] = parseWindowsAdapters(numeric);
  assert.deepEqual([wifi.hardware, wifi.linkUp, wifi.ipv4], ['wifi', false, null]);
  assert.match(WINDOWS_ADAPTERS_SCRIPT, /Get-NetAdapter -ErrorAction SilentlyContinue/);
  assert.match(WINDOWS_ADAPTERS_SCRIPT, /Get-NetIPAddress -AddressFamily IPv4/);
  assert.match(WINDOWS_ADAPTERS_SCRIPT, /ConvertTo-Json -Depth 3/);
});

/** What Node's os.networkInterfaces() gives on that laptop: adapters with an address, by the same names. */
const windowsNode = {
  'Wi-Fi': v4('192.168.1.34', 24, 'f8:e4:e3:5c:90:1d'),
  'Ethernet 2': v4('192.168.50.1', 24, '00:e0:4c:68:0a:b2'),
  'vEthernet (Default Switch)': v4('172.29.96.1', 20),
  'vEthernet (WSL)': v4('172.18.160.1', 20),
  'Ethernet 4': v4('10.64.12.7', 24),
  'VMware Network Adapter VMnet8': v4('192.168.183.1', 24),
  'Loopback Pseudo-Interface 1': v4('127.0.0.1', 8),
};

function runner(outputs: Record<string, string | Error>, calls: string[][] = []): CommandRunner {
  return (file, args) => {
    calls.push([file, ...args]);
    const key = Object.keys(outputs).find((k) => [file, ...args].join(' ').includes(k));
    const out = key === undefined ? new Error(`unexpected command ${file}`) : outputs[key];
    if (out instanceof Error) throw out;
    return out;
  };
}

test('Windows ranking: the USB NIC with link and IPv4 first and the automatic choice; Wi-Fi warned; Hyper-V, WSL, VPN, VMware last', () => {
  const calls: string[][] = [];
  const list = listInterfaces({ platform: 'win32', osInterfaces: windowsNode, run: runner({ 'Get-NetAdapter': fx('windows', 'laptop-adapters.json') }, calls) });
  assert.equal(calls.length, 1);
  assert.equal(calls[0][0], 'powershell.exe');
  assert.deepEqual(
    list.map((n) => [n.name, n.hardware, n.usable]),
    [
      ['Ethernet 2', 'wired', true],
      ['Ethernet', 'wired', false], // no cable
      ['Wi-Fi', 'wifi', true],
      ['Ethernet 4', 'virtual', true],
      ['vEthernet (Default Switch)', 'virtual', true],
      ['vEthernet (WSL)', 'virtual', true],
      ['VMware Network Adapter VMnet8', 'virtual', true],
      ['Bluetooth Network Connection', 'virtual', false],
      ['Ethernet 3', 'virtual', false],
      ['Loopback Pseudo-Interface 1', 'loopback', false],
    ],
  );
  const byName = new Map(list.map((n) => [n.name, n]));
  assert.match(byName.get('Wi-Fi')!.note, /^Wi-Fi: firmware cannot network-boot over Wi-Fi/);
  assert.equal(byName.get('Wi-Fi')!.wireless, true);
  assert.match(byName.get('Ethernet')!.note, /^link down/);
  assert.equal(byName.get('Ethernet 2')!.usb, true);
  assert.equal(byName.get('Ethernet 2')!.mac, '00:e0:4c:68:0a:b2');
  assert.equal(byName.get('Ethernet 4')!.virtualKind, 'VPN');
  assert.equal(bestInterface(list)?.name, 'Ethernet 2');
  assert.equal(defaultInterface(list).name, 'Ethernet 2');
  // Cable pulled from the USB NIC: no wired NIC is up, and still no virtual adapter is chosen by itself.
  const unplugged = list.filter((n) => n.name !== 'Ethernet 2');
  assert.equal(bestInterface(unplugged)?.name, 'Wi-Fi');
  assert.throws(() => defaultInterface(unplugged), /No usable wired interface: .*\(Ethernet 4, vEthernet \(Default Switch\), vEthernet \(WSL\), VMware Network Adapter VMnet8 are virtual/);
});

test('Windows: a wired NIC with only a self-assigned address is not usable and says how to set one', () => {
  const list = listInterfaces({
    platform: 'win32',
    osInterfaces: { 'Ethernet 2': v4('169.254.118.9', 16), 'Loopback Pseudo-Interface 1': v4('127.0.0.1', 8) },
    run: runner({ 'Get-NetAdapter': fx('windows', 'usb-nic-self-assigned.json') }),
  });
  const nic = list.find((n) => n.name === 'Ethernet 2')!;
  assert.equal(nic.usable, false);
  assert.match(nic.note, /self-assigned address \(169\.254\.118\.9/);
  assert.match(nic.note, /netsh interface ipv4 set address name="Ethernet 2" static/);
});

test('Windows: when PowerShell fails, the names decide as before and every NIC says so', () => {
  const list = listInterfaces({ platform: 'win32', osInterfaces: windowsNode, run: runner({ 'Get-NetAdapter': new Error('spawn powershell.exe ENOENT') }) });
  const byName = new Map(list.map((n) => [n.name, n]));
  assert.equal(byName.get('Wi-Fi')!.hardware, 'wifi');
  assert.equal(byName.get('vEthernet (WSL)')!.hardware, 'virtual');
  assert.equal(byName.get('Ethernet 2')!.hardware, 'wired');
  assert.match(byName.get('Ethernet 2')!.note, /Get-NetAdapter failed \(spawn powershell\.exe ENOENT\): link, Wi-Fi and virtual adapters are guessed from names/);
});

// ---- macOS ----

test('macOS: networksetup hardware ports, ifconfig and the default route', () => {
  const ports = parseHardwarePorts(fx('macos', 'networksetup-listallhardwareports.txt'));
  assert.deepEqual(
    ports.map((p) => [p.port, p.device]),
    [
      ['Wi-Fi', 'en0'],
      ['Thunderbolt Bridge', 'bridge0'],
      ['Thunderbolt 1', 'en1'],
      ['Thunderbolt 2', 'en2'],
      ['Thunderbolt Ethernet Slot 1', 'en5'],
      ['USB 10/100/1000 LAN', 'en7'],
    ],
  );
  assert.equal(ports[4].mac, '64:4b:f0:13:2e:9a');
  const ifs = new Map(parseIfconfig(fx('macos', 'ifconfig.txt')).map((e) => [e.name, e]));
  assert.deepEqual(ifs.get('en5')?.ipv4, { address: '192.168.50.1', prefix: 24, netmask: '255.255.255.0' });
  assert.equal(ifs.get('en5')?.status, 'active');
  assert.equal(ifs.get('en7')?.status, 'inactive');
  assert.equal(ifs.get('en7')?.ipv4, undefined);
  assert.deepEqual(ifs.get('lo0')?.ipv4, { address: '127.0.0.1', prefix: 8, netmask: '255.0.0.0' });
  assert.deepEqual(ifs.get('utun4')?.ipv4, { address: '10.8.0.6', prefix: 32, netmask: '255.255.255.255' });
  assert.equal(ifs.get('stf0')?.flags.length, 0);
  assert.equal(parseDefaultRoute(fx('macos', 'route-n-get-default.txt')), 'en0');

  const facts = parseMacAdapters({
    hardwarePorts: fx('macos', 'networksetup-listallhardwareports.txt'),
    ifconfig: fx('macos', 'ifconfig.txt'),
    defaultRoute: fx('macos', 'route-n-get-default.txt'),
  });
  assert.deepEqual(
    facts.map((a) => [a.name, a.hardware, a.virtualKind ?? '', a.linkUp, a.usb ?? false]),
    [
      ['lo0', 'loopback', '', true, false],
      ['gif0', 'virtual', 'tunnel', false, false],
      ['stf0', 'virtual', 'tunnel', false, false],
      ['anpi0', 'virtual', 'Apple internal link (anpi)', false, false],
      ['en0', 'wifi', '', true, false],
      ['en1', 'virtual', 'Thunderbolt port (Mac-to-Mac link)', false, false],
      ['en2', 'virtual', 'Thunderbolt port (Mac-to-Mac link)', false, false],
      ['bridge0', 'virtual', 'Thunderbolt Bridge (Mac-to-Mac link)', false, false],
      ['ap1', 'virtual', 'Wi-Fi hotspot (Personal Hotspot)', false, false],
      ['awdl0', 'virtual', 'Apple Wireless Direct Link (AirDrop)', true, false],
      ['llw0', 'virtual', 'Apple Wireless Direct Link (AirDrop)', false, false],
      ['en5', 'wired', '', true, false],
      ['en7', 'wired', '', false, true],
      ['utun0', 'virtual', 'VPN', true, false],
      ['utun4', 'virtual', 'VPN', true, false],
    ],
  );
  assert.equal(facts.find((a) => a.name === 'en0')?.defaultRoute, true);
  assert.equal(facts.find((a) => a.name === 'en5')?.description, 'Thunderbolt Ethernet Slot 1');
});

test('macOS ranking: the Thunderbolt Ethernet NIC first and chosen; the USB NIC without link; Wi-Fi warned; VPN and AirDrop last', () => {
  const calls: string[][] = [];
  const osInterfaces = {
    lo0: v4('127.0.0.1', 8),
    en0: v4('192.168.1.23', 24, 'a4:83:e7:5b:12:c0'),
    en5: v4('192.168.50.1', 24, '64:4b:f0:13:2e:9a'),
    utun4: v4('10.8.0.6', 32),
  };
  const list = listInterfaces({
    platform: 'darwin',
    osInterfaces,
    run: runner(
      {
        networksetup: fx('macos', 'networksetup-listallhardwareports.txt'),
        ifconfig: fx('macos', 'ifconfig.txt'),
        route: fx('macos', 'route-n-get-default.txt'),
      },
      calls,
    ),
  });
  assert.deepEqual(calls.map((c) => c[0]), ['/usr/sbin/networksetup', '/sbin/ifconfig', '/sbin/route']);
  assert.deepEqual(list.slice(0, 3).map((n) => [n.name, n.hardware, n.usable]), [
    ['en5', 'wired', true],
    ['en7', 'wired', false],
    ['en0', 'wifi', true],
  ]);
  const byName = new Map(list.map((n) => [n.name, n]));
  assert.match(byName.get('en7')!.note, /^link down/);
  assert.equal(byName.get('en7')!.usb, true);
  assert.equal(byName.get('en7')!.description, 'USB 10/100/1000 LAN');
  assert.match(byName.get('en0')!.note, /^Wi-Fi: firmware cannot network-boot/);
  assert.equal(byName.get('utun4')!.hardware, 'virtual');
  assert.equal(byName.get('utun4')!.usable, true);
  assert.equal(list[list.length - 1].name, 'lo0');
  assert.equal(bestInterface(list)?.name, 'en5');
  assert.equal(defaultInterface(list).name, 'en5');
  // Thunderbolt NIC unplugged: Wi-Fi is preselected (with its warning), the VPN is never the automatic choice.
  const noWired = list.filter((n) => n.name !== 'en5');
  assert.equal(bestInterface(noWired)?.name, 'en0');
  assert.throws(() => defaultInterface(noWired), /No usable wired interface: .*\(utun4 is virtual/);
  // en7 without an address says how to give it one, by its network service name.
  const withLink = listInterfaces({
    platform: 'darwin',
    osInterfaces,
    run: runner({
      networksetup: fx('macos', 'networksetup-listallhardwareports.txt'),
      ifconfig: fx('macos', 'ifconfig.txt').replace(/(en7:[\s\S]*?status: )inactive/, '$1active'),
      route: new Error('route: writing to routing socket: not in table'),
    }),
  });
  assert.match(withLink.find((n) => n.name === 'en7')!.note, /sudo networksetup -setmanual "USB 10\/100\/1000 LAN" 192\.168\.50\.1/);
});

// ---- port owners ----

test('Windows port owners: the DHCP Server service and WDS named, one line per process', () => {
  const owners = parseWindowsEndpoints(fx('windows', 'udp-endpoints-dhcp-wds.json'));
  assert.deepEqual(
    owners.map((o) => [o.pid, o.command, o.services, o.description]),
    [
      [3120, 'svchost', ['DHCPServer'], 'the Windows DHCP Server service (DHCPServer)'],
      [2876, 'svchost', ['WDSServer'], 'Windows Deployment Services (WDSServer)'],
    ],
  );
  const one = parseWindowsEndpoints(fx('windows', 'udp-endpoint-tftpd64.json'));
  assert.deepEqual(one.map((o) => [o.pid, o.description, o.local]), [[7420, 'Tftpd64 (DHCP/TFTP server)', '192.168.50.1:69']]);
  assert.deepEqual(parseWindowsEndpoints(''), []);
  const script = windowsPortOwnersScript('udp', [67, 69, 4011]);
  assert.match(script, /Get-NetUDPEndpoint -LocalPort 67,69,4011/);
  assert.match(script, /Get-Process -Id \$_\.OwningProcess/);
  assert.doesNotMatch(script + WINDOWS_ADAPTERS_SCRIPT, /"/, 'no double quote for Windows argv quoting to mangle');
  assert.match(windowsPortOwnersScript('tcp', [80]), /Get-NetTCPConnection -State Listen -LocalPort 80/);
  // Through describePortOwners, as the "port in use" error shows it.
  const said = describePortOwners('udp', 67, { platform: 'win32', run: runner({ 'Get-NetUDPEndpoint': fx('windows', 'udp-endpoints-dhcp-wds.json') }) });
  assert.equal(said, 'the Windows DHCP Server service (DHCPServer), pid 3120; Windows Deployment Services (WDSServer), pid 2876');
});

test('Windows port owners without PowerShell: netstat -ano and tasklist /svc name Serva', () => {
  const rows = parseNetstat(fx('windows', 'netstat-ano-udp-serva.txt'), 'udp', [67, 69, 4011]);
  assert.deepEqual(rows, [
    { local: '0.0.0.0:67', pid: 5512 },
    { local: '0.0.0.0:69', pid: 5512 },
    { local: '0.0.0.0:4011', pid: 5512 },
    { local: '[::]:69', pid: 5512 },
  ]);
  const tasks = parseTasklistSvc(fx('windows', 'tasklist-svc-serva.csv'));
  assert.deepEqual(tasks.get(1412), { image: 'svchost.exe', services: ['Dhcp', 'EventLog'] });
  assert.deepEqual(tasks.get(5512), { image: 'Serva64.exe', services: [] });
  const calls: string[][] = [];
  const owners = findPortOwners('udp', 69, {
    platform: 'win32',
    run: runner(
      {
        powershell: new Error('powershell.exe is blocked by policy'),
        netstat: fx('windows', 'netstat-ano-udp-serva.txt'),
        tasklist: fx('windows', 'tasklist-svc-serva.csv'),
      },
      calls,
    ),
  });
  assert.deepEqual(calls.map((c) => c.slice(0, 4).join(' ')), ['powershell.exe -NoProfile -NonInteractive -ExecutionPolicy', 'netstat.exe -ano -p UDP', 'tasklist.exe /svc /fo csv']);
  assert.deepEqual(owners.map((o) => [o.pid, o.command, o.description]), [[5512, 'Serva64', 'Serva (PXE server)']]);
  // The DHCP client (port 68) is not an owner of 67.
  assert.deepEqual(parseNetstat(fx('windows', 'netstat-ano-udp-serva.txt'), 'udp', [68]), [{ local: '192.168.50.1:68', pid: 1412 }]);
});

test('macOS port owners: lsof field output; launchd holding tftpd\'s socket and bootpd named', () => {
  const owners = parseLsofFields(fx('macos', 'lsof-udp-67-69-4011.txt'));
  assert.deepEqual(
    owners.map((o) => [o.pid, o.command, o.local, o.description]),
    [
      [1, 'launchd', '*:69', "macOS's TFTP server (tftpd), started on demand by launchd (com.apple.tftpd)"],
      [412, 'bootpd', '*:67', "macOS's DHCP/BOOTP server (bootpd: Internet Sharing or NetBoot)"],
    ],
  );
  assert.deepEqual(macLsofArgs('udp', [67, 69, 4011]), ['-nP', '-iUDP:67', '-iUDP:69', '-iUDP:4011', '-Fpcfn']);
  assert.deepEqual(macLsofArgs('tcp', [8080]), ['-nP', '-iTCP:8080', '-sTCP:LISTEN', '-Fpcfn']);
  const said = describePortOwners('udp', 67, { platform: 'darwin', run: runner({ lsof: 'p412\ncbootpd\nf3\nn*:67\n' }) });
  assert.equal(said, "macOS's DHCP/BOOTP server (bootpd: Internet Sharing or NetBoot), pid 412");
  // lsof exits 1 with nothing on stdout when no process holds the port.
  const none = Object.assign(new Error('Command failed: lsof'), { stdout: '' });
  assert.deepEqual(findPortOwners('udp', 4011, { platform: 'darwin', run: runner({ lsof: none }) }), []);
});
