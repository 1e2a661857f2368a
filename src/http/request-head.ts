// Reads one HTTP/1.x request head (RFC 9112 §2-§5) from the bytes a connection has
// received, keeping only what a file server answering GET and HEAD needs. Boot clients
// (iPXE, UEFI HTTP Boot, curl, wget) send a request line and a few headers; a sanboot of
// an ISO sends tens of thousands of them on one connection, so this is a short scan of
// a latin1 string rather than a general parser.
//
// Strictness where it guards against request smuggling or ambiguity (§11.2 of RFC 9112):
// whitespace before a header's colon, obsolete line folding, a bare CR, conflicting
// Content-Length values or Transfer-Encoding with Content-Length are refused with 400.
// A request that announces a body is answered and its connection then closed: this
// server never reads a body, so the bytes after the head cannot be trusted as the next
// request.

export interface RequestHead {
  method: string;
  /** The request target as sent: origin-form "/a?b" or absolute-form "http://h/a". */
  target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minorVersion: number;
  range: string | undefined;
  /** If-Range was present (its value does not matter: this server sends no validators). */
  ifRange: boolean;
  /** The connection stays open after the response: HTTP/1.1 unless "close", HTTP/1.0 only with "keep-alive". */
  keepAlive: boolean;
  /** The request announced a body (Content-Length > 0 or Transfer-Encoding). */
  hasBody: boolean;
}

export type HeadParse =
  | { kind: 'incomplete' }
  | { kind: 'request'; head: RequestHead; /** bytes of the buffer the head took, its blank line included */ length: number }
  | { kind: 'bad'; status: 400 | 431 | 501 | 505; reason: string };

/** A request head longer than this is refused (431); Node's own limit is 16 KiB. */
export const MAX_HEAD_BYTES = 16 * 1024;

const INCOMPLETE: HeadParse = { kind: 'incomplete' };
const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/(\d)\.(\d)$/;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Looks for one complete head at the start of `buf` (empty lines before it are skipped,
 * as §2.2 asks). 'incomplete' while the blank line has not arrived and the head is
 * still under `maxBytes`.
 */
export function parseRequestHead(buf: Buffer, maxBytes = MAX_HEAD_BYTES): HeadParse {
  let start = 0;
  while (start < buf.length && (buf[start] === 0x0d || buf[start] === 0x0a)) start++;
  const end = headEnd(buf, start, maxBytes);
  if (end < 0) {
    return buf.length - start > maxBytes ? { kind: 'bad', status: 431, reason: `request head longer than ${maxBytes} bytes` } : INCOMPLETE;
  }
  if (end - start > maxBytes) return { kind: 'bad', status: 431, reason: `request head longer than ${maxBytes} bytes` };
  const text = buf.toString('latin1', start, end);
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    // Lines end in CRLF; a bare LF is tolerated (§2.2), a CR anywhere else is not.
    const cr = line.indexOf('\r');
    if (cr >= 0 && cr !== line.length - 1) return { kind: 'bad', status: 400, reason: 'a bare CR inside the request head' };
    if (cr >= 0) lines[i] = line.slice(0, cr);
  }
  const m = REQUEST_LINE.exec(lines[0]);
  if (!m) return { kind: 'bad', status: 400, reason: 'malformed request line' };
  if (m[3] !== '1') return { kind: 'bad', status: 505, reason: `HTTP/${m[3]}.${m[4]} is not served (HTTP/1.0 and 1.1 are)` };
  const minorVersion = Number(m[4]);

  let range: string | undefined;
  let ifRange = false;
  let connection = '';
  let contentLength: number | undefined;
  let transferEncoding = false;
  // The last line is the empty one that ended the head.
  for (let i = 1; i < lines.length - 1; i++) {
    const line = lines[i];
    if (line === '') break;
    if (line.charCodeAt(0) === 0x20 || line.charCodeAt(0) === 0x09) return { kind: 'bad', status: 400, reason: 'obsolete line folding in a header' };
    const colon = line.indexOf(':');
    if (colon <= 0) return { kind: 'bad', status: 400, reason: 'a header line without a name' };
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return { kind: 'bad', status: 400, reason: `malformed header name "${name.slice(0, 40)}"` };
    const value = line.slice(colon + 1).trim();
    switch (name.toLowerCase()) {
      case 'range':
        range = value;
        break;
      case 'if-range':
        ifRange = true;
        break;
      case 'connection':
        connection = connection ? `${connection},${value}` : value;
        break;
      case 'content-length':
        if (!/^\d{1,15}$/.test(value)) return { kind: 'bad', status: 400, reason: 'malformed Content-Length' };
        if (contentLength !== undefined && contentLength !== Number(value)) return { kind: 'bad', status: 400, reason: 'conflicting Content-Length headers' };
        contentLength = Number(value);
        break;
      case 'transfer-encoding':
        transferEncoding = true;
        break;
    }
  }
  if (transferEncoding && contentLength !== undefined) return { kind: 'bad', status: 400, reason: 'both Transfer-Encoding and Content-Length' };
  const options = connection.toLowerCase();
  const keepAlive = minorVersion >= 1 ? !/(^|,)\s*close\s*(,|$)/.test(options) : /(^|,)\s*keep-alive\s*(,|$)/.test(options);
  return {
    kind: 'request',
    head: {
      method: m[1],
      target: m[2],
      minorVersion,
      range,
      ifRange,
      keepAlive,
      hasBody: transferEncoding || (contentLength ?? 0) > 0,
    },
    length: end,
  };
}

/** The path part of a request target: origin-form "/a/b?q" or absolute-form "http://h/a/b". */
export function requestPath(target: string): string {
  let t = target;
  const abs = /^[a-z][a-z0-9+.-]*:\/\/[^/]*(\/.*)?$/i.exec(t);
  if (abs) t = abs[1] ?? '/';
  const cut = t.search(/[?#]/);
  return cut >= 0 ? t.slice(0, cut) : t;
}

/** The index just past the blank line ending the head ("\r\n\r\n" or a tolerated "\n\n"), or -1. */
function headEnd(buf: Buffer, from: number, maxBytes: number): number {
  // Look no further than the limit allows (plus the terminator): a flood of header bytes costs one bounded scan.
  const limit = Math.min(buf.length, from + maxBytes + 4);
  let i = buf.indexOf(0x0a, from);
  while (i >= 0 && i < limit) {
    if (buf[i + 1] === 0x0a) return i + 2;
    if (buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) return i + 3;
    i = buf.indexOf(0x0a, i + 1);
  }
  return -1;
}
