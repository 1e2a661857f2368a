// Windows Firewall rule parsing and evaluation, on netsh's English listing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateFirewall, firewallFixCommands, formatCommand, parseNetshRules } from '../../src/diagnostics/windows-firewall.js';
import { firewallCheck } from '../../src/diagnostics/checks.js';

const NODE = 'C:\\Program Files\\nodejs\\node.exe';

function rule(name: string, fields: Record<string, string>): string {
  const base: Record<string, string> = {
    Enabled: 'Yes', Direction: 'In', Profiles: 'Domain,Private,Public', Grouping: '', LocalIP: 'Any', RemoteIP: 'Any',
    Protocol: 'Any', 'Edge traversal': 'No', InterfaceTypes: 'Any', Security: 'NotRequired', 'Rule source': 'Local Setting', Action: 'Allow', ...fields,
  };
  return [`Rule Name:                            ${name}`, '-'.repeat(70), ...Object.entries(base).map(([k, v]) => `${`${k}:`.padEnd(38)}${v}`), ''].join('\r\n');
}

const LISTING = [
  '',
  rule('Core Networking - DHCP (DHCP-In)', { Protocol: 'UDP', LocalPort: '68', RemotePort: '67', Program: '%SystemRoot%\\system32\\svchost.exe' }),
  rule('PXE Kit (DHCP, TFTP, PXE)', { Protocol: 'UDP', LocalPort: '67,69,4011', RemotePort: 'Any' }),
  rule('Old TFTP', { Enabled: 'No', Protocol: 'UDP', LocalPort: '69' }),
  'Ok.',
  '',
].join('\r\n');

test('parses netsh blocks: names, enabled, direction, protocol, ports, program', () => {
  const rules = parseNetshRules(LISTING);
  assert.equal(rules.length, 3);
  assert.deepEqual(
    rules.map((r) => [r.name, r.enabled, r.direction, r.action, r.protocol, r.localPorts]),
    [
      ['Core Networking - DHCP (DHCP-In)', true, 'in', 'allow', 'udp', '68'],
      ['PXE Kit (DHCP, TFTP, PXE)', true, 'in', 'allow', 'udp', '67,69,4011'],
      ['Old TFTP', false, 'in', 'allow', 'udp', '69'],
    ],
  );
  assert.equal(rules[0].program, '%SystemRoot%\\system32\\svchost.exe');
});

test('UDP ports allowed but not HTTP: missing names TCP 8080; a program rule covers everything', () => {
  const v = evaluateFirewall(parseNetshRules(LISTING), NODE, 8080);
  assert.equal(v.state, 'missing');
  assert.deepEqual(v.missing.map((m) => `${m.protocol}/${m.port}`), ['tcp/8080']);
  const withProgram = LISTING + rule('PXE Kit', { Protocol: 'Any', LocalPort: 'Any', Program: NODE.toUpperCase() });
  const ok = evaluateFirewall(parseNetshRules(withProgram), NODE, 8080);
  assert.equal(ok.state, 'ok');
  assert.equal(ok.programRule, 'PXE Kit');
});

test('port ranges count; a block rule on 69 wins over allows', () => {
  const ranges = rule('range', { Protocol: 'UDP', LocalPort: '60-5000' }) + rule('web', { Protocol: 'TCP', LocalPort: '8000-8100' });
  assert.equal(evaluateFirewall(parseNetshRules(ranges), NODE, 8080).state, 'ok');
  const blocked = ranges + rule('No TFTP', { Protocol: 'UDP', LocalPort: '69', Action: 'Block' });
  const v = evaluateFirewall(parseNetshRules(blocked), NODE, 8080);
  assert.equal(v.state, 'missing');
  assert.deepEqual(v.blocking, ['No TFTP']);
});

test('unreadable listing (another language, netsh failed) is unknown, not missing', () => {
  assert.equal(evaluateFirewall(parseNetshRules('Regelname: x\r\nAktiviert: Ja\r\n'), NODE, 8080).state, 'unknown');
});

test('the host check offers the netsh commands, and is skipped off Windows', async () => {
  const c = await firewallCheck('win32', 8080, parseNetshRules(LISTING), NODE);
  assert.equal(c.status, 'fail');
  assert.match(c.detail, /HTTP \(TCP 8080\)/);
  assert.deepEqual(c.fixCommands, firewallFixCommands(NODE, 8080));
  assert.match(c.fix!, /netsh advfirewall firewall add rule name="PXE Kit" dir=in action=allow program="C:\\Program Files\\nodejs\\node.exe"/);
  assert.equal(formatCommand(['netsh', 'name=PXE Kit', 'dir=in']), 'netsh name="PXE Kit" dir=in');
  assert.equal((await firewallCheck('linux', 8080)).status, 'skip');
});
