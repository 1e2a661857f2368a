// In-memory transport for component tests only (bundled into the test harness,
// never into renderer/dist). Commands answer from plain in-memory state with the
// contract's types; tests push events and hellos, and read what was requested.
import type { ApiEvent, Assignment, CommandName, Commands, LibraryEntry, MenuSettings, NetInterface, StatusEvent, ClientSession, WimbootStatus, FileListing, HostCheck, ResponseEnvelope } from './types.js';
import { ApiError, Listeners, type ConnectionState, type Hello, type Transport } from './transport.js';

/** The contract's ApiErrorCode: the fake refuses only with a code the real engine sends. */
type EngineErrorCode = Extract<ResponseEnvelope, { ok: false }>['error']['code'];
const refuse = (code: EngineErrorCode, message: string): ApiError => new ApiError(code, message);

type Handler<N extends CommandName> = (params: Commands[N]['params']) => Commands[N]['result'] | Promise<Commands[N]['result']>;

export interface FakeState {
  interfaces: NetInterface[];
  status: StatusEvent;
  sessions: ClientSession[];
  library: LibraryEntry[];
  assignments: Assignment[];
  menu: MenuSettings;
  wimboot: WimbootStatus;
  /** files.list answers by folder ('' for the roots); library.add refuses a listed file that is not an image, with its reason. */
  files: Record<string, FileListing>;
  /** MAC → the technician's label (machines.labels / machines.setLabel). */
  labels: Record<string, string>;
  /** What host.check finds (on any NIC); refused while serving, as the engine does. */
  hostChecks: HostCheck[];
  /** Where evidence.save writes (its folder); refused before anything was served. */
  dataDir: string;
  /** Whether anything was served in this "run" (evidence.save needs it). */
  served: boolean;
}

export class FakeTransport implements Transport {
  readonly requests: Array<{ cmd: CommandName; params: unknown }> = [];
  private readonly events = new Listeners<[ApiEvent]>();
  private readonly hellos = new Listeners<[Hello]>();
  private readonly states = new Listeners<[ConnectionState, string | undefined]>();
  private readonly overrides = new Map<CommandName, (params: unknown) => unknown>();
  connection: ConnectionState = 'connecting';
  state: FakeState;

  constructor(initial: Partial<FakeState> = {}) {
    this.state = {
      interfaces: [],
      status: { type: 'status', at: Date.now(), state: 'stopped' },
      sessions: [],
      library: [],
      assignments: [],
      menu: { enabled: false, timeoutSeconds: 5, includeLocalBoot: true },
      wimboot: { downloadUrl: 'https://github.com/ipxe/wimboot/releases' },
      files: {},
      labels: {},
      hostChecks: [],
      dataDir: '/var/lib/pxekit',
      served: false,
      ...initial,
    };
  }

  /** Replaces one command's answer (throw an ApiError to make it fail). */
  handle<N extends CommandName>(cmd: N, fn: Handler<N>): void {
    this.overrides.set(cmd, fn as (p: unknown) => unknown);
  }

  /** Opens the "connection": the hello first, as the real server does. */
  open(): void {
    this.connection = 'open';
    this.states.emit('open', undefined);
    this.hellos.emit({ status: this.state.status, sessions: this.state.sessions, engineVersion: 'fake' });
  }

  /** The engine goes away (or, with TOKEN_REFUSED_DETAIL, refuses this page's token). */
  drop(detail = 'engine not reachable, retrying'): void {
    this.connection = 'closed';
    this.states.emit('closed', detail);
  }

  emit(event: ApiEvent): void {
    this.events.emit(event);
  }

  async request<N extends CommandName>(cmd: N, params: Commands[N]['params']): Promise<Commands[N]['result']> {
    this.requests.push({ cmd, params });
    await Promise.resolve();
    const o = this.overrides.get(cmd);
    if (o) return (await o(params)) as Commands[N]['result'];
    return this.answer(cmd, params) as Commands[N]['result'];
  }

