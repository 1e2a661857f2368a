// The TFTP server: read-only, serves only what PublishedFiles publishes.
//
// Port 69 only ever receives requests; each accepted RRQ gets its own socket (a new
// TID, RFC 1350 section 4) and a Transfer. Malformed packets are counted and dropped,
// never answered (answering garbage invites reflection) and never thrown.
//
// Events: a refused request (not found, escape attempt) emits one TransferEvent with
// phase 'error'. An accepted one emits 'start' (size, negotiated options in detail),
// 'progress' at most every 250 ms, then 'done' or 'error'. A tsize probe (EDK2 asks
// for the size, gets our OACK, then sends an ERROR) ends with phase 'error',
// errorCode 'aborted', detail 'tsize-probe': the session tracker treats 'aborted'
// as normal, not as a failure.
import type dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { adoptBoundFd, ipLiteralLookup, openUdpSocket } from '../net/udp.js';
import { receiveGuardFor, type ReceiveGuard } from '../net/bind-proof.js';
import type { PumpPool } from './offload/pool.js';
import type { OffloadedTransfer } from './offload/offloaded-transfer.js';
import type * as SockoptLinux from '../net/sockopt-linux.js';
import type { ReadyPorts } from './offload/ready-ports.js';
import { normaliseRequestPath, type ByteSource, type PublishedFile, type PublishedFiles } from '../files/published.js';
import type { EmitWireEvent, TransferEvent } from '../sessions/events.js';
import {
  ERR_ACCESS,
  ERR_DISK_FULL,
  ERR_ILLEGAL_OP,
  ERR_NOT_FOUND,
  ERR_UNDEFINED,
  OP_RRQ,
  OP_WRQ,
  TftpPacketError,
  decodePacket,
  encodeError,
  type RequestPacket,
} from './packet.js';
import { negotiate } from './options.js';
import { NETASCII_MAX_BYTES, netasciiSource } from './netascii.js';
import { newCounters, type TftpCounters, type TftpStats } from './stats.js';
import { Transfer } from './transfer.js';
import type { ReportedTransfer } from './transfer-report.js';
import { SharedSources } from '../files/shared-sources.js';

export interface TftpServerOptions {
  iface: string;
  ifaceAddress: string;
  /** Listening port; 69 unless testing. */
  port?: number;
  files: PublishedFiles;
  emit: EmitWireEvent;
  /** Concurrent transfers overall (default 256). */
  maxTransfers?: number;
  /** Concurrent transfers from one IP address (default 32: one machine fetches one file at a time, but test rigs and chained loaders fetch several). */
  maxPerClient?: number;
  /** Retransmissions of one window before the transfer fails with 'timeout' (default 5). */
  retries?: number;
  /** Retransmission timeout when the client did not negotiate one (default 1000 ms). */
  timeoutMs?: number;
  /** The NIC's MTU; read from /sys/class/net/IFACE/mtu when omitted (1500 if unreadable). */
  mtu?: number;
  /** A lower blksize ceiling for one client (the diagnostics lower it after a stall that points at the MTU). */
  maxBlksizeFor?: (clientIp: string) => number | undefined;
  /**
   * Move the data phase of transfers onto pump threads (src/tftp/offload; Linux; default on;
   * PXEKIT_TFTP_OFFLOAD=0 turns it off too). Off, or where it cannot run, node:dgram carries them.
   */
  offload?: boolean;
}

/** At most this many DropEvents per second (the counters always count every drop). */
const DROP_EVENTS_PER_SECOND = 20;
/**
 * At most this many refusal events (not found, access violation, busy, upload) per second.
 * A request flood (a broken client in a loop, or a scan) must not turn into an unbounded
 * stream of events for the session view and the log; the counters still count every one,
 * and one log line per second says how many were not reported.
 */
const REFUSAL_EVENTS_PER_SECOND = 50;

function readMtu(iface: string): number {
  try {
    const v = Number(readFileSync(`/sys/class/net/${iface}/mtu`, 'utf8').trim());
    return Number.isFinite(v) && v >= 68 ? v : 1500;
  } catch {
    return 1500;
  }
}

