// The engine's field-diagnostics side, in one object: the diagnosis rules, the
// rogue-DHCP watcher and the evidence recorder. The engine feeds it every wire
// event and reacts to what it reports (another DHCP server: switch to proxy or
// stop handing out addresses; a diagnosis: into the session and the event stream).
import type { WireEvent } from '../sessions/events.js';
import type { OtherDhcpServer } from '../sessions/status.js';
import type { ClientSession } from '../sessions/session.js';
import type { SiteProblem, StatusEvent } from '../sessions/status.js';
import { withSiteCause } from './site.js';
import { Diagnostician } from './rules.js';
import { RogueDhcpWatcher, type SeenDhcpServer } from './rogue-watch.js';
import { EvidenceRecorder } from './evidence.js';
import { writeEvidence, buildJobReport, type EvidenceFiles, type JobReport } from './report.js';
import { timingsFromEnv, type Diagnosis, type DiagnosisEvent, type DiagnosisTimings } from './types.js';

export interface FieldDiagnosticsOptions {
  iface: string;
  serverIp: string;
  mac: string;
  httpPort: number;
  tftpPort?: number;
  timings?: Partial<DiagnosisTimings>;
  /** Probe interval of the rogue-DHCP watcher; 0 turns the watcher off. */
  watchEveryMs?: number;
  /** Servers known from the start-up probe. */
  knownServers: () => OtherDhcpServer[];
  onDiagnosis: (ev: DiagnosisEvent) => void;
  onRogueServer: (s: SeenDhcpServer) => void;
  onWarning: (message: string) => void;
  /** Machines whose diagnosis state is kept at once (Diagnostician). */
  maxClients?: number;
  /** Published boot programs Secure Boot refuses (no signature): DiagnosticianOptions.unsignedLoader. */
  unsignedLoader?: (file: string) => boolean;
  /** Site problems that may explain a machine failing at this time (src/diagnostics/site.ts). */
  siteCauses?: (at: number) => SiteProblem[];
}

export class FieldDiagnostics {
  readonly recorder: EvidenceRecorder;
  readonly rules: Diagnostician;
  private watcher?: RogueDhcpWatcher;
  private readonly noted: Diagnosis[] = [];
  readonly startedAt = Date.now();

  constructor(private readonly opts: FieldDiagnosticsOptions) {
    this.recorder = new EvidenceRecorder({ serverIp: opts.serverIp, httpPort: opts.httpPort, tftpPort: opts.tftpPort, iface: opts.iface });
    this.rules = new Diagnostician({
      serverIp: opts.serverIp,
      timings: { ...timingsFromEnv(), ...opts.timings },
      otherServers: () => [...opts.knownServers(), ...(this.watcher?.servers() ?? [])],
      maxClients: opts.maxClients,
      unsignedLoader: opts.unsignedLoader,
      adjust: opts.siteCauses ? (d) => withSiteCause(d, opts.siteCauses!(d.at)) : undefined,
      onDiagnosis: (d) => opts.onDiagnosis({ type: 'diagnosis', at: d.at, ...(d.mac ? { mac: d.mac } : {}), diagnosis: d }),
    });
  }

  /** Call once the DHCP server answers: starts the no-clients clock and the watcher. */
  async start(): Promise<void> {
    this.rules.serving();
    const every = this.opts.watchEveryMs ?? Number(process.env.PXEKIT_WATCH_MS ?? 4000);
    if (every <= 0) return;
    this.watcher = new RogueDhcpWatcher({
      iface: this.opts.iface,
      ifaceAddress: this.opts.serverIp,
      mac: this.opts.mac,
      everyMs: every,
      onServer: (s) => this.opts.onRogueServer(s),
      onWarning: this.opts.onWarning,
    });
    await this.watcher.start();
  }

  async stop(): Promise<void> {
    await this.watcher?.stop();
  }

  onWire(ev: WireEvent): void {
    this.recorder.record(ev);
    this.rules.handle(ev);
  }

  /** TftpServerOptions.maxBlksizeFor, given the engine's ip -> MAC lookup. */
  blksizeCap(mac: string | undefined): number | undefined {
    return this.rules.blksizeCap(mac);
  }

  tick(): void {
    this.rules.tick();
  }

  /** A diagnosis made outside the rules (the engine's rogue-DHCP reaction): published and kept for the report. */
  note(d: Diagnosis): void {
    this.noted.push(d);
    this.opts.onDiagnosis({ type: 'diagnosis', at: d.at, ...(d.mac ? { mac: d.mac } : {}), diagnosis: d });
  }

  diagnoses(): Diagnosis[] {
    return [...this.noted, ...this.rules.list()].sort((a, b) => a.at - b.at);
  }

  /** Every server the watcher heard while serving. */
  seenServers(): SeenDhcpServer[] {
    return this.watcher?.servers() ?? [];
  }

  report(status: StatusEvent, sessions: ClientSession[]): JobReport {
    return buildJobReport({ status, sessions, diagnoses: this.diagnoses(), recorder: this.recorder, startedAt: this.startedAt });
  }

  writeEvidence(dir: string, status: StatusEvent, sessions: ClientSession[]): EvidenceFiles {
    return writeEvidence(dir, { status, sessions, diagnoses: this.diagnoses(), recorder: this.recorder, startedAt: this.startedAt });
  }
}

/** The engine-wide diagnosis for another DHCP server appearing while serving. */
export function rogueDiagnosis(s: SeenDhcpServer, iface: string, reaction: string): Diagnosis {
  return {
    code: 'rogue-dhcp',
    title: `Another DHCP server appeared on ${iface}: ${s.serverId}${s.mac ? ` (MAC ${s.mac})` : ''} offered ${s.offeredIp}`,
    causes: [
      'a router, a VM host (libvirt, VirtualBox, Hyper-V), or another laptop serving DHCP was connected to this segment',
      'the boot switch was uplinked to the office network',
    ],
    fix: `${reaction} To serve addresses yourself, disconnect that server (or the uplink) and restart PXE Kit; to share the network, use --mode proxy.`,
    evidence: [
      `${s.message.toUpperCase()} from ${s.from}${s.serverId !== s.from ? ` (server id ${s.serverId})` : ''} to ${s.clientMac}${s.via === 'probe' ? ' (answering PXE Kit\'s watch probe)' : ''}, address ${s.offeredIp}${s.bootFile ? `, boot file ${s.bootFile}` : ''}`,
    ],
    at: s.firstSeen,
  };
}
