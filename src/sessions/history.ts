// Machine history across engine runs: the sessions (each with its diagnosis) are
// written to <dataDir>/sessions.json, bounded, atomically (src/util/durable-file.ts),
// at most every few seconds while serving and at stop; the next start loads them,
// marked previousRun, so the UI shows what happened before a restart or a crash.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClientSession } from './session.js';
import { keepCorruptCopy, writeFileAtomic, writeFileAtomicAsync } from '../util/durable-file.js';

export const HISTORY_FILE = 'sessions.json';
/** Machines kept: the most recently seen. */
export const HISTORY_SESSIONS_MAX = 200;
/** Timeline entries kept per machine (the newest). */
export const HISTORY_TIMELINE_MAX = 60;
/** Transfers kept per machine (the newest). */
export const HISTORY_TRANSFERS_MAX = 20;
/** Minimum gap between two writes while serving. */
export const HISTORY_EVERY_MS = 3000;

interface HistoryFileV1 {
  version: 1;
  savedAt: number;
  sessions: ClientSession[];
}

export function historyPath(dataDir: string): string {
  return join(dataDir, HISTORY_FILE);
}

/** The sessions as they are stored: the newest `max` machines, each with its newest timeline entries and transfers. */
export function trimForHistory(list: ClientSession[], max = HISTORY_SESSIONS_MAX, timelineMax = HISTORY_TIMELINE_MAX): ClientSession[] {
  return [...list]
    .sort((a, b) => b.lastSeen - a.lastSeen)
    .slice(0, max)
    .map((s) => {
      const cut = Math.max(0, s.timeline.length - timelineMax);
      const { current: _live, ...rest } = s;
      return { ...rest, timeline: s.timeline.slice(cut), timelineFrom: s.timelineFrom + cut, transfers: s.transfers.slice(-HISTORY_TRANSFERS_MAX) };
    })
    .sort((a, b) => a.firstSeen - b.firstSeen);
}

function isSession(v: unknown): v is ClientSession {
  const s = v as ClientSession;
  return (
    typeof s === 'object' &&
    s !== null &&
    typeof s.mac === 'string' &&
    typeof s.state === 'string' &&
    typeof s.firstSeen === 'number' &&
    typeof s.lastSeen === 'number' &&
    typeof s.timelineFrom === 'number' &&
    Array.isArray(s.timeline) &&
    Array.isArray(s.transfers)
  );
}

export interface LoadedHistory {
  /** Marked previousRun, first seen first. */
  sessions: ClientSession[];
  savedAt?: number;
  /** The file could not be used: what happened (a damaged one is copied aside). */
  warning?: string;
}

/**
 * Reads <dataDir>/sessions.json; nothing (and no warning) when there is none yet. A damaged
 * file is copied aside unless `readOnly` (a reader that only shows it, again and again).
 */
export function loadSessionHistory(dataDir: string, readOnly = false): LoadedHistory {
  const path = historyPath(dataDir);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { sessions: [] };
    return { sessions: [], warning: `could not read the machine history ${path}: ${(err as Error).message}` };
  }
  try {
    const file = JSON.parse(text) as HistoryFileV1;
    if (file?.version !== 1 || !Array.isArray(file.sessions)) throw new Error('not a PXE Kit machine history');
    const sessions = trimForHistory(file.sessions.filter(isSession)).map((s) => ({ ...s, previousRun: true }));
    return { sessions, savedAt: typeof file.savedAt === 'number' ? file.savedAt : undefined };
  } catch (err) {
    const backup = readOnly ? undefined : keepCorruptCopy(path);
    return { sessions: [], warning: `the machine history ${path} is damaged (${(err as Error).message}): starting without it${backup ? `; it was kept as ${backup}` : ''}` };
  }
}

function serialise(list: ClientSession[], now: number): string {
  const file: HistoryFileV1 = { version: 1, savedAt: now, sessions: trimForHistory(list) };
  return JSON.stringify(file);
}

export interface HistoryWriterOptions {
  dataDir: string;
  /** The sessions now (the tracker's list). */
  source: () => ClientSession[];
  everyMs?: number;
  /** A write failed (disk full, read-only data dir): said once per failure streak. */
  onError?: (message: string) => void;
  now?: () => number;
}

/** Writes the history when told it changed, at most every `everyMs`, without blocking; flush() writes at once (stop). */
export class SessionHistoryWriter {
  private timer?: NodeJS.Timeout;
  private dirty = false;
  private writing?: Promise<void>;
  private lastWrite = 0;
  private failing = false;
  private stopped = false;
  private readonly now: () => number;

  constructor(private readonly o: HistoryWriterOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Something worth keeping changed (a state, a timeline entry, a diagnosis). */
  changed(): void {
    if (this.stopped) return;
    this.dirty = true;
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.writing) return;
    const wait = Math.max(0, this.lastWrite + (this.o.everyMs ?? HISTORY_EVERY_MS) - this.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.writeNow();
    }, wait);
    this.timer.unref?.();
  }

  private async writeNow(): Promise<void> {
    if (!this.dirty || this.stopped) return;
    this.dirty = false;
    this.lastWrite = this.now();
    this.writing = writeFileAtomicAsync(historyPath(this.o.dataDir), serialise(this.o.source(), this.lastWrite))
      .then(() => {
        this.failing = false;
      })
      .catch((err: Error) => this.failed(err))
      .finally(() => (this.writing = undefined));
    await this.writing;
    if (this.dirty) this.schedule();
  }

  private failed(err: Error): void {
    if (!this.failing) this.o.onError?.(`could not save the machine history in ${this.o.dataDir}: ${err.message}`);
    this.failing = true;
  }

  /** Writes now, after any write under way (at stop); later changes are ignored. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.stopped = true;
    await this.writing;
    try {
      writeFileAtomic(historyPath(this.o.dataDir), serialise(this.o.source(), this.now()));
    } catch (err) {
      this.failed(err as Error);
    }
  }
}

/** What the engine needs: the tracker's export and restore seams. */
export interface HistorySource {
  list(): ClientSession[];
  restore(list: ClientSession[]): void;
}

/** One run's history: loads the previous run's machines into the tracker, then keeps the file up to date. */
export class SessionHistory {
  private constructor(private readonly writer: SessionHistoryWriter) {}

  static open(dataDir: string, tracker: HistorySource, warn: (message: string) => void, everyMs?: number): SessionHistory {
    const loaded = loadSessionHistory(dataDir);
    if (loaded.warning) warn(loaded.warning);
    tracker.restore(loaded.sessions);
    return new SessionHistory(new SessionHistoryWriter({ dataDir, source: () => tracker.list(), everyMs, onError: warn }));
  }

  changed(): void {
    this.writer.changed();
  }

  flush(): Promise<void> {
    return this.writer.flush();
  }
}
