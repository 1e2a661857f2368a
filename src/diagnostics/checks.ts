// Host checks before serving: can PXE Kit serve on this NIC, on this machine?
// Each check says what it found and, when something is wrong, how to fix it.
// Port checks really try to bind (device-bound, like the engine), so they see
// what the engine will see: in use (and by whom), or no privilege.
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { defaultInterface, listInterfaces, resolveInterface, type NetInterface } from '../net/interfaces.js';
import { NetError } from '../net/errors.js';
import { openUdpSocket, privilegeHelp } from '../net/udp.js';
import { describePortOwners } from '../net/port-owner.js';
import { keptCapabilities } from '../net/privilege.js';
import { evaluateFirewall, firewallFixCommands, formatCommand, readWindowsFirewall, type FirewallRule } from './windows-firewall.js';
import { CONSENT_HINT, blockingRuleNames, readBlockingRules } from './windows-firewall-rules.js';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface HostCheck {
  id: 'interface' | 'wifi' | 'privilege' | 'port-67' | 'port-69' | 'port-4011' | 'port-http' | 'firewall';
  status: CheckStatus;
  title: string;
  detail: string;
  fix?: string;
  /** Commands that apply the fix (Windows Firewall rules), for a UI's "fix it" button. */
  fixCommands?: string[][];
  /** Firewall check: the enabled inbound block rules that hit a port PXE Kit needs (by name). */
  blocking?: string[];
  /** Firewall check: what has no inbound allow rule, e.g. "HTTP (TCP 8080)". */
  missing?: string[];
}

export interface HostCheckOptions {
  iface?: string;
  httpPort?: number;
  tftpPort?: number;
  /** For tests: pretend to be another OS (the firewall check), and give its rule listing. */
  platform?: NodeJS.Platform;
  firewallRules?: FirewallRule[];
  /** For tests: the block rules as PowerShell lists them (windows-firewall-rules.ts parseBlockingRules). */
  firewallBlockRules?: FirewallRule[];
  interfaces?: NetInterface[];
}

/** Linux: effective capabilities from /proc/self/status. */
function linuxCaps(): bigint | undefined {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? BigInt(`0x${m[1]}`) : undefined;
  } catch {
    return undefined;
  }
}


function privilegeCheck(platform: NodeJS.Platform): HostCheck {
  const title = 'Privilege for ports 67, 69 and 4011';
  if (platform === 'linux') {
    if (process.getuid?.() === 0) return { id: 'privilege', status: 'ok', title, detail: 'running as root' };
    const caps = linuxCaps();
    const has = (c: bigint) => caps !== undefined && (caps & (1n << c)) !== 0n;
    // What an engine that gave root up keeps (src/net/privilege.ts) is what serving needs on this kernel.
    const needed = keptCapabilities();
    if (needed.every((k) => has(BigInt(k.cap)))) {
      const who = process.env.PXEKIT_RUNS_AS ? `running as ${process.env.PXEKIT_RUNS_AS} after giving up root, ` : '';
      return { id: 'privilege', status: 'ok', title, detail: `${who}with ${needed.map((k) => k.name.toLowerCase()).join(' and ')}` };
    }
    return { id: 'privilege', status: 'fail', title, detail: 'not root and without cap_net_bind_service/cap_net_raw: ports below 1024 and binding to one NIC are refused', fix: privilegeHelp() };
  }
  if (platform === 'win32') return { id: 'privilege', status: 'skip', title, detail: 'checked by the port checks below (Windows lets any user bind these ports; the firewall is what stops traffic)' };
  if (process.getuid?.() === 0) return { id: 'privilege', status: 'ok', title, detail: 'running as root' };
  return { id: 'privilege', status: 'fail', title, detail: 'not root: ports below 1024 are refused', fix: privilegeHelp() };
}

async function udpPortCheck(id: HostCheck['id'], nic: NetInterface & { ipv4: NonNullable<NetInterface['ipv4']> }, port: number, purpose: string, anyAddress: boolean): Promise<HostCheck> {
  const title = `${purpose} (UDP ${port}) free on ${nic.name}`;
  try {
    const sock = await openUdpSocket({ iface: nic.name, ifaceAddress: nic.ipv4.address, port, anyAddress, broadcast: anyAddress, purpose });
    await new Promise<void>((resolve) => sock.close(() => resolve()));
    return { id, status: 'ok', title, detail: 'free' };
  } catch (err) {
    if (err instanceof NetError) {
      const [what, ...help] = err.message.split('. ');
      return { id, status: 'fail', title, detail: `${what}.`, fix: help.join('. ') || undefined };
    }
    return { id, status: 'fail', title, detail: (err as Error).message };
  }
}

async function tcpPortCheck(nic: NetInterface & { ipv4: NonNullable<NetInterface['ipv4']> }, port: number): Promise<HostCheck> {
  const title = `HTTP (TCP ${port}) free on ${nic.ipv4.address}`;
  const server = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: nic.ipv4.address, port, exclusive: true }, () => resolve());
    });
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return { id: 'port-http', status: 'ok', title, detail: 'free' };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      const owner = describePortOwners('tcp', port);
      return {
        id: 'port-http', status: 'fail', title, detail: `TCP port ${port} is already in use${owner ? ` by ${owner}` : ''}.`,
        fix: `Stop that program, or choose another port with --http-port (e.g. ${port === 8080 ? 8081 : 8080}).`,
      };
    }
    if (code === 'EACCES') return { id: 'port-http', status: 'fail', title, detail: `no permission for TCP port ${port}`, fix: privilegeHelp() };
    return { id: 'port-http', status: 'fail', title, detail: (err as Error).message };
  }
}

