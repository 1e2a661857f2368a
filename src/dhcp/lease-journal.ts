// The lease changes made since leases.json was last written, one JSON line each, appended
// and flushed with one fdatasync per group of ACKs. Rewriting the whole table for every
// group (temp file, fsync, rename, fsync of the directory) was what an ACK waited for:
// several times dnsmasq's wait, growing with the rate (docs/decisions.md §18).
//
// Generations tie the two files together. leases.json records the generation whose
// journal follows it; the journal's first line names its own. A compaction writes the
// whole table as the next generation first and only then starts that generation's
// journal, so a crash between the two leaves a journal of the old generation, which the
// table already contains: it is ignored on load. A crash in the middle of an append
// leaves a torn last line, also ignored: its ACK was never sent.
import { open, type FileHandle } from 'node:fs/promises';
import { readTextIfPresent, writeFileAtomicAsync } from '../util/durable-file.js';
import { isStoredLease, type StoredLease } from './lease-file.js';

/** One change, replayed in order over the table it follows. */
export type JournalRecord =
  | ({ op: 'lease' } & StoredLease)
  /** DHCPDECLINE: `ip` is out of the pool until `until`; `mac` loses it if it held it. */
  | { op: 'decline'; mac: string; ip: string; until: number };

interface JournalHeader {
  journal: 1;
  generation: number;
}

export interface JournalContent {
  records: JournalRecord[];
  /** Said when lines had to be skipped (a torn last line is not a problem). */
  problem?: string;
}

function isRecord(r: unknown): r is JournalRecord {
  const x = r as Partial<Record<string, unknown>> | null;
  if (x?.op === 'lease') return isStoredLease(x);
  return x?.op === 'decline' && typeof x.mac === 'string' && typeof x.ip === 'string' && typeof x.until === 'number';
}

/** The records of generation `generation` in `path`; none when it is missing or of another generation. */
export async function readJournal(path: string, generation: number): Promise<JournalContent> {
  const { text, problem } = await readTextIfPresent(path);
  if (text === undefined) return { records: [], ...(problem ? { problem: `${problem}; recent lease changes may be missing` } : {}) };
  return parseJournal(text, generation, path);
}

/** The records of generation `generation` in `text` (read from `path`, named in problems); never throws. */
export function parseJournal(text: string, generation: number, path: string): JournalContent {
  const lines = text.split('\n');
  // A complete journal ends with a newline: the last element is then empty, else it is torn.
  lines.pop();
  let header: Partial<JournalHeader> | undefined;
  try {
    header = JSON.parse(lines[0] ?? '') as Partial<JournalHeader>;
  } catch {
    /* reported below */
  }
  if (header?.journal !== 1 || typeof header.generation !== 'number') {
    return { records: [], problem: `${path} is damaged (no header); recent lease changes may be missing` };
  }
  if (header.generation !== generation) return { records: [] }; // leases.json already holds it
  const records: JournalRecord[] = [];
  let skipped = 0;
  for (const line of lines.slice(1)) {
    let r: unknown;
    try {
      r = JSON.parse(line);
    } catch {
      r = undefined;
    }
    if (isRecord(r)) records.push(r);
    else skipped++;
  }
  return { records, ...(skipped ? { problem: `${path}: ${skipped} damaged line(s) skipped; those lease changes are lost` } : {}) };
}

export class LeaseJournal {
  private constructor(private readonly fh: FileHandle) {}

  /** Lines appended since this generation began. */
  records = 0;

  /**
   * Starts generation `generation` at `path`: an empty journal with its header replaces
   * the old one whole (util/durable-file.ts), so a crash leaves one or the other.
   */
  static async start(path: string, generation: number): Promise<LeaseJournal> {
    await writeFileAtomicAsync(path, JSON.stringify({ journal: 1, generation } satisfies JournalHeader) + '\n');
    return new LeaseJournal(await open(path, 'a'));
  }

  /** Appends the records and returns once they are on disk. */
  async append(records: JournalRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.fh.write(records.map((r) => JSON.stringify(r)).join('\n') + '\n');
    // fdatasync: the data and the file's new size, not its timestamps.
    await this.fh.datasync();
    this.records += records.length;
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}
