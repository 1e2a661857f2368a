// The image library: ISOs, folders, kernels (+ initrds + command line), iPXE scripts and
// EFI/PXE programs the technician has added, with per-MAC assignments, the boot menu
// settings and the boot-once record, all kept in one file in the data dir
// (library.json, written atomically). Checksums are computed in the background.
import { EventEmitter } from 'node:events';
import { createReadStream, mkdirSync, promises as fsp } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { basename, join, resolve } from 'node:path';
import type { Assignment, LibraryEntry, LibraryEvent, MenuSettings } from './library-entry.js';
import { imageSpecFromPath, type ImageSpec, type ResolvedImageSpec } from './publish-image.js';
import { loadJson, writeFileAtomic } from '../util/durable-file.js';
import { safeId, type HelperPaths } from './publish-iso.js';
import { inspectImage, type InspectOptions } from './inspect.js';
import { openImage } from './publish-iso.js';
import { fileSecureBoot, treeSecureBoot } from './secure-boot-image.js';
import { findHelpers } from './publish-iso.js';
import { NO_WIMBOOT_COST, WIMBOOT_FIX } from './wimboot.js';
import { netbootSecureBoot, openNetboot, type BootFileChoice } from './netboot-tree.js';
import { FIRMWARE_WORDS } from './netboot-loaders.js';

export const LIBRARY_FILE = 'library.json';
const FORMAT = 1;

/** What is kept per entry beyond the API's LibraryEntry. */
export interface StoredEntry extends LibraryEntry {
  initrds?: string[];
  cmdline?: string;
  /** Size and mtime the checksum belongs to: a changed file gets a new one. */
  hashedSize?: number;
  hashedMtimeMs?: number;
  /** Which recipe boots it (ISOs and folders). */
  recipe?: string;
  /** Netboot trees added as their loader (a lone pxelinux.0): that loader first, as --boot-file says. */
  bootFiles?: BootFileChoice;
}

export interface BootOnceRecord {
  /** The image the machine was handed ("default:<path>" for the serve default). */
  imageId: string;
  at: number;
}

interface LibraryState {
  version: number;
  entries: StoredEntry[];
  assignments: Assignment[];
  menu: MenuSettings;
  bootedOnce: Record<string, BootOnceRecord>;
}

export const DEFAULT_MENU: MenuSettings = { enabled: false, timeoutSeconds: 10, includeLocalBoot: true };

function emptyState(): LibraryState {
  return { version: FORMAT, entries: [], assignments: [], menu: { ...DEFAULT_MENU }, bootedOnce: {} };
}

const KINDS = new Set<LibraryEntry['kind']>(['iso', 'folder', 'kernel', 'ipxe-script', 'efi', 'pxe', 'netboot']);

function validateState(v: unknown): LibraryState {
  const o = v as Partial<LibraryState>;
  if (!o || typeof o !== 'object') throw new Error('not a JSON object');
  if (o.version !== FORMAT) throw new Error(`unknown format version ${String(o.version)}`);
  if (!Array.isArray(o.entries) || !Array.isArray(o.assignments) || typeof o.menu !== 'object' || !o.menu) throw new Error('missing entries, assignments or menu');
  for (const e of o.entries) {
    if (!e || typeof e.id !== 'string' || typeof e.path !== 'string' || typeof e.name !== 'string' || !KINDS.has(e.kind)) throw new Error('an entry lacks id, name, path or kind');
  }
  for (const a of o.assignments) if (!a || typeof a.mac !== 'string' || typeof a.imageId !== 'string') throw new Error('an assignment lacks mac or imageId');
  return {
    version: FORMAT,
    entries: o.entries,
    assignments: o.assignments.map((a) => ({ mac: a.mac, imageId: a.imageId, bootOnce: !!a.bootOnce })),
    menu: { ...DEFAULT_MENU, ...o.menu },
    bootedOnce: o.bootedOnce && typeof o.bootedOnce === 'object' ? o.bootedOnce : {},
  };
}

export class LibraryError extends Error {
  constructor(
    readonly code: 'not-found' | 'invalid',
    message: string,
  ) {
    super(message);
    this.name = 'LibraryError';
  }
}

