// Windows Firewall: the inbound rules PXE Kit adds while it serves, with the
// technician's consent (EngineOptions.openFirewall, `pxekit serve --open-firewall`,
// the "Open the Windows firewall" box next to Serve), and removes at stop.
//
// The rules are PowerShell (NetSecurity module) commands, not netsh: a rule can be
// put in a group ("PXE Kit") and scoped to one interface alias, and the group
// removes them all in one command, whatever their names. Each rule allows one
// port for the engine's executable only, on the served NIC only, in that NIC's
// network profile only (Get-NetConnectionProfile: Public / Private /
// DomainAuthenticated, firewall profiles Public / Private / Domain).
//
// A state file in the data dir (firewall-rules.json) records what was added. It
// is written before the rules are added and deleted after they are removed, so
// a crash leaves it behind and the next engine start removes the rules first.
//
// The NIC alias is user data: it goes into PowerShell single-quoted strings
// (quotes doubled, including the typographic single quotes PowerShell also
// treats as quotes); control characters are refused.
//
// Nothing here has run on Windows from this repository's test machines (Debian):
// the command syntax and the JSON shapes come from Microsoft's documentation
// (see test/fixtures/os/windows/firewall/README.md).
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/durable-file.js';
import { evaluateFirewall, type FirewallRule } from './windows-firewall.js';

export const RULE_GROUP = 'PXE Kit';
export const RULE_PREFIX = 'PXE Kit (pxekit) — ';
export const STATE_FILE = 'firewall-rules.json';
export const CONSENT_HINT = 'serve with --open-firewall (or tick Open the Windows firewall) to add PXE Kit\'s rules while serving';

/** A firewall profile as New-NetFirewallRule -Profile takes it. */
export type FirewallProfile = 'Public' | 'Private' | 'Domain' | 'Any';

export class UnsafeValueError extends Error {}

