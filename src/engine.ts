// The boot engine: composes the NIC, the published files, the boot policy and
// the DHCP / TFTP / HTTP servers, and turns their wire events into sessions.
// Plain Node, no Electron: the CLI, the API server and the tests all drive this.
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync } from 'node:fs';
import { resolveInterface, defaultInterface } from './net/interfaces.js';
import { NetError } from './net/errors.js';
import { PublishedFiles } from './files/published.js';
import { SetupMediaShare } from './share/setup-media.js';
import type { RootShareHelper } from './share/share-helper.js';
import { defaultDataDir } from './files/data-dir.js';
import type { WireEvent } from './sessions/events.js';
import { SessionTracker, SESSIONS_MAX, type SessionForgotten } from './sessions/tracker.js';
import { SessionHistory } from './sessions/history.js';
import type { EngineEvent } from './sessions/format.js';
import type { OtherDhcpServer, StatusEvent } from './sessions/status.js';
import { DhcpServer } from './dhcp/server.js';
import { probeDhcpServers } from './dhcp/probe.js';
import { TftpServer } from './tftp/server.js';
import { HttpFileServer } from './http/server.js';
import { locateIpxeBinaries } from './boot/ipxe-binaries.js';
import { HOW_TO_GET_SIGNED_CHAIN, locateSignedChain, publishSignedChain, SIGNED_NAMES, signedChainComplete, type SecureBootChoice } from './boot/signed-chain.js';
import { createBootPolicy, publishBootPrograms } from './boot/policy.js';
import type { ImageSpec } from './images/publish-image.js';
import { BootChooser } from './images/boot-chooser.js';
import { baseName, unsignedBootPrograms } from './images/secure-boot-image.js';
import { ImageLibrary } from './images/library.js';
import type { DhcpServerOptions } from './dhcp/context.js';
import { FieldDiagnostics, rogueDiagnosis } from './diagnostics/field.js';
import type { SeenDhcpServer } from './diagnostics/rogue-watch.js';
import type { Diagnosis, DiagnosisTimings } from './diagnostics/types.js';
import type { EvidenceFiles, JobReport } from './diagnostics/report.js';
import { SiteBoard, fromFirewallCheck, linkDown, noMachinesYet, otherDhcpServer, portBlocked, siteLogLine, waitingForAddress, waitingForLink, type SiteActionId } from './diagnostics/site.js';
import { firewallCheck } from './diagnostics/checks.js';
import { closeFirewall, openFirewall, removeLeftoverRules, type FirewallAction } from './diagnostics/windows-firewall-rules.js';
import { LinkWatcher, waitForNic } from './net/link.js';
import type { SiteProblem } from './sessions/status.js';
import { dropPrivileges, type DropTarget } from './net/privilege.js';

export type ServeMode = 'auto' | 'dhcp' | 'proxy';

