// A Map that holds at most `limit` entries and forgets the least recently used one first.
// Per-machine state is keyed by what the network says (MACs, addresses, transfer ids), and
// a flood of made-up ones (a DHCP starvation tool sends thousands of MACs a second) must
// not grow memory without bound. Map iteration order is insertion order, so moving an
// entry to the end on use makes the first key the least recently used.
export interface RecentMapOptions<K, V> {
  /** Called for each entry pushed out by the limit (not for delete()). */
  onEvict?: (key: K, value: V) => void;
  /**
   * Entries worth keeping while others can go: the oldest entry this returns false for
   * is forgotten first, and only when every entry is worth keeping does the oldest go.
   */
  keep?: (value: V) => boolean;
}

export class RecentMap<K, V> {
  private readonly map = new Map<K, V>();

  constructor(
    readonly limit: number,
    private readonly opts: RecentMapOptions<K, V> = {},
  ) {
    if (!(limit >= 1)) throw new RangeError(`RecentMap limit must be at least 1 (got ${limit})`);
  }

  get size(): number {
    return this.map.size;
  }

  /** Looks up without counting as a use. */
  peek(key: K): V | undefined {
    return this.map.get(key);
  }

  /** Looks up and counts as a use: the entry becomes the most recent. */
  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  /** Adds or replaces as the most recent entry; then forgets entries over the limit. */
  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.limit) this.evictOne(key);
  }

  delete(key: K): boolean {
    return this.map.delete(key);
  }

  values(): IterableIterator<V> {
    return this.map.values();
  }

  entries(): IterableIterator<[K, V]> {
    return this.map.entries();
  }

  /** Never the entry just set (`fresh`): it is why room is needed. */
  private evictOne(fresh: K): void {
    let victim: [K, V] | undefined;
    for (const e of this.map) {
      if (e[0] === fresh) continue;
      if (!this.opts.keep?.(e[1])) {
        victim = e;
        break;
      }
      victim ??= e; // the oldest, if every entry is worth keeping
    }
    if (!victim) return;
    this.map.delete(victim[0]);
    this.opts.onEvict?.(victim[0], victim[1]);
  }
}