/** Characters PowerShell treats as a single quote (about_Quoting_Rules: ' and the typographic ‘ ’ ‚ ‛). */
const PS_SINGLE_QUOTES = /['\u2018\u2019\u201A\u201B]/g;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001F\u007F-\u009F\u2028\u2029]/;

/** A PowerShell single-quoted string literal for `value`; throws UnsafeValueError on control characters or an empty value. */
export function psQuote(value: string, what = 'value'): string {
  if (value.length === 0) throw new UnsafeValueError(`the ${what} is empty`);
  if (CONTROL.test(value)) throw new UnsafeValueError(`the ${what} ${JSON.stringify(value)} contains a control character: refused`);
  return `'${value.replace(PS_SINGLE_QUOTES, (q) => q + q)}'`;
}

export interface PxeRule {
  /** The rule's Name (its unique id in the policy store). */
  name: string;
  displayName: string;
  protocol: 'UDP' | 'TCP';
  port: number;
  what: string;
}

export function pxeRules(ports: { httpPort: number; tftpPort?: number }): PxeRule[] {
  const list: Array<[PxeRule['protocol'], number, string]> = [
    ['UDP', 67, 'DHCP / proxyDHCP'],
    ['UDP', ports.tftpPort ?? 69, 'TFTP'],
    ['UDP', 4011, 'PXE boot server'],
    ['TCP', ports.httpPort, 'HTTP'],
  ];
  return list.map(([protocol, port, what]) => ({
    name: `pxekit-${protocol.toLowerCase()}-${port}`,
    displayName: `${RULE_PREFIX}${protocol} ${port} (${what})`,
    protocol,
    port,
    what,
  }));
}

/** Get-NetConnectionProfile's NetworkCategory (a name, or the number ConvertTo-Json writes for the enum in Windows PowerShell 5.1) → firewall profile. */
export function profileFromCategory(category: unknown): FirewallProfile | undefined {
  const c = typeof category === 'string' ? category.trim().toLowerCase() : category;
  if (c === 0 || c === 'public') return 'Public';
  if (c === 1 || c === 'private') return 'Private';
  if (c === 2 || c === 'domainauthenticated' || c === 'domain') return 'Domain';
  return undefined;
}

export function connectionProfileCommand(nic: string): string {
  return `Get-NetConnectionProfile -InterfaceAlias ${psQuote(nic, 'interface name')} | Select-Object InterfaceAlias, NetworkCategory | ConvertTo-Json -Compress`;
}

/** The NIC's profile from connectionProfileCommand's JSON (one object, or an array when the NIC has several profiles). */
export function parseConnectionProfile(json: string, nic: string): { profile?: FirewallProfile; category?: string; problem?: string } {
  let v: unknown;
  try {
    v = JSON.parse(json.replace(/^\uFEFF/, '').trim() || 'null');
  } catch {
    return { problem: 'Get-NetConnectionProfile gave no JSON' };
  }
  const list = (Array.isArray(v) ? v : v ? [v] : []) as Array<Record<string, unknown>>;
  const mine = list.filter((p) => typeof p?.InterfaceAlias !== 'string' || (p.InterfaceAlias as string).toLowerCase() === nic.toLowerCase());
  if (mine.length === 0) return { problem: `no connection profile for ${nic}` };
  const profiles = [...new Set(mine.map((p) => profileFromCategory(p.NetworkCategory)))];
  if (profiles.length !== 1 || !profiles[0]) return { problem: `unexpected network category ${JSON.stringify(mine.map((p) => p.NetworkCategory))} for ${nic}` };
  return { profile: profiles[0], category: String(mine[0].NetworkCategory) };
}

export interface RuleTarget {
  nic: string;
  profile: FirewallProfile;
  /** The engine's executable (process.execPath). */
  program: string;
  httpPort: number;
  tftpPort?: number;
}

/** One New-NetFirewallRule command line per rule. Throws UnsafeValueError for a NIC alias or program path with control characters. */
export function addRuleCommands(t: RuleTarget): string[] {
  const nic = psQuote(t.nic, 'interface name');
  const program = psQuote(t.program, 'program path');
  return pxeRules(t).map((r) =>
    [
      'New-NetFirewallRule',
      `-Name ${psQuote(r.name)}`,
      `-DisplayName ${psQuote(r.displayName)}`,
      `-Group ${psQuote(RULE_GROUP)}`,
      `-Description ${psQuote(`Added by PXE Kit while serving on ${t.nic}; removed when it stops.`, 'interface name')}`,
      '-Direction Inbound',
      '-Action Allow',
      `-Protocol ${r.protocol}`,
      `-LocalPort ${r.port}`,
      `-Program ${program}`,
      `-InterfaceAlias ${nic}`,
      `-Profile ${t.profile}`,
      '-Enabled True',
      '| Out-Null',
    ].join(' '),
  );
}

export function removeRulesCommand(): string {
  return `Remove-NetFirewallRule -Group ${psQuote(RULE_GROUP)} -ErrorAction SilentlyContinue`;
}

/** The script that adds the rules: stop at the first error; any earlier PXE Kit rules go first (names are unique). */
export function addRulesScript(t: RuleTarget): string {
  return ["$ErrorActionPreference = 'Stop'", removeRulesCommand(), ...addRuleCommands(t)].join('\n');
}

/** Enabled inbound block rules with their port and program filters, as JSON (property names are not translated, unlike netsh's listing). */
export function blockingRulesCommand(): string {
  return [
    'Get-NetFirewallRule -Direction Inbound -Action Block -Enabled True | ForEach-Object {',
    '$p = $_ | Get-NetFirewallPortFilter; $a = $_ | Get-NetFirewallApplicationFilter;',
    '[pscustomobject]@{ Name = $_.Name; DisplayName = $_.DisplayName; Profile = [string]$_.Profile; Protocol = [string]$p.Protocol; LocalPort = @($p.LocalPort); Program = [string]$a.Program }',
    '} | ConvertTo-Json -Compress',
  ].join(' ');
}

/** blockingRulesCommand's JSON → rules in windows-firewall.ts's shape (for evaluateFirewall); undefined when it is not that JSON. */
export function parseBlockingRules(json: string): FirewallRule[] | undefined {
  const text = json.replace(/^\uFEFF/, '').trim();
  if (text === '') return [];
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  const list = (Array.isArray(v) ? v : [v]) as Array<Record<string, unknown>>;
  const rules: FirewallRule[] = [];
  for (const r of list) {
    if (!r || typeof r !== 'object') return undefined;
    const ports = Array.isArray(r.LocalPort) ? r.LocalPort.map(String) : r.LocalPort === undefined || r.LocalPort === null ? ['Any'] : [String(r.LocalPort)];
    const program = typeof r.Program === 'string' && r.Program !== '' && r.Program.toLowerCase() !== 'any' ? r.Program : undefined;
    rules.push({
      name: String(r.DisplayName || r.Name || '(unnamed rule)'),
      enabled: true,
      direction: 'in',
      action: 'block',
      protocol: String(r.Protocol || 'Any').toLowerCase(),
      localPorts: ports.join(',').toLowerCase(),
      ...(program ? { program } : {}),
      profiles: String(r.Profile || 'Any').toLowerCase(),
    });
  }
  return rules;
}

/** The names of the block rules that hit a port PXE Kit needs (or its program). */
export function blockingRuleNames(rules: FirewallRule[], program: string, httpPort: number): string[] {
  return rules.length ? evaluateFirewall(rules, program, httpPort).blocking : [];
}

export interface PsResult {
  ok: boolean;
  stdout: string;
  stderr: string;
}

/** Runs one PowerShell script. */
export type PowerShellRunner = (script: string) => Promise<PsResult>;

/**
 * powershell.exe -NoProfile -NonInteractive, win32 only. The script goes as
 * -EncodedCommand (UTF-16LE, base64) rather than -Command: a NIC alias with a
 * double quote survives Windows' command-line quoting only that way.
 */
export const powershellRunner: PowerShellRunner = async (script) => {
  if (process.platform !== 'win32') return { ok: false, stdout: '', stderr: 'not Windows' };
  const { execFile } = await import('node:child_process');
  const encoded = Buffer.from(script, 'utf16le').toString('base64');
  return new Promise((resolve) => {
    execFile(
      'powershell.exe',
      ['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-EncodedCommand', encoded],
      { windowsHide: true, timeout: 60_000, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => resolve({ ok: !err, stdout: String(stdout), stderr: String(stderr || (err ? err.message : '')) }),
    );
  });
};

export interface FirewallRulesState {
  version: 1;
  addedAt: string;
  pid: number;
  nic: string;
  profile: FirewallProfile;
  program: string;
  rules: Array<{ displayName: string; protocol: 'UDP' | 'TCP'; port: number }>;
}

export function statePath(dataDir: string): string {
  return join(dataDir, STATE_FILE);
}

export function readState(dataDir: string): FirewallRulesState | undefined {
  const path = statePath(dataDir);
  if (!existsSync(path)) return undefined;
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as FirewallRulesState;
    return v && typeof v === 'object' ? v : undefined;
  } catch {
    // Damaged: still a sign that rules may be left; the group removes them whatever the file says.
    return { version: 1, addedAt: '?', pid: 0, nic: '?', profile: 'Any', program: '?', rules: [] };
  }
}

function dropState(dataDir: string): void {
  try {
    unlinkSync(statePath(dataDir));
  } catch {
    // already gone
  }
}

export interface FirewallAction {
  /** Did PXE Kit change the firewall? */
  changed: boolean;
  ok: boolean;
  /** What was done (or not, and why), in words for the log. */
  message: string;
  /** The PowerShell commands run (or that would have run). */
  commands: string[];
}

export interface OpenFirewallOptions extends Omit<RuleTarget, 'profile'> {
  /** The technician said yes (--open-firewall, the UI's box). Without it nothing runs. */
  consent: boolean;
  dataDir: string;
  platform?: NodeJS.Platform;
  run?: PowerShellRunner;
  now?: () => Date;
}

/** Adds PXE Kit's inbound rules for the served NIC, with consent, on Windows; records them in the data dir first. */
export async function openFirewall(o: OpenFirewallOptions): Promise<FirewallAction> {
  const platform = o.platform ?? process.platform;
  if (!o.consent) return { changed: false, ok: true, message: `Windows Firewall left as it is (no consent: ${CONSENT_HINT})`, commands: [] };
  if (platform !== 'win32') return { changed: false, ok: true, message: 'not Windows: no firewall rules to add', commands: [] };
  const run = o.run ?? powershellRunner;
  let profileCmd: string;
  try {
    profileCmd = connectionProfileCommand(o.nic);
    addRuleCommands({ ...o, profile: 'Any' });
  } catch (err) {
    return { changed: false, ok: false, message: `Windows Firewall not opened: ${(err as Error).message}`, commands: [] };
  }
  const got = await run(profileCmd);
  const parsed = got.ok ? parseConnectionProfile(got.stdout, o.nic) : { problem: got.stderr.trim() || 'Get-NetConnectionProfile failed' };
  const profile: FirewallProfile = parsed.profile ?? 'Any';
  const target: RuleTarget = { ...o, profile };
  const commands = addRuleCommands(target);
  const rules = pxeRules(o);
  const state: FirewallRulesState = {
    version: 1, addedAt: (o.now ?? (() => new Date()))().toISOString(), pid: process.pid, nic: o.nic, profile, program: o.program,
    rules: rules.map((r) => ({ displayName: r.displayName, protocol: r.protocol, port: r.port })),
  };
  writeFileAtomic(statePath(o.dataDir), `${JSON.stringify(state, null, 2)}\n`);
  const res = await run(addRulesScript(target));
  const ports = `${rules.filter((r) => r.protocol === 'UDP').map((r) => r.port).join(', ')} (UDP) and ${rules.find((r) => r.protocol === 'TCP')!.port} (TCP)`;
  if (!res.ok) {
    const undo = await run(removeRulesCommand());
    if (undo.ok) dropState(o.dataDir);
    return {
      changed: false, ok: false, commands,
      message: `could not add the Windows Firewall rules (${res.stderr.trim().split(/\r?\n/)[0] || 'PowerShell failed'}); machines may get no answer. Add them by hand in an elevated PowerShell: ${commands.join('; ')}`,
    };
  }
  const scope = parsed.profile ? `the ${profile} profile (${o.nic}'s network category)` : `any profile (${o.nic}'s network category could not be read: ${parsed.problem})`;
  return {
    changed: true, ok: true, commands,
    message: `added ${rules.length} inbound allow rules to Windows Firewall (group "${RULE_GROUP}") for ports ${ports}, program ${o.program}, on ${o.nic} only, in ${scope}; they are removed when serving stops`,
  };
}

export interface CloseFirewallOptions {
  dataDir: string;
  platform?: NodeJS.Platform;
  run?: PowerShellRunner;
  /** At engine start: the rules are a crash's leftovers. */
  leftover?: boolean;
}

/** Removes PXE Kit's rules when the state file says some were added (at stop, and at start after a crash). */
export async function closeFirewall(o: CloseFirewallOptions): Promise<FirewallAction> {
  const platform = o.platform ?? process.platform;
  const state = readState(o.dataDir);
  if (!state) return { changed: false, ok: true, message: 'no PXE Kit firewall rules to remove', commands: [] };
  if (platform !== 'win32') return { changed: false, ok: true, message: `${STATE_FILE} names Windows Firewall rules, but this is not Windows: left as it is`, commands: [] };
  const cmd = removeRulesCommand();
  const res = await (o.run ?? powershellRunner)(cmd);
  const which = `PXE Kit's Windows Firewall rules (group "${RULE_GROUP}"${state.nic !== '?' ? `, added ${state.addedAt} on ${state.nic}` : ''})`;
  if (!res.ok) {
    return {
      changed: false, ok: false, commands: [cmd],
      message: `could not remove ${which}: ${res.stderr.trim().split(/\r?\n/)[0] || 'PowerShell failed'}; PXE Kit tries again at its next start, or run in an elevated PowerShell: ${cmd}`,
    };
  }
  dropState(o.dataDir);
  return {
    changed: true, ok: true, commands: [cmd],
    message: o.leftover ? `removed ${which}, left by a run that did not stop cleanly` : `removed ${which}`,
  };
}

/** At engine start: rules left by a crash go first (a no-op, and no PowerShell, without the state file). */
export function removeLeftoverRules(o: Omit<CloseFirewallOptions, 'leftover'>): Promise<FirewallAction> {
  return closeFirewall({ ...o, leftover: true });
}

/** Windows only: the enabled inbound block rules, via PowerShell (undefined when they cannot be read). */
export async function readBlockingRules(run: PowerShellRunner = powershellRunner, platform: NodeJS.Platform = process.platform): Promise<FirewallRule[] | undefined> {
  if (platform !== 'win32') return undefined;
  const res = await run(blockingRulesCommand());
  return res.ok ? parseBlockingRules(res.stdout) : undefined;
}