export interface EngineOptions {
  iface?: string;
  mode?: ServeMode;
  /** "A-B": first and last address of the pool. */
  range?: string;
  dataDir?: string;
  /** The default image (ISO, kernel, script, program); optional when the library's menu or assignments say what to boot. */
  image?: ImageSpec;
  /** Each machine boots the default image (or its menu choice) once; its next network boot goes to the local disk. */
  bootOnce?: boolean;
  /** Serve DHCP even though another DHCP server answers on the segment. */
  force?: boolean;
  httpPort?: number;
  tftpPort?: number;
  /** How long auto/dhcp mode listens for another DHCP server before serving. Default 5 s: dnsmasq and ISC dhcpd ping an address (up to 3 s) before they offer it. */
  probeSeconds?: number;
  leaseSeconds?: number;
  router?: string;
  dns?: string[];
  /** Diagnosis deadlines (tests shorten them; PXEKIT_DIAG_TIMINGS too). */
  diagnosisTimings?: Partial<DiagnosisTimings>;
  /** How often the rogue-DHCP watcher probes while serving (ms; 0 = no watcher). Default 4000 (PXEKIT_WATCH_MS). */
  watchEveryMs?: number;
  /** Machines tracked at once; beyond it the longest quiet ones are forgotten. Default SESSIONS_MAX (PXEKIT_MAX_CLIENTS). */
  maxClients?: number;
  /** UEFI x64 machines: the signed chain (shim -> GRUB) when it can boot the image ('auto', default), always ('signed'), or iPXE ('ipxe'). */
  secureBoot?: SecureBootChoice;
  /** Linux, started as root: the user to run as once the ports are bound (src/net/privilege.ts), or why it stays root; `writable`: folders that user must write (--evidence). */
  privilege?: {
    target?: DropTarget;
    note?: string;
    writable?: string[];
    /** The root helper that starts the setup share once root is given up (src/share/share-helper.ts); asked for while still root, before the drop. */
    shareHelper?: () => RootShareHelper;
  };
  /** Where to look for the signed shim and GRUB (tests); default resources/secureboot, then Debian's packages. */
  signedChainDirs?: string[];
  /** Windows setup media served through wimboot are shared over SMB for setup to read (default true; src/share/). */
  setupShare?: boolean;
  /** Windows: the technician's consent to add PXE Kit's inbound firewall rules while serving (removed at stop; src/diagnostics/windows-firewall-rules.ts). */
  openFirewall?: boolean;
}

export class EngineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineError';
  }
}

/** A site action (serve.action) that does not apply to the engine as it is now. */
export class ActionRefused extends EngineError {}

/** Emits 'event' (EngineEvent) for everything that happens. */
export class Engine extends EventEmitter {
  readonly files = new PublishedFiles();
  private dhcp?: DhcpServer;
  private tftp?: TftpServer;
  private http?: HttpFileServer;
  private tracker?: SessionTracker;
  /** The machines of earlier runs and this one, kept in the data dir (sessions.json). */
  private history?: SessionHistory;
  private ticker?: NodeJS.Timeout;
  private status: StatusEvent = { type: 'status', at: Date.now(), state: 'stopped' };
  private chooser?: BootChooser;
  private dhcpOptions?: DhcpServerOptions;
  private field?: FieldDiagnostics;
  /** Set by stop(): a start() still probing or binding gives up at its next step. */
  private stopRequested = false;
  /** Engine-wide problems (StatusEvent.site): every change is a status event (src/diagnostics/site.ts). */
  private readonly site = new SiteBoard((list, change) => this.onSiteChange(list, change));
  private linkWatch?: LinkWatcher;

  constructor(private readonly opts: EngineOptions) {
    super();
  }

  currentStatus(): StatusEvent {
    return this.status;
  }

  sessions() {
    return this.tracker?.list() ?? [];
  }

  /** Every diagnosis of this run (machines and engine-wide). */
  diagnoses(): Diagnosis[] {
    return this.field?.diagnoses() ?? [];
  }

  /** The job report of this run so far. */
  report(): JobReport | undefined {
    return this.field?.report(this.status, this.sessions().filter((s) => !s.previousRun));
  }

  /** Writes the pcapng and the job report (JSON + HTML) of this run into dir. */
  writeEvidence(dir: string): EvidenceFiles | undefined {
    return this.field?.writeEvidence(dir, this.status, this.sessions().filter((s) => !s.previousRun));
  }

  private publish(ev: EngineEvent): void {
    this.emit('event', ev);
  }

  private setStatus(s: Omit<StatusEvent, 'type' | 'at'>): void {
    // A message belongs to the state it was given with; it does not stick to the next one.
    this.status = { ...this.status, message: undefined, ...s, type: 'status', at: Date.now() };
    this.publish(this.status);
  }