  private answer(cmd: CommandName, params: unknown): unknown {
    const s = this.state;
    const at = Date.now();
    switch (cmd) {
      case 'engine.status':
        return s.status;
      case 'interfaces.list':
        return s.interfaces;
      case 'sessions.list':
        return s.sessions;
      case 'library.list':
        return s.library;
      case 'serve.start': {
        const p = params as Commands['serve.start']['params'];
        const entry = s.library.find((e) => e.id === p.imageId);
        const imagePath = entry?.path ?? p.imagePath;
        s.served = true;
        s.status = { type: 'status', at, state: 'serving', iface: p.iface, mode: p.mode === 'proxy' ? 'proxy' : 'dhcp', ports: { dhcp: 67, pxe: 4011, tftp: 69, http: 8080 }, ...(imagePath ? { imagePath, image: entry?.name ?? imagePath } : {}), servingSince: at };
        this.emit(s.status);
        return s.status;
      }
      case 'serve.stop':
        s.status = { type: 'status', at, state: 'stopped' };
        this.emit(s.status);
        return s.status;
      case 'library.add': {
        const given = params as Commands['library.add']['params'];
        // The engine strips the quotes "Copy as path" adds (src/files/user-paths.ts).
        const p = { ...given, path: given.path.trim().replace(/^(["'])(.*)\1$/, '$2') };
        // As the engine: a file is what its content says (the scenario's listing), or it is refused with what it looks like.
        const file = Object.values(s.files)
          .flatMap((l) => l.entries)
          .find((e) => e.path === p.path);
        if (file?.image && !file.image.ok) throw refuse('library-error', `${p.path} cannot be served: ${file.image.reason}`);
        const kind = file?.image?.ok ? file.image.kind : 'kernel';
        const entry: LibraryEntry = { id: `img${s.library.length + 1}`, name: p.name ?? p.path.split('/').pop()!, kind, path: p.path, size: file?.size ?? 0, present: true, addedAt: at };
        s.library = [...s.library, entry];
        this.emit({ type: 'library', at, entries: s.library });
        return entry;
      }
      case 'library.remove': {
        const { id } = params as { id: string };
        const before = s.library.length;
        s.library = s.library.filter((e) => e.id !== id);
        this.emit({ type: 'library', at, entries: s.library });
        return { removed: s.library.length < before };
      }
      case 'library.inspect': {
        const { id } = params as { id: string };
        const entry = s.library.find((e) => e.id === id);
        if (!entry) throw refuse('library-error', `no library entry ${id}`);
        return { entry, detected: entry.os ?? entry.kind, script: '#!ipxe\n' };
      }
      case 'assign.set': {
        const a = params as Assignment;
        s.assignments = [...s.assignments.filter((x) => x.mac !== a.mac), a];
        this.emit({ type: 'assignments', at, assignments: s.assignments });
        return s.assignments;
      }
      case 'assign.clear': {
        const { mac } = params as { mac: string };
        s.assignments = s.assignments.filter((x) => x.mac !== mac);
        this.emit({ type: 'assignments', at, assignments: s.assignments });
        return s.assignments;
      }
      case 'menu.set':
        s.menu = params as MenuSettings;
        this.emit({ type: 'menu', at, menu: s.menu });
        return s.menu;
      case 'files.list': {
        const { dir } = params as { dir?: string };
        const l = s.files[dir ?? ''];
        if (!l) throw refuse('path-refused', `${dir} is outside the folders PXE Kit may browse`);
        return l;
      }
      case 'wimboot.status':
        return s.wimboot;
      case 'wimboot.install': {
        // The fake accepts a file named "wimboot" and refuses anything else, as the engine would with a reason.
        const { path } = params as { path: string };
        if (!/(^|\/)wimboot$/.test(path)) throw refuse('wimboot-refused', `${path} is not wimboot: not a boot program at all (a text file)`);
        s.wimboot = { ...s.wimboot, installed: { version: 'v2.8.0', sha256: '0'.repeat(64), size: 70_000, installedAt: at, from: path, path: '/data/wimboot/wimboot' } };
        s.library = s.library.map((e) => (e.wimboot === 'missing' ? { ...e, wimboot: 'present' as const, wimbootNote: undefined } : e));
        this.emit({ type: 'library', at, entries: s.library });
        return s.wimboot;
      }
      case 'machines.labels':
        return s.labels;
      case 'machines.setLabel': {
        const { mac, label } = params as { mac: string; label: string };
        const labels = { ...s.labels };
        if (label) labels[mac] = label;
        else delete labels[mac];
        s.labels = labels;
        this.emit({ type: 'labels', at, labels });
        return labels;
      }
      case 'host.check': {
        const { iface } = params as Commands['host.check']['params'];
        if (s.status.state === 'serving') throw refuse('busy', `PXE Kit is serving on ${s.status.iface ?? 'a NIC'}: ports 67, 69 and 4011 are its own now. Stop serving to check the network.`);
        return { iface, ok: !s.hostChecks.some((c) => c.status === 'fail'), checks: s.hostChecks };
      }
      case 'evidence.save': {
        if (!s.served && s.status.state !== 'serving') throw refuse('not-available', 'Nothing has been served since PXE Kit started, so there is no capture to save: start serving, boot a machine, then save the evidence.');
        const stamp = new Date(at).toISOString().replace(/[:.]/g, '-').slice(0, 19);
        const dir = `${s.dataDir}/evidence/${stamp}`;
        return { dir, pcapng: `${dir}/pxekit-capture-${stamp}.pcapng`, json: `${dir}/pxekit-report-${stamp}.json`, html: `${dir}/pxekit-report-${stamp}.html` };
      }
      case 'logs.export':
        return { fileName: 'pxekit-log.txt', content: 'fake log\n' };
    }
    throw refuse('unknown-command', `unknown command ${String(cmd)}`);
  }

  onEvent(listener: (event: ApiEvent) => void): () => void {
    return this.events.add(listener);
  }
  onHello(listener: (hello: Hello) => void): () => void {
    return this.hellos.add(listener);
  }
  onConnection(listener: (state: ConnectionState, detail?: string) => void): () => void {
    return this.states.add(listener);
  }
  close(): void {
    this.drop();
  }
}
