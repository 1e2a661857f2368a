// The live log: a ring of the last 100,000 lines, and at most LOG_MAX_BYTES of them,
// outside React state (copying it per event would be quadratic), with a version number
// the viewer subscribes to. Version bumps are coalesced so a burst of events costs one render.
import { create } from 'zustand';
import type { LogLevel } from '../api/types.js';

export const LOG_CAPACITY = 100_000;
/**
 * Byte ceiling of the log (decisions §25), counted per line as its text and MAC at two bytes a
 * character (a JS string's worst case) plus LOG_LINE_OVERHEAD for the line object and its slot.
 */
export const LOG_MAX_BYTES = 32 * 1024 * 1024;
export const LOG_LINE_OVERHEAD = 96;
/** Characters kept of one line's text (the rest is cut, ending in "…"). */
export const LOG_LINE_TEXT_MAX = 2000;
/** MACs offered by the client filter: the most recently seen ones. */
export const LOG_MACS_MAX = 200;

export type LogProtocol = 'dhcp' | 'proxy' | 'tftp' | 'http' | 'engine' | 'boot' | 'net';
export const LOG_PROTOCOLS: LogProtocol[] = ['dhcp', 'proxy', 'tftp', 'http', 'boot', 'engine', 'net'];
export const LOG_LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error'];

export interface LogLine {
  seq: number;
  at: number;
  level: LogLevel;
  protocol: LogProtocol;
  mac?: string;
  text: string;
}

/** What a line is counted as against LOG_MAX_BYTES. */
export function lineBytes(l: Omit<LogLine, 'seq'>): number {
  return 2 * (l.text.length + (l.mac?.length ?? 0)) + LOG_LINE_OVERHEAD;
}

export class LogRing {
  private readonly buf: Array<LogLine | undefined>;
  private readonly sizes: Float64Array;
  /** Sequence number the next line gets; lines [firstSeq, nextSeq) are held. */
  nextSeq = 0;
  firstSeq = 0;
  /** Bytes held (lineBytes of each line): never above maxBytes. */
  bytes = 0;
  constructor(
    readonly capacity = LOG_CAPACITY,
    readonly maxBytes = LOG_MAX_BYTES,
  ) {
    this.buf = new Array<LogLine | undefined>(capacity);
    this.sizes = new Float64Array(capacity);
  }
  push(line: Omit<LogLine, 'seq'>): LogLine {
    const text = line.text.length > LOG_LINE_TEXT_MAX ? `${line.text.slice(0, LOG_LINE_TEXT_MAX - 1)}…` : line.text;
    const size = lineBytes({ ...line, text });
    while (this.size >= this.capacity || (this.size > 0 && this.bytes + size > this.maxBytes)) this.dropFirst();
    const l = { ...line, text, seq: this.nextSeq++ };
    this.buf[l.seq % this.capacity] = l;
    this.sizes[l.seq % this.capacity] = size;
    this.bytes += size;
    return l;
  }
  private dropFirst(): void {
    const i = this.firstSeq++ % this.capacity;
    this.bytes -= this.sizes[i];
    this.buf[i] = undefined;
    this.sizes[i] = 0;
  }
  get size(): number {
    return this.nextSeq - this.firstSeq;
  }
  get(seq: number): LogLine | undefined {
    if (seq < this.firstSeq || seq >= this.nextSeq) return undefined;
    return this.buf[seq % this.capacity];
  }
  clear(): void {
    this.buf.fill(undefined);
    this.sizes.fill(0);
    this.nextSeq = 0;
    this.firstSeq = 0;
    this.bytes = 0;
  }
}

export const logRing = new LogRing();

/** Seen MACs (for the client filter), sorted: the LOG_MACS_MAX most recently seen. */
export const useLog = create<{ version: number; macs: string[] }>(() => ({ version: 0, macs: [] }));

let scheduled = false;
/** The MACs of the filter, least recently seen first (a Map keeps insertion order). */
const recentMacs = new Map<string, true>();
let macsChanged = false;

/** Notes a MAC as just seen; past LOG_MACS_MAX the one seen longest ago is let go. */
export function noteMac(mac: string): void {
  if (recentMacs.has(mac)) {
    recentMacs.delete(mac); // to the recent end; the set of MACs is unchanged
  } else {
    macsChanged = true;
    if (recentMacs.size >= LOG_MACS_MAX) recentMacs.delete(recentMacs.keys().next().value as string);
  }
  recentMacs.set(mac, true);
}

export function appendLog(line: Omit<LogLine, 'seq'>): void {
  logRing.push(line);
  if (line.mac) noteMac(line.mac);
  if (scheduled) return;
  scheduled = true;
  setTimeout(flushLog, 50);
}

/** Publishes what appendLog gathered (run 50 ms after the first line of a burst). */
export function flushLog(): void {
  scheduled = false;
  const st = useLog.getState();
  const macs = macsChanged ? [...recentMacs.keys()].sort() : st.macs;
  macsChanged = false;
  useLog.setState({ version: st.version + 1, macs });
}

export interface LogFilter {
  mac: string; // '' = all
  protocol: LogProtocol | '';
  minLevel: LogLevel;
  text: string;
}

const LEVEL_RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export function lineMatches(l: LogLine, f: LogFilter): boolean {
  if (LEVEL_RANK[l.level] < LEVEL_RANK[f.minLevel]) return false;
  if (f.mac && l.mac !== f.mac) return false;
  if (f.protocol && l.protocol !== f.protocol) return false;
  if (f.text && !l.text.toLowerCase().includes(f.text.toLowerCase()) && !(l.mac ?? '').includes(f.text.toLowerCase())) return false;
  return true;
}

/**
 * The sequence numbers of matching lines, updated incrementally: a new filter
 * scans the ring once; afterwards only lines appended since are looked at.
 */
export class FilteredLog {
  private key = '';
  private seqs: number[] = [];
  private scannedTo = 0;

  matching(ring: LogRing, f: LogFilter): number[] {
    const key = JSON.stringify(f);
    if (key !== this.key || this.scannedTo > ring.nextSeq) {
      this.key = key;
      this.seqs = [];
      this.scannedTo = ring.firstSeq;
    }
    const from = Math.max(this.scannedTo, ring.firstSeq);
    let changed = false;
    for (let s = from; s < ring.nextSeq; s++) {
      const l = ring.get(s);
      if (l && lineMatches(l, f)) {
        this.seqs.push(s);
        changed = true;
      }
    }
    this.scannedTo = ring.nextSeq;
    // Drop lines the ring has overwritten (they are at the front).
    let drop = 0;
    while (drop < this.seqs.length && this.seqs[drop] < ring.firstSeq) drop++;
    if (drop) {
      this.seqs = this.seqs.slice(drop);
      changed = true;
    }
    if (changed) this.seqs = this.seqs.slice(); // a new array: React sees the change
    return this.seqs;
  }
}