/** "52:54:00:AB:cd:01", "52-54-00-ab-cd-01", "525400abcd01" -> "52:54:00:ab:cd:01". */
export function normaliseMac(mac: string): string {
  const hex = mac.toLowerCase().replace(/[^0-9a-f]/g, '');
  if (hex.length !== 12 || !/^[0-9a-f:.-]+$/i.test(mac.trim())) throw new LibraryError('invalid', `"${mac}" is not a MAC address (like 52:54:00:12:34:56)`);
  return hex.replace(/(..)(?!$)/g, '$1:');
}

export interface HashProgress {
  id: string;
  progress: number;
}

const instances = new Map<string, ImageLibrary>();

/**
 * Emits 'change' (LibraryEvent) after every change, 'hash' (HashProgress) while checksumming,
 * and 'warning' (string) when the file was damaged.
 */
export class ImageLibrary extends EventEmitter {
  readonly file: string;
  /** Problems met loading the library (a damaged file, kept as a backup). */
  readonly warnings: string[] = [];
  private state: LibraryState;
  private readonly hashing = new Map<string, { progress: number; abort: AbortController }>();
  private lastHashEmit = 0;

  constructor(
    readonly dataDir: string,
    /** shimPath: the shim whose vendor certificate decides the Secure Boot verdicts (tests); default PXE Kit's own. */
    private readonly opts: { hashInBackground?: boolean; helpers?: HelperPaths; shimPath?: string } = {},
  ) {
    super();
    this.file = join(dataDir, LIBRARY_FILE);
    const r = loadJson(this.file, validateState, emptyState);
    this.state = r.value;
    if (r.warning) this.warnings.push(r.warning);
  }

  /** One library per data dir in a process: the engine and the API see the same state. */
  static forDataDir(dataDir: string): ImageLibrary {
    const key = resolve(dataDir);
    let lib = instances.get(key);
    if (!lib) {
      lib = new ImageLibrary(key);
      instances.set(key, lib);
    }
    return lib;
  }

  private save(): void {
    mkdirSync(this.dataDir, { recursive: true });
    writeFileAtomic(this.file, JSON.stringify(this.state, null, 2) + '\n');
  }

  private changed(what: 'library' | 'assignments' | 'menu'): void {
    const at = Date.now();
    const ev: LibraryEvent =
      what === 'library'
        ? { type: 'library', at, entries: this.snapshot() }
        : what === 'assignments'
          ? { type: 'assignments', at, assignments: this.assignmentsNow() }
          : { type: 'menu', at, menu: { ...this.state.menu } };
    this.emit('change', ev);
  }

  onChange(listener: (ev: LibraryEvent) => void): void {
    this.on('change', listener);
  }

  private toPublic(e: StoredEntry): LibraryEntry {
    const out: LibraryEntry = { id: e.id, name: e.name, kind: e.kind, path: e.path, size: e.size, present: e.present, addedAt: e.addedAt };
    if (e.os) out.os = e.os;
    if (e.version) out.version = e.version;
    if (e.secureBoot) out.secureBoot = { ...e.secureBoot };
    if (e.wimboot) out.wimboot = e.wimboot;
    if (e.netboot) out.netboot = { loaders: e.netboot.loaders.map((l) => ({ ...l })), notes: [...e.netboot.notes] };
    if (e.wimboot === 'missing') out.wimbootNote = `Served as ${NO_WIMBOOT_COST}. Fix: ${WIMBOOT_FIX}.`;
    if (e.sha256) out.sha256 = e.sha256;
    const h = this.hashing.get(e.id);
    if (h) out.sha256Progress = h.progress;
    return out;
  }

  private snapshot(): LibraryEntry[] {
    return this.state.entries.map((e) => this.toPublic(e));
  }

  entry(id: string): StoredEntry | undefined {
    return this.state.entries.find((e) => e.id === id);
  }

  private need(id: string): StoredEntry {
    const e = this.entry(id);
    if (!e) throw new LibraryError('not-found', `no image "${id}" in the library`);
    return e;
  }

  /** The helpers images are opened and served with: the data dir's stored wimboot among them. */
  private helpers(): HelperPaths {
    return { ...this.opts.helpers, dataDir: this.opts.helpers?.dataDir ?? this.dataDir };
  }