  private onSiteChange(list: SiteProblem[], change: { set?: SiteProblem; cleared?: SiteProblem }): void {
    // Not setStatus: the status message (e.g. what PXE Kit did about another DHCP server) stays.
    this.status = { ...this.status, site: list, type: 'status', at: Date.now() };
    this.publish(this.status);
    const line = siteLogLine(change);
    if (line) this.publish({ type: 'log', at: Date.now(), level: line.level, source: 'engine', message: line.message });
  }

  /** Runs a site problem's one-click action (API serve.action); ActionRefused when it does not apply now. */
  async action(id: SiteActionId): Promise<StatusEvent> {
    const s = this.status;
    if (id === 'switch-to-proxy') {
      if (s.state !== 'serving' || !this.dhcpOptions) throw new ActionRefused(`"switch-to-proxy" applies while serving; PXE Kit is ${s.state}`);
      if (s.mode === 'proxy') throw new ActionRefused('PXE Kit already serves in proxy mode');
      await this.restartDhcp('proxy');
      this.site.clear('other-dhcp-server');
      const why = 'switched to proxy mode by the technician: another DHCP server hands out the addresses, PXE Kit adds the boot information';
      this.setStatus({ state: 'serving', mode: 'proxy', modeReason: why, dhcpSuspended: undefined });
      this.publish({ type: 'log', at: Date.now(), level: 'info', source: 'engine', message: `${why}; machines already booting keep their sessions` });
      return this.status;
    }
    if (id === 'retry-ports') {
      if (s.state !== 'error' || !this.site.has('port-blocked')) throw new ActionRefused(`"retry-ports" applies after a start failed on a port; PXE Kit is ${s.state}`);
      await this.start();
      return this.status;
    }
    throw new ActionRefused(`no such action: ${String(id)}`);
  }

  /** Replaces only the DHCP server (sessions, TFTP and HTTP go on). */
  private async restartDhcp(mode: 'dhcp' | 'proxy'): Promise<void> {
    await this.dhcp?.stop();
    this.dhcp = undefined;
    this.dhcpOptions = { ...this.dhcpOptions!, mode };
    const next = new DhcpServer(this.dhcpOptions);
    await next.start();
    // stop() may have run meanwhile: then this server must not outlive it.
    if (this.stopRequested) {
      await next.stop();
      throw new EngineError('stopped meanwhile');
    }
    this.dhcp = next;
  }

  /** Waits for a link and an IPv4 address on the chosen NIC, saying why in the status (a cable to a machine still off). */
  private async waitForInterface(name: string) {
    const nic = await waitForNic(name, {
      shouldStop: () => this.stopRequested,
      onWaiting: (r) => {
        const p = r.kind === 'no-address' ? waitingForAddress(name) : waitingForLink(name, r.adminDown);
        this.setStatus({ state: 'starting', iface: name, message: `${p.title}. ${p.fix}` });
        this.site.set(p);
      },
    });
    this.checkStillWanted();
    this.site.clear('waiting-for-link');
    return nic!;
  }

  /** Everything the protocol servers report passes here: enrich, track, publish. */
  private onWire = (ev: WireEvent): void => {
    if (ev.type === 'transfer') {
      ev.mac ??= this.dhcp?.macForIp(ev.clientIp);
      const asked = { percentDecoded: ev.protocol === 'tftp', clientIp: ev.clientIp };
      ev.role ??= this.files.lookup(ev.file, asked)?.role;
      if (ev.errorCode === 'not-found') {
        ev.expected ??= this.files.expectedMiss(ev.file, asked);
        // A file a netboot tree's menu names but the tree lacks: say which menu named it.
        if (!ev.expected) ev.namedBy ??= this.chooser?.namedBy(ev.mac, ev.file);
      }
    }
    this.publish(ev);
    this.tracker?.handle(ev);
    if (ev.type === 'dhcp' && ev.refusal) this.tracker?.refuse(ev.mac, ev.refusal, ev.at);
    // A proxy answers a refused client with nothing: its log line carries the refusal.
    if (ev.type === 'log' && ev.refusal && ev.mac) this.tracker?.refuse(ev.mac, ev.refusal, ev.at);
    this.field?.onWire(ev);
    if (ev.type === 'dhcp' && ev.direction === 'in' && this.site.has('no-machines-yet') && (ev.vendorClass?.startsWith('PXEClient') || ev.vendorClass?.startsWith('HTTPClient') || ev.isIpxe)) {
      this.site.clear('no-machines-yet');
    }
  };

