// Who holds a port? On Linux the kernel tells us through /proc: the socket's
// inode in /proc/net/{udp,tcp}, then the process whose fd links to that inode.
// Best effort: without root we may not see other users' fds; then we say so.
// Windows: Get-NetUDPEndpoint / Get-NetTCPConnection with Get-Process and the services in the
// process (netstat -ano + tasklist /svc when PowerShell fails); macOS: lsof's field output.
// Those parsers are tested only on fixtures constructed from documentation (test/fixtures/os).
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { jsonList } from './adapters-windows.js';

export interface PortOwner {
  pid: number;
  command: string;
  /** Windows: the services the process hosts (svchost.exe runs several). */
  services?: string[];
  /** The program in words ("the Windows DHCP Server service (DHCPServer)"), when known. */
  description?: string;
  /** The local address:port it holds. */
  local?: string;
}

/** Runs a program and returns its stdout; throws when it fails or takes longer than timeoutMs. */
export type OwnerRunner = (file: string, args: string[], timeoutMs: number) => string;

export interface OwnerSource {
  platform?: NodeJS.Platform;
  run?: OwnerRunner;
}

function socketInodes(proto: 'udp' | 'tcp', port: number): Set<string> {
  const inodes = new Set<string>();
  for (const file of [`/proc/net/${proto}`, `/proc/net/${proto}6`]) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10) continue;
      const localPort = parseInt(cols[1].split(':')[1] ?? '', 16);
      // For TCP only listening sockets (state 0A) own a port.
      if (localPort === port && (proto === 'udp' || cols[3] === '0A')) inodes.add(cols[9]);
    }
  }
  return inodes;
}

export function findPortOwners(proto: 'udp' | 'tcp', port: number, src: OwnerSource = {}): PortOwner[] {
  const platform = src.platform ?? process.platform;
  if (platform === 'win32') return windowsPortOwners(proto, [port], src.run ?? defaultRunner);
  if (platform === 'darwin') return macPortOwners(proto, [port], src.run ?? defaultRunner);
  if (platform !== 'linux') return [];
  const inodes = socketInodes(proto, port);
  if (inodes.size === 0) return [];
  const owners: PortOwner[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${entry}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m && inodes.has(m[1])) {
        let command = '?';
        try {
          command = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
        } catch {
          /* process exited meanwhile */
        }
        owners.push({ pid: Number(entry), command });
        break;
      }
    }
  }
  return owners;
}

export function describePortOwners(proto: 'udp' | 'tcp', port: number, src: OwnerSource = {}): string {
  const owners = findPortOwners(proto, port, src);
  if (owners.length === 0) return '';
  return owners.map((o) => (o.description ? `${o.description}, pid ${o.pid}` : `${o.command} (pid ${o.pid})`)).join('; ');
}

// ---- Windows and macOS ----

const defaultRunner: OwnerRunner = (file, args, timeoutMs) =>
  execFileSync(file, args, { encoding: 'utf8', timeout: timeoutMs, windowsHide: true, maxBuffer: 8 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] });

const TIMEOUT_MS = 8000;

/**
 * One PowerShell run: the endpoints on the ports, each with its process (Get-Process) and the
 * services that process hosts (Win32_Service by ProcessId), as JSON.
 */
export function windowsPortOwnersScript(proto: 'udp' | 'tcp', ports: number[]): string {
  const list = ports.join(',');
  const endpoints =
    proto === 'udp'
      ? `Get-NetUDPEndpoint -LocalPort ${list} -ErrorAction SilentlyContinue`
      : `Get-NetTCPConnection -State Listen -LocalPort ${list} -ErrorAction SilentlyContinue`;
  // No double quote anywhere: Node quotes argv for Windows and powershell.exe re-parses it.
  return [
    "$ErrorActionPreference='SilentlyContinue'",
    `@(${endpoints} | ForEach-Object { $p = Get-Process -Id $_.OwningProcess -ErrorAction SilentlyContinue; ` +
      '[pscustomobject]@{LocalAddress=$_.LocalAddress;LocalPort=$_.LocalPort;OwningProcess=$_.OwningProcess;ProcessName=$p.ProcessName;Path=$p.Path;' +
      "Services=(@(Get-CimInstance Win32_Service -Filter ('ProcessId=' + $_.OwningProcess) -ErrorAction SilentlyContinue | ForEach-Object Name) -join ',')} })" +
      ' | ConvertTo-Json -Depth 3 -Compress',
  ].join('; ');
}