  /** Whether a Windows image gets wimboot now (given, $PXEKIT_WIMBOOT, stored in the data dir, resources/). */
  private wimbootNow(): 'present' | 'missing' {
    try {
      return findHelpers(this.helpers()).wimboot ? 'present' : 'missing';
    } catch {
      return 'missing'; // a given wimboot that is not wimboot: serving refuses it with the reason
    }
  }

  /** Sets `wimboot` on Windows entries as of now; true when one changed. */
  private updateWimboot(): boolean {
    const winpe = this.state.entries.filter((e) => e.recipe === 'winpe');
    if (!winpe.length) return false;
    const now = this.wimbootNow();
    let dirty = false;
    for (const e of winpe) {
      if (e.wimboot !== now) {
        e.wimboot = now;
        dirty = true;
      }
    }
    return dirty;
  }

  /** After wimboot was stored (or removed): Windows entries say whether they get it, and every UI hears of it. */
  refreshWimboot(): void {
    if (!this.updateWimboot()) return;
    this.save();
    this.changed('library');
  }

  /** Entries with `present` re-checked (and checksums restarted for files that changed). */
  async list(): Promise<LibraryEntry[]> {
    let dirty = this.updateWimboot();
    for (const e of this.state.entries) {
      const st = await fsp.stat(e.path).catch(() => undefined);
      const present = !!st;
      if (present !== e.present) {
        e.present = present;
        dirty = true;
      }
      if (st?.isFile() && e.sha256 && (st.size !== e.hashedSize || Math.floor(st.mtimeMs) !== e.hashedMtimeMs)) {
        e.sha256 = undefined;
        e.size = st.size;
        dirty = true;
        this.startHash(e);
      }
    }
    if (dirty) {
      this.save();
      this.changed('library');
    }
    return this.snapshot();
  }

  /** Adds an image; its checksum is computed in the background ('hash' events, then a 'change'). */
  async add(p: { path: string; name?: string; initrds?: string[]; cmdline?: string }): Promise<LibraryEntry> {
    const path = resolve(p.path);
    const st = await fsp.stat(path).catch(() => undefined);
    if (!st) throw new LibraryError('invalid', `no such file or folder: ${path}`);
    if (!st.isDirectory() && !st.isFile()) throw new LibraryError('invalid', `${path} is not a regular file`);
    for (const i of p.initrds ?? []) if (!(await fsp.stat(i).catch(() => undefined))?.isFile()) throw new LibraryError('invalid', `no such initrd: ${i}`);
    // What it is, decided where `pxekit serve` decides it (by content: a file named .iso that holds
    // no ISO volume is refused with what it looks like; a lone pxelinux.0 or GRUB is its folder).
    let spec: ResolvedImageSpec;
    try {
      spec = await imageSpecFromPath(path, { initrds: p.initrds, cmdline: p.cmdline });
    } catch (err) {
      throw new LibraryError('invalid', (err as Error).message);
    }
    const kind: LibraryEntry['kind'] = spec.kind;
    // A lone loader is kept as its folder (spec.path); a folder has no size.
    const at = 'kernel' in spec ? spec.kernel : spec.path;
    const entry: StoredEntry = {
      id: `${safeId(p.name ?? basename(path)).slice(0, 40)}-${randomBytes(2).toString('hex')}`,
      name: p.name?.trim() || basename(path),
      kind,
      path: at,
      size: at === path && st.isFile() ? st.size : 0,
      present: true,
      addedAt: Date.now(),
    };
    if (p.initrds?.length) entry.initrds = p.initrds.map((i) => resolve(i));
    if (p.cmdline) entry.cmdline = p.cmdline;
    if (spec.kind === 'netboot' && spec.bootFiles) entry.bootFiles = spec.bootFiles;
    if (kind === 'netboot') {
      let nb;
      try {
        nb = await openNetboot(at, { dataDir: this.dataDir, bootFiles: entry.bootFiles });
      } catch (err) {
        throw new LibraryError('invalid', (err as Error).message);
      }
      entry.os = 'Netboot';
      entry.version = Object.entries(nb.loaders).map(([fw, l]) => `${FIRMWARE_WORDS[fw as keyof typeof FIRMWARE_WORDS]}: ${l!.kind}`).join(', ');
      entry.secureBoot = netbootSecureBoot(nb);
      entry.netboot = { loaders: Object.entries(nb.loaders).map(([fw, l]) => ({ firmware: fw, path: l!.path, what: l!.what })), notes: nb.notes };
    } else if (kind === 'iso' || kind === 'folder') {
      const opened = await openImage(path, this.helpers());
      try {
        entry.recipe = opened.plan.recipe;
        if (opened.plan.recipe === 'winpe') entry.wimboot = opened.helpers.wimboot ? 'present' : 'missing';
        entry.secureBoot = await treeSecureBoot(opened.tree, opened.plan, this.opts.shimPath);
        if (opened.plan.recipe !== 'none' && opened.plan.recipe !== 'sanboot' && opened.plan.recipe !== 'memdisk') {
          entry.os = opened.plan.os;
          if (opened.plan.version) entry.version = opened.plan.version;
        }
      } finally {
        await opened.tree.close();
      }
    } else {
      if (kind === 'kernel') entry.os = 'Linux';
      entry.secureBoot = await fileSecureBoot(kind as 'kernel' | 'ipxe-script' | 'efi' | 'pxe', path, this.opts.shimPath);
    }
    this.state.entries.push(entry);
    this.save();
    this.changed('library');
    if (st.isFile() && this.opts.hashInBackground !== false) this.startHash(entry);
    return this.toPublic(entry);
  }

