// The live log: a ring of the last 100,000 lines outside React state (copying it
// per event would be quadratic), with a version number the viewer subscribes to.
// Version bumps are coalesced so a burst of events costs one render.
import { create } from 'zustand';
import type { LogLevel } from '../api/types.js';

export const LOG_CAPACITY = 100_000;

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

export class LogRing {
  private readonly buf: Array<LogLine | undefined>;
  /** Sequence number the next line gets; lines [nextSeq - size, nextSeq) are held. */
  nextSeq = 0;
  constructor(readonly capacity = LOG_CAPACITY) {
    this.buf = new Array<LogLine | undefined>(capacity);
  }
  push(line: Omit<LogLine, 'seq'>): LogLine {
    const l = { ...line, seq: this.nextSeq++ };
    this.buf[l.seq % this.capacity] = l;
    return l;
  }
  get size(): number {
    return Math.min(this.nextSeq, this.capacity);
  }
  get firstSeq(): number {
    return this.nextSeq - this.size;
  }
  get(seq: number): LogLine | undefined {
    if (seq < this.firstSeq || seq >= this.nextSeq) return undefined;
    return this.buf[seq % this.capacity];
  }
  clear(): void {
    this.buf.fill(undefined);
    this.nextSeq = 0;
  }
}

export const logRing = new LogRing();

/** Seen MACs (for the client filter), kept small: one entry per machine. */
export const useLog = create<{ version: number; macs: string[] }>(() => ({ version: 0, macs: [] }));

let scheduled = false;
const newMacs = new Set<string>();

export function appendLog(line: Omit<LogLine, 'seq'>): void {
  logRing.push(line);
  if (line.mac && !useLog.getState().macs.includes(line.mac)) newMacs.add(line.mac);
  if (scheduled) return;
  scheduled = true;
  setTimeout(flush, 50);
}

function flush(): void {
  scheduled = false;
  const st = useLog.getState();
  const macs = newMacs.size ? [...st.macs, ...[...newMacs].filter((m) => !st.macs.includes(m))].sort() : st.macs;
  newMacs.clear();
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
