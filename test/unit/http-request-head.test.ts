// The request-head reader of the HTTP file server: what it takes from a head, when it waits
// for more bytes, and what it refuses (the cases RFC 9112 §11 names as smuggling risks).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRequestHead, type HeadParse, type RequestHead } from '../../src/http/request-head.js';

const parse = (text: string, max?: number): HeadParse => parseRequestHead(Buffer.from(text, 'latin1'), max);
function request(text: string): { head: RequestHead; length: number } {
  const r = parse(text);
  assert.equal(r.kind, 'request', `parsed as a request: ${JSON.stringify(r)}`);
  return r as { kind: 'request'; head: RequestHead; length: number };
}
function bad(text: string): number {
  const r = parse(text);
  assert.equal(r.kind, 'bad', `refused: ${JSON.stringify(r)}`);
  return (r as { status: number }).status;
}

test('a GET with a Range, as iPXE sends it', () => {
  const text = 'GET /boot/casper/filesystem.squashfs HTTP/1.1\r\nConnection: keep-alive\r\nUser-Agent: iPXE/1.21.1\r\nHost: 10.0.0.1:8080\r\nRange: bytes=1048576-1310719\r\n\r\n';
  const { head, length } = request(text);
  assert.deepEqual(head, {
    method: 'GET',
    target: '/boot/casper/filesystem.squashfs',
    minorVersion: 1,
    range: 'bytes=1048576-1310719',
    ifRange: false,
    keepAlive: true,
    hasBody: false,
  });
  assert.equal(length, text.length);
});

test('header names are case-insensitive; the head ends at its blank line, so a pipelined one follows', () => {
  const first = 'HEAD /a HTTP/1.1\r\nrAnGe:bytes=0-9\r\nIF-RANGE: "x"\r\n\r\n';
  const { head, length } = request(`${first}GET /b HTTP/1.1\r\n\r\n`);
  assert.equal(head.method, 'HEAD');
  assert.equal(head.range, 'bytes=0-9');
  assert.equal(head.ifRange, true);
  assert.equal(length, first.length);
});

test('incomplete until the blank line; empty lines before a request are skipped; bare LF is tolerated', () => {
  assert.equal(parse('GET / HTTP/1.1\r\nHost: x\r\n').kind, 'incomplete');
  assert.equal(parse('GET / HTTP/1.1\r\nHost: x\r\n\r').kind, 'incomplete');
  assert.equal(parse('').kind, 'incomplete');
  const skipped = request('\r\n\r\nGET /x HTTP/1.1\r\n\r\n');
  assert.equal(skipped.head.target, '/x');
  assert.equal(skipped.length, 4 + 'GET /x HTTP/1.1\r\n\r\n'.length);
  const lf = request('GET /y HTTP/1.1\nRange: bytes=5-\n\n');
  assert.equal(lf.head.range, 'bytes=5-');
});

test('keep-alive: HTTP/1.1 unless Connection says close; HTTP/1.0 only when it says keep-alive', () => {
  assert.equal(request('GET / HTTP/1.1\r\n\r\n').head.keepAlive, true);
  assert.equal(request('GET / HTTP/1.1\r\nConnection: Close\r\n\r\n').head.keepAlive, false);
  assert.equal(request('GET / HTTP/1.1\r\nConnection: TE, close\r\n\r\n').head.keepAlive, false);
  assert.equal(request('GET / HTTP/1.1\r\nConnection: closed\r\n\r\n').head.keepAlive, true);
  assert.equal(request('GET / HTTP/1.0\r\n\r\n').head.keepAlive, false);
  assert.equal(request('GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n').head.keepAlive, true);
});

test('a body is noticed (Content-Length above 0, or Transfer-Encoding), never read', () => {
  assert.equal(request('GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n').head.hasBody, false);
  assert.equal(request('POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n').head.hasBody, true);
  assert.equal(request('POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n').head.hasBody, true);
  assert.equal(request('POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n').head.hasBody, true);
});

test('refused: malformed request lines, other HTTP versions, and the ambiguities behind request smuggling', () => {
  assert.equal(bad('GET /\r\n\r\n'), 400);
  assert.equal(bad('GET  / HTTP/1.1\r\n\r\n'), 400);
  assert.equal(bad('G(T / HTTP/1.1\r\n\r\n'), 400);
  assert.equal(bad('\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n\n'), 400); // a TLS hello on the HTTP port
  assert.equal(bad('GET / HTTP/2.0\r\n\r\n'), 505);
  assert.equal(bad('GET / HTTP/0.9\r\n\r\n'), 505);
  assert.equal(bad('GET / HTTP/1.1\r\nHost : x\r\n\r\n'), 400); // whitespace before the colon
  assert.equal(bad('GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n'), 400); // obsolete line folding
  assert.equal(bad('GET / HTTP/1.1\r\nHost: x\ry\r\n\r\n'), 400); // a bare CR
  assert.equal(bad('GET / HTTP/1.1\r\nno colon here\r\n\r\n'), 400);
  assert.equal(bad('GET / HTTP/1.1\r\n: no name\r\n\r\n'), 400);
  assert.equal(bad('POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n'), 400);
  assert.equal(bad('POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n'), 400);
  assert.equal(bad('POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n'), 400);
});

test('a head longer than the limit is refused (431), complete or still arriving', () => {
  const long = `GET / HTTP/1.1\r\nX-Filler: ${'a'.repeat(300)}\r\n`;
  assert.equal(parse(`${long}\r\n`, 256).kind, 'bad');
  assert.equal((parse(`${long}\r\n`, 256) as { status: number }).status, 431);
  assert.equal((parse(long, 256) as { status: number }).status, 431); // no blank line yet, already too long
  assert.equal(parse(`${long}\r\n`, 1024).kind, 'request');
  assert.equal(parse('GET / HTTP/1.1\r\nX: y\r\n', 256).kind, 'incomplete');
});