  async remove(id: string): Promise<boolean> {
    const i = this.state.entries.findIndex((e) => e.id === id);
    if (i < 0) return false;
    this.hashing.get(id)?.abort.abort();
    this.hashing.delete(id);
    this.state.entries.splice(i, 1);
    const before = this.state.assignments.length;
    this.state.assignments = this.state.assignments.filter((a) => a.imageId !== id);
    if (this.state.menu.defaultEntryId === id) this.state.menu = { ...this.state.menu, defaultEntryId: undefined };
    this.save();
    this.changed('library');
    if (before !== this.state.assignments.length) this.changed('assignments');
    return true;
  }

  /** What was detected and the script a client would get (with a placeholder server address). */
  async inspect(id: string, o: Partial<InspectOptions> = {}): Promise<{ entry: LibraryEntry; detected: string; script: string }> {
    const e = this.need(id);
    const r = await inspectImage(this.imageSpecNow(e), { serverIp: o.serverIp ?? '<server>', httpPort: o.httpPort ?? 8080, helpers: this.helpers(), id: e.id, dataDir: this.dataDir });
    return { entry: this.toPublic(e), detected: r.detected, script: r.script };
  }

  /** The ImageSpec the engine publishes for an entry. */
  async imageSpecFor(id: string): Promise<ImageSpec> {
    return this.imageSpecNow(this.need(id));
  }

  imageSpecNow(e: StoredEntry): ImageSpec {
    switch (e.kind) {
      case 'iso':
      case 'folder':
        return { kind: e.kind, path: e.path, id: e.id, cmdline: e.cmdline, helpers: this.helpers() };
      case 'kernel':
        return { kind: 'kernel', kernel: e.path, initrds: e.initrds ?? [], cmdline: e.cmdline ?? '' };
      case 'netboot':
        return { kind: 'netboot', path: e.path, id: e.id, ...(e.bootFiles ? { bootFiles: e.bootFiles } : {}) };
      default:
        return { kind: e.kind, path: e.path };
    }
  }

  private assignmentsNow(): Assignment[] {
    return this.state.assignments.map((a) => ({ ...a }));
  }

  async assignments(): Promise<Assignment[]> {
    return this.assignmentsNow();
  }

  assignmentFor(mac: string): Assignment | undefined {
    const m = normaliseMac(mac);
    return this.state.assignments.find((a) => a.mac === m);
  }

  /** Assigns an image to one machine (replacing its earlier one); clears its boot-once record. */
  async setAssignment(a: Assignment): Promise<Assignment[]> {
    const mac = normaliseMac(a.mac);
    this.need(a.imageId);
    this.state.assignments = this.state.assignments.filter((x) => x.mac !== mac);
    this.state.assignments.push({ mac, imageId: a.imageId, bootOnce: !!a.bootOnce });
    delete this.state.bootedOnce[mac];
    this.save();
    this.changed('assignments');
    return this.assignmentsNow();
  }

