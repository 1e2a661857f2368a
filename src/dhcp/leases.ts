// The address pool and who holds what. Keyed by MAC: firmware, iPXE and the
// installed OS on one NIC send different client ids (option 61) but should all
// get the same address, which also ties TFTP/HTTP transfers to one machine.
import { join } from 'node:path';
import { keepCorruptCopy } from '../util/durable-file.js';
import { intToIp, ipToInt, poolAddresses, type AddressRange } from './ipv4.js';
import { readLeaseFile, writeLeaseFileAtomic, type LeaseFileContent, type StoredLease } from './lease-file.js';
import { LeaseJournal, readJournal, type JournalContent, type JournalRecord } from './lease-journal.js';

export interface LeaseStoreOptions {
  serverIp: string;
  prefix: number;
  range?: string | AddressRange;
  /** Directory for leases.json and leases.journal. */
  dataDir: string;
  /** How long an OFFER holds its address for the client (RFC 2131 4.3.1 "reserve"). */
  offerSeconds?: number;
  /** How long a DECLINEd address stays out of the pool. */
  declineSeconds?: number;
  now?: () => number;
}

const TABLE_FILE = 'leases.json';
const JOURNAL_FILE = 'leases.journal';

interface Lease extends StoredLease {
  /** Offered, not yet ACKed; held until expiresAt. Never persisted. */
  offered?: boolean;
}

export class LeaseStore {
  private readonly byMac = new Map<string, Lease>();
  private readonly byIp = new Map<string, string>();
  private readonly declined = new Map<string, number>();
  private readonly pool: number[];
  private readonly poolSet: Set<number>;
  private readonly now: () => number;
  private readonly file: string;
  private readonly journalFile: string;
  /** The generation leases.json was last written as; the journal appends to it. */
  private generation = 0;
  /** Undefined until open() has started one, and after an append or a compaction failed. */
  private journal?: LeaseJournal;
  /** Changes not yet handed to a write. */
  private pending: JournalRecord[] = [];
  private writing: Promise<void> = Promise.resolve();
  /** Set when the lease file or journal could not be fully loaded (the caller logs it). */
  loadProblem?: string;

  private constructor(private readonly opts: LeaseStoreOptions) {
    this.pool = poolAddresses(opts.serverIp, opts.prefix, opts.range);
    this.poolSet = new Set(this.pool);
    this.now = opts.now ?? Date.now;
    this.file = join(opts.dataDir, TABLE_FILE);
    this.journalFile = join(opts.dataDir, JOURNAL_FILE);
  }

  /**
   * Loads the table and replays its journal, then writes both afresh (the next
   * generation): a data directory that cannot be written fails here, at start, rather
   * than at the first ACK.
   */
  static async open(opts: LeaseStoreOptions): Promise<LeaseStore> {
    const tableFile = join(opts.dataDir, TABLE_FILE);
    const journalFile = join(opts.dataDir, JOURNAL_FILE);
    const table = await readLeaseFile(tableFile);
    const journal = await readJournal(journalFile, table.content?.generation ?? 0);
    const store = LeaseStore.fromRead(opts, table, journal);
    try {
      // What could not be read is about to be rewritten: keep a copy for whoever wants to look.
      const kept = [table.problem && keepCorruptCopy(tableFile), journal.problem && keepCorruptCopy(journalFile)].filter(Boolean);
      if (kept.length) store.loadProblem += `; the damaged file is kept as ${kept.join(' and ')}`;
      await store.compact();
    } catch (err) {
      throw new Error(`cannot write the lease files in ${opts.dataDir}: ${(err as Error).message}. Choose a data directory PXE Kit can write to (--data-dir).`);
    }
    return store;
  }

  /**
   * A store filled from what was read, without touching the disk: the table, then its
   * journal's changes in order. open() writes it out; the fuzzer (test/fuzz) feeds it
   * damaged files.
   */
  static fromRead(opts: LeaseStoreOptions, table: { content?: LeaseFileContent; problem?: string }, journal: JournalContent): LeaseStore {
    const store = new LeaseStore(opts);
    const { content } = table;
    store.generation = content?.generation ?? 0;
    for (const l of content?.leases ?? []) store.put({ mac: l.mac, ip: l.ip, state: l.state, expiresAt: l.expiresAt, clientId: l.clientId });
    for (const d of content?.declined ?? []) store.declined.set(d.ip, d.until);
    for (const r of journal.records) store.apply(r);
    store.loadProblem = [table.problem, journal.problem].filter(Boolean).join('; ') || undefined;
    return store;
  }

