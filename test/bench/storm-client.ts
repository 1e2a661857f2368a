// N simulated PXE machines powering on at once, run inside the lab's client namespace:
//   node storm-client.js IFACE N
// Each machine (its own MAC, then its own leased address) does what UEFI firmware and
// iPXE do: DHCP DORA as a PXEClient (arch 7, EFI x64) -> the boot program over TFTP
// (blksize 1468, tsize, lockstep like firmware) -> DHCP again as iPXE (option 77) ->
// the per-machine iPXE script over HTTP -> the kernel and initrd URLs it names.
// Prints one JSON line: per-machine phase times, failures, totals.
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { openUdpSocket } from '../../src/net/udp.js';
import { decodePacket, encodePacket } from '../../src/dhcp/codec.js';
import { BROADCAST_FLAG, MessageType, Opt, blankPacket, chaddrFromMac, macOf, type DhcpPacket } from '../../src/dhcp/packet.js';
import { getIp, getString, ipBytes, messageType } from '../../src/dhcp/options.js';

const [iface, countArg] = process.argv.slice(2);
const count = Number(countArg ?? 60);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Machine {
  mac: string;
  xid: number;
  ip?: string;
  phases: Record<string, number>;
  bytes: { tftp: number; http: number };
  error?: string;
}

const waiting = new Map<string, (p: DhcpPacket) => void>();

function dhcpRequest(m: Machine, type: number, ipxe: boolean, extra: Array<[number, Buffer]> = []): Buffer {
  const p = blankPacket({ xid: m.xid, flags: BROADCAST_FLAG, chaddr: chaddrFromMac(m.mac) });
  p.options.set(Opt.MESSAGE_TYPE, Buffer.from([type]));
  for (const [k, v] of extra) p.options.set(k, v);
  p.options.set(Opt.MAX_MESSAGE_SIZE, Buffer.from([0x05, 0xc0]));
  p.options.set(Opt.PARAM_REQUEST_LIST, Buffer.from([1, 3, 6, 43, 54, 60, 66, 67, 97, 128, 129]));
  p.options.set(Opt.CLIENT_ARCH, Buffer.from([0, 7]));
  p.options.set(Opt.CLIENT_NDI, Buffer.from([1, 3, 0]));
  p.options.set(Opt.VENDOR_CLASS, Buffer.from('PXEClient:Arch:00007:UNDI:003000'));
  if (ipxe) p.options.set(Opt.USER_CLASS, Buffer.from('iPXE'));
  return encodePacket(p);
}

/** Sends `buf` and waits for a reply of `want` type for this machine; retransmits like firmware (bounded). */
async function exchange(sock: dgram.Socket, m: Machine, buf: Buffer, want: number): Promise<DhcpPacket> {
  const key = `${m.mac}|${want}`;
  for (let attempt = 0; attempt < 6; attempt++) {
    const got = new Promise<DhcpPacket | undefined>((resolve) => {
      const t = setTimeout(() => (waiting.delete(key), resolve(undefined)), 2000 * (attempt + 1));
      waiting.set(key, (p) => (clearTimeout(t), waiting.delete(key), resolve(p)));
    });
    sock.send(buf, 67, '255.255.255.255');
    const p = await got;
    if (p) return p;
  }
  throw new Error(`no DHCP ${want === MessageType.OFFER ? 'OFFER' : 'ACK'} after 6 tries`);
}

async function dora(sock: dgram.Socket, m: Machine, ipxe: boolean): Promise<DhcpPacket> {
  m.xid = randomBytes(4).readUInt32BE(0);
  const offer = await exchange(sock, m, dhcpRequest(m, MessageType.DISCOVER, ipxe), MessageType.OFFER);
  const req = dhcpRequest(m, MessageType.REQUEST, ipxe, [
    [Opt.SERVER_ID, ipBytes(getIp(offer, Opt.SERVER_ID)!)],
    [Opt.REQUESTED_IP, ipBytes(offer.yiaddr)],
  ]);
  return exchange(sock, m, req, MessageType.ACK);
}

