// One readable line per event, for the terminal (pxekit serve without --json).
import type { WireEvent } from './events.js';
import type { SessionForgotten, SessionUpdate } from './tracker.js';
import { formatBytes } from './tracker.js';
import { BOOTED_STATES, STATE_LABELS } from './session.js';
import type { StatusEvent } from './status.js';
import type { DiagnosisEvent } from './diagnosis.js';

export type EngineEvent = WireEvent | SessionUpdate | SessionForgotten | StatusEvent | DiagnosisEvent;

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
    case 'dhcp': {
      if (!opts.verbose && ev.direction === 'in' && ev.message === 'request') return undefined;
      const arrow = ev.direction === 'in' ? '<-' : '->';
      const extra = [ev.ip, ev.arch, ev.isIpxe ? 'iPXE' : undefined, ev.bootFile ? `file ${ev.bootFile}` : undefined, ev.proxy ? 'proxy' : undefined]
        .filter(Boolean)
        .join(' ');
      return `${t} dhcp  ${ev.mac} ${arrow} ${ev.message.toUpperCase()}${ev.port === 4011 ? ' (4011)' : ''} ${extra}`.trimEnd();
    }
    case 'transfer': {
      const who = ev.mac ?? ev.clientIp;
      if (ev.phase === 'progress') return opts.verbose ? `${t} ${ev.protocol.padEnd(5)} ${who} ${ev.file} ${formatBytes(ev.bytes)}` : undefined;
      if (ev.phase === 'start') return `${t} ${ev.protocol.padEnd(5)} ${who} <- ${ev.file}${ev.size !== undefined ? ` (${formatBytes(ev.size)})` : ''}${ev.detail ? ` [${ev.detail}]` : ''}`;
      if (ev.phase === 'done') return `${t} ${ev.protocol.padEnd(5)} ${who} done ${ev.file} (${formatBytes(ev.bytes)})`;
      // Firmware that only asks a file's size (EDK2's tsize probe) or cancels a read is not a failure.
      if (ev.expected) return opts.verbose ? `${t} ${ev.protocol.padEnd(5)} ${who} looked for ${ev.file}: not here, as expected (${ev.expected})` : undefined;
      if (ev.errorCode === 'aborted') return opts.verbose ? `${t} ${ev.protocol.padEnd(5)} ${who} closed ${ev.file} early: ${ev.error ?? ev.detail ?? 'by the client'}` : undefined;
      return `${t} ${ev.protocol.padEnd(5)} ${who} FAILED ${ev.file}: ${ev.error ?? ev.errorCode}`;
    }
    case 'log':
      if (ev.level === 'debug' && !opts.verbose) return undefined;
      return `${t} ${ev.source.padEnd(5)} ${ev.level === 'info' ? '' : ev.level.toUpperCase() + ': '}${ev.message}`;
    case 'drop':
      return opts.verbose ? `${t} ${ev.protocol.padEnd(5)} dropped a malformed packet from ${ev.from}: ${ev.reason}` : undefined;
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
      const last = s.timeline[s.timeline.length - 1];
      if (!last || ev.reason !== 'state') return undefined;
      if (s.state === 'failed' && s.failure) {
        return `${t} ** ${s.mac} FAILED: ${s.failure.message}${s.failure.pxeError ? ` (screen shows ${s.failure.pxeError})` : ''}`;
      }
      if (BOOTED_STATES.has(s.state)) return `${t} ** ${s.mac} ${STATE_LABELS[s.state]}: ${last.text}`;
      return undefined;
    }
  }
}
