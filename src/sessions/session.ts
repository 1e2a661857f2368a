// One machine's boot, as a technician follows it: where it is, how far along,
// and what went wrong. Plain data so it can cross the API unchanged.
import type { ClientArch } from '../boot/client.js';
import type { Diagnosis } from './diagnosis.js';

export type SessionState =
  | 'dhcp' // DISCOVER seen, nothing settled yet
  | 'offered' // we offered (address and/or boot file)
  | 'bound' // address acknowledged (or proxy boot file taken)
  | 'boot-program' // downloading the first boot program (TFTP, or HTTP for HTTP Boot)
  | 'ipxe' // the boot program (iPXE) is running and asked DHCP again
  | 'script' // iPXE fetched its script
  | 'payload' // kernel / initrd / ISO downloading
  | 'handed-off' // everything it needs was delivered: the OS is starting
  | 'os-started' // after the hand-off the started system fetched files of its own (a live system's squashfs)
  | 'os-up' // after the hand-off the started system asked for its own address: it runs, its network is up
  | 'failed';

/** A machine in one of these states booted what it was given (the loader handed over). */
export const BOOTED_STATES: ReadonlySet<SessionState> = new Set(['handed-off', 'os-started', 'os-up']);

export const STATE_LABELS: Record<SessionState, string> = {
  dhcp: 'Asking for an address',
  offered: 'Offer sent',
  bound: 'Address acknowledged',
  'boot-program': 'Downloading boot program',
  ipxe: 'iPXE started',
  script: 'Boot script fetched',
  payload: 'Downloading OS',
  'handed-off': 'Handed off',
  'os-started': 'OS started',
  'os-up': 'OS network up',
  failed: 'Failed',
};

/** Rough share of the whole boot each state stands for, for a single progress bar. */
export const STATE_PROGRESS: Record<SessionState, number> = {
  dhcp: 2,
  offered: 5,
  bound: 10,
  'boot-program': 15,
  ipxe: 35,
  script: 40,
  payload: 45,
  'handed-off': 100,
  'os-started': 100,
  'os-up': 100,
  failed: 0,
};

/** Timeline entries kept per machine. */
export const TIMELINE_MAX = 200;
/** Transfers kept per machine (the oldest go first). */
export const TRANSFERS_MAX = 50;
/**
 * Characters kept of a text a client can make as long as it likes: a transfer's file name
 * (TFTP names run to the datagram's size, HTTP paths further) and the texts that quote one
 * (a timeline entry, a failure's message, a diagnosis's lines). Past it, the text is cut and
 * ends in "…".
 */
export const FILE_NAME_MAX = 256;
export const TEXT_MAX = 512;
/** A diagnosis's lists (causes, evidence) are kept to this many lines. */
export const DIAGNOSIS_LINES_MAX = 16;
/**
 * Ceiling of one session's JSON (decisions §25): TIMELINE_MAX entries of at most TEXT_MAX
 * characters, TRANSFERS_MAX transfers (file name at most FILE_NAME_MAX), the current transfer
 * again, a failure, a diagnosis of at most 2 × DIAGNOSIS_LINES_MAX + 3 capped lines, and the
 * short fields. The worst case is every capped text made of characters JSON escapes to six
 * bytes (control characters): about 200 × 3.1 KB + 51 × 1.7 KB + 35 × 3.1 KB, measured at
 * 794 KiB (test/unit/memory-bounds.test.ts). File names machines really ask for are ASCII and
 * short, and a session *update* carries only the timeline entries new since the previous one:
 * a sanboot's updates measure about 20 KiB with 50 transfers of 300-character names.
 */
export const SESSION_MAX_BYTES = 1024 * 1024;