  /**
   * The server is stopping: writes the whole table (a change still in flight included)
   * and closes the journal. A write already running keeps its own hold on the journal;
   * this one is queued after it.
   */
  async close(): Promise<void> {
    this.closed = true;
    const j = this.journal;
    this.journal = undefined;
    await this.persist();
    await j?.close();
  }
  private closed = false;

  get poolRange(): { first: string; last: string; size: number } {
    return { first: intToIp(this.pool[0]), last: intToIp(this.pool[this.pool.length - 1]), size: this.pool.length };
  }

  inPool(ip: string): boolean {
    try {
      return this.poolSet.has(ipToInt(ip));
    } catch {
      return false;
    }
  }

  private put(l: Lease): void {
    const old = this.byMac.get(l.mac);
    if (old && this.byIp.get(old.ip) === l.mac) this.byIp.delete(old.ip);
    const prevOwner = this.byIp.get(l.ip);
    if (prevOwner && prevOwner !== l.mac) this.byMac.delete(prevOwner);
    this.byMac.set(l.mac, l);
    this.byIp.set(l.ip, l.mac);
  }

  private active(l: Lease | undefined): boolean {
    return !!l && l.expiresAt > this.now() && (l.state === 'bound' || !!l.offered);
  }

  private isDeclined(ip: string): boolean {
    const until = this.declined.get(ip);
    if (until === undefined) return false;
    if (until > this.now()) return true;
    this.declined.delete(ip);
    return false;
  }

  /** May `mac` have `ip`? In the pool, not declined, not held by another client. */
  available(mac: string, ip: string): boolean {
    if (!this.inPool(ip) || this.isDeclined(ip)) return false;
    const owner = this.byIp.get(ip);
    return !owner || owner === mac || !this.active(this.byMac.get(owner));
  }

  /** The address to offer `mac`, reserved for offerSeconds; undefined when the pool is exhausted. */
  offer(mac: string, requested?: string): string | undefined {
    const mine = this.byMac.get(mac);
    let ip: string | undefined;
    if (mine && this.available(mac, mine.ip)) ip = mine.ip;
    else if (requested && this.available(mac, requested)) ip = requested;
    else ip = this.fresh(mac);
    if (!ip) return undefined;
    if (mine?.ip === ip && this.active(mine) && mine.state === 'bound') return ip;
    this.put({ mac, ip, state: 'free', offered: true, expiresAt: this.now() + (this.opts.offerSeconds ?? 60) * 1000 });
    return ip;
  }

  /** Never-used addresses first; then ones whose lease lapsed longest ago. */
  private fresh(mac: string): string | undefined {
    let oldest: { ip: string; at: number } | undefined;
    for (const n of this.pool) {
      const ip = intToIp(n);
      if (this.isDeclined(ip)) continue;
      const owner = this.byIp.get(ip);
      if (!owner) return ip;
      const l = this.byMac.get(owner);
      if (owner === mac || !this.active(l)) {
        const at = l?.expiresAt ?? 0;
        if (!oldest || at < oldest.at) oldest = { ip, at };
      }
    }
    return oldest?.ip;
  }

  /**
   * Counts a DISCOVER the full pool left unanswered. Returns how many since the last time
   * it was said when it is time to say it (the first, then at most once a minute: a
   * starvation flood exhausts the pool and goes on at thousands a second), else undefined.
   */
  poolFullNotice(): number | undefined {
    this.unanswered += 1;
    const t = this.now();
    if (t - this.poolFullSaidAt < 60_000) return undefined;
    const n = this.unanswered;
    [this.poolFullSaidAt, this.unanswered] = [t, 0];
    return n;
  }
  private poolFullSaidAt = -Infinity;
  private unanswered = 0;

  /** Makes a change in memory and queues it for the journal. */
  private record(r: JournalRecord): Promise<void> {
    this.apply(r);
    this.pending.push(r);
    return this.persist();
  }

  /** A change, made now or replayed from the journal on open. */
  private apply(r: JournalRecord): void {
    if (r.op === 'lease') {
      this.put({ mac: r.mac, ip: r.ip, state: r.state, expiresAt: r.expiresAt, ...(r.clientId ? { clientId: r.clientId } : {}) });
      return;
    }
    this.declined.set(r.ip, r.until);
    if (this.byMac.get(r.mac)?.ip === r.ip) {
      this.byMac.delete(r.mac);
      this.byIp.delete(r.ip);
    }
  }

