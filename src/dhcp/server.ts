// PXE Kit's DHCP side: a full DHCP server or a proxyDHCP server on port 67,
// plus the PXE boot server on port 4011, bound to the one NIC chosen.
// Every message in and out becomes a DhcpEvent; malformed packets are dropped,
// counted and reported (DropEvent), never fatal.
import type dgram from 'node:dgram';
import { bindProofOf, ipLiteralLookup, openUdpSocket } from '../net/udp.js';
import { BindingNotProven, otherNetworks, ReceiveGuard, requireProof } from '../net/bind-proof.js';
import type { LogLevel } from '../sessions/events.js';
import type { ClientArch } from '../boot/client.js';
import { decodePacket, DhcpDecodeError, encodePacketReport } from './codec.js';
import { classifyClient } from './classify.js';
import type { DhcpServerOptions, Destination, HandlerContext, ReplyInfo } from './context.js';
import { handleFullDhcp } from './full-mode.js';
import { handleBootServer, handleProxy } from './proxy-mode.js';
import { netmaskToPrefix, prefixToNetmask } from './ipv4.js';
import { LeaseStore } from './leases.js';
import { messageName, messageType, getIp } from './options.js';
import { BOOTREQUEST, Opt, macOf, type DhcpPacket } from './packet.js';
import { maxPayloadFor } from './reply.js';
import { IpMacTable } from './ip-mac.js';

export type { DhcpServerOptions } from './context.js';

export interface DhcpStats {
  received: number;
  sent: number;
  /** Malformed packets (not DHCP, truncated, bad options), and datagrams from another NIC's network ('wrong-interface'). */
  dropped: number;
  /** Well-formed packets we do not answer (replies, BOOTP, other servers' clients...). */
  ignored: number;
  dropReasons: Record<string, number>;
}

/**
 * Receive queue for ports 67 and 4011. The default (~160 packets) overflowed whenever the
 * event loop paused for a garbage collection or a burst of replies under a DHCP storm:
 * perfdhcp at 2000 exchanges/s lost 0.1-1.5% of its packets in our socket's queue while the
 * engine was on average far from busy; with 4 MiB, none (docs/performance.md).
 */
const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

/**
 * At most this many DropEvents (malformed packets) per second, as TFTP limits its refusals:
 * a flood of garbage on port 67 must not become an unbounded stream of events for the log
 * and the API's event ring. The counters count every drop, and one log line per second says
 * how many were not reported one by one.
 */
export const DROP_EVENTS_PER_SECOND = 20;

export class DhcpServer {
  private readonly sockets: { dhcp?: dgram.Socket; pxe?: dgram.Socket } = {};
  private readonly counters: DhcpStats = { received: 0, sent: 0, dropped: 0, ignored: 0, dropReasons: {} };
  private readonly seen = new IpMacTable();
  private readonly ctx: HandlerContext;
  private store?: LeaseStore;
  private dropWindowStart = 0;
  private dropsInWindow = 0;
  private dropsSuppressed = 0;
  private lastSuppressedFrom = '';
  private flushTimer: NodeJS.Timeout | undefined;
  /** The receiving-interface check on every datagram (bind-proof.ts). */
  private guard?: ReceiveGuard;

  constructor(readonly opts: DhcpServerOptions) {
    const prefix = opts.prefix ?? (opts.netmask ? netmaskToPrefix(opts.netmask) : undefined);
    if (prefix === undefined) throw new Error('DhcpServer needs the NIC\'s prefix or netmask');
    this.ctx = {
      opts,
      prefix,
      netmask: prefixToNetmask(prefix),
      send: (req, reply, to, info) => this.send(req, reply, to, info),
      log: (level, message, mac, extra) => this.log(level, message, mac, extra),
      observe: (ip, mac) => ip && ip !== '0.0.0.0' && this.seen.set(ip, mac),
    };
  }

