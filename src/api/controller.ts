// The engine host behind the API: one Engine at a time, the image library (when
// present), and a bounded record of recent events. Transport-free: the WebSocket
// server, tests and any other transport call `call(cmd, params)` and listen to 'event'.
import { EventEmitter } from 'node:events';
import { ActionRefused, Engine, type EngineOptions } from '../engine.js';
import { listInterfaces } from '../net/interfaces.js';
import { defaultDataDir } from '../files/data-dir.js';
import { loadSessionHistory } from '../sessions/history.js';
import { formatEvent, type EngineEvent } from '../sessions/format.js';
import type { StatusEvent } from '../sessions/status.js';
import type { ClientSession } from '../sessions/session.js';
import { imageSpecFromPath, type ImageSpec } from '../images/publish-image.js';
import type { ApiEvent, CommandName, Commands, ServeOptions, SiteActionId } from './contract.js';
import { findHelpers } from '../images/publish-iso.js';
import { installWimboot, wimbootStatus, WimbootRefused, WIMBOOT_DOWNLOAD_URL } from '../images/wimboot.js';
import { EventRing } from './event-ring.js';
import { listFiles, PathRefused } from './file-browser.js';
import { normaliseUserPath } from '../files/user-paths.js';
import type { BrowseRoot } from './contract.js';
import { LabelError, MachineLabels } from '../sessions/labels.js';
import { loadLibraryBackend, type LibraryBackend } from './library-backend.js';
import { join } from 'node:path';
import { runHostChecks, type HostCheckOptions } from '../diagnostics/checks.js';

export type ApiErrorCode = 'not-available' | 'busy' | 'serve-failed' | 'action-not-applicable' | 'action-failed' | 'library-error' | 'invalid-params' | 'wimboot-refused' | 'path-refused' | 'internal';

export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ControllerOptions {
  dataDir?: string;
  /** How many recent events to keep for export and replay. */
  logCapacity?: number;
  /** The image library; by default loaded from src/images when it exists. */
  library?: LibraryBackend | null;
  /** Extra engine options the CLI knows and the API does not expose (router, dns, tftpPort...). */
  engineDefaults?: Partial<EngineOptions>;
  /** wimboot for Windows ISOs served by path (pxekit serve --wimboot). */
  wimboot?: string;
  /** For tests: build the engine. */
  createEngine?: (opts: EngineOptions) => Engine;
  /** The folders the file browser may show; default: the invoking user's home, <dataDir>/images, /media, /run/media. */
  browseRoots?: BrowseRoot[];
  /** For tests: the environment that says who the invoking user is (SUDO_USER, PKEXEC_UID). */
  env?: NodeJS.ProcessEnv;
  /** For tests: what host.check runs (default runHostChecks). */
  hostChecks?: typeof runHostChecks;
}

/** A path as typed or pasted (quotes, ~, file://), or ApiError('path-refused') with why (a relative path). */
function userPath(p: string, env?: NodeJS.ProcessEnv): string {
  try {
    return normaliseUserPath(p, { env });
  } catch (err) {
    if (err instanceof PathRefused) throw new ApiError('path-refused', err.message);
    throw err;
  }
}

type Handlers = { [N in CommandName]: (p: Commands[N]['params']) => Promise<Commands[N]['result']> | Commands[N]['result'] };

const ACTIVE: ReadonlySet<StatusEvent['state']> = new Set(['starting', 'probing', 'serving', 'stopping']);

/** Emits 'event' (ApiEvent) for everything, and 'shutdown' once engine.shutdown was asked. */
export class Controller extends EventEmitter {
  readonly dataDir: string;
  private engine?: Engine;
  private lastStatus: StatusEvent = { type: 'status', at: Date.now(), state: 'stopped' };
  private readonly ring: EventRing<ApiEvent>;
  private library?: LibraryBackend | null;
  private libraryLoading?: Promise<LibraryBackend | null>;
  private shuttingDown = false;

  constructor(private readonly opts: ControllerOptions = {}) {
    super();
    this.dataDir = opts.dataDir ?? defaultDataDir();
    this.ring = new EventRing(opts.logCapacity ?? 100_000);
    this.library = opts.library;
    this.library?.onChange?.((ev) => this.publish(ev));
  }

