// Watches the served segment for other DHCP servers while PXE Kit serves.
//
// Our DHCP socket on port 67 never sees another server's OFFER/ACK: those go to
// the client port, 68. So the watcher holds its own socket on 68, bound to the
// served NIC (SO_BINDTODEVICE) with SO_REUSEADDR so a DHCP client on this machine
// can share the port. It hears:
//  - every broadcast OFFER/ACK another server sends to a real client (PXE firmware
//    sets the broadcast flag, so a rogue answer to a booting machine is heard);
//  - the answers to its own DISCOVER, sent every few seconds as a plain (non-PXE)
//    client with the NIC's MAC, so proxyDHCP servers stay quiet and only
//    address-giving servers answer (the same probe as src/dhcp/probe.ts). Our own
//    DhcpServer ignores these (DhcpServerOptions.ownMac).
import { randomBytes } from 'node:crypto';
import type dgram from 'node:dgram';
import { openUdpSocket } from '../net/udp.js';
import { decodePacket, encodePacket } from '../dhcp/codec.js';
import { BOOTREPLY, BROADCAST_FLAG, MessageType, Opt, blankPacket, chaddrFromMac, macOf } from '../dhcp/packet.js';
import { getIp, messageType, textBytes } from '../dhcp/options.js';
import type { OtherDhcpServer } from '../sessions/status.js';
import { arpMac } from '../net/arp.js';

export interface SeenDhcpServer extends OtherDhcpServer {
  /** 'offer' or 'ack': what we heard last. */
  message: 'offer' | 'ack';
  /** The client the answer was for (our own MAC when it answered our probe). */
  clientMac: string;
  /** Boot file it named (option 67 / file field), if any: a competing PXE setup. */
  bootFile?: string;
  firstSeen: number;
  lastSeen: number;
  /** 'probe' when it answered our DISCOVER, 'passive' when overheard answering a real client. */
  via: 'probe' | 'passive';
}

export interface RogueWatchOptions {
  iface: string;
  ifaceAddress: string;
  /** The NIC's MAC: chaddr of our probes. */
  mac: string;
  /** How often to send a probe DISCOVER (default 4 s: with a server's ~3 s ping-before-offer, seen within 10 s). */
  everyMs?: number;
  /** Client port; 68 except in tests. */
  clientPort?: number;
  /** Called once per new server. */
  onServer: (s: SeenDhcpServer) => void;
  onWarning?: (message: string) => void;
}

/** Other DHCP servers tracked at most: a real segment has one or two. */
const SERVERS_TRACKED_MAX = 32;

export class RogueDhcpWatcher {
  private sock?: dgram.Socket;
  private timer?: NodeJS.Timeout;
  private readonly seen = new Map<string, SeenDhcpServer>();
  private saidTooMany = false;
  private readonly probeXids = new Set<number>();
  private stopped = false;

  constructor(private readonly opts: RogueWatchOptions) {}

  servers(): SeenDhcpServer[] {
    return [...this.seen.values()].map((s) => ({ ...s }));
  }

  async start(): Promise<void> {
    const o = this.opts;
    try {
      this.sock = await openUdpSocket({
        iface: o.iface, ifaceAddress: o.ifaceAddress, port: o.clientPort ?? 68, anyAddress: true, broadcast: true, reuseAddr: true, purpose: 'DHCP watch',
      });
    } catch (err) {
      o.onWarning?.(`Cannot watch ${o.iface} for other DHCP servers while serving: ${(err as Error).message}`);
      return;
    }
    this.sock.on('message', (buf, rinfo) => this.onMessage(buf, rinfo.address));
    this.sock.on('error', (err) => o.onWarning?.(`DHCP watch socket: ${err.message}`));
    this.probe();
    this.timer = setInterval(() => this.probe(), o.everyMs ?? 4000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    const s = this.sock;
    this.sock = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private probe(): void {
    if (!this.sock || this.stopped) return;
    const xid = randomBytes(4).readUInt32BE(0);
    this.probeXids.add(xid);
    if (this.probeXids.size > 16) this.probeXids.delete(this.probeXids.values().next().value as number);
    const chaddr = chaddrFromMac(this.opts.mac);
    const d = blankPacket({ xid, flags: BROADCAST_FLAG, chaddr });
    d.options.set(Opt.MESSAGE_TYPE, Buffer.from([MessageType.DISCOVER]));
    d.options.set(Opt.CLIENT_ID, Buffer.concat([Buffer.from([1]), chaddr.subarray(0, 6)]));
    d.options.set(Opt.VENDOR_CLASS, textBytes('pxekit-probe'));
    d.options.set(Opt.PARAM_REQUEST_LIST, Buffer.from([Opt.SUBNET_MASK, Opt.ROUTER, Opt.DNS, Opt.SERVER_ID]));
    this.sock.send(encodePacket(d), 67, '255.255.255.255', () => undefined);
  }

  private onMessage(buf: Buffer, from: string): void {
    let p;
    try {
      p = decodePacket(buf);
    } catch {
      return;
    }
    if (p.op !== BOOTREPLY) return;
    const type = messageType(p);
    if (type !== MessageType.OFFER && type !== MessageType.ACK) return;
    const serverId = getIp(p, Opt.SERVER_ID) ?? from;
    // Our own replies (broadcast to clients) and proxyDHCP answers (no address) are not rogue servers.
    if (serverId === this.opts.ifaceAddress || from === this.opts.ifaceAddress) return;
    if (p.yiaddr === '0.0.0.0') return;
    const now = Date.now();
    const key = `${serverId}/${from}`;
    const known = this.seen.get(key);
    const via = this.probeXids.has(p.xid) ? 'probe' : 'passive';
    const bootFile = p.options.get(Opt.BOOTFILE)?.toString('latin1').replace(/\0.*$/, '') || p.file || undefined;
    if (known) {
      known.lastSeen = now;
      known.offeredIp = p.yiaddr;
      return;
    }
    // Forged replies from made-up servers (an attack tool) must not grow this without bound.
    if (this.seen.size >= SERVERS_TRACKED_MAX) {
      if (!this.saidTooMany) this.opts.onWarning?.(`more than ${SERVERS_TRACKED_MAX} different DHCP servers answer on this network: that many is forged traffic (a DHCP attack tool) or a misconfigured relay; PXE Kit stops tracking new ones`);
      this.saidTooMany = true;
      return;
    }
    const s: SeenDhcpServer = {
      serverId, from, offeredIp: p.yiaddr, message: type === MessageType.OFFER ? 'offer' : 'ack', clientMac: macOf(p), firstSeen: now, lastSeen: now, via,
      ...(bootFile ? { bootFile } : {}),
    };
    this.seen.set(key, s);
    // The sender's MAC: ARP knows it once we have talked to it; a datagram to the discard port makes the kernel ask.
    const known1 = arpMac(from);
    if (known1) {
      s.mac = known1;
      this.opts.onServer({ ...s });
      return;
    }
    this.sock?.send(Buffer.alloc(0), 9, from, () => undefined);
    setTimeout(() => {
      const m = arpMac(from);
      if (m) s.mac = m;
      if (!this.stopped) this.opts.onServer({ ...s });
    }, 300).unref();
  }
}
