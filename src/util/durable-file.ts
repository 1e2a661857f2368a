// Files that a crash or a power cut never leaves half written: a temp file next to the
// target, fsync, rename over the old one, fsync of the folder (else a crash can bring
// the old name back). A file that cannot be read back (hand edits, disk trouble) is
// copied aside before it is replaced, and the caller says where the copy went.
// Used by the image library (library.json) and the DHCP leases (leases.json and its journal).
import { closeSync, copyFileSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

const tempNameFor = (path: string): string => `${path}.tmp-${process.pid}-${Date.now()}`;

/** Writes `data` to `path` atomically (POSIX rename semantics) and durably, blocking: for rare writes. */
export function writeFileAtomic(path: string, data: string | Buffer): void {
  const tmp = tempNameFor(path);
  const fd = openSync(tmp, 'w', 0o644);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  try {
    const dfd = openSync(dirname(path), 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // Some file systems (and Windows) cannot open a folder for fsync; the rename is still atomic.
  }
}

/** writeFileAtomic without blocking the event loop (the leases: the DHCP server answers meanwhile). */
export async function writeFileAtomicAsync(path: string, data: string): Promise<void> {
  const tmp = tempNameFor(path);
  const fh = await open(tmp, 'w', 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  try {
    const dir = await open(dirname(path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch {
    // As above: not every platform can fsync a folder.
  }
}

/** Copies a damaged `path` to "<path>.corrupt-<time>"; returns the copy's name, undefined when there is no file or it cannot be copied. */
export function keepCorruptCopy(path: string): string | undefined {
  const backup = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  try {
    copyFileSync(path, backup);
    return backup;
  } catch {
    return undefined;
  }
}

/** A file's text; no text and no problem when it does not exist (a first start), a problem when it cannot be read. */
export async function readTextIfPresent(path: string): Promise<{ text?: string; problem?: string }> {
  try {
    return { text: await readFile(path, 'utf8') };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    return { problem: `cannot read ${path}: ${(err as Error).message}` };
  }
}

export interface LoadResult<T> {
  value: T;
  /** Set when the file was unreadable: what happened and where the backup went. */
  warning?: string;
}

/** Reads and validates a JSON file; a corrupt one is copied aside (keepCorruptCopy) and `empty()` is used. */
export function loadJson<T>(path: string, validate: (v: unknown) => T, empty: () => T): LoadResult<T> {
  if (!existsSync(path)) return { value: empty() };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return { value: empty(), warning: `could not read ${path}: ${(e as Error).message}` };
  }
  try {
    return { value: validate(JSON.parse(text)) };
  } catch (e) {
    const backup = keepCorruptCopy(path);
    const kept = backup ? `; the damaged file was kept as ${backup}` : '; it could not be backed up';
    return { value: empty(), warning: `${path} is damaged (${(e as Error).message}): starting with an empty library${kept}` };
  }
}