  status(): StatusEvent {
    return this.engine?.currentStatus() ?? this.lastStatus;
  }

  sessions(): ClientSession[] {
    const live = this.engine?.sessions() ?? [];
    // Not serving yet in this run: the machines of the previous one, from the data dir.
    return live.length ? live : loadSessionHistory(this.dataDir, true).sessions;
  }

  /** The last `limit` events, oldest first (a new UI's replay). */
  recentEvents(limit?: number): ApiEvent[] {
    return this.ring.toArray(limit);
  }

  private publish = (ev: ApiEvent): void => {
    this.ring.push(ev);
    this.emit('event', ev);
  };

  private async lib(): Promise<LibraryBackend> {
    if (this.library === undefined) {
      this.libraryLoading ??= loadLibraryBackend(this.dataDir).then((l) => {
        this.library = l ?? null;
        this.library?.onChange?.((ev) => this.publish(ev));
        return this.library;
      });
      await this.libraryLoading;
    }
    if (!this.library) throw new ApiError('not-available', 'This engine runs without an image library: serve an image by its path instead.');
    return this.library;
  }

  /** Library refusals (file missing, unknown id, not an image) reach the UI as 'library-error' with the library's own words. */
  private async withLib<T>(fn: (l: LibraryBackend) => Promise<T>): Promise<T> {
    const l = await this.lib();
    try {
      return await fn(l);
    } catch (err) {
      if (err instanceof ApiError) throw err;
      throw new ApiError('library-error', err instanceof Error ? err.message : String(err));
    }
  }

  private readonly handlers: Handlers = {
    'engine.status': () => this.status(),
    'engine.shutdown': () => {
      if (!this.shuttingDown) {
        this.shuttingDown = true;
        // Answer first, then stop: the caller gets its response before the socket goes.
        setImmediate(() => void this.close().finally(() => this.emit('shutdown')));
      }
      return { shuttingDown: true as const };
    },
    'interfaces.list': () => listInterfaces(),
    'serve.start': (p) => this.startServing(p),
    'serve.stop': async () => {
      await this.engine?.stop();
      return this.status();
    },
    'serve.action': (p) => this.runAction(p.id),
    'sessions.list': () => this.sessions(),
    'library.list': () => this.withLib((l) => l.list()),
    'library.add': (p) =>
      this.withLib((l) => l.add({ ...p, path: userPath(p.path, this.opts.env), ...(p.initrds ? { initrds: p.initrds.map((i) => userPath(i, this.opts.env)) } : {}) })),
    'library.remove': (p) => this.withLib(async (l) => ({ removed: await l.remove(p.id) })),
    'library.inspect': (p) => this.withLib((l) => l.inspect(p.id)),
    'assign.set': (p) => this.withLib((l) => l.setAssignment(p)),
    'assign.clear': (p) => this.withLib((l) => l.clearAssignment(p.mac)),
    'menu.set': (p) => this.withLib((l) => l.setMenu(p)),
    'settings.get': () => this.withLib(async (l) => ({ assignments: await l.assignments(), menu: await l.menu() })),
    'logs.export': (p) => this.exportLogs(p.format),
    'wimboot.status': () => ({ ...wimbootStatus(this.dataDir), downloadUrl: WIMBOOT_DOWNLOAD_URL }),
    'wimboot.install': (p) => this.installWimboot(userPath(p.path, this.opts.env)),
    'files.list': async (p) => {
      try {
        return await listFiles(p.dir, { dataDir: this.dataDir, env: this.opts.env, roots: this.opts.browseRoots });
      } catch (err) {
        if (err instanceof PathRefused) throw new ApiError('path-refused', err.message);
        throw new ApiError('path-refused', `${p.dir}: ${(err as Error).message}`);
      }
    },
    'machines.labels': () => this.machineLabels().all(),
    'machines.setLabel': (p) => this.setLabel(p.mac, p.label),
    'host.check': (p) => this.hostCheck(p),
    'evidence.save': () => this.saveEvidence(),
  };

