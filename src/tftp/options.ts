// Option negotiation for read requests: RFC 2347 (framework), 2348 (blksize),
// 2349 (timeout, tsize), 7440 (windowsize). We answer only options we accept;
// anything else is silently left out of the OACK, as RFC 2347 says.

export const DEFAULT_BLKSIZE = 512;
/** RFC 2348 range. */
export const MIN_BLKSIZE = 8;
export const MAX_BLKSIZE = 65464;
/** IPv4 header (20) + UDP header (8) + TFTP DATA header (4): a block must fit one unfragmented frame. */
export const BLKSIZE_OVERHEAD = 32;
/** Our own cap on RFC 7440 windowsize: more buys nothing on a LAN and costs buffer memory. */
export const MAX_WINDOWSIZE = 64;
/** Bytes of one window we are willing to buffer per transfer (blksize x windowsize). */
export const MAX_WINDOW_BYTES = 1024 * 1024;

export interface NegotiateLimits {
  /** The NIC's MTU: blksize is clamped to mtu - 32 so DATA is never IP-fragmented (PXE ROMs rarely reassemble). */
  mtu: number;
}

export interface Negotiated {
  blksize: number;
  windowsize: number;
  /** Retransmission timeout the client asked for (RFC 2349), in ms; undefined = server default. */
  timeoutMs?: number;
  /** Options to put in the OACK, in the client's order. Empty = no OACK, send DATA 1 directly. */
  oack: [string, string][];
  /** The client asked for tsize (EDK2 and iPXE do, sometimes only to learn the size). */
  askedTsize: boolean;
}

function parseDecimal(v: string): number | undefined {
  return /^[0-9]{1,10}$/.test(v.trim()) ? Number(v.trim()) : undefined;
}

export function negotiate(options: Map<string, string>, size: number, limits: NegotiateLimits): Negotiated {
  const out: Negotiated = { blksize: DEFAULT_BLKSIZE, windowsize: 1, oack: [], askedTsize: false };
  const mtuMax = Math.max(MIN_BLKSIZE, Math.min(MAX_BLKSIZE, limits.mtu - BLKSIZE_OVERHEAD));
  for (const [name, raw] of options) {
    const v = parseDecimal(raw);
    switch (name) {
      case 'blksize':
        // Below 8 is invalid: ignore the option (the transfer proceeds at 512). Above: clamp, the
        // client must accept any value <= what it asked (RFC 2348).
        if (v === undefined || v < MIN_BLKSIZE) break;
        out.blksize = Math.min(v, mtuMax);
        out.oack.push(['blksize', String(out.blksize)]);
        break;
      case 'tsize':
        // In a RRQ the client sends 0; we answer the real size (RFC 2349).
        if (v === undefined) break;
        out.askedTsize = true;
        // curl (up to at least 7.88) rejects "tsize 0" in an OACK as invalid and gives up,
        // so for an empty file we leave tsize out; the 0-byte DATA tells the size anyway.
        if (size > 0) out.oack.push(['tsize', String(size)]);
        break;
      case 'timeout':
        // RFC 2349: 1..255 seconds, and the server must echo the same value or leave it out.
        if (v === undefined || v < 1 || v > 255) break;
        out.timeoutMs = v * 1000;
        out.oack.push(['timeout', String(v)]);
        break;
      case 'windowsize':
        if (v === undefined || v < 1 || v > 65535) break;
        out.windowsize = v;
        out.oack.push(['windowsize', '']); // value filled in below, once blksize is known
        break;
      default:
        break; // unknown options are not acknowledged
    }
  }
  const w = out.oack.find(([k]) => k === 'windowsize');
  if (w) {
    const byBytes = Math.max(1, Math.floor(MAX_WINDOW_BYTES / out.blksize));
    out.windowsize = Math.max(1, Math.min(out.windowsize, MAX_WINDOWSIZE, byBytes));
    w[1] = String(out.windowsize);
  }
  return out;
}