export class TftpServer {
  private sock: dgram.Socket | undefined;
  private readonly counters: TftpCounters = newCounters();
  private readonly transfers = new Set<ReportedTransfer>();
  private pool: PumpPool | undefined;
  /** What a transfer on a pump thread needs, loaded with the pool. */
  private offloadKit:
    | {
        OffloadedTransfer: typeof OffloadedTransfer;
        ports: ReadyPorts;
        openDeviceBoundFd: typeof SockoptLinux.openDeviceBoundFd;
        closeFd: typeof SockoptLinux.closeFd;
      }
    | undefined;
  /** Transfers of one file share its open source (a classroom asks for the same boot program at once). */
  private readonly sources = new SharedSources();
  /** Active (or being set up) transfers per client IP, and per "ip:port" (to spot repeated RRQs). */
  private readonly perIp = new Map<string, number>();
  private readonly byPeer = new Map<string, string>();
  private pending = 0;
  private seq = 0;
  private readonly run = randomBytes(2).toString('hex');
  private mtu = 1500;
  private dropWindowStart = 0;
  private dropEventsInWindow = 0;
  private refusalWindowStart = 0;
  private refusalsInWindow = 0;
  private refusalsSuppressed = 0;
  private lastSuppressedFrom = '';
  private flushTimer: NodeJS.Timeout | undefined;
  private lastBusyLogAt = 0;
  private busySinceLog = 0;
  private stopped = false;
  /** The receiving-interface check on requests (bind-proof.ts). */
  private guard?: ReceiveGuard;
  private readonly maxTransfers: number;
  private readonly maxPerClient: number;
  private readonly retries: number;
  private readonly timeoutMs: number;

  constructor(private readonly opts: TftpServerOptions) {
    this.maxTransfers = opts.maxTransfers ?? 256;
    this.maxPerClient = opts.maxPerClient ?? 32;
    this.retries = opts.retries ?? 5;
    this.timeoutMs = opts.timeoutMs ?? 1000;
  }

  get port(): number {
    return this.opts.port ?? 69;
  }

  async start(): Promise<void> {
    this.mtu = this.opts.mtu ?? readMtu(this.opts.iface);
    this.stopped = false;
    const sock = await openUdpSocket({ iface: this.opts.iface, ifaceAddress: this.opts.ifaceAddress, port: this.port, purpose: 'TFTP', lookup: ipLiteralLookup });
    this.sock = sock;
    this.guard = receiveGuardFor(this.opts.iface, this.opts.ifaceAddress);
    sock.on('message', (msg, rinfo) => this.onRequest(msg, rinfo));
    sock.on('error', (err) => this.log('error', `TFTP socket error: ${err.message}`));
    // Loaded only where it can run: the pump threads reach libc through koffi.
    if (this.opts.offload !== false && process.platform === 'linux') {
      // Loaded once here, not per transfer: a dynamic import costs an event-loop hop on the RRQ's path.
      const loaded = await Promise.all([import('./offload/pool.js'), import('./offload/offloaded-transfer.js'), import('../net/sockopt-linux.js'), import('./offload/ready-ports.js')]).catch(
        () => undefined,
      );
      if (loaded) {
        const [{ createPumpPool }, { OffloadedTransfer }, sockopt, { ReadyPorts }] = loaded;
        this.pool = createPumpPool((message) => this.log('error', message));
        const ports = new ReadyPorts(this.opts.iface, this.opts.ifaceAddress, sockopt);
        this.offloadKit = { OffloadedTransfer, ports, openDeviceBoundFd: sockopt.openDeviceBoundFd, closeFd: sockopt.closeFd };
      }
    }
    this.log('info', `TFTP listening on ${this.opts.ifaceAddress}:${this.port} (${this.opts.iface}, MTU ${this.mtu}, blksize up to ${Math.min(65464, this.mtu - 32)}${this.pool ? '' : ', transfers on the main thread'})`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.flushSuppressed();
    const sock = this.sock;
    this.sock = undefined;
    for (const t of [...this.transfers]) t.abort('server stopped');
    if (sock) await new Promise<void>((resolve) => sock.close(() => resolve()));
    // After the aborts: each pump thread tells its clients and closes their sockets, then exits.
    await this.pool?.close();
    this.pool = undefined;
    this.offloadKit?.ports.close();
    // Transfers close their sockets on the next turn of the event loop.
    await new Promise<void>((resolve) => setImmediate(resolve));
    await this.sources.closeAll();
  }

  stats(): TftpStats {
    return {
      ...this.counters,
      droppedByReason: { ...this.counters.droppedByReason },
      activeTransfers: this.transfers.size,
      pendingTransfers: this.pending,
      trackedClients: this.perIp.size,
      trackedPeers: this.byPeer.size,
    };
  }

  /** True when one more refusal may be reported this second; otherwise counts it for the summary line. */
  private mayReport(from: string): boolean {
    const now = Date.now();
    if (now - this.refusalWindowStart >= 1000) {
      this.flushSuppressed();
      this.refusalWindowStart = now;
      this.refusalsInWindow = 0;
    }
    if (this.refusalsInWindow++ < REFUSAL_EVENTS_PER_SECOND) return true;
    this.refusalsSuppressed++;
    this.lastSuppressedFrom = from;
    // The summary goes out even if the flood stops dead within this second.
    this.flushTimer ??= setTimeout(() => this.flushSuppressed(), 1000).unref();
    return false;
  }

  private flushSuppressed(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.refusalsSuppressed === 0) return;
    this.log('warn', `TFTP: request flood: ${this.refusalsSuppressed} more refused requests were not reported one by one (last from ${this.lastSuppressedFrom}); the counters count them all`);
    this.refusalsSuppressed = 0;
  }