export function windowsPortOwnersCommand(proto: 'udp' | 'tcp', ports: number[]): { file: string; args: string[] } {
  return { file: 'powershell.exe', args: ['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-Command', windowsPortOwnersScript(proto, ports)] };
}

/** The script's JSON: one endpoint object, an array of them, or nothing (no owner). */
export function parseWindowsEndpoints(json: string): PortOwner[] {
  const text = json.trim().replace(/^\uFEFF/, '');
  if (!text) return [];
  const owners: PortOwner[] = [];
  for (const e of jsonList(JSON.parse(text))) {
    const pid = Number(e.OwningProcess);
    if (!Number.isInteger(pid)) continue;
    const command = typeof e.ProcessName === 'string' && e.ProcessName ? e.ProcessName : pid === 4 ? 'System' : '?';
    const services = typeof e.Services === 'string' && e.Services ? e.Services.split(',').map((x) => x.trim()).filter(Boolean) : [];
    const local = `${String(e.LocalAddress ?? '')}:${String(e.LocalPort ?? '')}`;
    owners.push(named({ pid, command, ...(services.length ? { services } : {}), local }));
  }
  return dedupe(owners);
}

/** `netstat -ano -p udp|tcp` rows for the ports: [local, pid]. */
export function parseNetstat(text: string, proto: 'udp' | 'tcp', ports: number[]): Array<{ local: string; pid: number }> {
  const rows: Array<{ local: string; pid: number }> = [];
  for (const line of text.split(/\r?\n/)) {
    const cols = line.trim().split(/\s+/);
    if (cols[0]?.toUpperCase() !== proto.toUpperCase()) continue;
    const local = cols[1] ?? '';
    const port = Number(local.slice(local.lastIndexOf(':') + 1));
    if (!ports.includes(port)) continue;
    // UDP rows have no state column; TCP rows hold a port only when LISTENING.
    if (proto === 'tcp' && cols[3] !== 'LISTENING') continue;
    const pid = Number(cols[cols.length - 1]);
    if (Number.isInteger(pid)) rows.push({ local, pid });
  }
  return rows;
}

/** `tasklist /svc /fo csv`: pid → image name and services ("N/A" for none). */
export function parseTasklistSvc(text: string): Map<number, { image: string; services: string[] }> {
  const out = new Map<number, { image: string; services: string[] }>();
  for (const line of text.split(/\r?\n/)) {
    const cells = [...line.matchAll(/"((?:[^"]|"")*)"/g)].map((m) => m[1].replace(/""/g, '"'));
    if (cells.length < 3 || !/^\d+$/.test(cells[1])) continue;
    const services = cells[2] === 'N/A' ? [] : cells[2].split(',').map((x) => x.trim()).filter(Boolean);
    out.set(Number(cells[1]), { image: cells[0], services });
  }
  return out;
}

function windowsPortOwners(proto: 'udp' | 'tcp', ports: number[], run: OwnerRunner): PortOwner[] {
  try {
    const cmd = windowsPortOwnersCommand(proto, ports);
    return parseWindowsEndpoints(run(cmd.file, cmd.args, TIMEOUT_MS));
  } catch {
    /* PowerShell missing or blocked: netstat and tasklist are always there */
  }
  try {
    const rows = parseNetstat(run('netstat.exe', ['-ano', '-p', proto.toUpperCase()], TIMEOUT_MS), proto, ports);
    if (rows.length === 0) return [];
    const tasks = parseTasklistSvc(run('tasklist.exe', ['/svc', '/fo', 'csv'], TIMEOUT_MS));
    return dedupe(
      rows.map((r) => {
        const t = tasks.get(r.pid);
        return named({ pid: r.pid, command: t ? t.image.replace(/\.exe$/i, '') : '?', ...(t?.services.length ? { services: t.services } : {}), local: r.local });
      }),
    );
  } catch {
    return [];
  }
}

export function macLsofArgs(proto: 'udp' | 'tcp', ports: number[]): string[] {
  const sel = ports.map((p) => `-i${proto.toUpperCase()}:${p}`);
  return ['-nP', ...sel, ...(proto === 'tcp' ? ['-sTCP:LISTEN'] : []), '-Fpcfn'];
}

