// Windows Firewall: does an inbound allow rule let DHCP/proxyDHCP/TFTP/HTTP reach
// PXE Kit? Read from `netsh advfirewall firewall show rule name=all dir=in verbose`
// (English output; other UI languages translate the field names, so an
// unparseable listing is reported as "unknown", never as "missing").
//
// TFTP answers from a new port per transfer (RFC 1350 TIDs), so a port rule for
// 69 alone is not enough: the firmware's ACKs come back to that ephemeral port.
// A program rule for node.exe (any port, UDP and TCP) covers everything; that is
// the rule we offer to add.

export interface FirewallRule {
  name: string;
  enabled: boolean;
  direction: 'in' | 'out' | string;
  action: 'allow' | 'block' | string;
  protocol: string;
  localPorts: string;
  program?: string;
  profiles: string;
}

/** Parses netsh's rule listing: blocks of "Field:   value" lines separated by a dashed line or a blank line. */
export function parseNetshRules(text: string): FirewallRule[] {
  const rules: FirewallRule[] = [];
  let cur: Record<string, string> | undefined;
  const flush = () => {
    if (cur && cur['rule name']) {
      rules.push({
        name: cur['rule name'],
        enabled: /^yes$/i.test(cur['enabled'] ?? ''),
        direction: (cur['direction'] ?? '').toLowerCase(),
        action: (cur['action'] ?? '').toLowerCase(),
        protocol: (cur['protocol'] ?? 'any').toLowerCase(),
        localPorts: (cur['localport'] ?? 'any').toLowerCase(),
        program: cur['program'],
        profiles: (cur['profiles'] ?? 'any').toLowerCase(),
      });
    }
    cur = undefined;
  };
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trimEnd();
    const m = /^([A-Za-z][A-Za-z ]*?):\s+(.*)$/.exec(line);
    if (m && m[1].toLowerCase() === 'rule name') {
      flush();
      cur = { 'rule name': m[2].trim() };
      continue;
    }
    if (!cur) continue;
    if (m) cur[m[1].toLowerCase()] = m[2].trim();
  }
  flush();
  return rules;
}

function portCovered(ports: string, port: number): boolean {
  if (ports === 'any' || ports === '') return true;
  return ports.split(',').some((p) => {
    const r = p.trim();
    const range = /^(\d+)-(\d+)$/.exec(r);
    if (range) return port >= Number(range[1]) && port <= Number(range[2]);
    return Number(r) === port;
  });
}

export interface FirewallNeed {
  protocol: 'udp' | 'tcp';
  port: number;
  what: string;
}

export interface FirewallVerdict {
  /** 'ok': every need is covered; 'missing': some are not; 'unknown': the listing could not be read. */
  state: 'ok' | 'missing' | 'unknown';
  missing: FirewallNeed[];
  /** An enabled inbound allow rule for this program, any port (covers TFTP's transfer ports too). */
  programRule?: string;
  /** Enabled inbound block rules that hit a needed port or the program (block wins over allow in Windows Firewall). */
  blocking: string[];
}

export function neededPorts(httpPort: number): FirewallNeed[] {
  return [
    { protocol: 'udp', port: 67, what: 'DHCP / proxyDHCP' },
    { protocol: 'udp', port: 69, what: 'TFTP' },
    { protocol: 'udp', port: 4011, what: 'PXE boot server' },
    { protocol: 'tcp', port: httpPort, what: 'HTTP' },
  ];
}

function sameProgram(a: string | undefined, b: string): boolean {
  return Boolean(a) && a!.replace(/\//g, '\\').toLowerCase() === b.replace(/\//g, '\\').toLowerCase();
}

export function evaluateFirewall(rules: FirewallRule[], program: string, httpPort: number): FirewallVerdict {
  if (rules.length === 0) return { state: 'unknown', missing: [], blocking: [] };
  const inbound = rules.filter((r) => r.enabled && r.direction === 'in');
  const protoMatches = (r: FirewallRule, p: 'udp' | 'tcp') => r.protocol === 'any' || r.protocol === p;
  const progMatches = (r: FirewallRule) => !r.program || r.program.toLowerCase() === 'any' || sameProgram(r.program, program);
  const programRule = inbound.find((r) => r.action === 'allow' && sameProgram(r.program, program) && r.protocol === 'any' && r.localPorts === 'any');
  const needs = neededPorts(httpPort);
  const blocking = inbound
    .filter((r) => r.action === 'block' && progMatches(r) && needs.some((n) => protoMatches(r, n.protocol) && portCovered(r.localPorts, n.port)))
    .map((r) => r.name);
  const missing = needs.filter(
    (n) => !inbound.some((r) => r.action === 'allow' && progMatches(r) && protoMatches(r, n.protocol) && portCovered(r.localPorts, n.port)),
  );
  return { state: missing.length || blocking.length ? 'missing' : 'ok', missing, blocking, ...(programRule ? { programRule: programRule.name } : {}) };
}

/** The commands that add what is missing (run in an elevated prompt, or by fixWindowsFirewall()). */
export function firewallFixCommands(program: string, httpPort: number): string[][] {
  return [
    ['netsh', 'advfirewall', 'firewall', 'add', 'rule', 'name=PXE Kit', 'dir=in', 'action=allow', `program=${program}`, 'enable=yes', 'profile=any'],
    ['netsh', 'advfirewall', 'firewall', 'add', 'rule', 'name=PXE Kit (DHCP, TFTP, PXE)', 'dir=in', 'action=allow', 'protocol=UDP', 'localport=67,69,4011', 'enable=yes', 'profile=any'],
    ['netsh', 'advfirewall', 'firewall', 'add', 'rule', `name=PXE Kit (HTTP ${httpPort})`, 'dir=in', 'action=allow', 'protocol=TCP', `localport=${httpPort}`, 'enable=yes', 'profile=any'],
  ];
}

/** For display: one command line per command, quoted where needed. */
export function formatCommand(argv: string[]): string {
  return argv.map((a) => (/\s/.test(a) ? a.replace(/^([^=]+=)(.*)$/, '$1"$2"') : a)).join(' ');
}

/** Windows only: reads the rules with netsh. */
export async function readWindowsFirewall(): Promise<FirewallRule[] | undefined> {
  if (process.platform !== 'win32') return undefined;
  const { execFile } = await import('node:child_process');
  return new Promise((resolve) => {
    execFile('netsh', ['advfirewall', 'firewall', 'show', 'rule', 'name=all', 'dir=in', 'verbose'], { maxBuffer: 64 * 1024 * 1024, windowsHide: true }, (err, stdout) =>
      resolve(err ? undefined : parseNetshRules(stdout)),
    );
  });
}

/** Windows only, elevated: adds the rules (the "offer to add them" of the host check). */
export async function fixWindowsFirewall(httpPort: number, program = process.execPath): Promise<{ ok: boolean; output: string }> {
  if (process.platform !== 'win32') return { ok: false, output: 'not Windows' };
  const { execFileSync } = await import('node:child_process');
  const out: string[] = [];
  try {
    for (const [cmd, ...args] of firewallFixCommands(program, httpPort)) out.push(execFileSync(cmd, args, { encoding: 'utf8', windowsHide: true }));
    return { ok: true, output: out.join('') };
  } catch (err) {
    return { ok: false, output: `${out.join('')}${(err as Error).message}` };
  }
}
