// The lease table on disk: JSON written atomically (util/durable-file.ts), so a crash or
// power cut leaves either the old or the new file, never half of one. RFC 2131 4.3.2: a server commits a lease to stable storage before it ACKs
// it; the changes since the table was written are in the journal (lease-journal.ts).
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { readTextIfPresent, writeFileAtomicAsync } from '../util/durable-file.js';

export interface StoredLease {
  mac: string;
  ip: string;
  /** 'bound': ACKed; 'free': released or expired, kept so the client gets the same address back. */
  state: 'bound' | 'free';
  expiresAt: number;
  clientId?: string;
}

export interface LeaseFileContent {
  version: 1;
  /** The journal generation that follows this table (lease-journal.ts); absent in files before the journal: 0. */
  generation?: number;
  leases: StoredLease[];
  declined: Array<{ ip: string; until: number }>;
}

export async function readLeaseFile(path: string): Promise<{ content?: LeaseFileContent; problem?: string }> {
  const { text, problem } = await readTextIfPresent(path);
  return text === undefined ? { problem } : parseLeaseFile(text, path);
}

/** The table in `text` (read from `path`, named in the problem); never throws. */
export function parseLeaseFile(text: string, path: string): { content?: LeaseFileContent; problem?: string } {
  try {
    const parsed = JSON.parse(text) as LeaseFileContent;
    if (parsed?.version !== 1 || !Array.isArray(parsed.leases) || !Array.isArray(parsed.declined)) throw new Error('unknown format');
    if (parsed.generation !== undefined && !Number.isSafeInteger(parsed.generation)) throw new Error('bad generation');
    const leases = parsed.leases.filter(isStoredLease);
    const declined = parsed.declined.filter((d) => typeof d?.ip === 'string' && typeof d.until === 'number');
    const skipped = parsed.leases.length - leases.length + parsed.declined.length - declined.length;
    return {
      content: { version: 1, generation: parsed.generation, leases, declined },
      ...(skipped ? { problem: `${path}: ${skipped} damaged entr${skipped === 1 ? 'y' : 'ies'} skipped` } : {}),
    };
  } catch (err) {
    return { problem: `${path} is damaged (${(err as Error).message}); starting with no leases` };
  }
}

/** A lease as stored, with the types the store relies on. */
export function isStoredLease(l: unknown): l is StoredLease {
  const x = l as Partial<Record<keyof StoredLease, unknown>> | null;
  return (
    !!x && typeof x.mac === 'string' && typeof x.ip === 'string' && (x.state === 'bound' || x.state === 'free') &&
    typeof x.expiresAt === 'number' && (x.clientId === undefined || typeof x.clientId === 'string')
  );
}

/** The whole table, written so that a crash leaves the old file or the new one (util/durable-file.ts). */
export async function writeLeaseFileAtomic(path: string, content: LeaseFileContent): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomicAsync(path, JSON.stringify(content, null, 1));
}