/** A lockstep TFTP read like firmware's (blksize 1468, tsize); resolves the byte count. */
function tftpGet(localIp: string, server: string, file: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    let expected = 1;
    let bytes = 0;
    let blksize = 512;
    let tsize = -1;
    let tid: number | undefined;
    let timer: NodeJS.Timeout | undefined;
    let tries = 0;
    let last: Buffer = Buffer.alloc(0);
    const finish = (err?: Error) => {
      clearTimeout(timer);
      s.close();
      if (err) reject(err);
      else if (tsize >= 0 && bytes !== tsize) reject(new Error(`TFTP ${file}: ${bytes} of ${tsize} bytes`));
      else resolve(bytes);
    };
    const send = (buf: Buffer, port: number) => {
      last = buf;
      s.send(buf, port, server);
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (++tries > 5) return finish(new Error(`TFTP ${file}: timed out at block ${expected}`));
        s.send(last, tid ?? 69, server);
        timer?.refresh();
      }, 1000);
    };
    const ack = (n: number) => Buffer.from([0, 4, (n >> 8) & 0xff, n & 0xff]);
    s.on('error', (e) => finish(e));
    s.on('message', (msg, rinfo) => {
      if (rinfo.address !== server) return;
      tid ??= rinfo.port;
      if (rinfo.port !== tid) return;
      tries = 0;
      const op = msg.readUInt16BE(0);
      if (op === 5) return finish(new Error(`TFTP ${file}: error ${msg.readUInt16BE(2)} ${msg.toString('latin1', 4, msg.length - 1)}`));
      if (op === 6) {
        const parts = msg.toString('latin1', 2).split('\0');
        for (let i = 0; i + 1 < parts.length; i += 2) {
          if (parts[i] === 'blksize') blksize = Number(parts[i + 1]);
          if (parts[i] === 'tsize') tsize = Number(parts[i + 1]);
        }
        return send(ack(0), tid);
      }
      if (op !== 3) return;
      const wire = msg.readUInt16BE(2);
      if (wire !== (expected & 0xffff)) return send(ack((expected - 1) & 0xffff), tid);
      bytes += msg.length - 4;
      send(ack(wire), tid);
      expected++;
      if (msg.length - 4 < blksize) finish();
    });
    s.bind(0, localIp, () => {
      const rrq = Buffer.concat([Buffer.from([0, 1]), Buffer.from(`${file}\0octet\0blksize\x001468\0tsize\x000\0`, 'latin1')]);
      send(rrq, 69);
    });
  });
}

function httpGet(localIp: string, url: string): Promise<{ status: number; bytes: number; body?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { localAddress: localIp, agent: false, timeout: 60_000 }, (res) => {
      let bytes = 0;
      const keep = (res.headers['content-type'] ?? '').includes('text') || url.endsWith('.ipxe');
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => {
        bytes += d.length;
        if (keep && bytes < 65536) chunks.push(d);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, body: keep ? Buffer.concat(chunks).toString('utf8') : undefined }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`HTTP ${url}: timed out`)));
    req.on('error', reject);
  });
}

async function boot(sock: dgram.Socket, m: Machine, t0: number): Promise<void> {
  const mark = (name: string) => (m.phases[name] = Date.now() - t0);
  const ack = await dora(sock, m, false);
  m.ip = ack.yiaddr;
  mark('dhcp');
  execFileSync('ip', ['addr', 'add', `${m.ip}/24`, 'dev', iface]);
  const server = getIp(ack, Opt.SERVER_ID)!;
  const tftpServer = ack.siaddr !== '0.0.0.0' ? ack.siaddr : server;
  const bootfile = getString(ack, Opt.BOOTFILE) ?? ack.file;
  if (!bootfile) throw new Error('no boot file in the DHCP ACK');
  m.bytes.tftp = await tftpGet(m.ip, tftpServer, bootfile);
  mark('tftp');
  const ack2 = await dora(sock, m, true);
  const script = getString(ack2, Opt.BOOTFILE) ?? ack2.file;
  if (!script?.startsWith('http://')) throw new Error(`iPXE got "${script}", not an HTTP script URL`);
  mark('dhcp-ipxe');
  const s = await httpGet(m.ip, script);
  if (s.status !== 200 || !s.body) throw new Error(`script ${script}: HTTP ${s.status}`);
  mark('script');
  const urls = [...s.body.matchAll(/^(?:kernel|initrd)\s+(?:--name\s+\S+\s+)?(http:\/\/\S+)/gm)].map((x) => x[1]);
  if (urls.length === 0) throw new Error(`no kernel/initrd URL in the script: ${s.body.slice(0, 200)}`);
  for (const u of urls) {
    const r = await httpGet(m.ip, u);
    if (r.status !== 200) throw new Error(`${u}: HTTP ${r.status}`);
    m.bytes.http += r.bytes;
  }
  mark('http');
}

async function main(): Promise<void> {
  const sock = await openUdpSocket({ iface, ifaceAddress: '0.0.0.0', port: 68, anyAddress: true, broadcast: true });
  sock.on('message', (buf) => {
    try {
      const p = decodePacket(buf);
      if (p.op !== 2) return;
      const t = messageType(p);
      waiting.get(`${macOf(p)}|${t}`)?.(p);
    } catch {
      /* not DHCP */
    }
  });
  const machines: Machine[] = Array.from({ length: count }, (_, i) => ({
    mac: `02:53:00:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`,
    xid: 0,
    phases: {},
    bytes: { tftp: 0, http: 0 },
  }));
  const t0 = Date.now();
  await Promise.all(
    machines.map(async (m, i) => {
      await sleep(i % 10); // power buttons are not pressed in the same microsecond
      try {
        await boot(sock, m, t0);
      } catch (err) {
        m.error = (err as Error).message;
      }
    }),
  );
  const totalMs = Date.now() - t0;
  sock.close();
  process.stdout.write(JSON.stringify({ totalMs, machines }) + '\n');
}

main().catch((err) => {
  process.stderr.write(String((err as Error)?.stack ?? err));
  process.exit(1);
});