/** lsof's field output (-F pcfn): "p<pid>", "c<command>", then per file "f<fd>" and "n<address>". */
export function parseLsofFields(text: string): PortOwner[] {
  const owners: PortOwner[] = [];
  let cur: PortOwner | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (!line) continue;
    const tag = line[0];
    const val = line.slice(1);
    if (tag === 'p') {
      cur = { pid: Number(val), command: '?' };
      owners.push(cur);
    } else if (tag === 'c' && cur) cur.command = val;
    else if (tag === 'n' && cur && !cur.local) cur.local = val;
  }
  return dedupe(owners.filter((o) => Number.isInteger(o.pid)).map(named));
}

function macPortOwners(proto: 'udp' | 'tcp', ports: number[], run: OwnerRunner): PortOwner[] {
  let out: string;
  try {
    out = run('/usr/sbin/lsof', macLsofArgs(proto, ports), TIMEOUT_MS);
  } catch (err) {
    // lsof exits 1 when nothing matched, with nothing on stdout.
    const stdout = (err as { stdout?: string }).stdout;
    if (typeof stdout !== 'string' || !stdout) return [];
    out = stdout;
  }
  return parseLsofFields(out);
}

function dedupe(owners: PortOwner[]): PortOwner[] {
  const seen = new Map<number, PortOwner>();
  for (const o of owners) if (!seen.has(o.pid)) seen.set(o.pid, o);
  return [...seen.values()];
}

/** Services that hold DHCP/TFTP/proxyDHCP ports on Windows, by service name. */
const SERVICES: Record<string, string> = {
  dhcpserver: 'the Windows DHCP Server service (DHCPServer)',
  wdsserver: 'Windows Deployment Services (WDSServer)',
  sharedaccess: 'Windows Internet Connection Sharing (SharedAccess), which runs its own DHCP server',
  vmnetdhcp: "VMware's DHCP service for its virtual networks (VMnetDHCP)",
  tftpd32_svc: 'Tftpd32 running as a service (Tftpd32_svc)',
  tftpd64_svc: 'Tftpd64 running as a service (Tftpd64_svc)',
  'solarwinds tftp server': 'the SolarWinds TFTP Server service',
};

/** Programs, by process name (no .exe, lower case). */
const PROGRAMS: Record<string, string> = {
  tftpd32: 'Tftpd32 (DHCP/TFTP server)',
  tftpd64: 'Tftpd64 (DHCP/TFTP server)',
  serva32: 'Serva (PXE server)',
  serva64: 'Serva (PXE server)',
  serva: 'Serva (PXE server)',
  dnsmasq: 'dnsmasq (DHCP/TFTP server)',
  vmnetdhcp: "VMware's DHCP service for its virtual networks (VMnetDHCP)",
  vboxnetdhcp: "VirtualBox's DHCP server for its host-only networks",
  'vboxnetdhcp.exe': "VirtualBox's DHCP server for its host-only networks",
  dhcpsrv: 'DHCP Server for Windows (dhcpsrv)',
  dhcpd: 'the ISC DHCP server (dhcpd)',
  'kea-dhcp4': 'the Kea DHCP server (kea-dhcp4)',
  bootpd: "macOS's DHCP/BOOTP server (bootpd: Internet Sharing or NetBoot)",
  tftpd: "macOS's TFTP server (tftpd)",
  'in.tftpd': 'a TFTP server (in.tftpd)',
  node: 'a Node.js program (another PXE Kit engine?)',
  'pxe kit': 'another PXE Kit',
};

/** Names the owner in words: a known service first, then a known program, then launchd's on-demand daemons. */
export function named(o: PortOwner): PortOwner {
  const port = Number(o.local?.slice(o.local.lastIndexOf(':') + 1));
  for (const s of o.services ?? []) {
    const d = SERVICES[s.toLowerCase()];
    if (d) return { ...o, description: d };
  }
  const prog = o.command.toLowerCase().replace(/\.exe$/, '');
  if (PROGRAMS[prog]) return { ...o, description: PROGRAMS[prog] };
  if (prog === 'launchd') {
    // launchd holds the socket of an on-demand daemon until the first packet starts it.
    if (port === 69) return { ...o, description: "macOS's TFTP server (tftpd), started on demand by launchd (com.apple.tftpd)" };
    if (port === 67) return { ...o, description: "macOS's bootpd, started on demand by launchd (com.apple.bootpd: Internet Sharing or NetBoot)" };
    return { ...o, description: 'a service started on demand by launchd' };
  }
  if (o.services?.length) return { ...o, description: `${o.command} hosting ${o.services.join(', ')}` };
  return o;
}
