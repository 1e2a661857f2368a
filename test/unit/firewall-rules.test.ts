// Windows Firewall rules PXE Kit adds while serving (with consent): the PowerShell
// commands generated, the NIC's profile, the state file and leftover cleanup, and
// the naming of a blocking rule. The OS outputs are fixtures constructed from
// Microsoft's documentation (test/fixtures/os/windows/firewall/README.md), not
// recordings; no PowerShell runs here (the runner is a fake).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CONSENT_HINT, RULE_GROUP, STATE_FILE, UnsafeValueError, addRuleCommands, addRulesScript, blockingRuleNames, blockingRulesCommand, closeFirewall,
  connectionProfileCommand, openFirewall, parseBlockingRules, parseConnectionProfile, profileFromCategory, psQuote, readState, removeLeftoverRules,
  removeRulesCommand, type PowerShellRunner,
} from '../../src/diagnostics/windows-firewall-rules.js';
import { parseNetshRules } from '../../src/diagnostics/windows-firewall.js';
import { firewallCheck } from '../../src/diagnostics/checks.js';
import { Diagnostician } from '../../src/diagnostics/rules.js';
import type { Diagnosis } from '../../src/diagnostics/types.js';

const dir = fileURLToPath(new URL('../../../test/fixtures/os/windows/firewall/', import.meta.url));
interface Fixture { origin: string; command: string; stdout: string }
const fixture = (name: string): Fixture => JSON.parse(readFileSync(join(dir, name), 'utf8')) as Fixture;
const ENGINE = 'C:\\Program Files\\PXE Kit\\resources\\engine\\node.exe';

function fakeRunner(answers: Array<(script: string) => { ok: boolean; stdout?: string; stderr?: string }>): PowerShellRunner & { scripts: string[] } {
  const scripts: string[] = [];
  const run = (async (script: string) => {
    scripts.push(script);
    const a = answers[Math.min(scripts.length - 1, answers.length - 1)](script);
    return { ok: a.ok, stdout: a.stdout ?? '', stderr: a.stderr ?? '' };
  }) as PowerShellRunner & { scripts: string[] };
  run.scripts = scripts;
  return run;
}

function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'pxekit-fw-'));
}

