// Open sources shared by the transfers of one published file, closed a while after the
// last one ends. iPXE's sanboot reads an ISO in thousands of small HTTP Range requests,
// and a classroom asks TFTP for the same boot program 60 times at once: opening and
// stat-ing the file for each (two thread-pool round trips) cost more than serving a
// 256 KiB range, and delayed every TFTP answer by about half a millisecond.
import type { ByteSource, DirectRead, PublishedFile } from './published.js';

interface Entry {
  source: Promise<ByteSource>;
  users: number;
  idle?: NodeJS.Timeout;
}

export class SharedSources {
  /** Keyed by the PublishedFile object: a republished file is a new entry. */
  private readonly entries = new Map<PublishedFile, Entry>();

  constructor(private readonly idleMs = 2000) {}

  /**
   * The file's bytes through its shared open source. Closing the returned source lets go
   * of this share only; the real one closes `idleMs` after the last share is let go.
   */
  async acquire(file: PublishedFile): Promise<ByteSource> {
    let entry = this.entries.get(file);
    if (!entry) {
      const e: Entry = { source: file.open(), users: 0 };
      this.entries.set(file, e);
      // A failed open is not cached.
      e.source.catch(() => this.entries.get(file) === e && this.entries.delete(file));
      entry = e;
    }
    const e = entry;
    clearTimeout(e.idle);
    e.idle = undefined;
    e.users++;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      if (--e.users > 0) return;
      e.idle = setTimeout(() => {
        if (e.users > 0 || this.entries.get(file) !== e) return;
        this.entries.delete(file);
        void e.source.then((s) => s.close()).catch(() => undefined);
      }, this.idleMs);
      e.idle.unref();
    };
    try {
      return new SharedView(await e.source, release);
    } catch (err) {
      release();
      throw err;
    }
  }

  /** Closes every source now (the server has stopped: no transfer reads any more). */
  async closeAll(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    for (const e of all) clearTimeout(e.idle);
    await Promise.all(all.map((e) => e.source.then((s) => s.close()).catch(() => undefined)));
  }
}

/** One transfer's share of an open source. */
class SharedView implements ByteSource {
  /** Present exactly when the shared source has it. */
  readonly directRead?: () => DirectRead;

  constructor(
    private readonly shared: ByteSource,
    private readonly release: () => void,
  ) {
    if (shared.directRead) this.directRead = () => shared.directRead!();
  }
  get size(): number {
    return this.shared.size;
  }
  read(buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    return this.shared.read(buf, offset, length, position);
  }
  stream(start: number, end: number) {
    return this.shared.stream(start, end);
  }
  async close(): Promise<void> {
    this.release();
  }
}
