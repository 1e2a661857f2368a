// A bounded ring of the most recent events: what "export logs" writes and what a
// freshly connected UI replays. Bounded twice, in events and in bytes, however long the
// engine runs and however big its events are (a session update carries a whole session).
//
// The ring keeps each event as its JSON text, not as the object: the text is what the
// byte bound counts, so the bound is the memory actually held (plus a fixed cost per
// entry), not an estimate of an object graph that is several times larger. The text is
// made once, when the event is added, and the WebSocket server reuses it for the frame
// it sends (eventJson below), so serialising for the bound costs nothing extra.

/** Default byte ceiling of a ring (decisions §25). */
export const EVENT_RING_MAX_BYTES = 64 * 1024 * 1024;
/** Counted per entry on top of its text: the entry object, its slot, the string's header. */
export const EVENT_RING_ENTRY_OVERHEAD = 64;

/**
 * How a later item may make an earlier one pointless. `key` names what the item is about
 * (a machine, a transfer); an item marked `replaceable` is removed from the ring when a
 * later item with the same key arrives.
 */
export type Supersedes<T> = (item: T) => { key: string; replaceable: boolean } | undefined;

export interface EventRingOptions<T> {
  /** Ceiling of the bytes held (UTF-8 length of each item's JSON + EVENT_RING_ENTRY_OVERHEAD). */
  maxBytes?: number;
  supersedes?: Supersedes<T>;
}

/**
 * The default for API events. Replay (ws-server.ts) is not by sequence number: a client
 * that (re)connects gets a hello with every session whole (its full timeline), then the
 * last events after it, and folds session updates with mergeSessionUpdate, whose fields
 * win. So an older session update is only worth keeping for what it adds to the log:
 * a progress update (reason 'progress') with no new timeline entries adds nothing there
 * (log-lines.ts and format.ts skip them) and is superseded by the machine's next update.
 * Updates that moved the state or added entries stay: a replaying UI and an export make
 * log lines of them. Likewise a transfer's progress events (never replayed, never in a
 * plain-text export) are superseded by that transfer's next event.
 */
export function apiEventSupersedes(ev: unknown): { key: string; replaceable: boolean } | undefined {
  const e = ev as { type?: string; reason?: string; phase?: string; id?: string; protocol?: string; session?: { mac?: string; timeline?: unknown[] } };
  if (e.type === 'session' && e.session?.mac) return { key: `s ${e.session.mac}`, replaceable: e.reason === 'progress' && !e.session.timeline?.length };
  if (e.type === 'transfer' && e.id) return { key: `t ${e.protocol ?? ''} ${e.id}`, replaceable: e.phase === 'progress' };
  return undefined;
}

/** The JSON of events already serialised (by a ring, or by eventJson), while the event lives. */
const texts = new WeakMap<object, string>();

/** An event's JSON: the ring's text when the event went through one, made once otherwise. */
export function eventJson(ev: unknown): string {
  if (typeof ev !== 'object' || ev === null) return JSON.stringify(ev);
  let t = texts.get(ev);
  if (t === undefined) {
    t = JSON.stringify(ev);
    texts.set(ev, t);
  }
  return t;
}

interface Entry {
  /** undefined once the entry was superseded or dropped. */
  text: string | undefined;
  bytes: number;
  key?: string;
  replaceable?: boolean;
}

export class EventRing<T> {
  readonly maxBytes: number;
  private readonly supersedes: Supersedes<T>;
  /** Oldest first from `head`; dead entries (text undefined) are skipped and compacted away. */
  private entries: Entry[] = [];
  private head = 0;
  private live = 0;
  private dead = 0;
  private heldBytes = 0;
  /** Per key, its newest entry. */
  private readonly latest = new Map<string, Entry>();
  /** Events pushed out of the ring since start, by either bound (reported in exports). */
  dropped = 0;
  /** Events removed because a later one made them pointless (apiEventSupersedes). */
  superseded = 0;
  /** The most bytes the ring ever held (for tests and reports). */
  peakBytes = 0;

  constructor(
    readonly capacity: number,
    opts: EventRingOptions<T> = {},
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    this.maxBytes = opts.maxBytes ?? EVENT_RING_MAX_BYTES;
    if (!(this.maxBytes > 0)) throw new RangeError('maxBytes must be positive');
    this.supersedes = opts.supersedes ?? apiEventSupersedes;
  }

  push(item: T): void {
    const text = eventJson(item);
    const entry: Entry = { text, bytes: Buffer.byteLength(text, 'utf8') + EVENT_RING_ENTRY_OVERHEAD };
    const s = this.supersedes(item);
    if (s) {
      const prev = this.latest.get(s.key);
      if (prev?.replaceable && prev.text !== undefined) {
        this.kill(prev);
        this.superseded++;
      }
      entry.key = s.key;
      entry.replaceable = s.replaceable;
      this.latest.set(s.key, entry);
    }
    this.entries.push(entry);
    this.live++;
    this.heldBytes += entry.bytes;
    while (this.live > this.capacity || this.heldBytes > this.maxBytes) this.dropOldest();
    this.peakBytes = Math.max(this.peakBytes, this.heldBytes);
    this.compact();
  }

  /** Events held now. */
  get size(): number {
    return this.live;
  }

  /** Bytes held now: never above maxBytes. */
  get bytes(): number {
    return this.heldBytes;
  }

  /** Oldest first; the last `limit` items when given. Each is a fresh copy parsed from the ring's text. */
  toArray(limit = this.live): T[] {
    const n = Math.max(0, Math.min(limit, this.live));
    const picked: string[] = [];
    for (let i = this.entries.length - 1; i >= this.head && picked.length < n; i--) {
      const t = this.entries[i].text;
      if (t !== undefined) picked.push(t);
    }
    const out = new Array<T>(picked.length);
    for (let i = 0; i < picked.length; i++) {
      const text = picked[picked.length - 1 - i];
      const item = JSON.parse(text) as T;
      if (typeof item === 'object' && item !== null) texts.set(item, text); // a replay's frames reuse the text
      out[i] = item;
    }
    return out;
  }

  private dropOldest(): void {
    while (this.head < this.entries.length) {
      const e = this.entries[this.head++];
      if (e.text === undefined) {
        this.dead--;
        continue;
      }
      this.kill(e);
      this.dead--; // kill counted it as dead in place; it is gone from the array now
      this.dropped++;
      return;
    }
  }

  private kill(e: Entry): void {
    e.text = undefined;
    this.live--;
    this.dead++;
    this.heldBytes -= e.bytes;
    if (e.key !== undefined && this.latest.get(e.key) === e) this.latest.delete(e.key);
  }

  /** Keeps the array within a small multiple of the live entries. */
  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    if (this.dead > 1024 && this.dead > this.live) {
      this.entries = this.entries.slice(this.head).filter((e) => e.text !== undefined);
      this.head = 0;
      this.dead = 0;
    }
  }
}