  /**
   * The tracker hit its limit and let a machine go. Said in the log on the first one and
   * then at most once a minute, with the count: a flood forgets thousands a second.
   */
  private onForgotten(f: SessionForgotten, limit: number): void {
    this.publish(f);
    if (f.forgotten > 1 && f.at - this.forgetLoggedAt < 60_000) return;
    this.forgetLoggedAt = f.at;
    this.publish({
      type: 'log', at: f.at, level: 'warn', source: 'engine',
      message: `more than ${limit} machines (the limit) have talked to PXE Kit: forgetting the ones quiet longest, ${f.forgotten} so far (last ${f.mac}). Thousands of new MACs a second is a DHCP flood (a starvation tool or a looping device): find it on the switch.`,
    });
  }
  private forgetLoggedAt = -Infinity;

  /** Another DHCP server answered on the segment while we serve (src/diagnostics/rogue-watch.ts). */
  private onRogueServer = (s: SeenDhcpServer): void => {
    void this.reactToRogue(s).catch((err: Error) => this.publish({ type: 'log', at: Date.now(), level: 'error', source: 'engine', message: `reacting to another DHCP server: ${err.message}` }));
  };

  private async reactToRogue(s: SeenDhcpServer): Promise<void> {
    const known = this.status.otherDhcpServers ?? [];
    // Already known (the start-up probe found it, or the watcher heard it through another relay).
    if (known.some((k) => k.serverId === s.serverId)) return;
    const others = [...known, { serverId: s.serverId, from: s.from, offeredIp: s.offeredIp, ...(s.mac ? { mac: s.mac } : {}) }];
    const name = `${s.serverId}${s.mac ? ` (${s.mac})` : ''} offered ${s.offeredIp}`;
    const iface = this.status.iface ?? '';
    const want = this.opts.mode ?? 'auto';
    if (this.status.mode === 'proxy') {
      // proxyDHCP expects an address server on the segment: worth showing, not a problem.
      this.setStatus({ state: this.status.state, otherDhcpServers: others });
      this.publish({ type: 'log', at: Date.now(), level: 'info', source: 'engine', message: `DHCP server on ${iface}: ${name} (it hands out the addresses; PXE Kit adds the boot information)` });
      return;
    }
    let reaction: string;
    if (this.status.mode === 'dhcp' && !this.status.dhcpSuspended && !this.opts.force && this.dhcpOptions) {
      // Two address servers on one segment hand out conflicting addresses: ours goes quiet first.
      if (want === 'auto') {
        try {
          await this.restartDhcp('proxy');
        } catch (err) {
          if (this.stopRequested) return;
          throw err;
        }
        reaction = 'PXE Kit switched to proxyDHCP: it no longer hands out addresses, only the boot information.';
        this.setStatus({ state: this.status.state, mode: 'proxy', modeReason: `another DHCP server appeared while serving: ${name}; PXE Kit switched to proxyDHCP`, otherDhcpServers: others, message: reaction });
        this.site.set(otherDhcpServer({ iface, name, reaction: 'switched-to-proxy' }));
      } else {
        await this.dhcp?.stop();
        this.dhcp = undefined;
        reaction = 'PXE Kit stopped handing out addresses (--mode dhcp without --force); TFTP and HTTP go on for machines already booting.';
        this.setStatus({ state: this.status.state, dhcpSuspended: `another DHCP server appeared while serving: ${name}`, otherDhcpServers: others, message: reaction });
        this.site.set(otherDhcpServer({ iface, name, reaction: 'suspended' }));
      }
    } else {
      reaction = this.opts.force ? 'PXE Kit goes on handing out addresses (--force): expect address conflicts.' : 'PXE Kit no longer hands out addresses.';
      this.setStatus({ state: this.status.state, otherDhcpServers: others, message: `another DHCP server on ${iface}: ${name}` });
      if (this.status.mode === 'dhcp') this.site.set(otherDhcpServer({ iface, name, reaction: this.opts.force ? 'forced' : 'suspended' }));
    }
    this.publish({ type: 'log', at: Date.now(), level: 'warn', source: 'engine', message: `Another DHCP server on ${iface}: ${name}. ${reaction}` });
    this.field?.note(rogueDiagnosis(s, iface, reaction));
  }

