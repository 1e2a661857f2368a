// BOOTP/DHCP wire format (RFC 2131 2, RFC 2132, RFC 3396). Decoding is strict:
// anything that is not a well-formed message throws DhcpDecodeError, never
// anything else, because every byte comes from an untrusted network.
import {
  DhcpDecodeError,
  HEADER_SIZE,
  MAGIC_COOKIE,
  Opt,
  type DhcpOptions,
  type DhcpPacket,
} from './packet.js';
import { encodePacket, encodePacketReport, type EncodeOptions, type EncodeReport } from './encode.js';

export { DhcpDecodeError, encodePacket, encodePacketReport, type EncodeOptions, type EncodeReport };
export type { DhcpPacket, DhcpOptions };

export function ipFrom(buf: Buffer, offset: number): string {
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`;
}

/** A NUL-terminated fixed-width field (sname, file) as text. */
function cString(buf: Buffer): string {
  const nul = buf.indexOf(0);
  return buf.subarray(0, nul < 0 ? buf.length : nul).toString('latin1');
}

/**
 * Walks one options area, appending to `into`. Repeated codes are concatenated
 * in order (RFC 3396 6). `needEnd`: the main area must close with End (a packet
 * cut at an option boundary is truncated, not short); sname/file areas may
 * simply run to their fixed end.
 */
function parseArea(area: Buffer, into: DhcpOptions, where: string, needEnd: boolean): void {
  let i = 0;
  while (i < area.length) {
    const code = area[i];
    if (code === Opt.PAD) {
      i += 1;
      continue;
    }
    if (code === Opt.END) return;
    if (i + 1 >= area.length) throw new DhcpDecodeError(`option ${code} in ${where} has no length octet`);
    const len = area[i + 1];
    const start = i + 2;
    if (start + len > area.length) throw new DhcpDecodeError(`option ${code} in ${where} runs past the end (${len} octets)`);
    const value = area.subarray(start, start + len);
    const prev = into.get(code);
    into.set(code, prev ? Buffer.concat([prev, value]) : Buffer.from(value));
    i = start + len;
  }
  if (needEnd) throw new DhcpDecodeError(`${where} has no End option (truncated packet?)`);
}

export function decodePacket(buf: Buffer): DhcpPacket {
  if (!Buffer.isBuffer(buf)) throw new DhcpDecodeError('not a buffer');
  if (buf.length < HEADER_SIZE) throw new DhcpDecodeError(`too short for DHCP: ${buf.length} octets`);
  const op = buf[0];
  if (op !== 1 && op !== 2) throw new DhcpDecodeError(`bad op ${op}`);
  const htype = buf[1];
  const hlen = buf[2];
  if (hlen === 0 || hlen > 16) throw new DhcpDecodeError(`bad hlen ${hlen}`);
  // Ethernet (htype 1) addresses are 6 octets; anything else is a corrupt packet.
  if (htype === 1 && hlen !== 6) throw new DhcpDecodeError(`bad hlen ${hlen} for Ethernet`);
  if (buf.readUInt32BE(236) !== MAGIC_COOKIE) throw new DhcpDecodeError('bad magic cookie (BOOTP-only or not DHCP)');

  const options: DhcpOptions = new Map();
  parseArea(buf.subarray(HEADER_SIZE), options, 'options', true);

  const sField = buf.subarray(44, 108);
  const fField = buf.subarray(108, 236);
  let sname = cString(sField);
  let file = cString(fField);
  // RFC 2131 4.1: with option 52 the file and/or sname fields carry options,
  // read after the options field, file first, then sname.
  const overload = options.get(Opt.OVERLOAD);
  if (overload) {
    if (overload.length !== 1 || overload[0] < 1 || overload[0] > 3) throw new DhcpDecodeError('bad option overload value');
    options.delete(Opt.OVERLOAD);
    if (overload[0] & 1) {
      parseArea(fField, options, 'file field', false);
      file = '';
    }
    if (overload[0] & 2) {
      parseArea(sField, options, 'sname field', false);
      sname = '';
    }
    if (options.has(Opt.OVERLOAD)) throw new DhcpDecodeError('option overload inside an overloaded field');
  }

  return {
    op,
    htype,
    hlen,
    hops: buf[3],
    xid: buf.readUInt32BE(4),
    secs: buf.readUInt16BE(8),
    flags: buf.readUInt16BE(10),
    ciaddr: ipFrom(buf, 12),
    yiaddr: ipFrom(buf, 16),
    siaddr: ipFrom(buf, 20),
    giaddr: ipFrom(buf, 24),
    chaddr: Buffer.from(buf.subarray(28, 44)),
    sname,
    file,
    options,
  };
}
