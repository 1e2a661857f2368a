// A bounded ring of the most recent events: what "export logs" writes and what a
// freshly connected UI replays. Fixed memory however long the engine runs.
export class EventRing<T> {
  private readonly buf: (T | undefined)[];
  private next = 0;
  private count = 0;
  /** Events pushed out of the ring since start (reported in exports). */
  dropped = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    this.buf = new Array<T | undefined>(capacity);
  }

  push(item: T): void {
    if (this.count === this.capacity) this.dropped++;
    else this.count++;
    this.buf[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
  }

  get size(): number {
    return this.count;
  }

  /** Oldest first; the last `limit` items when given. */
  toArray(limit = this.count): T[] {
    const n = Math.min(limit, this.count);
    const out = new Array<T>(n);
    const start = (this.next - n + this.capacity) % this.capacity;
    for (let i = 0; i < n; i++) out[i] = this.buf[(start + i) % this.capacity] as T;
    return out;
  }
}
