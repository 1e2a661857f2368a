// "Is there already a DHCP server on this network?" Sends DHCPDISCOVERs as an
// ordinary (non-PXE) client, so proxyDHCP servers stay quiet and only
// address-giving servers answer, and collects their OFFERs.
import { randomBytes } from 'node:crypto';
import type dgram from 'node:dgram';
import { openUdpSocket } from '../net/udp.js';
import { NetError } from '../net/errors.js';
import { decodePacket, encodePacket } from './codec.js';
import { BOOTREPLY, BROADCAST_FLAG, MessageType, Opt, blankPacket, chaddrFromMac, macOf } from './packet.js';
import { getIp, messageType, textBytes } from './options.js';
import { arpMac } from '../net/arp.js';

export interface ProbeOptions {
  iface: string;
  ifaceAddress: string;
  /** The NIC's MAC (chaddr of the probe). */
  mac: string;
  seconds: number;
  /** Client port; 68 except in tests. */
  clientPort?: number;
}

export interface ProbeOffer {
  /** Option 54 of the OFFER (or its source address when absent). */
  serverId: string;
  /** Source address of the OFFER (a relay, or the server). */
  from: string;
  offeredIp: string;
  /** The sender's MAC, when the ARP table knows it. */
  mac?: string;
}

/** The offers; `warning` says why the probe could not listen (then the list is empty). */
export type ProbeResult = ProbeOffer[] & { warning?: string };

async function openClientSocket(o: ProbeOptions): Promise<dgram.Socket> {
  const base = { iface: o.iface, ifaceAddress: o.ifaceAddress, port: o.clientPort ?? 68, anyAddress: true, broadcast: true, purpose: 'DHCP client' };
  try {
    return await openUdpSocket(base);
  } catch (err) {
    if (!(err instanceof NetError) || err.code !== 'PORT_IN_USE') throw err;
    // A DHCP client (dhclient, systemd-networkd) holds port 68, usually with
    // SO_REUSEADDR; sharing it still lets us hear broadcast OFFERs.
    return openUdpSocket({ ...base, reuseAddr: true });
  }
}

export async function probeDhcpServers(o: ProbeOptions): Promise<ProbeResult> {
  const found: ProbeResult = [];
  let sock: dgram.Socket;
  try {
    sock = await openClientSocket(o);
  } catch (err) {
    found.warning =
      `Could not check for another DHCP server on ${o.iface}: ${(err as Error).message} ` +
      'Stop the DHCP client on that NIC (it should have a static address for PXE Kit), or choose --mode proxy or --mode dhcp yourself.';
    return found;
  }
  const xid = randomBytes(4).readUInt32BE(0);
  const discover = blankPacket({ xid, flags: BROADCAST_FLAG, chaddr: chaddrFromMac(o.mac) });
  discover.options.set(Opt.MESSAGE_TYPE, Buffer.from([MessageType.DISCOVER]));
  discover.options.set(Opt.CLIENT_ID, Buffer.concat([Buffer.from([1]), chaddrFromMac(o.mac).subarray(0, 6)]));
  discover.options.set(Opt.VENDOR_CLASS, textBytes('pxekit-probe'));
  discover.options.set(Opt.PARAM_REQUEST_LIST, Buffer.from([Opt.SUBNET_MASK, Opt.ROUTER, Opt.DNS, Opt.SERVER_ID]));
  const wire = encodePacket(discover);
  const mac = macOf(discover);

  sock.on('message', (buf, rinfo) => {
    try {
      const p = decodePacket(buf);
      if (p.op !== BOOTREPLY || p.xid !== xid || macOf(p) !== mac || messageType(p) !== MessageType.OFFER) return;
      const serverId = getIp(p, Opt.SERVER_ID) ?? rinfo.address;
      if (found.some((f) => f.serverId === serverId && f.from === rinfo.address)) return;
      const offer: ProbeOffer = { serverId, from: rinfo.address, offeredIp: p.yiaddr };
      const m = arpMac(rinfo.address);
      if (m) offer.mac = m;
      found.push(offer);
    } catch {
      /* not a DHCP reply: ignore */
    }
  });
  sock.on('error', () => undefined);
  const send = (): void => sock.send(wire, 67, '255.255.255.255', () => undefined);
  // Resend every second: a lost broadcast, or a server slow to wake its pool, should not hide it.
  send();
  const timer = setInterval(send, 1000);
  await new Promise((resolve) => setTimeout(resolve, Math.max(0.2, o.seconds) * 1000));
  clearInterval(timer);
  await new Promise<void>((resolve) => sock.close(() => resolve()));
  return found;
}