  /** The preflight check on one NIC; while serving, the ports it would test are PXE Kit's own, so it is refused. */
  private async hostCheck(p: Commands['host.check']['params']): Promise<Commands['host.check']['result']> {
    const st = this.status();
    if (this.engine && ACTIVE.has(st.state)) {
      throw new ApiError('busy', `PXE Kit is ${st.state} on ${st.iface ?? 'a NIC'}: ports 67, 69 and 4011 are its own now. Stop serving to check the network.`);
    }
    const o: HostCheckOptions = { iface: p.iface, httpPort: p.httpPort ?? this.opts.engineDefaults?.httpPort, tftpPort: this.opts.engineDefaults?.tftpPort };
    const checks = await (this.opts.hostChecks ?? runHostChecks)(o);
    return { iface: p.iface, ok: !checks.some((c) => c.status === 'fail'), checks };
  }

  /** The run's pcapng and job report, now, under <dataDir>/evidence/<time>/. */
  private saveEvidence(): Commands['evidence.save']['result'] {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
    const dir = join(this.dataDir, 'evidence', stamp);
    let files: Commands['evidence.save']['result'] | undefined;
    try {
      files = this.engine?.writeEvidence(dir);
    } catch (err) {
      throw new ApiError('internal', `Could not write the evidence to ${dir}: ${(err as Error).message}. Check that the disk is not full and PXE Kit may write its data folder.`);
    }
    if (!files) throw new ApiError('not-available', 'Nothing has been served since PXE Kit started, so there is no capture to save: start serving, boot a machine, then save the evidence.');
    return files;
  }

  private labels?: MachineLabels;
  /** Labels per MAC from the data dir, loaded on first use. */
  machineLabels(): MachineLabels {
    return (this.labels ??= new MachineLabels(this.dataDir));
  }

  private setLabel(mac: string, label: string): Commands['machines.setLabel']['result'] {
    let labels: Commands['machines.setLabel']['result'];
    try {
      labels = this.machineLabels().set(mac, label);
    } catch (err) {
      if (err instanceof LabelError) throw new ApiError('invalid-params', err.message);
      throw new ApiError('internal', `could not save the label: ${(err as Error).message}`);
    }
    this.publish({ type: 'labels', at: Date.now(), labels });
    return labels;
  }

  /** Stores wimboot in the data dir (a refused file leaves the stored one as it was); Windows library entries then say it is there. */
  private async installWimboot(path: string): Promise<Commands['wimboot.install']['result']> {
    try {
      installWimboot(this.dataDir, path);
    } catch (err) {
      if (err instanceof WimbootRefused) throw new ApiError('wimboot-refused', `${err.message}. Nothing was changed: download the file named "wimboot" from ${WIMBOOT_DOWNLOAD_URL}.`);
      throw new ApiError('invalid-params', `could not store wimboot: ${(err as Error).message}`);
    }
    const lib = await this.lib().catch(() => undefined);
    lib?.refreshWimboot?.();
    return { ...wimbootStatus(this.dataDir), downloadUrl: WIMBOOT_DOWNLOAD_URL };
  }

  /** Runs one (already validated) command. Throws ApiError for refusals. */
  async call<N extends CommandName>(cmd: N, params: Commands[N]['params']): Promise<Commands[N]['result']> {
    const handler = this.handlers[cmd] as (p: Commands[N]['params']) => Promise<Commands[N]['result']> | Commands[N]['result'];
    return handler(params);
  }

