// What the message handlers (full-mode.ts, proxy-mode.ts, boot-server.ts) get
// from the server: configuration, leases, and ways to answer and report.
import type { BootOffer, BootPolicy } from '../boot/decision.js';
import type { ClientArch, ClientInfo } from '../boot/client.js';
import type { EmitWireEvent, LogLevel } from '../sessions/events.js';
import type { LeaseStore } from './leases.js';
import type { DhcpPacket } from './packet.js';
import type { AddressRange } from './ipv4.js';
import { isBootClient } from './classify.js';

export interface DhcpServerOptions {
  /** NIC to serve on (sockets are bound to it). */
  iface: string;
  /** The NIC's IPv4 address: server identifier (54) and default next-server. */
  serverIp: string;
  /** Subnet prefix length of the NIC address, or give netmask. */
  prefix?: number;
  netmask?: string;
  /** Pool, "A-B" or { start, end }; default: the NIC's whole subnet. */
  range?: string | AddressRange;
  leaseSeconds: number;
  /** Where leases.json and its journal live. */
  dataDir: string;
  /** 'dhcp': hand out addresses; 'proxy': only boot information beside another DHCP server (PXE spec 2.1). */
  mode: 'dhcp' | 'proxy';
  /** Option 3; not sent unless given (a boot network usually has no gateway). */
  router?: string;
  dns?: string[];
  policy: BootPolicy;
  emit: EmitWireEvent;
  /** Ports, for tests; default 67 and 4011. */
  dhcpPort?: number;
  pxePort?: number;
  /** The served NIC's own MAC: DHCP messages from it (PXE Kit's own rogue-server probes) are never answered. */
  ownMac?: string;
  /** Sees every well-formed DHCP payload received and sent (the evidence recorder's pcapng). */
  tap?: (rec: DhcpTapRecord) => void;
}

export interface DhcpTapRecord {
  at: number;
  direction: 'in' | 'out';
  payload: Buffer;
  src: { address: string; port: number };
  dst: { address: string; port: number };
}

/** Where a reply goes and which socket sends it. */
export interface Destination {
  socket: 'dhcp' | 'pxe';
  address: string;
  port: number;
}

export interface HandlerContext {
  opts: DhcpServerOptions;
  netmask: string;
  prefix: number;
  leases?: LeaseStore;
  /** Sends and reports a reply (a DhcpEvent 'out'). */
  send(req: DhcpPacket, reply: DhcpPacket, to: Destination, info: ReplyInfo): void;
  log(level: LogLevel, message: string, mac?: string, extra?: { refusal?: string; arch?: ClientArch }): void;
  /** Remembers ip<->mac seen on the wire (proxy mode has no leases of its own). */
  observe(ip: string | undefined, mac: string): void;
}

export interface ReplyInfo {
  client: ClientInfo;
  proxy: boolean;
  bootFile?: string;
  refusal?: string;
}

export interface BootAnswer {
  offer?: BootOffer;
  refusal?: string;
}

/** Asks the policy, but only about boot clients: a laptop's OS getting an address needs no boot file. */
export function bootAnswer(ctx: HandlerContext, client: ClientInfo, source: 'dhcp' | 'proxy'): BootAnswer {
  if (!isBootClient(client)) return {};
  let decision;
  try {
    decision = ctx.opts.policy.decide(client, { proxy: ctx.opts.mode === 'proxy' });
  } catch (err) {
    ctx.log('error', `boot policy failed for ${client.mac}: ${(err as Error).message}`, client.mac);
    return { refusal: 'internal error in the boot policy' };
  }
  if (decision.kind === 'offer') return { offer: decision };
  const what = source === 'proxy' ? 'no proxyDHCP answer' : 'address only, no boot file';
  // A proxy sends nothing to a refused client, so the log line is the only trace: it carries the
  // refusal for the session (in full DHCP mode the address-only reply carries it instead).
  const extra = source === 'proxy' ? { refusal: decision.reason, arch: client.arch } : undefined;
  ctx.log('warn', `${client.mac} (${client.arch}): ${what}: ${decision.reason}`, client.mac, extra);
  return { refusal: decision.reason };
}

/** RFC 2131 4.1: relay -> giaddr:67; client with an address -> ciaddr:68; otherwise broadcast. */
export function clientDestination(req: DhcpPacket, nak = false): Destination {
  if (req.giaddr !== '0.0.0.0') return { socket: 'dhcp', address: req.giaddr, port: 67 };
  // A NAK tells the client its address is wrong, so it may not be reachable there (4.3.2).
  if (!nak && req.ciaddr !== '0.0.0.0') return { socket: 'dhcp', address: req.ciaddr, port: 68 };
  // Unicasting to yiaddr would need an ARP entry we cannot add from Node; every client hears broadcasts.
  return { socket: 'dhcp', address: '255.255.255.255', port: 68 };
}