  async start(): Promise<void> {
    const o = this.opts;
    if (o.mode === 'dhcp') {
      this.store = await LeaseStore.open({ serverIp: o.serverIp, prefix: this.ctx.prefix, range: o.range, dataDir: o.dataDir });
      this.ctx.leases = this.store;
      if (this.store.loadProblem) this.log('warn', this.store.loadProblem);
      const r = this.store.poolRange;
      this.log('info', `DHCP on ${o.iface}: addresses ${r.first}-${r.last} (${r.size}), lease ${o.leaseSeconds}s`);
    } else {
      this.log('info', `proxyDHCP on ${o.iface}: boot information only; addresses come from the network's DHCP server`);
    }
    // Replies go to IP literals only (the client, its relay, or the broadcast address).
    const common = { iface: o.iface, ifaceAddress: o.serverIp, receiveBufferBytes: RECEIVE_BUFFER_BYTES, lookup: ipLiteralLookup };
    try {
      // Each socket must be provably tied to the NIC, or DHCP does not start (never a fallback to every interface).
      this.sockets.dhcp = await openUdpSocket({ ...common, port: o.dhcpPort ?? 67, anyAddress: true, broadcast: true, purpose: 'DHCP' });
      requireProof(bindProofOf(this.sockets.dhcp) ?? { proven: false, platform: process.platform, why: 'no proof recorded for the socket' }, o.iface, 'DHCP');
      this.sockets.pxe = await openUdpSocket({ ...common, port: o.pxePort ?? 4011, broadcast: true, purpose: 'PXE boot server' });
      requireProof(bindProofOf(this.sockets.pxe) ?? { proven: false, platform: process.platform, why: 'no proof recorded for the socket' }, o.iface, 'PXE boot server');
    } catch (err) {
      if (err instanceof BindingNotProven) this.log('error', err.message);
      await this.stop();
      throw err;
    }
    this.guard = new ReceiveGuard({ address: o.serverIp, prefix: this.ctx.prefix }, otherNetworks(o.iface));
    for (const kind of ['dhcp', 'pxe'] as const) {
      const sock = this.sockets[kind]!;
      sock.on('message', (buf, rinfo) => this.receive(kind, buf, rinfo));
      sock.on('error', (err) => this.log('error', `${kind} socket: ${err.message}`));
    }
  }

  async stop(): Promise<void> {
    this.flushSuppressed();
    for (const kind of ['dhcp', 'pxe'] as const) {
      const sock = this.sockets[kind];
      this.sockets[kind] = undefined;
      if (sock) await new Promise<void>((resolve) => sock.close(() => resolve()));
    }
    await this.store?.close().catch((err: Error) => this.log('error', `could not save leases: ${err.message}`));
  }

  stats(): DhcpStats {
    return { ...this.counters, dropReasons: { ...this.counters.dropReasons } };
  }

  get leases(): LeaseStore | undefined {
    return this.store;
  }

  /** Which machine has this address: from our leases or from DHCP traffic seen (proxy mode). */
  macForIp(ip: string): string | undefined {
    return this.seen.get(ip) ?? this.store?.macForIp(ip);
  }

  private drop(from: string, reason: string): void {
    this.counters.dropped++;
    this.counters.dropReasons[reason] = (this.counters.dropReasons[reason] ?? 0) + 1;
    const now = Date.now();
    if (now - this.dropWindowStart >= 1000) {
      this.flushSuppressed();
      this.dropWindowStart = now;
      this.dropsInWindow = 0;
    }
    if (this.dropsInWindow++ < DROP_EVENTS_PER_SECOND) return this.opts.emit({ type: 'drop', at: now, protocol: 'dhcp', from, reason });
    this.dropsSuppressed++;
    this.lastSuppressedFrom = from;
    // The summary goes out even if the flood stops dead within this second.
    this.flushTimer ??= setTimeout(() => this.flushSuppressed(), 1000).unref();
  }