test('every fixture says where it came from: constructed from a Microsoft page, not recorded', () => {
  for (const f of ['connection-profile-private-ps51.json', 'connection-profile-public-names.json', 'connection-profile-domain.json', 'blocking-rules.json']) {
    assert.match(fixture(f).origin, /^constructed from https:\/\/learn\.microsoft\.com\/.*not recorded on a machine$/, f);
  }
  assert.match(readFileSync(join(dir, 'netsh-show-rule-block.txt'), 'utf8'), /^# constructed from https:\/\/learn\.microsoft\.com\/.*not recorded on a machine/);
});

test('the commands for a NIC: four inbound allow rules, program, interface, profile, group, fixed names', () => {
  const cmds = addRuleCommands({ nic: 'Ethernet 2', profile: 'Private', program: ENGINE, httpPort: 8080 });
  assert.deepEqual(cmds, [
    "New-NetFirewallRule -Name 'pxekit-udp-67' -DisplayName 'PXE Kit (pxekit) — UDP 67 (DHCP / proxyDHCP)' -Group 'PXE Kit' -Description 'Added by PXE Kit while serving on Ethernet 2; removed when it stops.' -Direction Inbound -Action Allow -Protocol UDP -LocalPort 67 -Program 'C:\\Program Files\\PXE Kit\\resources\\engine\\node.exe' -InterfaceAlias 'Ethernet 2' -Profile Private -Enabled True | Out-Null",
    "New-NetFirewallRule -Name 'pxekit-udp-69' -DisplayName 'PXE Kit (pxekit) — UDP 69 (TFTP)' -Group 'PXE Kit' -Description 'Added by PXE Kit while serving on Ethernet 2; removed when it stops.' -Direction Inbound -Action Allow -Protocol UDP -LocalPort 69 -Program 'C:\\Program Files\\PXE Kit\\resources\\engine\\node.exe' -InterfaceAlias 'Ethernet 2' -Profile Private -Enabled True | Out-Null",
    "New-NetFirewallRule -Name 'pxekit-udp-4011' -DisplayName 'PXE Kit (pxekit) — UDP 4011 (PXE boot server)' -Group 'PXE Kit' -Description 'Added by PXE Kit while serving on Ethernet 2; removed when it stops.' -Direction Inbound -Action Allow -Protocol UDP -LocalPort 4011 -Program 'C:\\Program Files\\PXE Kit\\resources\\engine\\node.exe' -InterfaceAlias 'Ethernet 2' -Profile Private -Enabled True | Out-Null",
    "New-NetFirewallRule -Name 'pxekit-tcp-8080' -DisplayName 'PXE Kit (pxekit) — TCP 8080 (HTTP)' -Group 'PXE Kit' -Description 'Added by PXE Kit while serving on Ethernet 2; removed when it stops.' -Direction Inbound -Action Allow -Protocol TCP -LocalPort 8080 -Program 'C:\\Program Files\\PXE Kit\\resources\\engine\\node.exe' -InterfaceAlias 'Ethernet 2' -Profile Private -Enabled True | Out-Null",
  ]);
  // Another TFTP port (--tftp-port) is the port opened.
  assert.match(addRuleCommands({ nic: 'Ethernet', profile: 'Public', program: ENGINE, httpPort: 80, tftpPort: 6969 })[1], /-Protocol UDP -LocalPort 6969 .* -Profile Public /);
  assert.equal(removeRulesCommand(), "Remove-NetFirewallRule -Group 'PXE Kit' -ErrorAction SilentlyContinue");
  const script = addRulesScript({ nic: 'Ethernet 2', profile: 'Private', program: ENGINE, httpPort: 8080 }).split('\n');
  assert.deepEqual(script.slice(0, 2), ["$ErrorActionPreference = 'Stop'", removeRulesCommand()], 'stop at the first error; earlier PXE Kit rules go first');
  assert.equal(script.length, 6);
  assert.equal(RULE_GROUP, 'PXE Kit');
});

test('a NIC alias with quotes is quoted for PowerShell; one with a control character is refused', () => {
  assert.equal(psQuote("Bob's USB NIC"), "'Bob''s USB NIC'");
  assert.equal(psQuote('Ethernet ‘lab’'), "'Ethernet ‘‘lab’’'", 'typographic single quotes end a PowerShell string too');
  assert.equal(psQuote('say "hi" $env:PATH `n'), "'say \"hi\" $env:PATH `n'", 'no expansion inside single quotes');
  const cmds = addRuleCommands({ nic: "Bob's NIC", profile: 'Private', program: ENGINE, httpPort: 8080 });
  for (const c of cmds) {
    assert.match(c, / -InterfaceAlias 'Bob''s NIC' /);
    assert.doesNotMatch(c.replace(/'(?:[^']|'')*'/g, "''"), /Bob|NIC'/, 'nothing of the alias outside a quoted literal');
  }
  for (const bad of ['Ethernet\n2', 'Eth\u0000', 'Eth\u001b[31m', 'Eth\u2028x']) {
    assert.throws(() => addRuleCommands({ nic: bad, profile: 'Private', program: ENGINE, httpPort: 8080 }), UnsafeValueError);
    assert.throws(() => connectionProfileCommand(bad), /control character: refused/);
  }
  assert.throws(() => psQuote(''), UnsafeValueError);
});

test('the NIC profile from Get-NetConnectionProfile JSON: Public/Private/DomainAuthenticated → Public/Private/Domain', () => {
  assert.equal(connectionProfileCommand('Ethernet 2'), "Get-NetConnectionProfile -InterfaceAlias 'Ethernet 2' | Select-Object InterfaceAlias, NetworkCategory | ConvertTo-Json -Compress");
  assert.deepEqual(parseConnectionProfile(fixture('connection-profile-private-ps51.json').stdout, 'Ethernet 2'), { profile: 'Private', category: '1' });
  assert.deepEqual(parseConnectionProfile(fixture('connection-profile-public-names.json').stdout, 'usb ethernet'), { profile: 'Public', category: 'Public' });
  assert.equal(parseConnectionProfile(fixture('connection-profile-domain.json').stdout, 'Ethernet').profile, 'Domain');
  assert.deepEqual([0, 1, 2, 'Public', 'Private', 'DomainAuthenticated', 3, 'Other'].map(profileFromCategory), ['Public', 'Private', 'Domain', 'Public', 'Private', 'Domain', undefined, undefined]);
  assert.match(parseConnectionProfile('', 'Ethernet').problem!, /no connection profile/);
  assert.match(parseConnectionProfile(fixture('connection-profile-private-ps51.json').stdout, 'Wi-Fi').problem!, /no connection profile for Wi-Fi/);
  assert.match(parseConnectionProfile('Get-NetConnectionProfile : No MSFT_NetConnectionProfile objects found', 'Ethernet').problem!, /no JSON/);
});

