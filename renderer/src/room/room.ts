// The room view's arithmetic, free of React: which group a machine is in, its step,
// its progress by bytes, the order (failures and stalls first), search and counts.
import { BOOTED_STATES, STATE_LABELS, type ClientSession, type SessionState } from '../api/types.js';
import { vendorOf } from '../diagnosis.js';

export type Group = 'failed' | 'stalled' | 'booting' | 'done';
export const GROUPS: Group[] = ['failed', 'stalled', 'booting', 'done'];
export const GROUP_LABELS: Record<Group, string> = { failed: 'Failed', stalled: 'Stalled', booting: 'Booting', done: 'Handed off' };

/** A machine mid-boot with no news for this long is shown as stalled (the engine calls it failed at 90 s). */
export const STALL_MS = 20_000;

const STEPS: Array<{ label: string; states: SessionState[] }> = [
  { label: 'Getting an address', states: ['dhcp', 'offered', 'bound'] },
  { label: 'Boot program', states: ['boot-program'] },
  { label: 'Boot script', states: ['ipxe', 'script'] },
  { label: 'Downloading OS', states: ['payload'] },
  // The OS seen running after the hand-off is this step's end: its badge says which (OS started, OS network up).
  { label: 'Handed off', states: ['handed-off', 'os-started', 'os-up'] },
];
export const STEP_COUNT = STEPS.length;

/** Where the boot is: 1..5 and its words; a failed machine is at the step it failed in. */
export function stepOf(s: ClientSession): { n: number; label: string } {
  let state = s.state;
  if (state === 'failed') state = [...s.timeline].reverse().find((e) => e.state !== 'failed')?.state ?? 'dhcp';
  const i = Math.max(0, STEPS.findIndex((st) => st.states.includes(state)));
  return { n: i + 1, label: STEPS[i].label };
}

export function stepText(s: ClientSession): string {
  const st = stepOf(s);
  return `${st.n}/${STEP_COUNT} ${st.label}`;
}

export function groupOf(s: ClientSession, now: number): Group {
  if (s.state === 'failed') return 'failed';
  if (BOOTED_STATES.has(s.state)) return 'done';
  const moving = s.current?.state === 'running' && s.current.rate > 0;
  return !moving && now - s.lastSeen > STALL_MS ? 'stalled' : 'booting';
}

/** 0..100: the running download's bytes when its size is known (a sanboot's one download has the ISO's size), else the engine's figure. */
export function percentOf(s: ClientSession): number {
  if (BOOTED_STATES.has(s.state)) return 100;
  const t = s.current;
  if (t && t.state === 'running' && t.size && t.size > 0) return Math.max(0, Math.min(100, Math.round((t.bytes / t.size) * 100)));
  return Math.max(0, Math.min(100, Math.round(s.progress)));
}

const RANK: Record<Group, number> = { failed: 0, stalled: 1, booting: 2, done: 3 };

/** Failures, then stalls, then booting (furthest step first), then finished; first seen first within each, so rows do not jump while bytes move. */
export function roomOrder(list: ClientSession[], now: number): ClientSession[] {
  const key = new Map(list.map((s) => [s, { g: RANK[groupOf(s, now)], step: stepOf(s).n }]));
  return [...list].sort((a, b) => {
    const ka = key.get(a)!;
    const kb = key.get(b)!;
    return ka.g - kb.g || (ka.g === RANK.booting ? kb.step - ka.step : 0) || a.firstSeen - b.firstSeen || a.mac.localeCompare(b.mac);
  });
}

export function countByGroup(list: ClientSession[], now: number): Record<Group, number> {
  const c: Record<Group, number> = { failed: 0, stalled: 0, booting: 0, done: 0 };
  for (const s of list) c[groupOf(s, now)]++;
  return c;
}

/** Everything a search can match: MAC (with and without colons), IP, label, vendor, state and step words, files and images, the problem. */
export function searchText(s: ClientSession, now: number, label?: string, image?: string): string {
  const parts = [
    s.mac,
    s.mac.replace(/:/g, ''),
    s.ip ?? '',
    label ?? '',
    vendorOf(s.mac) ?? '',
    STATE_LABELS[s.state],
    GROUP_LABELS[groupOf(s, now)],
    stepOf(s).label,
    image ?? '',
    s.current?.file ?? '',
    ...s.transfers.map((t) => `${t.file} ${t.role ?? ''}`),
    s.failure?.message ?? '',
    s.failure?.pxeError ?? '',
    s.diagnosis?.title ?? '',
    s.diagnosis?.pxeError ?? '',
  ];
  return parts.join('\n').toLowerCase();
}

/** Every word of the query must be found (case-insensitive). */
export function matchesQuery(haystack: string, query: string): boolean {
  return query
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every((w) => haystack.includes(w));
}