/** `text` cut to `max` characters (ending in "…"), never splitting a surrogate pair. */
export function capText(text: string, max = TEXT_MAX): string {
  if (text.length <= max) return text;
  let end = max - 1;
  const c = text.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

/**
 * Machines tracked at once (sessions, diagnosis state). One switch's worth of machines fits
 * many times over; a DHCP starvation tool's thousands of made-up MACs a second do not, and
 * must not grow memory: past it, the machines quiet longest are forgotten.
 */
export const SESSIONS_MAX = 1024;

export interface TransferSnapshot {
  id: string;
  protocol: 'tftp' | 'http';
  file: string;
  role?: string;
  bytes: number;
  size?: number;
  /** Bytes per second over the last seconds. */
  rate: number;
  state: 'running' | 'done' | 'failed';
  startedAt: number;
  endedAt?: number;
}

export interface SessionFailure {
  /** Stable code the UI and diagnostics key on. */
  code: 'not-found' | 'timeout' | 'silent' | 'no-boot-file' | 'aborted' | 'io' | 'boot-loop';
  /** What the technician reads. */
  message: string;
  /** The PXE error the client's screen likely shows, if any. */
  pxeError?: string;
  at: number;
}

export interface TimelineEntry {
  at: number;
  state: SessionState;
  text: string;
}

export interface ClientSession {
  mac: string;
  ip?: string;
  arch?: ClientArch;
  vendorClass?: string;
  isIpxe: boolean;
  firstSeen: number;
  lastSeen: number;
  state: SessionState;
  /** 0..100 for the whole boot. */
  progress: number;
  /** The transfer in progress, if any. */
  current?: TransferSnapshot;
  transfers: TransferSnapshot[];
  failure?: SessionFailure;
  /** What PXE Kit concluded about this boot attempt's problem (src/diagnostics): code, PXE error, causes, fix. */
  diagnosis?: Diagnosis;
  /**
   * Oldest first, the last 200 entries. In a session *update* (the event stream) it holds only
   * the entries added since this machine's previous update: a machine that loops through DHCP
   * would otherwise resend (and every listener re-serialise) its whole history on every packet.
   */
  timeline: TimelineEntry[];
  /** How many entries came before timeline[0] (absolute index), so a listener can append updates in place. */
  timelineFrom: number;
  /** How many times this machine started over from DHCP within this run. */
  boots: number;
  /** When the loader handed over (this boot attempt): what comes after is the OS. */
  handedOffAt?: number;
  /** What the started system was seen doing, and how long after the hand-off (src/sessions/tracker.ts). */
  os?: { state: 'os-started' | 'os-up'; at: number; afterMs: number; how: string };
  /**
   * Times this machine came back to network boot soon after a hand-off with no sign of its OS:
   * what it was given did not start. Kept across its boot attempts in this run.
   */
  loops?: number;
  /** Known from an earlier run of the engine (the data dir's sessions.json) and not heard from since. */
  previousRun?: boolean;
}

/**
 * Folds a session update into the listener's copy of the same machine: the update's
 * fields win, and its timeline entries are placed at their absolute index (an update
 * replayed after a reconnect, or one that follows a gap, still ends in order).
 */
export function mergeSessionUpdate(prev: ClientSession | undefined, next: ClientSession, max = TIMELINE_MAX): ClientSession {
  if (!prev) return next;
  const keep = Math.max(0, Math.min(prev.timeline.length, next.timelineFrom - prev.timelineFrom));
  const timeline = next.timelineFrom >= prev.timelineFrom ? prev.timeline.slice(0, keep).concat(next.timeline) : next.timeline;
  const cut = Math.max(0, timeline.length - max);
  const from = (next.timelineFrom >= prev.timelineFrom ? prev.timelineFrom : next.timelineFrom) + cut;
  return { ...next, timeline: cut ? timeline.slice(cut) : timeline, timelineFrom: from };
}

/** A diagnosis with its texts capped (they may quote what a client asked for). */
export function capDiagnosis(d: Diagnosis): Diagnosis {
  const long = (t: string) => t.length > TEXT_MAX;
  if (!long(d.title) && !long(d.fix) && !(d.pxeError && long(d.pxeError)) && d.causes.length <= DIAGNOSIS_LINES_MAX && d.evidence.length <= DIAGNOSIS_LINES_MAX && !d.causes.some(long) && !d.evidence.some(long)) return d;
  return {
    ...d,
    title: capText(d.title),
    fix: capText(d.fix),
    ...(d.pxeError !== undefined ? { pxeError: capText(d.pxeError) } : {}),
    causes: d.causes.slice(0, DIAGNOSIS_LINES_MAX).map((c) => capText(c)),
    evidence: d.evidence.slice(-DIAGNOSIS_LINES_MAX).map((e) => capText(e)),
  };
}
