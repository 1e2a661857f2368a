// A minimal pcapng writer (draft-ietf-opsawg-pcapng): one Section Header Block,
// one Interface Description Block with LINKTYPE_RAW (101: each packet starts
// with its IPv4 header, no Ethernet), and one Enhanced Packet Block per packet,
// optionally with a comment (opt_comment) saying what was synthesized.
// Little-endian throughout (the byte-order magic tells readers).

export const LINKTYPE_RAW = 101;

export interface PcapPacket {
  /** ms since epoch (fractions allowed). */
  at: number;
  /** The packet: an IPv4 header and what follows. */
  data: Buffer;
  comment?: string;
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** One option: code, length, value padded to 32 bits. */
function option(code: number, value: Buffer): Buffer {
  const out = Buffer.alloc(4 + pad4(value.length));
  out.writeUInt16LE(code, 0);
  out.writeUInt16LE(value.length, 2);
  value.copy(out, 4);
  return out;
}

const END_OF_OPTIONS = Buffer.alloc(4);

function block(type: number, body: Buffer): Buffer {
  const total = 12 + body.length;
  const out = Buffer.alloc(total);
  out.writeUInt32LE(type, 0);
  out.writeUInt32LE(total, 4);
  body.copy(out, 8);
  out.writeUInt32LE(total, total - 4);
  return out;
}

export function sectionHeader(application = 'PXE Kit'): Buffer {
  const fixed = Buffer.alloc(16);
  fixed.writeUInt32LE(0x1a2b3c4d, 0);
  fixed.writeUInt16LE(1, 4);
  fixed.writeUInt16LE(0, 6);
  fixed.writeBigInt64LE(-1n, 8); // section length not specified
  const opts = Buffer.concat([option(4, Buffer.from(application, 'utf8')), END_OF_OPTIONS]); // shb_userappl
  return block(0x0a0d0d0a, Buffer.concat([fixed, opts]));
}

export function interfaceDescription(name: string, description: string, linktype = LINKTYPE_RAW): Buffer {
  const fixed = Buffer.alloc(8);
  fixed.writeUInt16LE(linktype, 0);
  fixed.writeUInt16LE(0, 2);
  fixed.writeUInt32LE(0, 4); // snaplen: no limit
  // if_tsresol (9) left out: the default, microseconds.
  const opts = Buffer.concat([option(2, Buffer.from(name, 'utf8')), option(3, Buffer.from(description, 'utf8')), END_OF_OPTIONS]);
  return block(1, Buffer.concat([fixed, opts]));
}

export function enhancedPacket(p: PcapPacket, interfaceId = 0): Buffer {
  const micros = BigInt(Math.round(p.at * 1000));
  const fixed = Buffer.alloc(20);
  fixed.writeUInt32LE(interfaceId, 0);
  fixed.writeUInt32LE(Number(micros >> 32n), 4);
  fixed.writeUInt32LE(Number(micros & 0xffffffffn), 8);
  fixed.writeUInt32LE(p.data.length, 12);
  fixed.writeUInt32LE(p.data.length, 16);
  const data = Buffer.alloc(pad4(p.data.length));
  p.data.copy(data);
  const opts = p.comment ? Buffer.concat([option(1, Buffer.from(p.comment, 'utf8')), END_OF_OPTIONS]) : Buffer.alloc(0);
  return block(6, Buffer.concat([fixed, data, opts]));
}

/** A whole pcapng file: one section, one interface, the packets in order. */
export function pcapngFile(packets: PcapPacket[], iface = { name: 'pxekit', description: 'packets PXE Kit saw' }): Buffer {
  return Buffer.concat([sectionHeader(), interfaceDescription(iface.name, iface.description), ...packets.map((p) => enhancedPacket(p))]);
}

// ---- IPv4 / UDP / TCP headers (RFC 791, 768, 793) ----

function ipBytes(ip: string): Buffer {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) return Buffer.alloc(4);
  return Buffer.from(parts);
}

function checksum(...bufs: Buffer[]): number {
  let sum = 0;
  for (const b of bufs) {
    for (let i = 0; i + 1 < b.length; i += 2) sum += b.readUInt16BE(i);
    if (b.length % 2) sum += b[b.length - 1] << 8;
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

let ipId = 1;

function ipv4(src: string, dst: string, protocol: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payload.length, 2);
  h.writeUInt16BE(ipId++ & 0xffff, 4);
  h[8] = 64;
  h[9] = protocol;
  ipBytes(src).copy(h, 12);
  ipBytes(dst).copy(h, 16);
  h.writeUInt16BE(checksum(h), 10);
  return Buffer.concat([h, payload]);
}

export interface Endpoint {
  address: string;
  port: number;
}

export function udpPacket(src: Endpoint, dst: Endpoint, payload: Buffer): Buffer {
  const u = Buffer.alloc(8);
  u.writeUInt16BE(src.port, 0);
  u.writeUInt16BE(dst.port, 2);
  u.writeUInt16BE(8 + payload.length, 4);
  const pseudo = Buffer.alloc(12);
  ipBytes(src.address).copy(pseudo, 0);
  ipBytes(dst.address).copy(pseudo, 4);
  pseudo[9] = 17;
  pseudo.writeUInt16BE(8 + payload.length, 10);
  const sum = checksum(pseudo, u, payload);
  u.writeUInt16BE(sum === 0 ? 0xffff : sum, 6);
  return ipv4(src.address, dst.address, 17, Buffer.concat([u, payload]));
}

/** A single TCP segment (PSH+ACK) carrying `payload`: no handshake, see the comment on the record. */
export function tcpPacket(src: Endpoint, dst: Endpoint, seq: number, ack: number, payload: Buffer): Buffer {
  const t = Buffer.alloc(20);
  t.writeUInt16BE(src.port, 0);
  t.writeUInt16BE(dst.port, 2);
  t.writeUInt32BE(seq >>> 0, 4);
  t.writeUInt32BE(ack >>> 0, 8);
  t[12] = 5 << 4;
  t[13] = 0x18; // PSH, ACK
  t.writeUInt16BE(65535, 14);
  const pseudo = Buffer.alloc(12);
  ipBytes(src.address).copy(pseudo, 0);
  ipBytes(dst.address).copy(pseudo, 4);
  pseudo[9] = 6;
  pseudo.writeUInt16BE(20 + payload.length, 10);
  t.writeUInt16BE(checksum(pseudo, t, payload), 16);
  return ipv4(src.address, dst.address, 6, Buffer.concat([t, payload]));
}

// ---- TFTP packets (RFC 1350, 2347) ----

export function tftpRrq(file: string, options: [string, string][] = []): Buffer {
  const parts = [Buffer.from([0, 1]), Buffer.from(file + '\0octet\0', 'latin1')];
  for (const [k, v] of options) parts.push(Buffer.from(`${k}\0${v}\0`, 'latin1'));
  return Buffer.concat(parts);
}

export function tftpOack(options: [string, string][]): Buffer {
  return Buffer.concat([Buffer.from([0, 6]), ...options.map(([k, v]) => Buffer.from(`${k}\0${v}\0`, 'latin1'))]);
}

export function tftpAck(block: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(4, 0);
  b.writeUInt16BE(block & 0xffff, 2);
  return b;
}

export function tftpError(code: number, message: string): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(5, 0);
  b.writeUInt16BE(code, 2);
  return Buffer.concat([b, Buffer.from(message + '\0', 'latin1')]);
}
