// The only writer of the engine-data stores: hello, pushed events, and the
// results of the commands the screens send (through `command`).
import type { ApiEvent, CommandName, Commands } from '../api/types.js';
import { ApiError, NOT_CONNECTED_MESSAGE, TOKEN_REFUSED_DETAIL, type Transport } from '../api/transport.js';
import { applyConnection, applyStatus, useStatus } from './status.js';
import { removeSession, replaceSessions, setSessionsStale, upsertSession, useSessions } from './sessions.js';
import { addSiteNotice } from './site.js';
import { useInterfaces } from './interfaces.js';
import { upsertEntry, useAssignments, useLibrary, useMenu } from './library.js';
import { appendLog } from './log.js';
import { setLabels } from './labels.js';
import { eventToLine } from './log-lines.js';

let current: Transport | undefined;
/** Newest event time seen; after a reconnect the server replays recent events, which the log already has. */
let lastEventAt = -Infinity;
let replayedUpTo = -Infinity;

export function applyEvent(ev: ApiEvent): void {
  switch (ev.type) {
    case 'status':
      applyStatus(ev);
      break;
    case 'session':
      upsertSession(ev.session);
      break;
    case 'session-forgotten':
      removeSession(ev.mac);
      break;
    case 'library':
      useLibrary.setState({ entries: ev.entries, loaded: true });
      break;
    case 'assignments':
      useAssignments.setState({ assignments: ev.assignments });
      break;
    case 'menu':
      useMenu.setState({ menu: ev.menu });
      break;
    case 'labels':
      setLabels(ev.labels);
      break;
    case 'diagnosis':
      // About the site, not one machine (no machine asked to boot, another DHCP server): the banner shows it.
      if (!ev.mac) addSiteNotice(ev.diagnosis);
      break;
  }
  const replayed = ev.at <= replayedUpTo;
  lastEventAt = Math.max(lastEventAt, ev.at);
  if (replayed) return;
  const line = eventToLine(ev);
  if (line) appendLog(line);
}

/** Results that carry state go into the stores too, so the screen shows them even before the event. */
function applyResult<N extends CommandName>(cmd: N, result: Commands[N]['result']): void {
  const r = result as unknown;
  switch (cmd) {
    case 'engine.status':
    case 'serve.start':
    case 'serve.stop':
      applyStatus(r as Commands['engine.status']['result']);
      break;
    case 'interfaces.list':
      useInterfaces.setState({ list: r as Commands['interfaces.list']['result'], loaded: true, error: undefined });
      break;
    case 'sessions.list':
      replaceSessions(r as Commands['sessions.list']['result']);
      break;
    case 'library.list':
      useLibrary.setState({ entries: r as Commands['library.list']['result'], loaded: true, error: undefined });
      break;
    case 'library.add':
      upsertEntry(r as Commands['library.add']['result']);
      break;
    case 'assign.set':
    case 'assign.clear':
      useAssignments.setState({ assignments: r as Commands['assign.set']['result'] });
      break;
    case 'menu.set':
      useMenu.setState({ menu: r as Commands['menu.set']['result'] });
      break;
    case 'machines.labels':
    case 'machines.setLabel':
      setLabels(r as Commands['machines.labels']['result']);
      break;
    case 'settings.get': {
      const s = r as Commands['settings.get']['result'];
      useAssignments.setState({ assignments: s.assignments });
      useMenu.setState({ menu: s.menu });
      break;
    }
  }
}

/** Sends a command through the connected transport and folds its result into the stores. */
export async function command<N extends CommandName>(cmd: N, params: Commands[N]['params']): Promise<Commands[N]['result']> {
  // Refused at once while the engine is unreachable: never queued to run when it comes back.
  if (!current || current.connection !== 'open') throw new ApiError('disconnected', NOT_CONNECTED_MESSAGE);
  const result = await current.request(cmd, params);
  applyResult(cmd, result);
  return result;
}

/** Loads everything a fresh (or reconnected) UI needs; failures land in the stores as readable errors. */
async function refresh(): Promise<void> {
  const errText = (e: unknown) => (e instanceof Error ? e.message : String(e));
  await Promise.all([
    command('interfaces.list', {}).catch((e) => useInterfaces.setState({ error: errText(e), loaded: true })),
    command('library.list', {}).catch((e) => useLibrary.setState({ error: errText(e), loaded: true })),
    // Assignments and the menu persist across runs: a fresh UI must see them before they next change.
    command('settings.get', {}).catch(() => undefined),
    command('machines.labels', {}).catch(() => undefined),
  ]);
}

export function connectStores(t: Transport): () => void {
  current = t;
  const offs = [
    t.onHello((h) => {
      replayedUpTo = lastEventAt;
      applyStatus(h.status);
      replaceSessions(h.sessions);
      useStatus.setState({ engineVersion: h.engineVersion });
      void refresh();
    }),
    t.onEvent(applyEvent),
    t.onConnection((state, detail) => {
      applyConnection(state, detail, TOKEN_REFUSED_DETAIL);
      // The rows stay as last seen, marked stale until the next hello replaces them.
      if (state !== 'open') setSessionsStale(Object.keys(useSessions.getState().byMac).length > 0 || useStatus.getState().status !== null);
    }),
  ];
  useStatus.setState({ connection: t.connection });
  return () => {
    for (const off of offs) off();
    if (current === t) current = undefined;
  };
}