  private flushSuppressed(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.dropsSuppressed === 0) return;
    this.log('warn', `DHCP: malformed packet flood: ${this.dropsSuppressed} more malformed packets were not reported one by one (last from ${this.lastSuppressedFrom}); the counters count them all`);
    this.dropsSuppressed = 0;
  }

  private receive(kind: 'dhcp' | 'pxe', buf: Buffer, rinfo: dgram.RemoteInfo): void {
    this.counters.received++;
    const from = `${rinfo.address}:${rinfo.port}`;
    // From the network of another of this host's NICs: it did not come from the chosen one's.
    if (this.guard?.wrongInterface(rinfo.address) !== undefined) return this.drop(from, 'wrong-interface');
    let req: DhcpPacket;
    try {
      req = decodePacket(buf);
    } catch (err) {
      if (err instanceof DhcpDecodeError) return this.drop(from, err.message.replace(/\d+/g, 'N'));
      return this.drop(from, `unexpected: ${(err as Error).message}`);
    }
    if (req.op !== BOOTREQUEST) return void this.counters.ignored++;
    const type = messageType(req);
    if (type === undefined) {
      if (req.options.has(Opt.MESSAGE_TYPE)) return this.drop(from, 'bad DHCP message type');
      this.counters.ignored++; // plain BOOTP: PXE firmware always speaks DHCP
      return;
    }
    const client = classifyClient(req);
    // Our own rogue-server probe (src/diagnostics/rogue-watch.ts) is not a client.
    if (this.opts.ownMac && client.mac === this.opts.ownMac.toLowerCase()) return void this.counters.ignored++;
    const port = kind === 'dhcp' ? (this.opts.dhcpPort ?? 67) : (this.opts.pxePort ?? 4011);
    this.opts.tap?.({
      at: Date.now(), direction: 'in', payload: buf, src: { address: rinfo.address, port: rinfo.port },
      dst: { address: kind === 'pxe' || req.ciaddr !== '0.0.0.0' ? this.opts.serverIp : '255.255.255.255', port },
    });
    const ip = getIp(req, Opt.REQUESTED_IP) ?? (req.ciaddr !== '0.0.0.0' ? req.ciaddr : undefined);
    this.opts.emit({
      type: 'dhcp', at: Date.now(), direction: 'in', message: messageName(type)!, mac: client.mac, xid: req.xid, port,
      ip, arch: client.arch, vendorClass: client.vendorClass, isIpxe: client.isIpxe, serverId: getIp(req, Opt.SERVER_ID), secs: req.secs,
    });
    const handled = (async () => {
      if (kind === 'pxe') handleBootServer(this.ctx, req, type, rinfo);
      else if (this.opts.mode === 'proxy') handleProxy(this.ctx, req, type);
      else await handleFullDhcp(this.ctx, req, type);
    })();
    handled.catch((err: Error) => this.log('error', `handling ${messageName(type)} from ${macOf(req)}: ${err.message}`, macOf(req)));
  }

  private send(req: DhcpPacket, reply: DhcpPacket, to: Destination, info: ReplyInfo): void {
    const sock = this.sockets[to.socket];
    if (!sock) return;
    const { buffer, dropped } = encodePacketReport(reply, { maxPayload: maxPayloadFor(req) });
    if (dropped.length) this.log('warn', `reply to ${info.client.mac} too big for the client; left out options ${dropped.join(', ')}`, info.client.mac);
    const message = messageName(messageType(reply) ?? 0) ?? 'ack';
    const srcPort = to.socket === 'dhcp' ? (this.opts.dhcpPort ?? 67) : (this.opts.pxePort ?? 4011);
    this.opts.tap?.({ at: Date.now(), direction: 'out', payload: buffer, src: { address: this.opts.serverIp, port: srcPort }, dst: { address: to.address, port: to.port } });
    sock.send(buffer, to.port, to.address, (err) => {
      if (err) return this.log('warn', `could not send ${message} to ${to.address}:${to.port}: ${err.message}`, info.client.mac);
      this.counters.sent++;
    });
    if (reply.yiaddr !== '0.0.0.0' && message === 'ack') this.seen.set(reply.yiaddr, info.client.mac);
    const c = info.client;
    this.opts.emit({
      type: 'dhcp', at: Date.now(), direction: 'out', message, mac: c.mac, xid: reply.xid,
      port: to.socket === 'dhcp' ? (this.opts.dhcpPort ?? 67) : (this.opts.pxePort ?? 4011),
      ip: reply.yiaddr !== '0.0.0.0' ? reply.yiaddr : undefined, arch: c.arch, vendorClass: c.vendorClass, isIpxe: c.isIpxe,
      bootFile: info.bootFile, proxy: info.proxy, serverId: this.opts.serverIp, ...(info.refusal ? { refusal: info.refusal } : {}),
    });
  }

  private log(level: LogLevel, message: string, mac?: string, extra?: { refusal?: string; arch?: ClientArch }): void {
    this.opts.emit({ type: 'log', at: Date.now(), level, source: this.opts.mode === 'proxy' ? 'proxy' : 'dhcp', message, ...(mac ? { mac } : {}), ...extra });
  }
}
