// Engine-wide problems (StatusEvent.site): the NIC, the segment, the laptop, not one
// machine. The engine keeps one SiteBoard per run; every change is published as a
// status event and said once in the log, and machine diagnoses made while a site
// problem stands name it as the likely cause (withSiteCause).
import type { SiteProblem } from '../sessions/status.js';
import type { Diagnosis } from './types.js';
import type { HostCheck } from './checks.js';

export type SiteCode = SiteProblem['code'];
export type SiteActionId = NonNullable<SiteProblem['action']>['id'];

export const SWITCH_TO_PROXY: NonNullable<SiteProblem['action']> = { id: 'switch-to-proxy', label: 'Switch to proxy mode and go on' };
export const RETRY_PORTS: NonNullable<SiteProblem['action']> = { id: 'retry-ports', label: 'Try again' };

/** A machine that fails within this long after a site problem cleared may still have failed because of it. */
export const SITE_CAUSE_WINDOW_MS = 30_000;

/** Codes that explain a machine's failure better than its firmware does (while warn or error). */
const MACHINE_CAUSES: ReadonlySet<SiteCode> = new Set(['link-down', 'other-dhcp-server', 'port-blocked', 'firewall']);

export class SiteBoard {
  private readonly now = new Map<SiteCode, SiteProblem>();
  /** When each code was last cleared: a failure just after a link came back is still the link's. */
  private readonly cleared = new Map<SiteCode, { problem: SiteProblem; at: number }>();

  constructor(private readonly onChange: (list: SiteProblem[], change: { set?: SiteProblem; cleared?: SiteProblem }) => void) {}

  list(): SiteProblem[] {
    return [...this.now.values()];
  }

  has(code: SiteCode): boolean {
    return this.now.has(code);
  }

  get(code: SiteCode): SiteProblem | undefined {
    return this.now.get(code);
  }

  /** Sets or replaces the problem of this code; an unchanged one is not published again. */
  set(p: SiteProblem): void {
    const old = this.now.get(p.code);
    if (old && old.title === p.title && old.fix === p.fix && old.severity === p.severity && old.action?.id === p.action?.id) return;
    // A problem that changes its words keeps its start time.
    this.now.set(p.code, old ? { ...p, since: old.since } : p);
    this.onChange(this.list(), { set: this.now.get(p.code) });
  }

  clear(code: SiteCode, at = Date.now()): void {
    const old = this.now.get(code);
    if (!old) return;
    this.now.delete(code);
    this.cleared.set(code, { problem: old, at });
    this.onChange(this.list(), { cleared: old });
  }

  /** Forgets everything without publishing (a new run). */
  reset(keep: SiteCode[] = []): void {
    for (const code of [...this.now.keys()]) if (!keep.includes(code)) this.now.delete(code);
    this.cleared.clear();
  }

  /** Problems that may have made a machine fail at `at`: standing now, or cleared within SITE_CAUSE_WINDOW_MS. */
  causesAt(at: number): SiteProblem[] {
    const out = [...this.now.values()];
    for (const [code, c] of this.cleared) if (!this.now.has(code) && at - c.at <= SITE_CAUSE_WINDOW_MS) out.push(c.problem);
    return out.filter((p) => MACHINE_CAUSES.has(p.code) && p.severity !== 'info');
  }
}

/**
 * A machine's diagnosis given while a site problem stands: the site problem goes first
 * among the causes and in the fix, so the technician fixes the segment, not the machine.
 */
export function withSiteCause(d: Diagnosis, causes: SiteProblem[]): Diagnosis {
  if (!d.mac || causes.length === 0) return d;
  const first = causes[0];
  return {
    ...d,
    siteCause: first.code,
    causes: [...causes.map((c) => `most likely not this machine: ${c.title}`), ...d.causes],
    fix: `${causes.map((c) => c.fix).join(' ')} Then boot the machine again. (If it still fails: ${d.fix})`,
    evidence: [...d.evidence, ...causes.map((c) => `site problem "${c.code}" since ${new Date(c.since).toISOString()}`)],
  };
}

export function waitingForLink(iface: string, adminDown: boolean, since = Date.now()): SiteProblem {
  return adminDown
    ? {
        code: 'waiting-for-link', severity: 'warn', since,
        title: `waiting for ${iface}: the interface is switched off`,
        fix: `Switch it on ("sudo ip link set ${iface} up" on Linux, or enable the adapter in the network settings); PXE Kit starts serving as soon as it has a link.`,
      }
    : {
        code: 'waiting-for-link', severity: 'warn', since,
        title: `waiting for a link on ${iface}: plug the cable or power on the machine`,
        fix: `Plug the cable into ${iface} and into the switch (or straight into the machine to boot) and power on the switch or the machine; PXE Kit starts serving as soon as the link comes up.`,
      };
}

