// Records what the engine saw, for the pcapng and the job report.
//
// What is real and what is synthesized (each synthesized packet says so in its
// pcapng comment):
//  - DHCP (67, 4011, 68): the exact DHCP payload bytes received and sent (the
//    DhcpServer's tap). The IPv4/UDP headers around them are rebuilt: source from
//    the socket, destination from where the reply went (for received packets:
//    255.255.255.255 unless the client had an address or used port 4011).
//  - TFTP: rebuilt from the transfer events: the RRQ (with the options PXE Kit
//    accepted, which may be fewer than asked), the OACK, the ERROR for refused or
//    failed transfers, and the final ACK of a completed one. DATA blocks are not
//    recorded. The server's per-transfer port is not recorded: replies are shown
//    from port 69.
//  - HTTP: one TCP segment per request line ("GET /path HTTP/1.1") and one per
//    status line, without handshake or body: PXE Kit sees requests, not TCP.
import type { WireEvent, TransferEvent } from '../sessions/events.js';
import type { DhcpTapRecord } from '../dhcp/context.js';
import { pcapngFile, tcpPacket, tftpAck, tftpError, tftpOack, tftpRrq, udpPacket, type PcapPacket } from './pcapng.js';
import { RecentMap } from '../util/recent-map.js';

/** Transfers kept for the report. */
const TRANSFERS_KEPT = 10_000;

export interface EvidenceOptions {
  serverIp: string;
  httpPort: number;
  tftpPort?: number;
  iface: string;
  /** Packets kept at most (oldest dropped first). Default 50 000. */
  maxPackets?: number;
}

/** One transfer as the report shows it (all boot attempts, not just the session's last). */
export interface TransferRecord {
  id: string;
  mac?: string;
  clientIp: string;
  protocol: 'tftp' | 'http';
  file: string;
  role?: string;
  size?: number;
  bytes: number;
  startedAt: number;
  endedAt?: number;
  state: 'running' | 'done' | 'failed' | 'aborted';
  detail?: string;
  error?: string;
}

const SYNTH_TFTP = 'synthesized by PXE Kit from its TFTP transfer event';
const SYNTH_HTTP = 'synthesized by PXE Kit: the HTTP request/status line it handled, as one TCP segment without handshake or body';

function oackPairs(detail: string | undefined): [string, string][] {
  const m = /oack=(\S+)/.exec(detail ?? '');
  if (!m) return [];
  return m[1].split(',').map((kv) => {
    const i = kv.indexOf(':');
    return [kv.slice(0, i), kv.slice(i + 1)] as [string, string];
  });
}

/** A DHCP message as tapped: its IPv4/UDP packet is built only if a pcapng is asked for. */
interface TappedDhcp {
  at: number;
  tap: DhcpTapRecord;
}
type Stored = PcapPacket | TappedDhcp;

export class EvidenceRecorder {
  private readonly packets: Stored[] = [];
  private dropped = 0;
  /** In start order; the oldest go first past the limit (an RRQ flood makes one per request). */
  private readonly transfers = new RecentMap<string, TransferRecord>(TRANSFERS_KEPT);
  private readonly tcp = new RecentMap<string, { c: number; s: number }>(4096);
  private readonly max: number;

  constructor(private readonly opts: EvidenceOptions) {
    this.max = opts.maxPackets ?? 50_000;
  }

  /** Once full, the array is a ring: the newest packet overwrites the oldest (shift() would copy 50 000 slots per packet). */
  private push(p: Stored): void {
    if (this.packets.length < this.max) {
      this.packets.push(p);
      return;
    }
    this.packets[this.dropped % this.max] = p;
    this.dropped++;
  }

  /** DhcpServerOptions.tap. */
  tapDhcp = (rec: DhcpTapRecord): void => {
    // The payload is the message's own buffer (a fresh one per datagram, never reused).
    this.push({ at: rec.at, tap: rec });
  };

  record(ev: WireEvent): void {
    if (ev.type !== 'transfer' || ev.phase === 'progress') return;
    this.track(ev);
    if (ev.protocol === 'tftp') this.tftp(ev);
    else this.http(ev);
  }

  private track(ev: TransferEvent): void {
    let t = this.transfers.peek(ev.id);
    if (!t) {
      t = { id: ev.id, mac: ev.mac, clientIp: ev.clientIp, protocol: ev.protocol, file: ev.file, role: ev.role, size: ev.size, bytes: ev.bytes, startedAt: ev.at, state: 'running', detail: ev.detail };
      this.transfers.set(ev.id, t);
    }
    t.mac ??= ev.mac;
    t.bytes = ev.bytes;
    if (ev.size !== undefined) t.size = ev.size;
    if (ev.phase === 'done') [t.state, t.endedAt] = ['done', ev.at];
    if (ev.phase === 'error') {
      t.state = ev.errorCode === 'aborted' ? 'aborted' : 'failed';
      t.endedAt = ev.at;
      t.error = ev.error ?? ev.errorCode;
    }
  }

