// Typed readers and writers for the options PXE Kit cares about. Readers
// return undefined for absent or malformed values (a bad option 57 must not
// make us ignore a whole client); validation of the packet itself is codec.ts's job.
import { MessageType, Opt, type DhcpPacket } from './packet.js';
import type { DhcpMessageName } from '../sessions/events.js';

const NAMES: Record<number, DhcpMessageName> = {
  [MessageType.DISCOVER]: 'discover',
  [MessageType.OFFER]: 'offer',
  [MessageType.REQUEST]: 'request',
  [MessageType.DECLINE]: 'decline',
  [MessageType.ACK]: 'ack',
  [MessageType.NAK]: 'nak',
  [MessageType.RELEASE]: 'release',
  [MessageType.INFORM]: 'inform',
};

/** Option 53; undefined for plain BOOTP or a malformed value. */
export function messageType(p: DhcpPacket): number | undefined {
  const v = p.options.get(Opt.MESSAGE_TYPE);
  return v && v.length === 1 && NAMES[v[0]] ? v[0] : undefined;
}

export function messageName(type: number): DhcpMessageName | undefined {
  return NAMES[type];
}

export function getIp(p: DhcpPacket, code: number): string | undefined {
  const v = p.options.get(code);
  return v && v.length === 4 ? `${v[0]}.${v[1]}.${v[2]}.${v[3]}` : undefined;
}

/** Latin-1 text with trailing NULs removed (some firmware NUL-terminates strings). */
export function getString(p: DhcpPacket, code: number): string | undefined {
  const v = p.options.get(code);
  return v ? v.toString('latin1').replace(/\0+$/, '') : undefined;
}

export function getU16(p: DhcpPacket, code: number): number | undefined {
  const v = p.options.get(code);
  return v && v.length === 2 ? v.readUInt16BE(0) : undefined;
}

export function getU32(p: DhcpPacket, code: number): number | undefined {
  const v = p.options.get(code);
  return v && v.length === 4 ? v.readUInt32BE(0) : undefined;
}

/** Option 55 as a list of codes, in the client's order. */
export function paramRequestList(p: DhcpPacket): number[] | undefined {
  const v = p.options.get(Opt.PARAM_REQUEST_LIST);
  return v ? [...v] : undefined;
}

/** Option 57 (RFC 2132 9.10), a datagram size; below 576 is illegal and ignored. */
export function maxMessageSize(p: DhcpPacket): number | undefined {
  const n = getU16(p, Opt.MAX_MESSAGE_SIZE);
  return n !== undefined && n >= 576 ? n : undefined;
}

/** Option 93 (RFC 4578 2.1): a list of 16-bit arch types; the first one counts. */
export function clientArch(p: DhcpPacket): number | undefined {
  const v = p.options.get(Opt.CLIENT_ARCH);
  return v && v.length >= 2 && v.length % 2 === 0 ? v.readUInt16BE(0) : undefined;
}

/** Option 94 (RFC 4578 2.2): type 1 (UNDI), major, minor. */
export function clientNdi(p: DhcpPacket): { type: number; major: number; minor: number } | undefined {
  const v = p.options.get(Opt.CLIENT_NDI);
  return v && v.length === 3 ? { type: v[0], major: v[1], minor: v[2] } : undefined;
}

/** Option 97 (RFC 4578 2.3): type 0 then a 16-octet GUID; returned as 32 hex digits. */
export function clientUuid(p: DhcpPacket): string | undefined {
  const v = p.options.get(Opt.CLIENT_UUID);
  return v && v.length === 17 && v[0] === 0 ? v.subarray(1).toString('hex') : undefined;
}

/** Option 61 as hex, the key RFC 2131 4.2 says identifies a client when present. */
export function clientId(p: DhcpPacket): string | undefined {
  const v = p.options.get(Opt.CLIENT_ID);
  return v && v.length >= 2 ? v.toString('hex') : undefined;
}

/**
 * Option 77 (RFC 3004): length-prefixed class strings. iPXE and some firmware
 * send the bare text instead ("iPXE"), so a value that does not parse as
 * RFC 3004 is taken as one string.
 */
export function userClasses(p: DhcpPacket): string[] | undefined {
  const v = p.options.get(Opt.USER_CLASS);
  if (!v) return undefined;
  const out: string[] = [];
  let i = 0;
  while (i < v.length) {
    const len = v[i];
    if (len === 0 || i + 1 + len > v.length) return [v.toString('latin1')];
    out.push(v.subarray(i + 1, i + 1 + len).toString('latin1'));
    i += 1 + len;
  }
  return out;
}

/** Encapsulated sub-options (option 43 for PXE, 175 for iPXE): code -> bytes. */
export function parseSubOptions(v: Buffer): Map<number, Buffer> | undefined {
  const out = new Map<number, Buffer>();
  let i = 0;
  while (i < v.length) {
    const code = v[i];
    if (code === 0) {
      i += 1;
      continue;
    }
    if (code === 255) break;
    if (i + 1 >= v.length || i + 2 + v[i + 1] > v.length) return undefined;
    out.set(code, Buffer.from(v.subarray(i + 2, i + 2 + v[i + 1])));
    i += 2 + v[i + 1];
  }
  return out;
}

export function encodeSubOptions(subs: Map<number, Buffer> | Array<[number, Buffer]>): Buffer {
  const parts: Buffer[] = [];
  for (const [code, value] of subs) parts.push(Buffer.from([code, value.length]), value);
  parts.push(Buffer.from([255]));
  return Buffer.concat(parts);
}

/** PXE spec 2.1 table 2-1: PXE vendor sub-options carried in option 43. */
export const PxeSub = { DISCOVERY_CONTROL: 6, BOOT_SERVERS: 8, BOOT_MENU: 9, MENU_PROMPT: 10, BOOT_ITEM: 71 } as const;

/**
 * Option 43 for PXEClient replies: discovery control bit 3 ("download the boot
 * file named in this offer, no boot server discovery or menu") so the firmware
 * fetches the file straight away.
 */
export function pxeVendorOptions(): Buffer {
  return encodeSubOptions([[PxeSub.DISCOVERY_CONTROL, Buffer.from([8])]]);
}

export const ipBytes = (ip: string): Buffer => Buffer.from(ip.split('.').map(Number));
export const ipListBytes = (ips: string[]): Buffer => Buffer.concat(ips.map(ipBytes));
export const u32Bytes = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
export const u16Bytes = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};
export const textBytes = (s: string): Buffer => Buffer.from(s, 'latin1');
