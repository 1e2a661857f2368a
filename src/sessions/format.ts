// The words for events: one readable line per event for the terminal (pxekit serve without
// --json, formatEvent), and the per-event texts (dhcpText, transferText, dropText, sessionText)
// the dashboard's log (renderer/src/store/log-lines.ts) shows in its own columns.
// Value imports stay browser-safe (session.ts and roles.ts only): the renderer bundles this file.
import type { DhcpEvent, DropEvent, TransferEvent, WireEvent } from './events.js';
import type { SessionForgotten, SessionUpdate } from './tracker.js';
import type { ClientSession } from './session.js';
import { BOOTED_STATES, STATE_LABELS } from './session.js';
import { HANDOFF_ROLE } from '../files/roles.js';
import type { StatusEvent } from './status.js';
import type { DiagnosisEvent } from './diagnosis.js';

export type EngineEvent = WireEvent | SessionUpdate | SessionForgotten | StatusEvent | DiagnosisEvent;

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

/** "<- DISCOVER (4011) 10.0.0.9 x64 iPXE file ipxe.efi refused: ...": `proxy` adds the word for a log without a protocol column. */
export function dhcpText(ev: DhcpEvent, o: { proxy?: boolean } = {}): string {
  const arrow = ev.direction === 'in' ? '<-' : '->';
  const extra = [ev.ip, ev.arch, ev.isIpxe ? 'iPXE' : undefined, ev.bootFile ? `file ${ev.bootFile}` : undefined, o.proxy && ev.proxy ? 'proxy' : undefined]
    .filter(Boolean)
    .join(' ');
  return `${arrow} ${ev.message.toUpperCase()}${ev.port === 4011 ? ' (4011)' : ''} ${extra}${ev.refusal ? ` refused: ${ev.refusal}` : ''}`.trimEnd();
}

/**
 * A transfer in words: "<- file (size) [detail]", "done file (bytes)", "FAILED file: why", a
 * firmware probe ("looked for file: not here, as expected") or a client closing early.
 * `bytes` formats sizes (the dashboard passes its own).
 */
export function transferText(ev: TransferEvent, bytes: (n: number) => string = formatBytes): string {
  if (ev.phase === 'progress') return `${ev.file} ${bytes(ev.bytes)}`;
  if (ev.phase === 'start') return `<- ${ev.file}${ev.size !== undefined ? ` (${bytes(ev.size)})` : ''}${ev.detail ? ` [${ev.detail}]` : ''}`;
  if (ev.phase === 'done') return `done ${ev.file} (${bytes(ev.bytes)})`;
  if (ev.expected) return `looked for ${ev.file}: not here, as expected (${ev.expected})`;
  if (ev.errorCode === 'aborted') return `closed ${ev.file} early: ${ev.error ?? ev.detail ?? 'by the client'}`;
  if (ev.role === HANDOFF_ROLE) return `hand-off report ${ev.file} left unacknowledged: the machine went on to boot`;
  return `FAILED ${ev.file}: ${ev.error ?? ev.errorCode ?? 'error'}`;
}

/** A transfer failure that is not one: firmware probing a file's size, a client closing a read early, or a hand-off report the booting machine did not acknowledge. */
export function transferIsQuietFailure(ev: TransferEvent): boolean {
  return ev.phase === 'error' && (!!ev.expected || ev.errorCode === 'aborted' || ev.role === HANDOFF_ROLE);
}

export function dropText(ev: DropEvent): string {
  return `dropped a malformed packet from ${ev.from}: ${ev.reason}`;
}

/** A machine's state in words: "FAILED: why (screen shows PXE-E32)" or "<state label>: <latest step>"; undefined before its first step. */
export function sessionText(s: ClientSession): string | undefined {
  const last = s.timeline[s.timeline.length - 1];
  if (!last) return undefined;
  if (s.state === 'failed' && s.failure) return `FAILED: ${s.failure.message}${s.failure.pxeError ? ` (screen shows ${s.failure.pxeError})` : ''}`;
  return `${STATE_LABELS[s.state]}: ${last.text}`;
}

function time(at: number): string {
  return new Date(at).toISOString().slice(11, 19);
}

/** Returns the line to print, or undefined for events too chatty for a terminal. */
export function formatEvent(ev: EngineEvent, opts: { verbose?: boolean } = {}): string | undefined {
  const t = time(ev.at);
  switch (ev.type) {
    case 'status': {
      if (ev.state === 'serving') {
        const p = ev.ports!;
        return `${t} serving on ${ev.iface} (${ev.address}) in ${ev.mode === 'proxy' ? 'proxyDHCP' : 'DHCP'} mode${ev.modeReason ? ` (${ev.modeReason})` : ''}; DHCP ${p.dhcp}, PXE ${p.pxe}, TFTP ${p.tftp}, HTTP ${p.http}. Power on the machines to boot. Ctrl-C stops.`;
      }
      return `${t} ${ev.state}${ev.message ? `: ${ev.message}` : ''}`;
    }
    case 'dhcp':
      if (!opts.verbose && ev.direction === 'in' && ev.message === 'request') return undefined;
      return `${t} dhcp  ${ev.mac} ${dhcpText(ev, { proxy: true })}`;
    case 'transfer': {
      const who = ev.mac ?? ev.clientIp;
      // Progress, firmware that only asks a file's size (EDK2's tsize probe) or cancels a read: verbose only.
      if ((ev.phase === 'progress' || transferIsQuietFailure(ev)) && !opts.verbose) return undefined;
      return `${t} ${ev.protocol.padEnd(5)} ${who} ${transferText(ev)}`;
    }
    case 'log':
      if (ev.level === 'debug' && !opts.verbose) return undefined;
      return `${t} ${ev.source.padEnd(5)} ${ev.level === 'info' ? '' : ev.level.toUpperCase() + ': '}${ev.message}`;
    case 'drop':
      return opts.verbose ? `${t} ${ev.protocol.padEnd(5)} ${dropText(ev)}` : undefined;
    case 'diagnosis': {
      const d = ev.diagnosis;
      return [
        `${t} ** ${d.mac ?? 'PXE Kit'} DIAGNOSIS: ${d.title}${d.pxeError ? ` (screen shows ${d.pxeError})` : ''}`,
        `         likely: ${d.causes.join('; or ')}`,
        `         fix: ${d.fix}`,
      ].join('\n');
    }
    case 'session-forgotten':
      return undefined; // the engine's log line says it, once a minute
    case 'session': {
      const s = ev.session;
      const text = ev.reason === 'state' ? sessionText(s) : undefined;
      if (!text) return undefined;
      if ((s.state === 'failed' && s.failure) || BOOTED_STATES.has(s.state)) return `${t} ** ${s.mac} ${text}`;
      return undefined;
    }
  }
}
