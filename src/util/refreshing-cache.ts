// A value that is slow to read (Windows' Get-NetAdapter through PowerShell takes a second or two,
// blocking the engine while it runs synchronously), kept and refreshed in the background once it is
// stale: only the very first read of a key waits; later reads answer at once with the last value.
export interface RefreshingCacheOptions<K, V> {
  /** The first read of a key, synchronously. */
  readNow: (key: K) => V;
  /** A refresh, off the event loop; a rejection keeps the last value. */
  readLater: (key: K) => Promise<V>;
  /** Past this age a read starts a refresh (one at a time per key). */
  staleMs: number;
  now?: () => number;
}

export class RefreshingCache<K, V> {
  private readonly entries = new Map<K, { at: number; value: V }>();
  private readonly refreshing = new Set<K>();

  constructor(private readonly o: RefreshingCacheOptions<K, V>) {}

  private now(): number {
    return this.o.now?.() ?? Date.now();
  }

  get(key: K): V {
    const e = this.entries.get(key);
    if (!e) {
      const value = this.o.readNow(key);
      this.entries.set(key, { at: this.now(), value });
      return value;
    }
    if (this.now() - e.at >= this.o.staleMs && !this.refreshing.has(key)) {
      this.refreshing.add(key);
      this.o
        .readLater(key)
        .then(
          (value) => void this.entries.set(key, { at: this.now(), value }),
          () => undefined,
        )
        .finally(() => this.refreshing.delete(key));
    }
    return e.value;
  }
}