  /** The data dir whose firewall-rules.json lists rules this run added (removed at stop). */
  private firewallDataDir?: string;

  private logFirewall(r: FirewallAction): void {
    this.publish({ type: 'log', at: Date.now(), level: r.ok ? 'info' : 'warn', source: 'engine', message: `Windows Firewall: ${r.message}` });
  }

  private checkStillWanted(): void {
    if (this.stopRequested) throw new EngineError('stopped while starting');
  }

  async start(): Promise<void> {
    const o = this.opts;
    this.stopRequested = false;
    this.site.reset();
    this.setStatus({ state: 'starting', site: [] });
    try {
      const nic = o.iface ? await this.waitForInterface(o.iface) : defaultInterface();
      const ipv4 = nic.ipv4 ?? resolveInterface(nic.name).ipv4;
      const dataDir = o.dataDir ?? defaultDataDir();
      const dataDirCreated = !existsSync(dataDir);
      mkdirSync(dataDir, { recursive: true });
      const httpPort = o.httpPort ?? 8080;
      // Rules a crash left behind (firewall-rules.json) go before anything else.
      if (process.platform === 'win32') {
        const left = await removeLeftoverRules({ dataDir });
        if (left.changed || !left.ok) this.logFirewall(left);
      }

      const binaries = locateIpxeBinaries();
      publishBootPrograms(this.files, binaries);
      // The library (menu, per-MAC assignments, boot-once) lives in the data dir; the chooser
      // picks each machine's script when it asks, so changes apply while serving.
      const library = ImageLibrary.forDataDir(dataDir);
      for (const w of library.warnings) this.publish({ type: 'log', at: Date.now(), level: 'warn', source: 'boot', message: w });
      const chooser = new BootChooser({
        files: this.files,
        serverIp: ipv4.address,
        httpPort,
        library,
        defaultImage: o.image,
        bootOnce: o.bootOnce,
        log: (message) => this.publish({ type: 'log', at: Date.now(), level: 'warn', source: 'boot', message }),
        setupFiles: (source) => setupMedia.filesFor(source),
        dataDir,
      });
      // An engine that gives root up has its share started by its root helper (src/share/share-helper.ts).
      const helper = o.privilege?.target ? o.privilege.shareHelper : undefined;
      const setupMedia = new SetupMediaShare({
        enabled: o.setupShare !== false,
        log: (level, message) => this.publish({ type: 'log', at: Date.now(), level, source: 'engine', message }),
        startShare: helper ? (share) => helper().start(share) : undefined,
      });
      this.setupMedia = setupMedia;
      await chooser.start();
      this.chooser = chooser;
      // A machine booting a netboot tree has the tree as its TFTP/HTTP root.
      this.files.setClientRoot((ip) => chooser.treeRootFor(this.dhcp?.macForIp(ip)));
      const media = chooser.setupMediaToShare();
      if (media) await setupMedia.start(media, { iface: nic.name, address: ipv4.address, prefix: ipv4.prefix, dataDir });
      this.checkStillWanted();
      const signedChain = this.publishSignedChain(chooser);
      if (!o.image && !library.menu().enabled && (await library.assignments()).length === 0) {
        throw new EngineError('no image to serve: give an image, or turn on the library menu or assign images to machines');
      }

      const { mode, reason, others } = await this.chooseMode(nic.name, ipv4.address, nic.mac);
      this.checkStillWanted();
      this.setStatus({ state: 'starting', iface: nic.name, address: ipv4.address, mode, modeReason: reason, otherDhcpServers: others });

      const maxClients = o.maxClients ?? (Number(process.env.PXEKIT_MAX_CLIENTS) || SESSIONS_MAX);
      this.tracker = new SessionTracker({
        planFor: (mac) => chooser.handedPlan(mac),
        maxSessions: maxClients,
        onUpdate: (u) => {
          this.publish(u);
          chooser.onSession(u.session);
          if (u.reason !== 'progress') this.history?.changed();
        },
        onForget: (f) => this.onForgotten(f, maxClients),
      });
      this.history = SessionHistory.open(dataDir, this.tracker, (message) => this.publish({ type: 'log', at: Date.now(), level: 'warn', source: 'engine', message }));
      const startupOthers = others;
      const unsigned = await unsignedBootPrograms(this.files);
      this.field = new FieldDiagnostics({
        iface: nic.name,
        serverIp: ipv4.address,
        mac: nic.mac,
        httpPort,
        tftpPort: o.tftpPort,
        timings: o.diagnosisTimings,
        watchEveryMs: o.watchEveryMs,
        knownServers: () => startupOthers,
        onDiagnosis: (ev) => {
          // The site diagnoses that are also site problems say so (another DHCP server is set by onRogueServer).
          if (!ev.mac && ev.diagnosis.code === 'no-clients') ev.diagnosis.keptAs = 'no-machines-yet';
          if (!ev.mac && ev.diagnosis.code === 'rogue-dhcp') ev.diagnosis.keptAs = 'other-dhcp-server';
          this.publish(ev);
          if (ev.mac) this.tracker?.diagnose(ev.mac, ev.diagnosis);
          if (ev.diagnosis.keptAs === 'no-machines-yet') this.site.set(noMachinesYet(ev.diagnosis));
        },
        siteCauses: (at) => this.site.causesAt(at),
        onRogueServer: this.onRogueServer,
        onWarning: (message) => this.publish({ type: 'log', at: Date.now(), level: 'warn', source: 'engine', message }),
        maxClients,
        unsignedLoader: (file) => unsigned.has(baseName(file)),
      });
      const policy = createBootPolicy({
        serverIp: ipv4.address,
        httpPort,
        binaries,
        scriptPathFor: (mac) => chooser.scriptPathFor(mac),
        secureBoot: o.secureBoot,
        signedChain,
        planFor: (mac) => chooser.plan(mac),
      });
      this.http = new HttpFileServer({ address: ipv4.address, port: httpPort, files: this.files, emit: this.onWire, macForIp: (ip) => this.dhcp?.macForIp(ip) });
      await this.http.start();
      this.checkStillWanted();
      this.tftp = new TftpServer({
        iface: nic.name, ifaceAddress: ipv4.address, port: o.tftpPort ?? 69, files: this.files, emit: this.onWire,
        // After a stall that points at the MTU, that machine is offered smaller blocks (src/diagnostics/rules.ts).
        maxBlksizeFor: (ip) => this.field?.blksizeCap(this.dhcp?.macForIp(ip)),
      });
      await this.tftp.start();
      this.checkStillWanted();
      this.dhcpOptions = {
        iface: nic.name,
        serverIp: ipv4.address,
        prefix: ipv4.prefix,
        range: o.range,
        leaseSeconds: o.leaseSeconds ?? 3600,
        dataDir,
        mode,
        router: o.router,
        dns: o.dns,
        policy,
        emit: this.onWire,
        ownMac: nic.mac,
        tap: this.field.recorder.tapDhcp,
      };
      this.dhcp = new DhcpServer(this.dhcpOptions);
      await this.dhcp.start();
      this.checkStillWanted();
      await this.field.start();
      this.checkStillWanted();
      if (o.openFirewall && process.platform === 'win32') {
        this.firewallDataDir = dataDir;
        this.logFirewall(await openFirewall({ consent: true, nic: nic.name, program: process.execPath, httpPort: this.http?.port ?? httpPort, tftpPort: o.tftpPort, dataDir }));
        this.checkStillWanted();
      }
      this.dropRoot(dataDir, dataDirCreated, media !== undefined && o.setupShare !== false);
      this.ticker = setInterval(() => {
        this.tracker?.tick();
        this.field?.tick();
      }, 1000);
      this.ticker.unref();
      this.linkWatch = new LinkWatcher(nic.name, (up) => (up ? this.site.clear('link-down') : this.site.set(linkDown(nic.name))));
      this.linkWatch.start();
      this.setStatus({ state: 'serving', image: chooser.description, imagePath: o.image ? ('kernel' in o.image ? o.image.kernel : o.image.path) : undefined, servingSince: Date.now(), imageWarning: chooser.warning, ports: { dhcp: 67, pxe: 4011, tftp: o.tftpPort ?? 69, http: this.http.port } });
      // The preflight's firewall check knows Windows Firewall only (src/diagnostics/checks.ts).
      if (process.platform === 'win32') {
        void firewallCheck(process.platform, httpPort).then((c) => {
          this.field?.rules.firewallFinding({ blocking: c.blocking ?? [], missing: c.missing ?? [] });
          const p = fromFirewallCheck(c);
          if (p && this.status.state === 'serving') this.site.set(p);
        }, () => undefined);
      }
    } catch (err) {
      await this.stopServers();
      if (this.stopRequested) {
        this.site.reset();
        this.setStatus({ state: 'stopped', site: [] });
        throw err;
      }
      const message = err instanceof Error ? err.message : String(err);
      this.site.reset();
      this.setStatus({ state: 'error', message, site: [] });
      if (err instanceof NetError && (err.code === 'PORT_IN_USE' || err.code === 'NO_PRIVILEGE' || err.code === 'BIND_FAILED')) this.site.set(portBlocked(message));
      throw err instanceof NetError || err instanceof EngineError ? err : new EngineError(message);
    }
  }

