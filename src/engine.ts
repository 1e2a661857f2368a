// The boot engine: composes the NIC, the published files, the boot policy and
// the DHCP / TFTP / HTTP servers, and turns their wire events into sessions.
// Plain Node, no Electron: the CLI, the API server and the tests all drive this.
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { resolveInterface, defaultInterface } from './net/interfaces.js';
import { NetError } from './net/errors.js';
import { PublishedFiles } from './files/published.js';
import { defaultDataDir } from './files/data-dir.js';
import type { WireEvent } from './sessions/events.js';
import { SessionTracker } from './sessions/tracker.js';
import type { EngineEvent } from './sessions/format.js';
import type { OtherDhcpServer, StatusEvent } from './sessions/status.js';
import { DhcpServer } from './dhcp/server.js';
import { probeDhcpServers } from './dhcp/probe.js';
import { TftpServer } from './tftp/server.js';
import { HttpFileServer } from './http/server.js';
import { locateIpxeBinaries } from './boot/ipxe-binaries.js';
import { createBootPolicy, publishBootPrograms } from './boot/policy.js';
import type { ImageSpec } from './boot/publish-image.js';
import { BootChooser } from './images/boot-chooser.js';
import { ImageLibrary } from './images/library.js';

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
}

export class EngineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineError';
  }
}

/** Emits 'event' (EngineEvent) for everything that happens. */
export class Engine extends EventEmitter {
  readonly files = new PublishedFiles();
  private dhcp?: DhcpServer;
  private tftp?: TftpServer;
  private http?: HttpFileServer;
  private tracker?: SessionTracker;
  private ticker?: NodeJS.Timeout;
  private status: StatusEvent = { type: 'status', at: Date.now(), state: 'stopped' };
  private chooser?: BootChooser;
  /** Set by stop(): a start() still probing or binding gives up at its next step. */
  private stopRequested = false;

  constructor(private readonly opts: EngineOptions) {
    super();
  }

  currentStatus(): StatusEvent {
    return this.status;
  }

  sessions() {
    return this.tracker?.list() ?? [];
  }

  private publish(ev: EngineEvent): void {
    this.emit('event', ev);
  }

  private setStatus(s: Omit<StatusEvent, 'type' | 'at'>): void {
    // A message belongs to the state it was given with; it does not stick to the next one.
    this.status = { ...this.status, message: undefined, ...s, type: 'status', at: Date.now() };
    this.publish(this.status);
  }

  /** Everything the protocol servers report passes here: enrich, track, publish. */
  private onWire = (ev: WireEvent): void => {
    if (ev.type === 'transfer') {
      ev.mac ??= this.dhcp?.macForIp(ev.clientIp);
      ev.role ??= this.files.lookup(ev.file, { percentDecoded: ev.protocol === 'tftp' })?.role;
    }
    this.publish(ev);
    this.tracker?.handle(ev);
    if (ev.type === 'dhcp' && ev.refusal) this.tracker?.refuse(ev.mac, ev.refusal, ev.at);
  };

  private checkStillWanted(): void {
    if (this.stopRequested) throw new EngineError('stopped while starting');
  }

  async start(): Promise<void> {
    const o = this.opts;
    this.stopRequested = false;
    this.setStatus({ state: 'starting' });
    try {
      const nic = o.iface ? resolveInterface(o.iface) : defaultInterface();
      const { ipv4 } = resolveInterface(nic.name);
      const dataDir = o.dataDir ?? defaultDataDir();
      mkdirSync(dataDir, { recursive: true });
      const httpPort = o.httpPort ?? 8080;

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
      });
      await chooser.start();
      this.chooser = chooser;
      if (!o.image && !library.menu().enabled && (await library.assignments()).length === 0) {
        throw new EngineError('no image to serve: give an image, or turn on the library menu or assign images to machines');
      }

      const { mode, reason, others } = await this.chooseMode(nic.name, ipv4.address, nic.mac);
      this.checkStillWanted();
      this.setStatus({ state: 'starting', iface: nic.name, address: ipv4.address, mode, modeReason: reason, otherDhcpServers: others });

      this.tracker = new SessionTracker({
        payloadFiles: (mac) => chooser.payloadPathsFor(mac),
        onUpdate: (u) => {
          this.publish(u);
          chooser.onSession(u.session);
        },
      });
      const policy = createBootPolicy({ serverIp: ipv4.address, httpPort, binaries, scriptPathFor: (mac) => chooser.scriptPathFor(mac) });
      this.http = new HttpFileServer({ address: ipv4.address, port: httpPort, files: this.files, emit: this.onWire, macForIp: (ip) => this.dhcp?.macForIp(ip) });
      await this.http.start();
      this.checkStillWanted();
      this.tftp = new TftpServer({ iface: nic.name, ifaceAddress: ipv4.address, port: o.tftpPort ?? 69, files: this.files, emit: this.onWire });
      await this.tftp.start();
      this.checkStillWanted();
      this.dhcp = new DhcpServer({
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
      });
      await this.dhcp.start();
      this.checkStillWanted();
      this.ticker = setInterval(() => this.tracker?.tick(), 1000);
      this.ticker.unref();
      this.setStatus({ state: 'serving', image: chooser.description, ports: { dhcp: 67, pxe: 4011, tftp: o.tftpPort ?? 69, http: this.http.port } });
    } catch (err) {
      await this.stopServers();
      if (this.stopRequested) {
        this.setStatus({ state: 'stopped' });
        throw err;
      }
      const message = err instanceof Error ? err.message : String(err);
      this.setStatus({ state: 'error', message });
      throw err instanceof NetError || err instanceof EngineError ? err : new EngineError(message);
    }
  }

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
    const closing = [this.dhcp?.stop(), this.tftp?.stop(), this.http?.stop()];
    await Promise.allSettled(closing);
    this.dhcp = this.tftp = this.http = undefined;
    await this.chooser?.stop().catch(() => {});
    this.chooser = undefined;
  }

  async stop(): Promise<void> {
    this.stopRequested = true;
    if (this.status.state === 'stopped') return;
    this.setStatus({ state: 'stopping' });
    await this.stopServers();
    this.setStatus({ state: 'stopped' });
  }
}
