// TFTP packet codec (RFC 1350 packets, RFC 2347 options and OACK).
// Decoding never trusts the datagram: anything malformed throws TftpPacketError,
// which the server turns into a counted drop (never a crash, never a reply).

export const OP_RRQ = 1;
export const OP_WRQ = 2;
export const OP_DATA = 3;
export const OP_ACK = 4;
export const OP_ERROR = 5;
export const OP_OACK = 6;

/** RFC 1350 error codes (+ 8 from RFC 2347). */
export const ERR_UNDEFINED = 0;
export const ERR_NOT_FOUND = 1;
export const ERR_ACCESS = 2;
export const ERR_DISK_FULL = 3;
export const ERR_ILLEGAL_OP = 4;
export const ERR_UNKNOWN_TID = 5;
export const ERR_FILE_EXISTS = 6;
export const ERR_NO_USER = 7;
export const ERR_OPTION = 8;

export type TftpDropReason =
  | 'truncated'
  | 'unknown-opcode'
  | 'unterminated-string'
  | 'empty-filename'
  | 'bad-option';

export class TftpPacketError extends Error {
  constructor(
    readonly reason: TftpDropReason,
    message: string,
  ) {
    super(message);
    this.name = 'TftpPacketError';
  }
}

export interface RequestPacket {
  op: typeof OP_RRQ | typeof OP_WRQ;
  filename: string;
  /** Lower-cased: "octet", "netascii", "mail" or whatever the client sent. */
  mode: string;
  /** Option names lower-cased (RFC 2347: case-insensitive); first occurrence wins. */
  options: Map<string, string>;
}
export interface DataPacket {
  op: typeof OP_DATA;
  block: number;
  data: Buffer;
}
export interface AckPacket {
  op: typeof OP_ACK;
  block: number;
}
export interface ErrorPacket {
  op: typeof OP_ERROR;
  code: number;
  message: string;
}
export interface OackPacket {
  op: typeof OP_OACK;
  options: Map<string, string>;
}
export type TftpPacket = RequestPacket | DataPacket | AckPacket | ErrorPacket | OackPacket;

/** Reads a NUL-terminated string at `pos`; returns [string, position after the NUL]. */
function cstring(buf: Buffer, pos: number, what: string): [string, number] {
  const end = buf.indexOf(0, pos);
  if (end < 0) throw new TftpPacketError('unterminated-string', `${what} is not NUL-terminated`);
  // latin1 keeps every byte as one code unit: names are compared, never reinterpreted.
  return [buf.toString('latin1', pos, end), end + 1];
}

/**
 * Option pairs after the mode (RFC 2347). Lenient where firmware is sloppy:
 * some PXE ROMs pad the request with extra NULs (empty strings are skipped) and
 * a dangling name without a value, or an unterminated tail, is ignored.
 */
function decodeOptions(buf: Buffer, pos: number): Map<string, string> {
  const options = new Map<string, string>();
  const parts: string[] = [];
  while (pos < buf.length) {
    const end = buf.indexOf(0, pos);
    if (end < 0) break; // unterminated tail: ignore it
    if (end > pos) parts.push(buf.toString('latin1', pos, end));
    pos = end + 1;
  }
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const name = parts[i].toLowerCase();
    if (!options.has(name)) options.set(name, parts[i + 1]);
  }
  return options;
}

export function decodePacket(buf: Buffer): TftpPacket {
  if (buf.length < 2) throw new TftpPacketError('truncated', `packet of ${buf.length} bytes`);
  const op = buf.readUInt16BE(0);
  switch (op) {
    case OP_RRQ:
    case OP_WRQ: {
      const [filename, p1] = cstring(buf, 2, 'file name');
      const [mode, p2] = cstring(buf, p1, 'mode');
      if (filename.length === 0) throw new TftpPacketError('empty-filename', 'empty file name');
      return { op, filename, mode: mode.toLowerCase(), options: decodeOptions(buf, p2) };
    }
    case OP_DATA:
      if (buf.length < 4) throw new TftpPacketError('truncated', `DATA of ${buf.length} bytes`);
      return { op, block: buf.readUInt16BE(2), data: buf.subarray(4) };
    case OP_ACK:
      // Trailing bytes are tolerated (never seen matter in practice, harmless to ignore).
      if (buf.length < 4) throw new TftpPacketError('truncated', `ACK of ${buf.length} bytes`);
      return { op, block: buf.readUInt16BE(2) };
    case OP_ERROR: {
      if (buf.length < 4) throw new TftpPacketError('truncated', `ERROR of ${buf.length} bytes`);
      // An unterminated message is accepted: the peer is giving up either way.
      const end = buf.indexOf(0, 4);
      return { op, code: buf.readUInt16BE(2), message: buf.toString('latin1', 4, end < 0 ? buf.length : end) };
    }
    case OP_OACK:
      return { op, options: decodeOptions(buf, 2) };
    default:
      throw new TftpPacketError('unknown-opcode', `opcode ${op}`);
  }
}

function strings(op: number, list: string[]): Buffer {
  let len = 2;
  for (const s of list) len += Buffer.byteLength(s, 'latin1') + 1;
  const buf = Buffer.alloc(len);
  buf.writeUInt16BE(op, 0);
  let pos = 2;
  for (const s of list) {
    pos += buf.write(s, pos, 'latin1');
    buf[pos++] = 0;
  }
  return buf;
}

export function encodeRequest(
  op: typeof OP_RRQ | typeof OP_WRQ,
  filename: string,
  mode = 'octet',
  options: Iterable<[string, string]> = [],
): Buffer {
  const list = [filename, mode];
  for (const [k, v] of options) list.push(k, v);
  return strings(op, list);
}

export function encodeOack(options: Iterable<[string, string]>): Buffer {
  const list: string[] = [];
  for (const [k, v] of options) list.push(k, v);
  return strings(OP_OACK, list);
}

export function encodeError(code: number, message: string): Buffer {
  const msg = Buffer.from(message, 'latin1');
  const buf = Buffer.alloc(5 + msg.length);
  buf.writeUInt16BE(OP_ERROR, 0);
  buf.writeUInt16BE(code & 0xffff, 2);
  msg.copy(buf, 4);
  return buf; // last byte already 0
}

export function encodeAck(block: number): Buffer {
  const buf = Buffer.alloc(4);
  buf.writeUInt16BE(OP_ACK, 0);
  buf.writeUInt16BE(block & 0xffff, 2);
  return buf;
}

export function encodeData(block: number, data: Buffer): Buffer {
  const buf = Buffer.alloc(4 + data.length);
  buf.writeUInt16BE(OP_DATA, 0);
  buf.writeUInt16BE(block & 0xffff, 2);
  data.copy(buf, 4);
  return buf;
}