export function waitingForAddress(iface: string, since = Date.now()): SiteProblem {
  return {
    code: 'waiting-for-link', severity: 'warn', since,
    title: `waiting for an IPv4 address on ${iface}: it has a link but no address`,
    fix:
      `A cable straight to a machine (or a switch without a DHCP server) gives ${iface} no address: set a static one, e.g. ` +
      `"sudo ip addr add 192.168.50.1/24 dev ${iface}" (Linux) or in the adapter's IPv4 settings (Windows, macOS). PXE Kit starts serving as soon as it has one.`,
  };
}

export function linkDown(iface: string, since = Date.now()): SiteProblem {
  return {
    code: 'link-down', severity: 'error', since,
    title: `the link on ${iface} is down: no machine can reach PXE Kit`,
    fix: `Check the cable on ${iface} and that the switch (or the machine at the other end) is powered on. PXE Kit keeps serving and every machine's progress is kept; it goes on when the link returns.`,
  };
}

export function noMachinesYet(d: Diagnosis): SiteProblem {
  return { code: 'no-machines-yet', severity: 'warn', since: d.at, title: d.title, fix: d.fix };
}

/** What PXE Kit did about another DHCP server, as a site problem (undefined: nothing to show, e.g. --mode proxy). */
export function otherDhcpServer(o: { iface: string; name: string; reaction: 'switched-to-proxy' | 'suspended' | 'forced'; since?: number }): SiteProblem {
  const since = o.since ?? Date.now();
  const title = `another DHCP server on ${o.iface}: ${o.name}`;
  switch (o.reaction) {
    case 'switched-to-proxy':
      return {
        code: 'other-dhcp-server', severity: 'info', since,
        title: `${title}; PXE Kit switched to proxy mode (it hands out the addresses, PXE Kit adds the boot information)`,
        fix: 'Nothing to do if that server belongs on this network. If it should not be there, disconnect it (or the uplink to the office network) and start serving again.',
      };
    case 'suspended':
      return {
        code: 'other-dhcp-server', severity: 'error', since,
        title: `${title}; PXE Kit stopped handing out addresses, so machines get their address from that server and do not boot from PXE Kit`,
        fix: 'Switch to proxy mode to let that server hand out addresses while PXE Kit adds the boot information, or disconnect that server (or the uplink to the office network) and start serving again.',
        action: SWITCH_TO_PROXY,
      };
    case 'forced':
      return {
        code: 'other-dhcp-server', severity: 'warn', since,
        title: `${title}; PXE Kit goes on handing out addresses (forced), so machines may get conflicting addresses or boot from that server`,
        fix: 'Switch to proxy mode to leave the addresses to that server, or disconnect it.',
        action: SWITCH_TO_PROXY,
      };
  }
}

/** A port PXE Kit could not bind at start (NetError PORT_IN_USE / NO_PRIVILEGE / BIND_FAILED). */
export function portBlocked(message: string, since = Date.now()): SiteProblem {
  // NetError messages say what happened and then what to do; the first sentence is the title.
  const m = /^(.+?[.:])\s+(.+)$/s.exec(message);
  return {
    code: 'port-blocked', severity: 'error', since,
    title: m ? m[1].replace(/[.:]$/, '') : message,
    fix: m ? m[2] : 'Stop the program that holds the port, then try again.',
    action: RETRY_PORTS,
  };
}

/** The preflight's firewall check (src/diagnostics/checks.ts) as a site problem, when it found one. */
export function fromFirewallCheck(c: HostCheck, since = Date.now()): SiteProblem | undefined {
  if (c.id !== 'firewall' || c.status !== 'fail') return undefined;
  return { code: 'firewall', severity: 'warn', since, title: `the firewall may block machines: ${c.detail}`, fix: c.fix ?? 'Allow PXE Kit in the firewall.' };
}

/** Problems whose appearance already has its own line: the status message, the diagnosis, the engine's warning about the other server. */
const SAID_ELSEWHERE: ReadonlySet<SiteCode> = new Set(['waiting-for-link', 'no-machines-yet', 'other-dhcp-server', 'port-blocked']);

/** One log line for a site change (the CLI prints it; the exported log keeps it). */
export function siteLogLine(change: { set?: SiteProblem; cleared?: SiteProblem }): { level: 'info' | 'warn' | 'error'; message: string } | undefined {
  if (change.set && SAID_ELSEWHERE.has(change.set.code)) return undefined;
  if (change.set) return { level: change.set.severity, message: `${change.set.title}. ${change.set.fix}` };
  if (change.cleared) {
    const c = change.cleared;
    const what: Record<SiteCode, string> = {
      'waiting-for-link': 'the interface has a link and an IPv4 address',
      'link-down': 'the link is back; serving goes on',
      'other-dhcp-server': 'the other DHCP server no longer stops PXE Kit',
      'no-machines-yet': 'a machine asked to boot',
      'port-blocked': 'the ports are free',
      firewall: 'the firewall no longer blocks',
    };
    return { level: 'info', message: what[c.code] };
  }
  return undefined;
}
