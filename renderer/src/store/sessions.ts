// One session per machine, keyed by MAC. An update carries the machine's fields and only its
// new timeline entries, which are appended to the copy here (sessions.list gives whole ones).
import { create } from 'zustand';
import { mergeSessionUpdate, type ClientSession } from '../api/types.js';

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
  useSessions.setState((st) => ({ byMac: { ...st.byMac, [mac]: mergeSessionUpdate(st.byMac[mac], s) } }));
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
  for (const s of list) byMac[s.mac.toLowerCase()] = s;
  useSessions.setState({ byMac, stale: false });
}

/** First seen first: rows do not jump around while machines boot. */
export function sessionsInOrder(byMac: Record<string, ClientSession>): ClientSession[] {
  return Object.values(byMac).sort((a, b) => a.firstSeen - b.firstSeen || a.mac.localeCompare(b.mac));
}
