// Which events become log lines, in the same plain words as the terminal.
// Transfer progress is left out (the clients screen shows it live).
import type { ApiEvent } from '../api/types.js';
import { STATE_LABELS } from '../api/types.js';
import { formatBytes } from '../format.js';
import type { LogLine } from './log.js';

export function eventToLine(ev: ApiEvent): Omit<LogLine, 'seq'> | undefined {
  switch (ev.type) {
    case 'log':
      return { at: ev.at, level: ev.level, protocol: ev.source, mac: ev.mac?.toLowerCase(), text: ev.message };
    case 'dhcp': {
      const extra = [ev.ip, ev.arch, ev.isIpxe ? 'iPXE' : undefined, ev.bootFile ? `file ${ev.bootFile}` : undefined].filter(Boolean).join(' ');
      const text = `${ev.direction === 'in' ? '<-' : '->'} ${ev.message.toUpperCase()}${ev.port === 4011 ? ' (4011)' : ''} ${extra}${ev.refusal ? ` refused: ${ev.refusal}` : ''}`.trimEnd();
      return { at: ev.at, level: ev.refusal || ev.message === 'nak' ? 'warn' : 'info', protocol: ev.proxy ? 'proxy' : 'dhcp', mac: ev.mac.toLowerCase(), text };
    }
    case 'transfer': {
      if (ev.phase === 'progress') return undefined;
      const base = { at: ev.at, protocol: ev.protocol, mac: ev.mac?.toLowerCase() } as const;
      if (ev.phase === 'start') return { ...base, level: 'info', text: `<- ${ev.file}${ev.size !== undefined ? ` (${formatBytes(ev.size)})` : ''}${ev.detail ? ` [${ev.detail}]` : ''} to ${ev.clientIp}` };
      if (ev.phase === 'done') return { ...base, level: 'info', text: `done ${ev.file} (${formatBytes(ev.bytes)})` };
      // Firmware aborts size probes on purpose: only a real failure is an error.
      if (ev.expected) return { ...base, level: 'debug', text: `looked for ${ev.file}: not here, as expected (${ev.expected})` };
      return { ...base, level: ev.errorCode === 'aborted' ? 'warn' : 'error', text: `FAILED ${ev.file}: ${ev.error ?? ev.errorCode ?? 'error'}` };
    }
    case 'drop':
      return { at: ev.at, level: 'warn', protocol: ev.protocol, text: `dropped a malformed packet from ${ev.from}: ${ev.reason}` };
    case 'status':
      return { at: ev.at, level: ev.state === 'error' ? 'error' : 'info', protocol: 'engine', text: `${ev.state}${ev.iface ? ` on ${ev.iface}` : ''}${ev.mode ? ` (${ev.mode})` : ''}${ev.message ? `: ${ev.message}` : ''}` };
    case 'session': {
      const s = ev.session;
      const last = s.timeline[s.timeline.length - 1];
      // Progress-only updates are for the clients screen, not the log.
      if (!last || ev.reason === 'progress') return undefined;
      const mac = s.mac.toLowerCase();
      if (s.state === 'failed' && s.failure) return { at: ev.at, level: 'error', protocol: 'boot', mac, text: `FAILED: ${s.failure.message}${s.failure.pxeError ? ` (screen shows ${s.failure.pxeError})` : ''}` };
      return { at: ev.at, level: 'info', protocol: 'boot', mac, text: `${STATE_LABELS[s.state]}: ${last.text}` };
    }
    case 'diagnosis':
      // A machine's diagnosis is on its row and timeline; one about the site is said here too.
      if (ev.mac) return undefined;
      return { at: ev.at, level: 'warn', protocol: 'engine', text: `${ev.diagnosis.title} ${ev.diagnosis.fix}` };
    default:
      return undefined; // library / assignments / menu changes
  }
}