  /** Binds `ip` to `mac` and writes it to disk before returning (ACK after this). */
  async commit(mac: string, ip: string, leaseSeconds: number, clientId?: string): Promise<boolean> {
    if (!this.available(mac, ip)) return false;
    await this.record({ op: 'lease', mac, ip, state: 'bound', expiresAt: this.now() + leaseSeconds * 1000, ...(clientId ? { clientId } : {}) });
    return true;
  }

  /** DHCPRELEASE: the address is free again, but remembered for this client. */
  async release(mac: string, ip: string): Promise<boolean> {
    const l = this.byMac.get(mac);
    if (!l || l.ip !== ip) return false;
    await this.record({ op: 'lease', mac, ip, state: 'free', expiresAt: this.now(), ...(l.clientId ? { clientId: l.clientId } : {}) });
    return true;
  }

  /** A client chose another server's offer: let ours go. */
  cancelOffer(mac: string): void {
    const l = this.byMac.get(mac);
    if (l?.offered) this.put({ ...l, offered: false, expiresAt: Math.min(l.expiresAt, this.now()) });
  }

  /** DHCPDECLINE: someone else uses the address (ARP conflict); keep it out of the pool a while. */
  async decline(mac: string, ip: string): Promise<void> {
    if (!this.inPool(ip)) return;
    await this.record({ op: 'decline', mac, ip, until: this.now() + (this.opts.declineSeconds ?? 600) * 1000 });
  }

  /** The client's current (or last) lease. */
  leaseFor(mac: string): { ip: string; bound: boolean; expiresAt: number } | undefined {
    const l = this.byMac.get(mac);
    return l && { ip: l.ip, bound: l.state === 'bound' && l.expiresAt > this.now(), expiresAt: l.expiresAt };
  }

  ipForMac(mac: string): string | undefined {
    return this.byMac.get(mac)?.ip;
  }

  macForIp(ip: string): string | undefined {
    return this.byIp.get(ip);
  }

  /**
   * Serialised, so two writes never interleave, and grouped: a write waits for the disk
   * (milliseconds), and one ACK per write capped a DHCP storm at about 100 leases a
   * second. Every change made while a write runs joins the single next write, which
   * takes the pending changes when it starts, so each caller still resolves only once its
   * own change is on disk (RFC 2131 4.3.2).
   */
  persist(): Promise<void> {
    if (this.queuedWrite) return this.queuedWrite;
    const next = this.writing.then(() => {
      this.queuedWrite = undefined; // changes from here on need the write after this one
      return this.flush();
    });
    this.queuedWrite = next;
    this.writing = next.catch(() => undefined);
    return next;
  }
  private queuedWrite: Promise<void> | undefined;

  /**
   * Appends the pending changes to the journal, or, once the journal is long (several
   * times the table), writes the whole table instead, which holds them too.
   */
  private flush(): Promise<void> {
    const records = this.pending;
    this.pending = [];
    const j = this.journal;
    if (!j || j.records + records.length > Math.max(JOURNAL_MIN_RECORDS, 4 * this.byMac.size)) return this.compact();
    return j.append(records).catch((err: Error) => {
      // Half a line may be on disk: append no more to this journal; the next write folds
      // everything (these changes included, they are in memory) into the table.
      if (this.journal === j) this.journal = undefined;
      void j.close().catch(() => undefined);
      throw err;
    });
  }

  /**
   * The table as the next generation, then that generation's empty journal. Until the
   * new journal exists nothing is appended (a failure in between leaves none, and the
   * next write compacts again): an append to the old one would be ignored on load.
   */
  private async compact(): Promise<void> {
    const generation = this.generation + 1;
    const table = this.snapshot(generation); // now, before any await: it holds every change made so far
    const old = this.journal;
    this.journal = undefined;
    await old?.close();
    await writeLeaseFileAtomic(this.file, table);
    this.generation = generation;
    if (!this.closed) this.journal = await LeaseJournal.start(this.journalFile, generation);
  }

  private snapshot(generation: number): LeaseFileContent {
    const leases: StoredLease[] = [];
    for (const l of this.byMac.values()) {
      // An offer that was never ACKed is not a lease; remember only the client's previous address.
      if (l.offered && l.state !== 'bound') continue;
      leases.push({ mac: l.mac, ip: l.ip, state: l.state, expiresAt: l.expiresAt, ...(l.clientId ? { clientId: l.clientId } : {}) });
    }
    const declined = [...this.declined].filter(([, until]) => until > this.now()).map(([ip, until]) => ({ ip, until }));
    return { version: 1, generation, leases, declined };
  }
}

/** A journal is folded into leases.json once it holds this many changes, or four times the table's size. */
const JOURNAL_MIN_RECORDS = 1024;
