// Building replies: which options, in which order, how big. Order is priority:
// the encoder drops from the tail when a client's maximum message size (57) is
// too small, so what a client needs to boot comes before niceties.
import type { BootOffer } from '../boot/decision.js';
import { BOOTREPLY, IP_UDP_OVERHEAD, DEFAULT_MAX_PAYLOAD, MessageType, Opt, blankPacket, type DhcpPacket } from './packet.js';
import { ipBytes, ipListBytes, maxMessageSize, paramRequestList, parseSubOptions, encodeSubOptions, PxeSub, textBytes, u32Bytes } from './options.js';
import { intToIp, ipToInt } from './ipv4.js';

export interface ReplyParams {
  type: number;
  serverIp: string;
  /** The address given (OFFER/ACK in DHCP mode); omitted in proxy replies and INFORM ACKs. */
  yiaddr?: string;
  lease?: { seconds: number; netmask: string; router?: string; dns?: string[] };
  /** For INFORM ACKs: network parameters without a lease. */
  network?: { netmask: string; router?: string; dns?: string[] };
  boot?: BootOffer;
  /** Client is PXE/HTTP firmware: add 60 (and 43 for PXEClient) so it takes this as a PXE offer. */
  pxe?: boolean;
  /** Option 56 text (NAKs). */
  message?: string;
}

/** Options sent even when the client's option 55 does not ask for them (boot and basic addressing). */
const ALWAYS = new Set<number>([Opt.SUBNET_MASK, Opt.ROUTER, Opt.DNS, Opt.VENDOR_CLASS, Opt.VENDOR_SPECIFIC, Opt.BOOTFILE, Opt.CLIENT_UUID]);
/** RFC 2131 table 3: always first, whatever the client asked. */
const HEAD = [Opt.MESSAGE_TYPE, Opt.SERVER_ID, Opt.LEASE_TIME, Opt.RENEWAL_TIME, Opt.REBINDING_TIME];

/** The largest DHCP payload this client accepts (option 57 counts IP+UDP headers). */
export function maxPayloadFor(req: DhcpPacket): number {
  const m = maxMessageSize(req);
  return m ? m - IP_UDP_OVERHEAD : DEFAULT_MAX_PAYLOAD;
}

/** PXE option 43 for the reply; echoes the boot item (71) a boot-server request named (PXE spec 2.2.6). */
function pxeVendor(req: DhcpPacket): Buffer {
  const subs: Array<[number, Buffer]> = [[PxeSub.DISCOVERY_CONTROL, Buffer.from([8])]];
  const asked = req.options.get(Opt.VENDOR_SPECIFIC);
  const item = asked && parseSubOptions(asked)?.get(PxeSub.BOOT_ITEM);
  if (item && item.length === 4) subs.push([PxeSub.BOOT_ITEM, item]);
  return encodeSubOptions(subs);
}

export function buildReply(req: DhcpPacket, p: ReplyParams): DhcpPacket {
  const nak = p.type === MessageType.NAK;
  const reply = blankPacket({
    op: BOOTREPLY,
    htype: req.htype,
    hlen: req.hlen,
    xid: req.xid,
    flags: req.flags,
    giaddr: req.giaddr,
    chaddr: Buffer.from(req.chaddr),
    // RFC 2131 table 3: ciaddr is echoed in ACKs to INFORM/renewal, zero otherwise.
    ciaddr: !nak && p.type === MessageType.ACK ? req.ciaddr : '0.0.0.0',
    yiaddr: p.yiaddr ?? '0.0.0.0',
  });
  const opts = new Map<number, Buffer>();
  opts.set(Opt.MESSAGE_TYPE, Buffer.from([p.type]));
  opts.set(Opt.SERVER_ID, ipBytes(p.serverIp));
  if (nak) {
    if (p.message) opts.set(Opt.MESSAGE, textBytes(p.message));
    reply.options = opts;
    return reply;
  }
  const net = p.lease ?? p.network;
  if (p.lease) {
    opts.set(Opt.LEASE_TIME, u32Bytes(p.lease.seconds));
    opts.set(Opt.RENEWAL_TIME, u32Bytes(Math.floor(p.lease.seconds / 2)));
    opts.set(Opt.REBINDING_TIME, u32Bytes(Math.floor((p.lease.seconds * 7) / 8)));
  }
  if (net) {
    opts.set(Opt.SUBNET_MASK, ipBytes(net.netmask));
    if (net.router) opts.set(Opt.ROUTER, ipBytes(net.router));
    if (net.dns?.length) opts.set(Opt.DNS, ipListBytes(net.dns));
    const addr = p.yiaddr ?? (req.ciaddr !== '0.0.0.0' ? req.ciaddr : undefined);
    if (addr) opts.set(Opt.BROADCAST, ipBytes(intToIp((ipToInt(addr) | (~ipToInt(net.netmask) >>> 0)) >>> 0)));
  }
  if (p.boot) {
    reply.siaddr = p.boot.nextServer;
    // The BOOTP file field is what classic PXE ROMs read; long URLs only fit option 67.
    if (Buffer.byteLength(p.boot.bootFile, 'latin1') < 128) reply.file = p.boot.bootFile;
    if (p.pxe) {
      opts.set(Opt.VENDOR_CLASS, textBytes(p.boot.httpClient ? 'HTTPClient' : 'PXEClient'));
      if (!p.boot.httpClient) opts.set(Opt.VENDOR_SPECIFIC, pxeVendor(req));
    }
    opts.set(Opt.TFTP_SERVER, textBytes(p.boot.nextServer));
    opts.set(Opt.BOOTFILE, textBytes(p.boot.bootFile));
  }
  const uuid = req.options.get(Opt.CLIENT_UUID);
  // PXE spec 2.1: servers echo the client's UUID; some firmware discard replies without it.
  if (uuid && p.pxe) opts.set(Opt.CLIENT_UUID, uuid);
  reply.options = orderOptions(opts, paramRequestList(req));
  return reply;
}

/** HEAD first, then what the client asked for in its order, then ALWAYS ones it did not ask for. */
export function orderOptions(opts: Map<number, Buffer>, prl: number[] | undefined): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (const code of HEAD) if (opts.has(code)) out.set(code, opts.get(code)!);
  for (const code of prl ?? []) if (opts.has(code) && !out.has(code)) out.set(code, opts.get(code)!);
  for (const [code, v] of opts) if (!out.has(code) && (!prl || ALWAYS.has(code))) out.set(code, v);
  return out;
}