  async clearAssignment(mac: string): Promise<Assignment[]> {
    const m = normaliseMac(mac);
    this.state.assignments = this.state.assignments.filter((x) => x.mac !== m);
    delete this.state.bootedOnce[m];
    this.save();
    this.changed('assignments');
    return this.assignmentsNow();
  }

  menu(): MenuSettings {
    return { ...this.state.menu };
  }

  async setMenu(m: MenuSettings): Promise<MenuSettings> {
    if (!Number.isFinite(m.timeoutSeconds) || m.timeoutSeconds < 0 || m.timeoutSeconds > 3600) throw new LibraryError('invalid', 'the menu timeout must be 0..3600 seconds');
    if (m.defaultEntryId !== undefined && m.defaultEntryId !== 'local') this.need(m.defaultEntryId);
    this.state.menu = { enabled: !!m.enabled, timeoutSeconds: Math.round(m.timeoutSeconds), includeLocalBoot: !!m.includeLocalBoot, ...(m.defaultEntryId ? { defaultEntryId: m.defaultEntryId } : {}) };
    this.save();
    this.changed('menu');
    return this.menu();
  }

  bootedOnce(mac: string): BootOnceRecord | undefined {
    return this.state.bootedOnce[normaliseMac(mac)];
  }

  /** Records that a machine was handed its boot-once image: its next network boot goes to the local disk. */
  markBootedOnce(mac: string, imageId: string, at = Date.now()): void {
    const m = normaliseMac(mac);
    if (this.state.bootedOnce[m]?.imageId === imageId) return;
    this.state.bootedOnce[m] = { imageId, at };
    this.save();
    this.changed('assignments');
  }

  clearBootedOnce(mac?: string): void {
    if (mac) delete this.state.bootedOnce[normaliseMac(mac)];
    else this.state.bootedOnce = {};
    this.save();
    this.changed('assignments');
  }

  /** Restarts checksums that never finished (the previous run stopped mid-way). */
  resumeHashing(): void {
    for (const e of this.state.entries) if (!e.sha256 && e.kind !== 'folder' && !this.hashing.has(e.id)) this.startHash(e);
  }

  /** Resolves when no checksum is running (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.hashing.size) await new Promise((r) => setTimeout(r, 20));
  }

  close(): void {
    for (const h of this.hashing.values()) h.abort.abort();
    this.hashing.clear();
  }

  private startHash(e: StoredEntry): void {
    if (this.hashing.has(e.id)) return;
    const abort = new AbortController();
    const job = { progress: 0, abort };
    this.hashing.set(e.id, job);
    void this.hash(e, job).finally(() => {
      if (this.hashing.get(e.id) === job) this.hashing.delete(e.id);
    });
  }

  private async hash(e: StoredEntry, job: { progress: number; abort: AbortController }): Promise<void> {
    let st;
    try {
      st = await fsp.stat(e.path);
    } catch {
      return;
    }
    const h = createHash('sha256');
    let done = 0;
    try {
      const stream = createReadStream(e.path, { highWaterMark: 1 << 20, signal: job.abort.signal });
      for await (const chunk of stream) {
        h.update(chunk as Buffer);
        done += (chunk as Buffer).length;
        job.progress = st.size ? Math.min(1, done / st.size) : 1;
        const now = Date.now();
        if (now - this.lastHashEmit >= 250) {
          this.lastHashEmit = now;
          this.emit('hash', { id: e.id, progress: job.progress } satisfies HashProgress);
          this.changed('library');
        }
      }
    } catch {
      return; // aborted (removed) or unreadable: `present` tells the second case
    }
    if (!this.entry(e.id)) return;
    e.sha256 = h.digest('hex');
    e.hashedSize = st.size;
    e.hashedMtimeMs = Math.floor(st.mtimeMs);
    e.size = st.size;
    this.hashing.delete(e.id);
    this.save();
    this.emit('hash', { id: e.id, progress: 1 } satisfies HashProgress);
    this.changed('library');
  }
}
