// A scripted PXE firmware client for proxyDHCP tests, run inside a lab
// namespace: `node dhcp-pxe-client.js IFACE`. Like EDK2 it collects every
// OFFER (the address server's and the proxyDHCP one), requests the address,
// configures it, then asks the proxy's boot server on port 4011 for the boot
// file. Prints what it saw as JSON.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openUdpSocket } from '../../src/net/udp.js';
import { decodePacket, encodePacket } from '../../src/dhcp/codec.js';
import { BROADCAST_FLAG, MessageType, Opt, blankPacket, chaddrFromMac, type DhcpPacket } from '../../src/dhcp/packet.js';
import { getIp, getString, ipBytes, messageType, parseSubOptions } from '../../src/dhcp/options.js';

const iface = process.argv[2];
const mac = execFileSync('cat', [`/sys/class/net/${iface}/address`], { encoding: 'utf8' }).trim();
const xid = randomBytes(4).readUInt32BE(0);
const uuid = Buffer.concat([Buffer.from([0]), randomBytes(16)]);

function request(type: number, extra: Array<[number, Buffer]>, ciaddr = '0.0.0.0'): Buffer {
  const p = blankPacket({ xid, flags: ciaddr === '0.0.0.0' ? BROADCAST_FLAG : 0, ciaddr, chaddr: chaddrFromMac(mac) });
  p.options.set(Opt.MESSAGE_TYPE, Buffer.from([type]));
  for (const [k, v] of extra) p.options.set(k, v);
  p.options.set(Opt.MAX_MESSAGE_SIZE, Buffer.from([0x05, 0xc0]));
  p.options.set(Opt.PARAM_REQUEST_LIST, Buffer.from([1, 3, 6, 43, 54, 60, 66, 67, 97, 128, 129]));
  p.options.set(Opt.CLIENT_UUID, uuid);
  p.options.set(Opt.CLIENT_NDI, Buffer.from([1, 3, 0]));
  p.options.set(Opt.CLIENT_ARCH, Buffer.from([0, 7]));
  p.options.set(Opt.VENDOR_CLASS, Buffer.from('PXEClient:Arch:00007:UNDI:003000'));
  return encodePacket(p);
}

function summary(p: DhcpPacket, from: string) {
  const vendor = p.options.get(Opt.VENDOR_SPECIFIC);
  return {
    from,
    type: messageType(p),
    yiaddr: p.yiaddr,
    siaddr: p.siaddr,
    ciaddr: p.ciaddr,
    file: p.file,
    serverId: getIp(p, Opt.SERVER_ID),
    vendorClass: getString(p, Opt.VENDOR_CLASS),
    bootfile: getString(p, Opt.BOOTFILE),
    discoveryControl: vendor ? parseSubOptions(vendor)?.get(6)?.[0] : undefined,
    uuidEcho: p.options.get(Opt.CLIENT_UUID)?.equals(uuid) ?? false,
    lease: p.options.has(Opt.LEASE_TIME),
  };
}
type Summary = ReturnType<typeof summary>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const sock = await openUdpSocket({ iface, ifaceAddress: '0.0.0.0', port: 68, anyAddress: true, broadcast: true });
  const seen: Summary[] = [];
  sock.on('message', (buf, rinfo) => {
    try {
      const p = decodePacket(buf);
      if (p.xid === xid && p.op === 2) seen.push(summary(p, `${rinfo.address}:${rinfo.port}`));
    } catch {
      /* not for us */
    }
  });
  const send = (buf: Buffer, address = '255.255.255.255', port = 67) => new Promise((r) => sock.send(buf, port, address, r));
  const waitFor = async (pred: (s: Summary) => boolean, ms: number) => {
    for (let t = 0; t < ms && !seen.some(pred); t += 50) await sleep(50);
    return seen.find(pred);
  };

  // Like firmware, retransmit and wait for every OFFER, not just the first.
  // dnsmasq pings a new address before offering it (about 3 s), so be patient.
  const discover = request(MessageType.DISCOVER, []);
  const both = () => seen.some((s) => s.yiaddr !== '0.0.0.0') && seen.some((s) => s.yiaddr === '0.0.0.0');
  for (let t = 0; t < 10_000 && !both(); t += 100) {
    if (t % 2000 === 0) await send(discover);
    await sleep(100);
  }
  await sleep(300);
  const offers = seen.filter((s) => s.type === MessageType.OFFER);
  const addressOffer = offers.find((s) => s.yiaddr !== '0.0.0.0');
  const proxyOffer = offers.find((s) => s.yiaddr === '0.0.0.0');
  const result: Record<string, unknown> = { mac, offers };
  if (addressOffer) {
    await send(request(MessageType.REQUEST, [[Opt.SERVER_ID, ipBytes(addressOffer.serverId!)], [Opt.REQUESTED_IP, ipBytes(addressOffer.yiaddr)]]));
    const ack = await waitFor((s) => s.type === MessageType.ACK && s.yiaddr === addressOffer.yiaddr, 5000);
    result.ack = ack;
    if (ack && proxyOffer?.serverId) {
      execFileSync('ip', ['addr', 'add', `${ack.yiaddr}/24`, 'dev', iface]);
      await sleep(200);
      await send(request(MessageType.REQUEST, [], ack.yiaddr), proxyOffer.serverId, 4011);
      result.bootAck = await waitFor((s) => s.type === MessageType.ACK && s.from.endsWith(':4011'), 5000);
    }
  }
  sock.close();
  process.stdout.write(JSON.stringify(result));
}

main().catch((err) => {
  process.stderr.write(String(err?.stack ?? err));
  process.exit(1);
});