  private log(level: 'debug' | 'info' | 'warn' | 'error', message: string): void {
    this.opts.emit({ type: 'log', at: Date.now(), level, source: 'tftp', message });
  }

  private drop(from: string, reason: string): void {
    const c = this.counters;
    c.dropped++;
    c.droppedByReason[reason] = (c.droppedByReason[reason] ?? 0) + 1;
    const now = Date.now();
    if (now - this.dropWindowStart >= 1000) {
      this.dropWindowStart = now;
      this.dropEventsInWindow = 0;
    }
    if (this.dropEventsInWindow++ < DROP_EVENTS_PER_SECOND) this.opts.emit({ type: 'drop', at: now, protocol: 'tftp', from, reason });
  }

  private reply(buf: Buffer, rinfo: dgram.RemoteInfo): void {
    this.sock?.send(buf, rinfo.port, rinfo.address);
  }

  private onRequest(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const from = `${rinfo.address}:${rinfo.port}`;
    if (this.guard?.wrongInterface(rinfo.address) !== undefined) return this.drop(from, 'wrong-interface');
    let pkt;
    try {
      pkt = decodePacket(msg);
    } catch (err) {
      this.drop(from, err instanceof TftpPacketError ? err.reason : 'malformed');
      return;
    }
    if (pkt.op !== OP_RRQ && pkt.op !== OP_WRQ) {
      // DATA/ACK/ERROR/OACK belong on a transfer's port, not here (RFC 1350 section 4).
      this.drop(from, 'not-a-request');
      return;
    }
    this.counters.requests++;
    if (pkt.op === OP_WRQ) {
      this.counters.accessViolations++;
      this.reply(encodeError(ERR_ACCESS, 'Access violation: PXE Kit is read-only'), rinfo);
      if (this.mayReport(rinfo.address)) this.log('warn', `TFTP: refused an upload of "${pkt.filename}" from ${rinfo.address} (read-only server)`);
      return;
    }
    this.onRrq(pkt, rinfo);
  }

  private refusal(rinfo: dgram.RemoteInfo, file: string, errorCode: NonNullable<TransferEvent['errorCode']>, error: string): void {
    if (!this.mayReport(rinfo.address)) return;
    this.opts.emit({
      type: 'transfer',
      at: Date.now(),
      protocol: 'tftp',
      phase: 'error',
      id: this.nextId(),
      clientIp: rinfo.address,
      clientPort: rinfo.port,
      file,
      bytes: 0,
      errorCode,
      error,
    });
  }

  private nextId(): string {
    return `tftp-${this.run}-${++this.seq}`;
  }