export async function firewallCheck(platform: NodeJS.Platform, httpPort: number, rules?: FirewallRule[], program = process.execPath, blockRules?: FirewallRule[]): Promise<HostCheck> {
  const title = 'Windows Firewall lets DHCP, TFTP and HTTP in';
  if (platform !== 'win32') return { id: 'firewall', status: 'skip', title, detail: 'not Windows' };
  const listing = rules ?? (await readWindowsFirewall());
  // PowerShell's listing of block rules is not translated (netsh's is): it names a blocking rule on any UI language.
  const blockListing = blockRules ?? (rules === undefined ? await readBlockingRules(undefined, platform) : undefined);
  const verdict = evaluateFirewall(listing ?? [], program, httpPort);
  const blocking = [...new Set([...verdict.blocking, ...blockingRuleNames(blockListing ?? [], program, httpPort)])];
  const fixCommands = firewallFixCommands(program, httpPort);
  const missing = verdict.missing.map((n) => `${n.what} (${n.protocol.toUpperCase()} ${n.port})`);
  const permanent = `or add permanent rules in an elevated prompt: ${fixCommands.map(formatCommand).join(' && ')}`;
  const unblock = blocking.length
    ? `Disable the blocking rule(s) ${blocking.map((b) => `"${b}"`).join(', ')} while serving (Windows Defender Firewall with Advanced Security, Inbound Rules): a block rule wins over every allow rule, PXE Kit's too. `
    : '';
  if (verdict.state === 'ok' && blocking.length === 0) return { id: 'firewall', status: 'ok', title, detail: verdict.programRule ? `allowed by rule "${verdict.programRule}"` : 'inbound rules allow every port PXE Kit uses', blocking: [], missing: [] };
  if (verdict.state === 'unknown') {
    return {
      id: 'firewall', status: blocking.length ? 'fail' : 'warn', title,
      detail: `could not read the allow rules (netsh failed, or its output is not in English)${blocking.length ? `; blocked by rule(s) ${blocking.map((b) => `"${b}"`).join(', ')}` : ''}`,
      fix: `${unblock}If machines get no answer, ${CONSENT_HINT}, ${permanent}`, fixCommands, blocking, missing: [],
    };
  }
  const parts = [
    ...(missing.length ? [`no inbound allow rule for ${missing.join(', ')}`] : []),
    ...(blocking.length ? [`blocked by rule(s) ${blocking.map((b) => `"${b}"`).join(', ')}`] : []),
  ];
  return {
    id: 'firewall', status: 'fail', title, detail: parts.join('; '),
    fix: `${unblock}${missing.length ? `${CONSENT_HINT[0].toUpperCase()}${CONSENT_HINT.slice(1)}, ${permanent}` : ''}`.trim(),
    fixCommands, blocking, missing,
  };
}

/** All the checks, in the order a technician fixes things. */
export async function runHostChecks(o: HostCheckOptions = {}): Promise<HostCheck[]> {
  const platform = o.platform ?? process.platform;
  const httpPort = o.httpPort ?? 8080;
  const checks: HostCheck[] = [];
  let nic: (NetInterface & { ipv4: NonNullable<NetInterface['ipv4']> }) | undefined;
  try {
    const all = o.interfaces ?? listInterfaces();
    const picked = o.iface ? resolveInterface(o.iface, all) : defaultInterface(all);
    nic = resolveInterface(picked.name, all);
    checks.push({ id: 'interface', status: 'ok', title: `Interface ${nic.name}`, detail: `${nic.ipv4.address}/${nic.ipv4.prefix}, link up, MAC ${nic.mac}` });
  } catch (err) {
    const msg = (err as Error).message;
    const [what, ...help] = msg.split('. ');
    checks.push({ id: 'interface', status: 'fail', title: `Interface ${o.iface ?? '(automatic)'}`, detail: `${what}.`, fix: help.join('. ') || undefined });
  }
  if (nic?.wireless) {
    checks.push({
      id: 'wifi', status: 'warn', title: `${nic.name} is Wi-Fi`, detail: 'firmware cannot network-boot over Wi-Fi, and serving DHCP on a Wi-Fi network disturbs everyone on it',
      fix: 'Use the wired NIC cabled to the switch with the machines to boot (a USB Ethernet adapter works).',
    });
  } else if (nic) checks.push({ id: 'wifi', status: 'ok', title: `${nic.name} is wired`, detail: 'not a wireless interface' });
  const priv = privilegeCheck(platform);
  checks.push(priv);
  if (nic && priv.status !== 'fail') {
    checks.push(await udpPortCheck('port-67', nic, 67, 'DHCP', true));
    checks.push(await udpPortCheck('port-69', nic, o.tftpPort ?? 69, 'TFTP', false));
    checks.push(await udpPortCheck('port-4011', nic, 4011, 'PXE boot server', false));
    checks.push(await tcpPortCheck(nic, httpPort));
  } else {
    for (const [id, what] of [['port-67', 'UDP 67'], ['port-69', 'UDP 69'], ['port-4011', 'UDP 4011'], ['port-http', `TCP ${httpPort}`]] as const) {
      checks.push({ id, status: 'skip', title: `${what} free`, detail: nic ? 'needs the privilege above first' : 'needs a usable interface first' });
    }
  }
  checks.push(await firewallCheck(platform, httpPort, o.firewallRules, undefined, o.firewallBlockRules));
  return checks;
}

export function formatChecks(checks: HostCheck[]): string {
  const mark: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL', skip: '-   ' };
  return checks.map((c) => `${mark[c.status]} ${c.title}: ${c.detail}${c.fix ? `\n     fix: ${c.fix}` : ''}`).join('\n');
}