  /**
   * Publishes the signed chain for UEFI x64 machines unless --secure-boot ipxe. Missing
   * binaries stop a start that asked for the chain ('signed') and are a warning otherwise.
   */
  private publishSignedChain(chooser: BootChooser): { shim: string } | undefined {
    const choice = this.opts.secureBoot ?? 'auto';
    if (choice === 'ipxe') return undefined;
    const bins = locateSignedChain(this.opts.signedChainDirs);
    if (!signedChainComplete(bins)) {
      const missing = `the signed shim and GRUB for Secure Boot machines are missing (looked in ${bins.searched.join(', ')}): ${HOW_TO_GET_SIGNED_CHAIN}`;
      if (choice === 'signed') throw new EngineError(`--secure-boot signed: ${missing}`);
      this.publish({ type: 'log', at: Date.now(), level: 'warn', source: 'boot', message: `${missing}. UEFI machines get iPXE, which Secure Boot refuses.` });
      return undefined;
    }
    this.unpublishSignedChain = publishSignedChain(this.files, bins, (rest) => chooser.resolveGrubConfig(rest));
    return { shim: SIGNED_NAMES.shim };
  }
  private unpublishSignedChain?: () => void;

  /** Linux: every privileged port is bound; the engine goes on as the user (src/net/privilege.ts). */
  private dropRoot(dataDir: string, dataDirCreated: boolean, sharing: boolean): void {
    const p = this.opts.privilege;
    const log = (level: 'info' | 'warn', message: string) => this.publish({ type: 'log', at: Date.now(), level, source: 'engine', message });
    if (!p?.target) {
      if (p?.note) log('info', p.note);
      return;
    }
    if (process.getuid?.() === p.target.uid) return; // dropped in an earlier start
    if (sharing && !p.shareHelper) {
      const why = 'the Windows setup share (smbd and its loop-mounted ISO) needs root to be stopped and unmounted';
      if (p.target.via === '--user') throw new EngineError(`--user ${p.target.name}: ${why}, so PXE Kit cannot give up root while it runs; add --no-setup-share, or leave out --user`);
      log('warn', `running as root: ${why}; with --no-setup-share PXE Kit runs as ${p.target.name} after binding`);
      return;
    }
    const img = this.opts.image;
    const readable = !img ? [] : 'kernel' in img ? [img.kernel, ...img.initrds] : [img.path, ...('initrds' in img ? (img.initrds ?? []) : [])];
    log('info', dropPrivileges(p.target, { dataDir, dataDirCreated, readable, writable: p.writable }).message);
  }
  private setupMedia?: SetupMediaShare;

