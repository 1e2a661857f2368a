// Full DHCP server behaviour (RFC 2131 4.3): addresses from our pool, plus
// boot information for boot clients.
import { classifyClient } from './classify.js';
import { bootAnswer, clientDestination, type HandlerContext } from './context.js';
import { buildReply } from './reply.js';
import { MessageType, Opt, macOf, type DhcpPacket } from './packet.js';
import { getIp, clientId } from './options.js';
import { inSubnet, subnetOf } from './ipv4.js';
import type { LeaseStore } from './leases.js';

export async function handleFullDhcp(ctx: HandlerContext, req: DhcpPacket, type: number): Promise<void> {
  const leases = ctx.leases as LeaseStore;
  const mac = macOf(req);
  const subnet = subnetOf(ctx.opts.serverIp, ctx.prefix);
  if (req.giaddr !== '0.0.0.0' && !inSubnet(req.giaddr, subnet)) {
    ctx.log('debug', `ignoring ${mac}: relayed from ${req.giaddr}, a network PXE Kit does not serve`, mac);
    return;
  }
  const serverId = getIp(req, Opt.SERVER_ID);
  const client = classifyClient(req);
  const lease = { seconds: ctx.opts.leaseSeconds, netmask: ctx.netmask, router: ctx.opts.router, dns: ctx.opts.dns };

  const answer = async (kind: number, yiaddr: string): Promise<void> => {
    const boot = bootAnswer(ctx, client, 'dhcp');
    const reply = buildReply(req, { type: kind, serverIp: ctx.opts.serverIp, yiaddr, lease, boot: boot.offer, pxe: client.isPxe || client.isHttpBoot });
    ctx.send(req, reply, clientDestination(req), { client, proxy: false, bootFile: boot.offer?.bootFile, refusal: boot.refusal });
  };
  const nak = (why: string): void => {
    ctx.log('info', `NAK to ${mac}: ${why}`, mac);
    const reply = buildReply(req, { type: MessageType.NAK, serverIp: ctx.opts.serverIp, message: why });
    ctx.send(req, reply, clientDestination(req, true), { client, proxy: false });
  };

  switch (type) {
    case MessageType.DISCOVER: {
      const ip = leases.offer(mac, getIp(req, Opt.REQUESTED_IP));
      if (!ip) {
        const unanswered = leases.poolFullNotice();
        if (unanswered === undefined) return;
        const count = unanswered > 1 ? ` (${unanswered} requests unanswered since this was last said; said at most once a minute)` : '';
        return ctx.log('warn', `no free address for ${mac}: the pool ${leases.poolRange.first}-${leases.poolRange.last} is full${count}`, mac);
      }
      return answer(MessageType.OFFER, ip);
    }
    case MessageType.REQUEST: {
      // SELECTING: the client names the server it chose (option 54).
      if (serverId && serverId !== ctx.opts.serverIp) return leases.cancelOffer(mac);
      const wanted = getIp(req, Opt.REQUESTED_IP) ?? (req.ciaddr !== '0.0.0.0' ? req.ciaddr : undefined);
      if (!wanted) return nak('no requested address');
      // INIT-REBOOT / RENEWING / REBINDING: we are the only server here, so we
      // answer authoritatively: ACK if the address is (still) free for this client, else NAK.
      if (!inSubnet(wanted, subnet)) return nak(`${wanted} is not on this network`);
      if (!leases.available(mac, wanted)) return nak(`${wanted} is not available`);
      if (!(await leases.commit(mac, wanted, ctx.opts.leaseSeconds, clientId(req)))) return nak(`${wanted} is not available`);
      ctx.observe(wanted, mac);
      return answer(MessageType.ACK, wanted);
    }
    case MessageType.DECLINE: {
      const ip = getIp(req, Opt.REQUESTED_IP);
      if (!ip || (serverId && serverId !== ctx.opts.serverIp)) return;
      ctx.log('warn', `${mac} declined ${ip}: another machine uses that address; it is out of the pool for a while`, mac);
      return leases.decline(mac, ip);
    }
    case MessageType.RELEASE: {
      if (serverId && serverId !== ctx.opts.serverIp) return;
      if (await leases.release(mac, req.ciaddr)) ctx.log('info', `${mac} released ${req.ciaddr}`, mac);
      return;
    }
    case MessageType.INFORM: {
      // RFC 2131 4.3.5: configuration only, no lease and no yiaddr.
      const boot = bootAnswer(ctx, client, 'dhcp');
      ctx.observe(req.ciaddr, mac);
      const network = { netmask: ctx.netmask, router: ctx.opts.router, dns: ctx.opts.dns };
      const reply = buildReply(req, { type: MessageType.ACK, serverIp: ctx.opts.serverIp, network, boot: boot.offer, pxe: client.isPxe || client.isHttpBoot });
      return ctx.send(req, reply, clientDestination(req), { client, proxy: false, bootFile: boot.offer?.bootFile, refusal: boot.refusal });
    }
    default:
      return;
  }
}