  private onRrq(pkt: RequestPacket, rinfo: dgram.RemoteInfo): void {
    const peer = `${rinfo.address}:${rinfo.port}`;
    // TFTP names are bytes; decode them as UTF-8 for the lookup (invalid sequences become
    // U+FFFD and match nothing). They are not URL-encoded: "%2e" is three literal characters.
    const name = Buffer.from(pkt.filename, 'latin1').toString('utf8');
    if (pkt.mode !== 'octet' && pkt.mode !== 'netascii') {
      this.reply(encodeError(ERR_ILLEGAL_OP, `Illegal TFTP operation: unsupported mode "${pkt.mode}"`), rinfo);
      this.drop(peer, 'bad-mode');
      return;
    }
    if (this.byPeer.get(peer) === name) {
      // The client re-sent its RRQ before our first packet arrived: the running transfer's
      // own retransmission answers it; a second transfer would only collide with the first.
      this.counters.duplicateRequests++;
      return;
    }
    if (normaliseRequestPath(name, { percentDecoded: true }) === undefined) {
      this.counters.accessViolations++;
      this.reply(encodeError(ERR_ACCESS, 'Access violation'), rinfo);
      this.refusal(rinfo, name, 'access-violation', `refused "${name}": the path tries to leave the published files`);
      return;
    }
    const file = this.opts.files.lookup(name, { percentDecoded: true, clientIp: rinfo.address });
    if (!file) {
      this.counters.notFound++;
      this.reply(encodeError(ERR_NOT_FOUND, 'File not found'), rinfo);
      this.refusal(rinfo, name, 'not-found', `"${name}" is not published`);
      return;
    }
    const active = this.transfers.size + this.pending;
    const fromIp = this.perIp.get(rinfo.address) ?? 0;
    if (active >= this.maxTransfers || fromIp >= this.maxPerClient) {
      this.counters.refused++;
      this.reply(encodeError(ERR_DISK_FULL, 'Server busy: too many transfers, try again'), rinfo);
      const why = active >= this.maxTransfers ? `${active} transfers running (limit ${this.maxTransfers})` : `${fromIp} transfers running for this client (limit ${this.maxPerClient})`;
      // Its own budget (one line a second with a count), so a flood of bogus requests cannot hide the cap being hit.
      this.busySinceLog++;
      const now = Date.now();
      if (now - this.lastBusyLogAt >= 1000) {
        const more = this.busySinceLog > 1 ? ` (${this.busySinceLog} requests refused as busy since the last such line)` : '';
        this.log('warn', `TFTP: refused "${name}" to ${peer}: busy, ${why}${more}`);
        this.lastBusyLogAt = now;
        this.busySinceLog = 0;
      }
      return;
    }
    // Reserve the slot now: setting up takes a few awaits and requests keep arriving.
    this.pending++;
    this.perIp.set(rinfo.address, fromIp + 1);
    this.byPeer.set(peer, name);
    void this.setUp(pkt, rinfo, name, file.role, () => this.sources.acquire(file)).then(
      (t) => {
        this.pending--;
        if (!t) return this.release(rinfo.address, peer, name);
        this.transfers.add(t);
        if (this.stopped) return t.abort('server stopped'); // onEnd releases
        t.start();
      },
      () => {
        this.pending--;
        this.release(rinfo.address, peer, name);
      },
    );
  }

  private release(ip: string, peer: string, name: string): void {
    const left = (this.perIp.get(ip) ?? 1) - 1;
    if (left > 0) this.perIp.set(ip, left);
    else this.perIp.delete(ip);
    if (this.byPeer.get(peer) === name) this.byPeer.delete(peer);
  }

  private onEnd(t: ReportedTransfer): void {
    if (!this.transfers.delete(t)) return;
    this.release(t.peerAddress, `${t.peerAddress}:${t.peerPort}`, t.file);
  }

