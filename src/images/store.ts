// The library's one file in the data dir, written so a crash never leaves it half
// written: a temp file next to it, fsync, rename over the old one, fsync the folder.
// A file that cannot be read back (hand edits, disk trouble) is kept aside as a backup
// and the library starts empty with a message saying where the backup is.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync, copyFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Writes `data` to `path` atomically (POSIX rename semantics) and durably. */
export function writeFileAtomic(path: string, data: string | Buffer): void {
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
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
  // The rename itself must reach the disk too, or a crash can bring back the old name.
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

export interface LoadResult<T> {
  value: T;
  /** Set when the file was unreadable: what happened and where the backup went. */
  warning?: string;
}

/** Reads and validates a JSON file; a corrupt one is copied to "<path>.corrupt-<time>" and `empty()` is used. */
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
    const backup = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    let kept = '';
    try {
      copyFileSync(path, backup);
      kept = `; the damaged file was kept as ${backup}`;
    } catch {
      kept = '; it could not be backed up';
    }
    return { value: empty(), warning: `${path} is damaged (${(e as Error).message}): starting with an empty library${kept}` };
  }
}
