// proxyDHCP (PXE spec 2.1, 2.2.5): another server hands out addresses; we only
// tell PXE/HTTP boot firmware what to boot. Port 67 gets a proxy OFFER (no
// address: yiaddr 0, option 54 = us, 60, 43, boot file); the firmware merges
// it with the real server's OFFER.
import { classifyClient } from './classify.js';
import { bootAnswer, clientDestination, type HandlerContext } from './context.js';
import { buildReply } from './reply.js';
import { MessageType, Opt, macOf, type DhcpPacket } from './packet.js';
import { getIp } from './options.js';

export function handleProxy(ctx: HandlerContext, req: DhcpPacket, type: number): void {
  const mac = macOf(req);
  // Requests to the real server still tell us who will have which address,
  // so TFTP/HTTP transfers can be tied to a MAC although we hold no leases.
  if (type === MessageType.REQUEST || type === MessageType.INFORM) {
    ctx.observe(getIp(req, Opt.REQUESTED_IP) ?? (req.ciaddr !== '0.0.0.0' ? req.ciaddr : undefined), mac);
  }
  const client = classifyClient(req);
  if (!client.isPxe && !client.isHttpBoot) return; // not ours to answer: the real DHCP server does
  const serverId = getIp(req, Opt.SERVER_ID);
  let replyType: number;
  if (type === MessageType.DISCOVER) replyType = MessageType.OFFER;
  else if (type === MessageType.INFORM) replyType = MessageType.ACK;
  // A REQUEST for the real server's offer is none of our business; one addressed to us
  // (some firmware confirm the proxy offer on 67) gets the boot file again.
  else if (type === MessageType.REQUEST && serverId === ctx.opts.serverIp) replyType = MessageType.ACK;
  else return;
  const boot = bootAnswer(ctx, client, 'proxy');
  // A refused client gets nothing at all from a proxy: the real server's offer stands alone.
  if (!boot.offer) return;
  const reply = buildReply(req, { type: replyType, serverIp: ctx.opts.serverIp, boot: boot.offer, pxe: true });
  ctx.send(req, reply, clientDestination(req), { client, proxy: true, bootFile: boot.offer.bootFile });
}

/**
 * The PXE boot server port (4011, PXE spec 2.2.6): a client that already has
 * an address asks (REQUEST, or INFORM) for its boot file, and the ACK goes
 * straight back to the address and port it came from. EDK2 does this in
 * proxyDHCP setups; we answer in both modes.
 */
export function handleBootServer(ctx: HandlerContext, req: DhcpPacket, type: number, from: { address: string; port: number }): void {
  if (type !== MessageType.REQUEST && type !== MessageType.INFORM) return;
  const client = classifyClient(req);
  ctx.observe(req.ciaddr !== '0.0.0.0' ? req.ciaddr : from.address, client.mac);
  const boot = bootAnswer(ctx, client, ctx.opts.mode === 'proxy' ? 'proxy' : 'dhcp');
  if (!boot.offer) return;
  const reply = buildReply(req, { type: MessageType.ACK, serverIp: ctx.opts.serverIp, boot: boot.offer, pxe: true });
  ctx.send(req, reply, { socket: 'pxe', address: from.address, port: from.port }, { client, proxy: ctx.opts.mode === 'proxy', bootFile: boot.offer.bootFile });
}
