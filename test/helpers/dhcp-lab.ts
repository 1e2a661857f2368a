// Helpers for the DHCP integration tests: real client programs run
// asynchronously (the server under test runs in this process, so nothing may
// block the event loop), a simple boot policy, and a bridged segment for
// setups with a second DHCP server (dnsmasq) and extra hosts.
import { mkdtempSync, readFileSync, writeFileSync, chmodSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { sh, type Lab } from './lab.js';
import type { BootPolicy } from '../../src/boot/decision.js';
import type { WireEvent, DhcpEvent } from '../../src/sessions/events.js';

export interface ProcResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Waits for a lab process to exit (killed by PID after timeoutMs). */
export function waitProc(child: ChildProcess, timeoutMs = 30_000): Promise<ProcResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

export function runAsync(lab: Lab, ns: string | null, cmd: string, args: string[], timeoutMs?: number): Promise<ProcResult> {
  return waitProc(lab.spawn(ns, cmd, args), timeoutMs);
}

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function readEnv(file: string): Record<string, string> {
  const env: Record<string, string> = {};
  if (!existsSync(file)) return env;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) env[line.slice(0, i)] = line.slice(i + 1).replace(/^'(.*)'$/, '$1');
  }
  return env;
}

export interface UdhcpcRun extends ProcResult {
  env: Record<string, string>;
}

/** busybox udhcpc; `extra` are more udhcpc arguments (-V, -x ...). Returns the "bound" script environment. */
export async function udhcpc(lab: Lab, ns: string, iface: string, extra: string[], tries = 4): Promise<UdhcpcRun> {
  const { dir, cleanup } = tempDir('pxk-udhcpc-');
  try {
    const envFile = join(dir, 'env');
    const script = join(dir, 'script.sh');
    writeFileSync(script, `#!/bin/sh\nif [ "$1" = bound ]; then env > ${envFile}; fi\nexit 0\n`);
    chmodSync(script, 0o755);
    const r = await runAsync(lab, ns, 'busybox', ['udhcpc', '-i', iface, '-f', '-q', '-n', '-t', String(tries), '-T', '1', '-s', script, ...extra]);
    return { ...r, env: readEnv(envFile) };
  } finally {
    cleanup();
  }
}

/** A stand-in for the real boot policy: BIOS gets undionly.kpxe, UEFI x64 ipxe.efi, iPXE a script; arm64 is refused. */
export function testPolicy(serverIp: string): BootPolicy {
  return {
    decide(c) {
      if (c.arch === 'efi-arm64') return { kind: 'refuse', reason: 'no arm64 boot program in this test' };
      const bootFile = c.isIpxe ? `http://${serverIp}:8080/boot.ipxe` : c.arch === 'bios' ? 'undionly.kpxe' : 'ipxe.efi';
      return { kind: 'offer', bootFile, nextServer: serverIp, httpClient: c.isHttpBoot, description: bootFile };
    },
  };
}

export function collector(): { events: WireEvent[]; emit: (e: WireEvent) => void; dhcp: (dir?: 'in' | 'out', mac?: string) => DhcpEvent[] } {
  const events: WireEvent[] = [];
  return {
    events,
    emit: (e) => events.push(e),
    dhcp: (dir, mac) => events.filter((e): e is DhcpEvent => e.type === 'dhcp' && (!dir || e.direction === dir) && (!mac || e.mac === mac)),
  };
}

export function macOfLink(lab: Lab, ns: string | null, iface: string): string {
  return lab.exec(ns, 'cat', [`/sys/class/net/${iface}/address`]).trim();
}

/**
 * Turns the lab's client namespace into a switch: its veth end joins a bridge,
 * and each call adds a host namespace with a veth on that bridge. Hosts are
 * removed with the lab (extraNs).
 */
export function addBridgedHost(lab: Lab, n: number, address?: string): { ns: string; iface: string } {
  if (!lab.exec(lab.clientNs, 'ip', ['-o', 'link', 'show', 'br0'], { allowFail: true })) {
    lab.ip(lab.clientNs, ['link', 'add', 'br0', 'type', 'bridge']);
    lab.ip(lab.clientNs, ['link', 'set', lab.clientIf, 'master', 'br0']);
    lab.ip(lab.clientNs, ['link', 'set', 'br0', 'up']);
  }
  const ns = `pxk-h${n}-${lab.id}`;
  const iface = `h${n}${lab.id}`;
  sh('ip', ['netns', 'add', ns]);
  lab.extraNs.push(ns);
  lab.ip(lab.clientNs, ['link', 'add', `p${n}${lab.id}`, 'type', 'veth', 'peer', 'name', iface]);
  lab.ip(lab.clientNs, ['link', 'set', iface, 'netns', ns]);
  lab.ip(lab.clientNs, ['link', 'set', `p${n}${lab.id}`, 'master', 'br0']);
  lab.ip(lab.clientNs, ['link', 'set', `p${n}${lab.id}`, 'up']);
  lab.ip(ns, ['link', 'set', 'lo', 'up']);
  if (address) lab.ip(ns, ['addr', 'add', address, 'dev', iface]);
  lab.ip(ns, ['link', 'set', iface, 'up']);
  return { ns, iface };
}

/** dnsmasq as the network's only address server, in its own host namespace. */
export async function startDnsmasq(lab: Lab, host: { ns: string; iface: string }, dir: string): Promise<{ proc: ChildProcess; log: string[] }> {
  const proc = lab.spawn(host.ns, 'dnsmasq', [
    '--no-daemon', '--conf-file=/dev/null', '--port=0', `--interface=${host.iface}`, '--bind-interfaces',
    `--dhcp-range=${lab.subnet}.100,${lab.subnet}.150,255.255.255.0,1h`,
    `--dhcp-leasefile=${join(dir, 'dnsmasq.leases')}`, `--pid-file=${join(dir, 'dnsmasq.pid')}`,
    '--log-dhcp', '--log-facility=-', '--user=root',
  ]);
  const log: string[] = [];
  const onData = (d: Buffer): void => void log.push(...d.toString().split('\n').filter(Boolean));
  proc.stdout?.on('data', onData);
  proc.stderr?.on('data', onData);
  const start = Date.now();
  while (!log.some((l) => /DHCP, IP range/.test(l))) {
    if (proc.exitCode !== null) throw new Error(`dnsmasq exited: ${log.join('\n')}`);
    if (Date.now() - start > 10_000) throw new Error(`dnsmasq did not start: ${log.join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { proc, log };
}
