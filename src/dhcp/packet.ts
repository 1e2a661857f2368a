// The BOOTP/DHCP message as the rest of the engine sees it (RFC 2131 section 2),
// and the one error type decoding may throw.

export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
/** RFC 2131 3: the four octets that open the options field of every DHCP message. */
export const MAGIC_COOKIE = 0x63825363;
/** Fixed BOOTP header (236 octets) plus the magic cookie. */
export const HEADER_SIZE = 240;
/** RFC 2131 2: a client must accept 576-octet IP datagrams, i.e. 548 octets of DHCP payload. */
export const DEFAULT_MAX_PAYLOAD = 576 - 28;
/** IPv4 (20) + UDP (8) headers, which option 57 counts (RFC 2132 9.10: it is a datagram size). */
export const IP_UDP_OVERHEAD = 28;

export const MessageType = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;

export const Opt = {
  PAD: 0,
  SUBNET_MASK: 1,
  ROUTER: 3,
  DNS: 6,
  HOSTNAME: 12,
  BROADCAST: 28,
  VENDOR_SPECIFIC: 43,
  REQUESTED_IP: 50,
  LEASE_TIME: 51,
  OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAM_REQUEST_LIST: 55,
  MESSAGE: 56,
  MAX_MESSAGE_SIZE: 57,
  RENEWAL_TIME: 58,
  REBINDING_TIME: 59,
  VENDOR_CLASS: 60,
  CLIENT_ID: 61,
  TFTP_SERVER: 66,
  BOOTFILE: 67,
  USER_CLASS: 77,
  CLIENT_ARCH: 93,
  CLIENT_NDI: 94,
  CLIENT_UUID: 97,
  ETHERBOOT: 175,
  END: 255,
} as const;

/** Options keep the order they had on the wire (or were added in); values are raw bytes. */
export type DhcpOptions = Map<number, Buffer>;

export interface DhcpPacket {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** The 16-octet chaddr field as sent; the hardware address is its first hlen octets. */
  chaddr: Buffer;
  /** Server host name field; '' when empty or used for options (overload). */
  sname: string;
  /** Boot file field; '' when empty or used for options (overload). */
  file: string;
  options: DhcpOptions;
}

export const BROADCAST_FLAG = 0x8000;

export class DhcpDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DhcpDecodeError';
  }
}

/** An empty packet with sane defaults, for building requests and replies. */
export function blankPacket(fields: Partial<DhcpPacket> = {}): DhcpPacket {
  return {
    op: BOOTREQUEST,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid: 0,
    secs: 0,
    flags: 0,
    ciaddr: '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: '0.0.0.0',
    chaddr: Buffer.alloc(16),
    sname: '',
    file: '',
    options: new Map(),
    ...fields,
  };
}

/** The client's hardware address as "aa:bb:cc:dd:ee:ff" (lower case). */
export function macOf(p: DhcpPacket): string {
  return [...p.chaddr.subarray(0, Math.min(p.hlen, 16))].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

export function chaddrFromMac(mac: string): Buffer {
  const buf = Buffer.alloc(16);
  mac.split(/[:-]/).forEach((h, i) => {
    if (i < 16) buf[i] = parseInt(h, 16);
  });
  return buf;
}