  /** Decides DHCP or proxyDHCP from what answers on the segment. */
  private async chooseMode(iface: string, address: string, mac: string): Promise<{ mode: 'dhcp' | 'proxy'; reason: string; others: OtherDhcpServer[] }> {
    const want = this.opts.mode ?? 'auto';
    if (want === 'proxy') return { mode: 'proxy', reason: 'chosen with --mode proxy', others: [] };
    this.setStatus({ state: 'probing', message: `listening for another DHCP server on ${iface}` });
    const others = await probeDhcpServers({ iface, ifaceAddress: address, mac, seconds: this.opts.probeSeconds ?? 5 });
    const names = others.map((s) => `${s.serverId}${s.mac ? ` (${s.mac})` : ''} offered ${s.offeredIp}`).join('; ');
    if (want === 'auto') {
      return others.length
        ? { mode: 'proxy', reason: `another DHCP server answers: ${names}; PXE Kit only adds the boot information`, others }
        : { mode: 'dhcp', reason: 'no other DHCP server answered', others };
    }
    if (others.length && !this.opts.force) {
      throw new EngineError(
        `Another DHCP server answers on ${iface}: ${names}. Two DHCP servers on one network hand out conflicting addresses. ` +
          'Use --mode proxy to let it hand out addresses while PXE Kit adds the boot information, or --force if you are sure.',
      );
    }
    return { mode: 'dhcp', reason: others.length ? `forced despite ${names}` : 'no other DHCP server answered', others };
  }

  private async stopServers(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    this.linkWatch?.stop();
    this.linkWatch = undefined;
    const closing = [this.dhcp?.stop(), this.tftp?.stop(), this.http?.stop(), this.field?.stop()];
    await Promise.allSettled(closing);
    this.dhcp = this.tftp = this.http = undefined;
    this.files.setClientRoot(undefined);
    await this.chooser?.stop().catch(() => {});
    this.chooser = undefined;
    this.unpublishSignedChain?.();
    this.unpublishSignedChain = undefined;
    await this.setupMedia?.stop().catch(() => {});
    this.setupMedia = undefined;
    await this.history?.flush();
    this.history = undefined;
    if (this.firewallDataDir) {
      const dataDir = this.firewallDataDir;
      this.firewallDataDir = undefined;
      this.logFirewall(await closeFirewall({ dataDir }));
    }
  }

  async stop(): Promise<void> {
    this.stopRequested = true;
    if (this.status.state === 'stopped') return;
    this.setStatus({ state: 'stopping' });
    await this.stopServers();
    this.site.reset();
    this.setStatus({ state: 'stopped', site: [] });
  }
}