test('without consent nothing runs and nothing is written; off Windows neither', async () => {
  const data = tempDataDir();
  try {
    const run = fakeRunner([() => ({ ok: true })]);
    const no = await openFirewall({ consent: false, nic: 'Ethernet 2', program: ENGINE, httpPort: 8080, dataDir: data, platform: 'win32', run });
    assert.equal(no.changed, false);
    assert.match(no.message, new RegExp(`no consent: ${CONSENT_HINT.replace(/[()]/g, '\\$&')}`));
    assert.equal(run.scripts.length, 0, 'the runner is not called without consent');
    const linux = await openFirewall({ consent: true, nic: 'eth0', program: ENGINE, httpPort: 8080, dataDir: data, platform: 'linux', run });
    assert.equal(linux.changed, false);
    assert.equal(run.scripts.length, 0);
    const bad = await openFirewall({ consent: true, nic: 'Eth\n2', program: ENGINE, httpPort: 8080, dataDir: data, platform: 'win32', run });
    assert.equal(bad.ok, false);
    assert.match(bad.message, /control character: refused/);
    assert.equal(run.scripts.length, 0, 'a refused alias runs nothing');
    assert.equal(existsSync(join(data, STATE_FILE)), false);
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
});

test('with consent: the profile is read, the state file written, the rules added; stop removes them and the file', async () => {
  const data = tempDataDir();
  try {
    const run = fakeRunner([() => ({ ok: true, stdout: fixture('connection-profile-private-ps51.json').stdout }), () => ({ ok: true }), () => ({ ok: true })]);
    const done = await openFirewall({ consent: true, nic: 'Ethernet 2', program: ENGINE, httpPort: 8080, dataDir: data, platform: 'win32', run, now: () => new Date('2026-12-07T06:00:00Z') });
    assert.equal(done.changed, true);
    assert.deepEqual(run.scripts, [connectionProfileCommand('Ethernet 2'), addRulesScript({ nic: 'Ethernet 2', profile: 'Private', program: ENGINE, httpPort: 8080 })]);
    assert.equal(done.message, `added 4 inbound allow rules to Windows Firewall (group "PXE Kit") for ports 67, 69, 4011 (UDP) and 8080 (TCP), program ${ENGINE}, on Ethernet 2 only, in the Private profile (Ethernet 2's network category); they are removed when serving stops`);
    const state = readState(data)!;
    assert.equal(state.nic, 'Ethernet 2');
    assert.equal(state.profile, 'Private');
    assert.deepEqual(state.rules.map((r) => `${r.protocol} ${r.port}`), ['UDP 67', 'UDP 69', 'UDP 4011', 'TCP 8080']);
    const closed = await closeFirewall({ dataDir: data, platform: 'win32', run });
    assert.equal(closed.changed, true);
    assert.equal(run.scripts.at(-1), removeRulesCommand());
    assert.equal(closed.message, 'removed PXE Kit\'s Windows Firewall rules (group "PXE Kit", added 2026-12-07T06:00:00.000Z on Ethernet 2)');
    assert.equal(existsSync(join(data, STATE_FILE)), false);
    // Nothing recorded: stop runs nothing.
    const again = await closeFirewall({ dataDir: data, platform: 'win32', run });
    assert.equal(again.changed, false);
    assert.equal(run.scripts.length, 3);
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
});

test('an unreadable profile opens for any profile (still this NIC only) and says why; a failed add is undone and reported', async () => {
  const data = tempDataDir();
  try {
    const run = fakeRunner([() => ({ ok: false, stderr: 'Get-NetConnectionProfile : No MSFT_NetConnectionProfile objects found' }), () => ({ ok: true })]);
    const done = await openFirewall({ consent: true, nic: 'Ethernet 3', program: ENGINE, httpPort: 8080, dataDir: data, platform: 'win32', run });
    assert.match(run.scripts[1], /-InterfaceAlias 'Ethernet 3' -Profile Any /);
    assert.match(done.message, /in any profile \(Ethernet 3's network category could not be read: Get-NetConnectionProfile : No MSFT/);

    const failing = fakeRunner([() => ({ ok: true, stdout: fixture('connection-profile-public-names.json').stdout }), () => ({ ok: false, stderr: 'New-NetFirewallRule : Access is denied.\r\nmore' }), () => ({ ok: true })]);
    const res = await openFirewall({ consent: true, nic: 'USB Ethernet', program: ENGINE, httpPort: 8080, dataDir: data, platform: 'win32', run: failing });
    assert.equal(res.ok, false);
    assert.equal(res.changed, false);
    assert.match(res.message, /^could not add the Windows Firewall rules \(New-NetFirewallRule : Access is denied\.\); machines may get no answer\. Add them by hand/);
    assert.equal(failing.scripts.at(-1), removeRulesCommand(), 'whatever was added is removed');
    assert.equal(existsSync(join(data, STATE_FILE)), false);
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
});

test('leftover rules from a crash: removed at the next start from the state file; kept on record when removal fails', async () => {
  const data = tempDataDir();
  try {
    const none = fakeRunner([() => ({ ok: true })]);
    assert.equal((await removeLeftoverRules({ dataDir: data, platform: 'win32', run: none })).changed, false);
    assert.equal(none.scripts.length, 0, 'no state file: no PowerShell at start');

    const crashed = { version: 1, addedAt: '2026-12-06T17:42:00.000Z', pid: 4242, nic: 'Ethernet 2', profile: 'Private', program: ENGINE, rules: [{ displayName: 'PXE Kit (pxekit) — UDP 67 (DHCP / proxyDHCP)', protocol: 'UDP', port: 67 }] };
    writeFileSync(join(data, STATE_FILE), JSON.stringify(crashed));
    const denied = fakeRunner([() => ({ ok: false, stderr: 'Remove-NetFirewallRule : Access is denied.' })]);
    const failed = await removeLeftoverRules({ dataDir: data, platform: 'win32', run: denied });
    assert.equal(failed.ok, false);
    assert.match(failed.message, /tries again at its next start/);
    assert.equal(existsSync(join(data, STATE_FILE)), true, 'kept: the next start tries again');

    const ok = fakeRunner([() => ({ ok: true })]);
    const removed = await removeLeftoverRules({ dataDir: data, platform: 'win32', run: ok });
    assert.deepEqual(ok.scripts, [removeRulesCommand()]);
    assert.equal(removed.message, 'removed PXE Kit\'s Windows Firewall rules (group "PXE Kit", added 2026-12-06T17:42:00.000Z on Ethernet 2), left by a run that did not stop cleanly');
    assert.equal(existsSync(join(data, STATE_FILE)), false);

    // A damaged state file still means "rules may be left": the group is removed.
    writeFileSync(join(data, STATE_FILE), '{"version":1,"nic":');
    const again = fakeRunner([() => ({ ok: true })]);
    assert.equal((await removeLeftoverRules({ dataDir: data, platform: 'win32', run: again })).changed, true);
    assert.deepEqual(again.scripts, [removeRulesCommand()]);
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
});

test('blocking rules from PowerShell JSON: the one on a port PXE Kit needs is named, others not', () => {
  assert.match(blockingRulesCommand(), /^Get-NetFirewallRule -Direction Inbound -Action Block -Enabled True \| ForEach-Object \{.*Get-NetFirewallPortFilter.*Get-NetFirewallApplicationFilter.*ConvertTo-Json -Compress$/);
  const rules = parseBlockingRules(fixture('blocking-rules.json').stdout)!;
  assert.deepEqual(rules.map((r) => [r.name, r.protocol, r.localPorts, r.program ?? 'any']), [
    ['Block TFTP (site policy)', 'udp', '69', 'any'],
    ['Block RDP from guests', 'tcp', '3389', 'any'],
    ['Block high UDP for node', 'udp', '4000-4100,5353', ENGINE],
  ]);
  assert.deepEqual(blockingRuleNames(rules, ENGINE, 8080), ['Block TFTP (site policy)', 'Block high UDP for node']);
  assert.deepEqual(blockingRuleNames(rules, 'C:\\other\\node.exe', 8080), ['Block TFTP (site policy)'], 'a program-scoped block rule hits only that program');
  // One rule: ConvertTo-Json writes an object, LocalPort may be a string; nothing: empty output.
  assert.deepEqual(parseBlockingRules('{"Name":"x","DisplayName":"No HTTP","Profile":"Any","Protocol":"TCP","LocalPort":"8080","Program":"Any"}')!.map((r) => r.localPorts), ['8080']);
  assert.deepEqual(parseBlockingRules(''), []);
  assert.equal(parseBlockingRules('Get-NetFirewallRule : Zugriff verweigert'), undefined);
});

test('the preflight check names the blocking rule and offers --open-firewall for what is missing', async () => {
  const netsh = parseNetshRules(readFileSync(join(dir, 'netsh-show-rule-block.txt'), 'utf8'));
  const c = await firewallCheck('win32', 8080, netsh, ENGINE);
  assert.equal(c.status, 'fail');
  assert.deepEqual(c.blocking, ['Block TFTP (site policy)']);
  assert.match(c.detail, /blocked by rule\(s\) "Block TFTP \(site policy\)"/);
  assert.match(c.fix!, /^Disable the blocking rule\(s\) "Block TFTP \(site policy\)" while serving .*a block rule wins over every allow rule, PXE Kit's too/);

  // netsh in another language (unreadable) but PowerShell's block listing read: the rule is still named.
  const ps = parseBlockingRules(fixture('blocking-rules.json').stdout)!;
  const unknown = await firewallCheck('win32', 8080, parseNetshRules('Regelname: x\r\n'), ENGINE, ps);
  assert.equal(unknown.status, 'fail');
  assert.deepEqual(unknown.blocking, ['Block TFTP (site policy)', 'Block high UDP for node']);
  assert.match(unknown.fix!, new RegExp(CONSENT_HINT.replace(/[()]/g, '\\$&')));

  // Allow rules missing, nothing blocking: the consent hint comes first, netsh for permanent rules after.
  const missing = await firewallCheck('win32', 8080, netsh.filter((r) => r.action === 'allow' && r.protocol === 'udp'), ENGINE, []);
  assert.deepEqual(missing.missing, ['HTTP (TCP 8080)']);
  assert.match(missing.fix!, /^Serve with --open-firewall \(or tick Open the Windows firewall\) to add PXE Kit's rules while serving, or add permanent rules in an elevated prompt: netsh advfirewall/);
});

test('"no machine asked" names the blocking rule and the consent flag', () => {
  let now = 1_000_000;
  const got: Diagnosis[] = [];
  const d = new Diagnostician({ serverIp: '10.9.0.1', onDiagnosis: (x) => got.push(x), timings: { noClientsMs: 10_000 }, now: () => now });
  d.firewallFinding({ blocking: ['Block TFTP (site policy)'], missing: ['HTTP (TCP 8080)'] });
  d.serving(now);
  now += 11_000;
  d.tick(now);
  assert.equal(got.length, 1);
  assert.equal(got[0].code, 'no-clients');
  assert.match(got[0].causes[0], /the Windows Firewall rule\(s\) "Block TFTP \(site policy\)" block\(s\)/);
  assert.match(got[0].causes[1], /no inbound allow rule for HTTP \(TCP 8080\)/);
  assert.match(got[0].fix, /^Disable the Windows Firewall rule\(s\) "Block TFTP \(site policy\)" while serving/);
  assert.match(got[0].fix, /serve with --open-firewall \(or tick Open the Windows firewall\) to add PXE Kit's rules while serving/);

  // Nothing found (or not Windows): the usual wording only.
  const plain: Diagnosis[] = [];
  const p = new Diagnostician({ serverIp: '10.9.0.1', onDiagnosis: (x) => plain.push(x), timings: { noClientsMs: 10_000 }, now: () => now });
  p.firewallFinding({ blocking: [], missing: [] });
  p.serving(now);
  now += 11_000;
  p.tick(now);
  assert.doesNotMatch(plain[0].causes.join(' ') + plain[0].fix, /Firewall|open-firewall/);
});
