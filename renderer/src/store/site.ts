// Engine-wide problems, for the banner on every screen: the engine's own list
// (status.site, replaced with each status) and diagnoses about the site rather
// than one machine (diagnosis events without a MAC), which stay until dismissed.
import { create } from 'zustand';
import type { Diagnosis, SiteProblem } from '../api/types.js';

export interface SiteNotice {
  /** Stable across a reconnect's replay of the same event. */
  key: string;
  diagnosis: Diagnosis;
}

/** Site diagnoses kept on screen at once (newest kept). */
export const SITE_NOTICES_MAX = 5;

export const useSite = create<{ notices: SiteNotice[]; dismissed: string[] }>(() => ({ notices: [], dismissed: [] }));

export function noticeKey(d: Diagnosis): string {
  return `${d.code}@${d.at}`;
}

export function addSiteNotice(d: Diagnosis): void {
  const key = noticeKey(d);
  const st = useSite.getState();
  if (st.dismissed.includes(key) || st.notices.some((n) => n.key === key)) return;
  useSite.setState({ notices: [...st.notices, { key, diagnosis: d }].slice(-SITE_NOTICES_MAX) });
}

export function dismissSiteNotice(key: string): void {
  useSite.setState((st) => ({ notices: st.notices.filter((n) => n.key !== key), dismissed: [...st.dismissed, key].slice(-200) }));
}

const RANK: Record<SiteProblem['severity'], number> = { info: 0, warn: 1, error: 2 };

/** The problems worst first (then oldest first). */
export function bySeverity(site: SiteProblem[] | undefined): SiteProblem[] {
  return [...(site ?? [])].sort((a, b) => RANK[b.severity] - RANK[a.severity] || a.since - b.since);
}

export function worstSiteProblem(site: SiteProblem[] | undefined): SiteProblem | undefined {
  return bySeverity(site)[0];
}