  private async setUp(pkt: RequestPacket, rinfo: dgram.RemoteInfo, name: string, role: PublishedFile['role'], open: () => Promise<ByteSource>): Promise<ReportedTransfer | undefined> {
    let source: ByteSource;
    try {
      source = await open();
      if (pkt.mode === 'netascii') {
        if (source.size > NETASCII_MAX_BYTES) {
          await source.close();
          this.reply(encodeError(ERR_UNDEFINED, 'File too large for netascii mode, use octet (binary)'), rinfo);
          this.refusal(rinfo, name, 'io', `"${name}" asked in netascii mode is over ${NETASCII_MAX_BYTES} bytes`);
          return undefined;
        }
        source = await netasciiSource(source);
      }
    } catch (err) {
      this.reply(encodeError(ERR_NOT_FOUND, 'File not found'), rinfo);
      this.refusal(rinfo, name, 'io', `cannot read "${name}": ${(err as Error).message}`);
      return undefined;
    }
    const direct = this.pool?.usable && this.offloadKit ? source.directRead?.() : undefined;
    let sock: dgram.Socket | undefined;
    let fd: number | undefined;
    let stray: dgram.Socket | undefined;
    let openStray: (() => dgram.Socket | undefined) | undefined;
    try {
      // The transfer's own port (its TID), connect()ed to the client: the kernel hands
      // this socket only that client's packets and sends without a route lookup per
      // packet (lockstep transfers are bound by per-packet cost). A second, unconnected
      // socket on the same port hears every other sender, so a wrong TID still gets
      // error 5 (RFC 1350 section 4): for unicast UDP, Linux delivers to the socket
      // whose bound and connected addresses match best, and a connected one wins for its peer.
      // With a pump thread, the transfer's socket is a bare fd that the thread polls itself.
      const base = { iface: this.opts.iface, ifaceAddress: this.opts.ifaceAddress, purpose: 'TFTP transfer', lookup: ipLiteralLookup };
      if (direct) {
        // Opened synchronously: no event-loop hop between the RRQ and the OACK. The wrong-TID
        // socket is opened by the transfer once its first packet is out.
        const kit = this.offloadKit!;
        let port: number;
        ({ fd, port } = kit.ports.take(rinfo.address, rinfo.port));
        const strayFailed = (err: Error) => this.log('warn', `TFTP: the wrong-TID socket of a transfer to ${rinfo.address}: ${err.message}`);
        openStray = () => {
          try {
            return adoptBoundFd(kit.openDeviceBoundFd({ device: this.opts.iface, address: this.opts.ifaceAddress, port, reuseAddr: true }), strayFailed, ipLiteralLookup);
          } catch (err) {
            strayFailed(err as Error);
            return undefined;
          }
        };
      } else {
        sock = await openUdpSocket({ ...base, port: 0, shareAfterBind: true });
        stray = await openUdpSocket({ ...base, port: sock.address().port, reuseAddr: true });
      }
      const s = sock;
      // dgram passes a connect error to the callback (its typings omit the argument).
      if (s) await new Promise<void>((resolve, reject) => s.connect(rinfo.port, rinfo.address, ((err?: Error) => (err ? reject(err) : resolve())) as () => void));
    } catch (err) {
      for (const s of [sock, stray]) {
        try {
          s?.close();
        } catch {
          /* not open */
        }
      }
      if (fd !== undefined) this.offloadKit?.closeFd(fd);
      await source.close().catch(() => undefined);
      this.reply(encodeError(ERR_UNDEFINED, 'Server error'), rinfo);
      this.refusal(rinfo, name, 'io', `cannot open a transfer socket: ${(err as Error).message}`);
      return undefined;
    }
    // negotiate() clamps blksize to mtu - 32: a per-client ceiling is expressed as a smaller MTU.
    const cap = this.opts.maxBlksizeFor?.(rinfo.address);
    const negotiated = negotiate(pkt.options, source.size, { mtu: cap ? Math.min(this.mtu, cap + 32) : this.mtu });
    const common = {
      id: this.nextId(),
      peerAddress: rinfo.address,
      peerPort: rinfo.port,
      file: name,
      role,
      source,
      negotiated,
      timeoutMs: this.timeoutMs,
      retries: this.retries,
      emit: this.opts.emit,
      counters: this.counters,
      drop: (from: string, reason: string) => this.drop(from, reason),
      onEnd: (t: ReportedTransfer) => this.onEnd(t),
    };
    if (fd !== undefined && direct && this.pool && this.offloadKit && openStray) {
      return new this.offloadKit.OffloadedTransfer({ ...common, pool: this.pool, fd, pumpSource: direct, openStray });
    }
    return new Transfer({ ...common, stray, sock: sock! });
  }
}
