// Which events become log lines, in the terminal's words (src/sessions/format.ts).
// Transfer progress is left out (the clients screen shows it live).
import type { ApiEvent } from '../api/types.js';
import { dhcpText, dropText, sessionText, transferIsQuietFailure, transferText } from '../../../src/sessions/format.js';
import { formatBytes } from '../format.js';
import type { LogLine } from './log.js';

export function eventToLine(ev: ApiEvent): Omit<LogLine, 'seq'> | undefined {
  switch (ev.type) {
    case 'log':
      return { at: ev.at, level: ev.level, protocol: ev.source, mac: ev.mac?.toLowerCase(), text: ev.message };
    case 'dhcp':
      return { at: ev.at, level: ev.refusal || ev.message === 'nak' ? 'warn' : 'info', protocol: ev.proxy ? 'proxy' : 'dhcp', mac: ev.mac.toLowerCase(), text: dhcpText(ev) };
    case 'transfer': {
      if (ev.phase === 'progress') return undefined;
      const base = { at: ev.at, protocol: ev.protocol, mac: ev.mac?.toLowerCase() } as const;
      const text = transferText(ev, formatBytes);
      if (ev.phase === 'start') return { ...base, level: 'info', text: `${text} to ${ev.clientIp}` };
      if (ev.phase === 'done') return { ...base, level: 'info', text };
      // Firmware aborts size probes on purpose: only a real failure is an error.
      if (transferIsQuietFailure(ev)) return { ...base, level: ev.errorCode === 'aborted' && !ev.expected ? 'warn' : 'debug', text };
      return { ...base, level: 'error', text };
    }
    case 'drop':
      return { at: ev.at, level: 'warn', protocol: ev.protocol, text: dropText(ev) };
    case 'status':
      return { at: ev.at, level: ev.state === 'error' ? 'error' : 'info', protocol: 'engine', text: `${ev.state}${ev.iface ? ` on ${ev.iface}` : ''}${ev.mode ? ` (${ev.mode})` : ''}${ev.message ? `: ${ev.message}` : ''}` };
    case 'session': {
      const s = ev.session;
      // Progress-only updates are for the clients screen, not the log.
      const text = ev.reason === 'progress' ? undefined : sessionText(s);
      if (!text) return undefined;
      return { at: ev.at, level: s.state === 'failed' && s.failure ? 'error' : 'info', protocol: 'boot', mac: s.mac.toLowerCase(), text };
    }
    case 'diagnosis':
      // A machine's diagnosis is on its row and timeline; one about the site is said here too.
      if (ev.mac) return undefined;
      return { at: ev.at, level: 'warn', protocol: 'engine', text: `${ev.diagnosis.title} ${ev.diagnosis.fix}` };
    default:
      return undefined; // library / assignments / menu changes
  }
}