  private tftp(ev: TransferEvent): void {
    const client = { address: ev.clientIp, port: ev.clientPort };
    const server = { address: this.opts.serverIp, port: this.opts.tftpPort ?? 69 };
    const who = ev.mac ? ` (${ev.mac})` : '';
    if (ev.phase === 'start') {
      const oack = oackPairs(ev.detail);
      const asked = oack.map(([k, v]) => [k, k === 'tsize' ? '0' : v] as [string, string]);
      this.push({ at: ev.at, data: udpPacket(client, server, tftpRrq(ev.file, asked)), comment: `${SYNTH_TFTP}${who}; options shown are those PXE Kit accepted` });
      if (oack.length) this.push({ at: ev.at, data: udpPacket(server, client, tftpOack(oack)), comment: `${SYNTH_TFTP}: OACK; the server's transfer port is not recorded, shown as ${server.port}` });
      return;
    }
    if (ev.phase === 'done') {
      const bs = Number(/blksize=(\d+)/.exec(this.transfers.peek(ev.id)?.detail ?? '')?.[1] ?? 512);
      const last = Math.floor(ev.bytes / bs) + 1;
      this.push({ at: ev.at, data: udpPacket(client, server, tftpAck(last)), comment: `${SYNTH_TFTP}${who}: last ACK, transfer complete (${ev.bytes} bytes${ev.detail ? `, ${ev.detail}` : ''}); DATA blocks not recorded` });
      return;
    }
    // Errors. A refusal (not found, access violation) never had a 'start': its RRQ is shown too.
    const seen = this.transfers.peek(ev.id);
    const refused = !seen || seen.startedAt === ev.at;
    if (refused && (ev.errorCode === 'not-found' || ev.errorCode === 'access-violation' || ev.errorCode === 'io')) {
      this.push({ at: ev.at, data: udpPacket(client, server, tftpRrq(ev.file)), comment: `${SYNTH_TFTP}${who}: the request (options not recorded)` });
    }
    if (ev.errorCode === 'not-found') this.push({ at: ev.at, data: udpPacket(server, client, tftpError(1, 'File not found')), comment: `${SYNTH_TFTP}: ${ev.error ?? 'not found'}` });
    else if (ev.errorCode === 'access-violation') this.push({ at: ev.at, data: udpPacket(server, client, tftpError(2, 'Access violation')), comment: `${SYNTH_TFTP}: ${ev.error ?? ''}` });
    else if (ev.errorCode === 'aborted') this.push({ at: ev.at, data: udpPacket(client, server, tftpError(0, 'closed by client')), comment: `${SYNTH_TFTP}${who}: ${ev.error ?? 'client closed the transfer'} (the client's exact error code is not recorded)` });
    else this.push({ at: ev.at, data: udpPacket(server, client, tftpError(0, ev.errorCode === 'timeout' ? 'Timeout' : 'Read error')), comment: `${SYNTH_TFTP}: ${ev.error ?? ev.errorCode ?? 'failed'}` });
  }

  private http(ev: TransferEvent): void {
    const client = { address: ev.clientIp, port: ev.clientPort };
    const server = { address: this.opts.serverIp, port: this.opts.httpPort };
    const who = ev.mac ? ` (${ev.mac})` : '';
    const path = ev.file.startsWith('/') ? ev.file : `/${ev.file}`;
    // Sequence numbers follow each connection (client ip:port), and the server's jumps over
    // the body it sent: readers see the body as "not captured", which is the truth.
    const key = `${client.address}:${client.port}`;
    const conn = this.tcp.peek(key) ?? { c: 1, s: 1 };
    this.tcp.set(key, conn);
    const request = (): void => {
      const range = /bytes=\S+/.exec(ev.detail ?? '')?.[0];
      const req = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${server.address}:${server.port}\r\n${range ? `Range: ${range}\r\n` : ''}\r\n`, 'latin1');
      this.push({ at: ev.at, data: tcpPacket(client, server, conn.c, conn.s, req), comment: `${SYNTH_HTTP}${who}` });
      conn.c += req.length;
    };
    if (ev.phase === 'start') return request();
    let status: string | undefined;
    if (ev.phase === 'done') status = `HTTP/1.1 ${/bytes=/.test(ev.detail ?? '') ? '206 Partial Content' : '200 OK'}\r\nContent-Length: ${ev.bytes}\r\n\r\n`;
    else if (ev.errorCode === 'not-found') status = 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n';
    if (!status) return;
    if (ev.phase === 'error') request();
    const head = Buffer.from(status, 'latin1');
    this.push({ at: ev.at, data: tcpPacket(server, client, conn.s, conn.c, head), comment: `${SYNTH_HTTP}${who}${ev.phase === 'done' ? ` (${ev.bytes}-byte body delivered, not recorded)` : ''}` });
    conn.s += head.length + (ev.phase === 'done' ? ev.bytes : 0);
  }

  transferRecords(): TransferRecord[] {
    return [...this.transfers.values()];
  }

  packetCount(): number {
    return this.packets.length;
  }

  droppedPackets(): number {
    return this.dropped;
  }

  pcapng(): Buffer {
    const oldest = this.packets.length < this.max ? 0 : this.dropped % this.max;
    const sorted = this.packets
      .slice(oldest)
      .concat(this.packets.slice(0, oldest))
      .sort((a, b) => a.at - b.at)
      .map((p) => ('tap' in p ? dhcpPacket(p.tap) : p));
    return pcapngFile(sorted, { name: this.opts.iface, description: `PXE Kit on ${this.opts.iface} (${this.opts.serverIp}): DHCP payloads as seen; TFTP/HTTP records synthesized from events` });
  }
}

function dhcpPacket(rec: DhcpTapRecord): PcapPacket {
  const comment = rec.direction === 'in' ? 'DHCP payload as received; IPv4/UDP headers rebuilt by PXE Kit' : 'DHCP payload as sent; IPv4/UDP headers rebuilt by PXE Kit';
  return { at: rec.at, data: udpPacket(rec.src, rec.dst, rec.payload), comment };
}