  /** Starts serving; resolves with the 'serving' status, or throws ApiError('serve-failed') with the engine's reason. */
  async startServing(p: ServeOptions, extra: Partial<EngineOptions> = {}): Promise<StatusEvent> {
    if (this.shuttingDown) throw new ApiError('busy', 'the engine is shutting down');
    if (this.engine && ACTIVE.has(this.engine.currentStatus().state)) {
      throw new ApiError('busy', `already ${this.engine.currentStatus().state} on ${this.engine.currentStatus().iface ?? 'an interface'}: stop first`);
    }
    const image: ImageSpec | undefined = p.imageId
      ? await (await this.lib()).imageSpecFor(p.imageId)
      : p.imagePath
        ? await this.specForPath({ ...p, imagePath: userPath(p.imagePath, this.opts.env), initrds: p.initrds?.map((i) => userPath(i, this.opts.env)) })
        : undefined;
    this.detachEngine();
    const opts: EngineOptions = {
      ...this.opts.engineDefaults,
      ...extra,
      iface: p.iface,
      mode: p.mode,
      range: p.range,
      force: p.force,
      bootOnce: p.bootOnce ?? extra.bootOnce ?? this.opts.engineDefaults?.bootOnce,
      secureBoot: p.secureBoot ?? extra.secureBoot ?? this.opts.engineDefaults?.secureBoot,
      httpPort: p.httpPort ?? extra.httpPort ?? this.opts.engineDefaults?.httpPort,
      probeSeconds: p.probeSeconds ?? extra.probeSeconds ?? this.opts.engineDefaults?.probeSeconds,
      ...((p.openFirewall ?? extra.openFirewall ?? this.opts.engineDefaults?.openFirewall) !== undefined ? { openFirewall: p.openFirewall ?? extra.openFirewall ?? this.opts.engineDefaults?.openFirewall } : {}),
      dataDir: this.dataDir,
      image,
    };
    const engine = this.opts.createEngine ? this.opts.createEngine(opts) : new Engine(opts);
    this.engine = engine;
    engine.on('event', this.onEngineEvent);
    try {
      await engine.start();
    } catch (err) {
      throw new ApiError('serve-failed', err instanceof Error ? err.message : String(err));
    }
    return engine.currentStatus();
  }

  /** A site problem's one-click action: refused when nothing is served or it does not apply now. */
  private async runAction(id: SiteActionId): Promise<StatusEvent> {
    if (!this.engine) throw new ApiError('action-not-applicable', `"${id}" applies to a running engine; nothing is being served`);
    try {
      return await this.engine.action(id);
    } catch (err) {
      if (err instanceof ActionRefused) throw new ApiError('action-not-applicable', err.message);
      throw new ApiError('action-failed', err instanceof Error ? err.message : String(err));
    }
  }

  /** What the path is, as pxekit serve and inspect tell it (imageSpecFromPath), with the helpers (wimboot) an ISO goes with; refused when it is no image. */
  private async specForPath(p: ServeOptions): Promise<ImageSpec> {
    try {
      const helpers = findHelpers({ wimboot: this.opts.wimboot, dataDir: this.dataDir });
      return await imageSpecFromPath(p.imagePath!, { initrds: p.initrds ?? [], cmdline: p.cmdline ?? '', helpers });
    } catch (err) {
      throw new ApiError('invalid-params', err instanceof Error ? err.message : String(err));
    }
  }

  private onEngineEvent = (ev: EngineEvent): void => {
    if (ev.type === 'status') this.lastStatus = ev;
    this.publish(ev);
  };

  private detachEngine(): void {
    if (!this.engine) return;
    this.lastStatus = this.engine.currentStatus();
    this.engine.off('event', this.onEngineEvent);
    this.engine = undefined;
  }

  exportLogs(format: 'jsonl' | 'text'): { fileName: string; content: string } {
    const events = this.ring.toArray();
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const header = this.ring.dropped ? `${this.ring.dropped} older events were dropped (the log keeps the last ${this.ring.capacity})` : undefined;
    if (format === 'jsonl') {
      const lines = events.map((e) => JSON.stringify(e));
      if (header) lines.unshift(JSON.stringify({ type: 'log', at: Date.now(), level: 'info', source: 'engine', message: header }));
      return { fileName: `pxekit-log-${stamp}.jsonl`, content: lines.join('\n') + (lines.length ? '\n' : '') };
    }
    const lines: string[] = header ? [header] : [];
    for (const e of events) {
      const line = e.type === 'library' || e.type === 'assignments' || e.type === 'menu' || e.type === 'labels' ? `${new Date(e.at).toISOString().slice(11, 19)} ${e.type} changed` : formatEvent(e, { verbose: true });
      if (line) lines.push(line);
    }
    return { fileName: `pxekit-log-${stamp}.txt`, content: lines.join('\n') + (lines.length ? '\n' : '') };
  }

  /** Stops serving (ports released). */
  async close(): Promise<void> {
    await this.engine?.stop();
  }
}
