// One session per machine, keyed by MAC. An update carries the machine's fields and only its
// new timeline entries, which are appended to the copy here (sessions.list gives whole ones).
// Bounded like the engine's tracker (decisions §25): at most SESSIONS_MAX machines, each with
// at most TIMELINE_MAX entries (mergeSessionUpdate) of capped texts, so at most
// SESSIONS_MAX × SESSION_MAX_BYTES however many made-up MACs the engine ever reported.
import { create } from 'zustand';
import { mergeSessionUpdate, type ClientSession } from '../api/types.js';
import { SESSIONS_MAX } from '../../../src/sessions/session.js';

/** Machines that never got past an offer go first when room is needed, as in the engine. */
const EARLY = new Set(['dhcp', 'offered']);

/** The MAC to let go for a new one: the early machine heard from longest ago, else any machine heard from longest ago. */
function victim(byMac: Record<string, ClientSession>, except: string): string | undefined {
  let early: [string, number] | undefined;
  let any: [string, number] | undefined;
  for (const [mac, s] of Object.entries(byMac)) {
    if (mac === except) continue;
    if (!any || s.lastSeen < any[1]) any = [mac, s.lastSeen];
    if (EARLY.has(s.state) && (!early || s.lastSeen < early[1])) early = [mac, s.lastSeen];
  }
  return (early ?? any)?.[0];
}

export interface SessionsStore {
  byMac: Record<string, ClientSession>;
  /** The engine is unreachable: these rows are the last known state, not live (the machines screen greys them). */
  stale: boolean;
}

export const useSessions = create<SessionsStore>(() => ({ byMac: {}, stale: false }));

export function setSessionsStale(stale: boolean): void {
  if (useSessions.getState().stale !== stale) useSessions.setState({ stale });
}

export function upsertSession(s: ClientSession): void {
  const mac = s.mac.toLowerCase();
  const cur = useSessions.getState().byMac[mac];
  if (cur && cur.lastSeen > s.lastSeen) return;
  useSessions.setState((st) => {
    const byMac = { ...st.byMac, [mac]: mergeSessionUpdate(st.byMac[mac], s) };
    if (!cur) {
      // A new machine past the bound: the engine forgets one too (session-forgotten), but
      // the store must not rely on that event arriving (a reconnect, a dropped frame).
      let over = Object.keys(byMac).length - SESSIONS_MAX;
      while (over-- > 0) {
        const gone = victim(byMac, mac);
        if (gone === undefined) break;
        delete byMac[gone];
      }
    }
    return { byMac };
  });
}

/** The engine tracks a bounded number of machines; one it let go leaves the screen too. */
export function removeSession(mac: string): void {
  const key = mac.toLowerCase();
  if (!(key in useSessions.getState().byMac)) return;
  useSessions.setState((st) => {
    const { [key]: _gone, ...rest } = st.byMac;
    return { byMac: rest };
  });
}

export function replaceSessions(list: ClientSession[]): void {
  const byMac: Record<string, ClientSession> = {};
  const kept = list.length > SESSIONS_MAX ? [...list].sort((a, b) => b.lastSeen - a.lastSeen).slice(0, SESSIONS_MAX) : list;
  for (const s of kept) byMac[s.mac.toLowerCase()] = s;
  useSessions.setState({ byMac, stale: false });
}

/** First seen first: rows do not jump around while machines boot. */
export function sessionsInOrder(byMac: Record<string, ClientSession>): ClientSession[] {
  return Object.values(byMac).sort((a, b) => a.firstSeen - b.firstSeen || a.mac.localeCompare(b.mac));
}
