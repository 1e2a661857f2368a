// Writing DHCP messages, never bigger than the client can take (option 57).
// Options are placed in the order given, which callers use as priority: when
// the options field fills up, the sname/file fields are overloaded (RFC 2131
// 4.1, option 52), and whatever still does not fit is dropped and reported.
import { DEFAULT_MAX_PAYLOAD, HEADER_SIZE, MAGIC_COOKIE, Opt, type DhcpPacket } from './packet.js';

export interface EncodeOptions {
  /** Largest DHCP payload (UDP data) the receiver accepts; default 548. */
  maxPayload?: number;
}

export interface EncodeReport {
  buffer: Buffer;
  /** Option codes left out for lack of room. */
  dropped: number[];
  /** Value of option 52 used, 0 if none. */
  overload: number;
}

/** BOOTP relays and some old PXE ROMs expect at least the classic 300-octet message. */
const MIN_PAYLOAD = 300;

function writeIp(buf: Buffer, offset: number, ip: string): void {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) throw new Error(`bad IPv4 address "${ip}"`);
  parts.forEach((n, i) => (buf[offset + i] = n));
}

/** One option as wire bytes; values over 255 octets are split (RFC 3396). */
function encodeOption(code: number, value: Buffer): Buffer {
  const parts: Buffer[] = [];
  let i = 0;
  do {
    const chunk = value.subarray(i, i + 255);
    parts.push(Buffer.from([code, chunk.length]), chunk);
    i += 255;
  } while (i < value.length);
  return Buffer.concat(parts);
}

interface Area {
  bytes: Buffer[];
  used: number;
  room: number; // octets available for options, End excluded
}

function fillField(buf: Buffer, start: number, width: number, text: string): void {
  const bytes = Buffer.from(text, 'latin1');
  if (bytes.length >= width) throw new Error(`"${text.slice(0, 40)}..." does not fit the ${width}-octet field`);
  bytes.copy(buf, start);
}

export function encodePacketReport(p: DhcpPacket, opts: EncodeOptions = {}): EncodeReport {
  const maxPayload = Math.max(DEFAULT_MAX_PAYLOAD, Math.min(opts.maxPayload ?? DEFAULT_MAX_PAYLOAD, 65535 - 28));
  const encoded = [...p.options].filter(([code]) => code !== Opt.PAD && code !== Opt.END && code !== Opt.OVERLOAD).map(([code, v]) => ({ code, bytes: encodeOption(code, v) }));

  const main: Area = { bytes: [], used: 0, room: maxPayload - HEADER_SIZE - 1 };
  const total = encoded.reduce((n, o) => n + o.bytes.length, 0);
  // Only fields the message itself leaves empty can carry options (file first: RFC 2131 4.1 order).
  const fileArea: Area | undefined = total > main.room && !p.file ? { bytes: [], used: 0, room: 128 - 1 } : undefined;
  const snameArea: Area | undefined = total > main.room && !p.sname ? { bytes: [], used: 0, room: 64 - 1 } : undefined;
  if (fileArea || snameArea) main.room -= 3; // room for option 52 itself
  const areas = [main, fileArea, snameArea].filter((a): a is Area => a !== undefined);
  const dropped: number[] = [];
  for (const o of encoded) {
    const area = areas.find((a) => a.room - a.used >= o.bytes.length);
    if (!area) {
      dropped.push(o.code);
      continue;
    }
    area.bytes.push(o.bytes);
    area.used += o.bytes.length;
  }
  // Overload only if something actually went into file/sname.
  const overload = (fileArea?.used ? 1 : 0) | (snameArea?.used ? 2 : 0);

  const mainBytes = Buffer.concat([...(overload ? [Buffer.from([Opt.OVERLOAD, 1, overload])] : []), ...main.bytes, Buffer.from([Opt.END])]);
  const buf = Buffer.alloc(Math.max(MIN_PAYLOAD, HEADER_SIZE + mainBytes.length));
  buf[0] = p.op;
  buf[1] = p.htype;
  buf[2] = p.hlen;
  buf[3] = p.hops;
  buf.writeUInt32BE(p.xid >>> 0, 4);
  buf.writeUInt16BE(p.secs, 8);
  buf.writeUInt16BE(p.flags, 10);
  writeIp(buf, 12, p.ciaddr);
  writeIp(buf, 16, p.yiaddr);
  writeIp(buf, 20, p.siaddr);
  writeIp(buf, 24, p.giaddr);
  p.chaddr.copy(buf, 28, 0, 16);
  if (overload & 2 && snameArea) Buffer.concat([...snameArea.bytes, Buffer.from([Opt.END])]).copy(buf, 44);
  else fillField(buf, 44, 64, p.sname);
  if (overload & 1 && fileArea) Buffer.concat([...fileArea.bytes, Buffer.from([Opt.END])]).copy(buf, 108);
  else fillField(buf, 108, 128, p.file);
  buf.writeUInt32BE(MAGIC_COOKIE, 236);
  mainBytes.copy(buf, HEADER_SIZE);
  return { buffer: buf, dropped, overload };
}

export function encodePacket(p: DhcpPacket, opts: EncodeOptions = {}): Buffer {
  return encodePacketReport(p, opts).buffer;
}
