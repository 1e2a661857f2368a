// The images folder (<dataDir>/images) PXE Kit watches: an ISO, kernel, iPXE script or boot
// program dropped (or copied) into it appears in the library, checked by its content and
// checksummed in the background like any added image; one removed from it leaves the
// library. fs.watch says when to look; a periodic rescan catches what it misses (network
// file systems, events lost while busy). A file still being copied is added once its size
// and mtime hold still between two looks.
import { mkdirSync, promises as fsp, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { LibraryEntry } from './library-entry.js';
import { identifyFile } from './identify.js';

export interface FolderLibrary {
  list(): Promise<LibraryEntry[]>;
  add(p: { path: string; name?: string }): Promise<LibraryEntry>;
  remove(id: string): Promise<boolean>;
}

export interface ImagesFolderOptions {
  /** Periodic rescan, ms (default 10 s). */
  rescanMs?: number;
  /** How long a file's size and mtime must hold still before it is added, ms (default 1.5 s). */
  settleMs?: number;
  /** Files refused (not an image), once per file and version. */
  onRefused?: (file: string, reason: string) => void;
  onError?: (err: Error) => void;
}

export class ImagesFolder {
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;
  private debounce?: NodeJS.Timeout;
  private scanning?: Promise<void>;
  private again = false;
  private readonly seen = new Map<string, { size: number; mtimeMs: number; since: number }>();
  private readonly refused = new Map<string, string>();
  private closed = false;

  constructor(
    readonly dir: string,
    private readonly lib: FolderLibrary,
    private readonly o: ImagesFolderOptions = {},
  ) {}

  /** Creates the folder, looks once, then watches. */
  async start(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    try {
      this.watcher = watch(this.dir, () => this.soon());
      this.watcher.on('error', () => this.watcher?.close());
      this.watcher.unref?.();
    } catch {
      /* no inotify: the periodic rescan does the work */
    }
    this.timer = setInterval(() => void this.scan(), this.o.rescanMs ?? 10_000);
    this.timer.unref();
    await this.scan();
  }

  /** Files in the folder that are not images, with why (for the UI and tests). */
  refusedFiles(): Map<string, string> {
    return new Map(this.refused);
  }

  private soon(): void {
    if (this.closed) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.scan(), 300);
    this.debounce.unref();
  }

  /** One look at the folder (serialised: a look asked for during one runs after it). */
  scan(): Promise<void> {
    if (this.scanning) {
      this.again = true;
      return this.scanning;
    }
    this.scanning = this.scanOnce()
      .catch((err: Error) => this.o.onError?.(err))
      .finally(() => {
        this.scanning = undefined;
        if (this.again && !this.closed) {
          this.again = false;
          void this.scan();
        }
      });
    return this.scanning;
  }

  private async scanOnce(): Promise<void> {
    const names = await fsp.readdir(this.dir).catch(() => [] as string[]);
    const entries = await this.lib.list();
    const inFolder = (p: string) => path.dirname(p) === this.dir;
    const byPath = new Map(entries.filter((e) => inFolder(e.path)).map((e) => [e.path, e]));
    const present = new Set<string>();
    let settling = false;
    const settle = this.o.settleMs ?? 1500;
    for (const name of names) {
      if (name.startsWith('.') || name.endsWith('.part') || name.endsWith('.crdownload')) continue;
      const file = path.join(this.dir, name);
      const st = await fsp.stat(file).catch(() => undefined);
      if (!st?.isFile()) continue;
      present.add(file);
      if (byPath.has(file)) continue;
      const prev = this.seen.get(file);
      const now = Date.now();
      if (!prev || prev.size !== st.size || prev.mtimeMs !== st.mtimeMs) {
        this.seen.set(file, { size: st.size, mtimeMs: st.mtimeMs, since: now });
        settling = true;
        continue;
      }
      if (now - prev.since < settle) {
        settling = true;
        continue;
      }
      const version = `${st.size}:${st.mtimeMs}`;
      if (this.refused.get(file)?.startsWith(version)) continue;
      const id = await identifyFile(file).catch(() => undefined);
      if (!id) continue;
      if (!id.ok) {
        this.refused.set(file, `${version} ${id.reason}`);
        this.o.onRefused?.(file, id.reason);
        continue;
      }
      try {
        await this.lib.add({ path: file });
        this.refused.delete(file);
      } catch (err) {
        const reason = (err as Error).message;
        this.refused.set(file, `${version} ${reason}`);
        this.o.onRefused?.(file, reason);
      }
    }
    for (const [p, e] of byPath) if (!present.has(p)) await this.lib.remove(e.id);
    for (const p of [...this.seen.keys()]) if (!present.has(p)) this.seen.delete(p);
    for (const p of [...this.refused.keys()]) if (!present.has(p)) this.refused.delete(p);
    if (settling) this.soonAfter(settle);
  }

  private soonAfter(ms: number): void {
    if (this.closed) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.scan(), ms + 50);
    this.debounce.unref();
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    clearInterval(this.timer);
    clearTimeout(this.debounce);
  }
}
