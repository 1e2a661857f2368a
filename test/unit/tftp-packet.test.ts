import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  OP_ACK,
  OP_DATA,
  OP_ERROR,
  OP_OACK,
  OP_RRQ,
  OP_WRQ,
  TftpPacketError,
  decodePacket,
  encodeAck,
  encodeData,
  encodeError,
  encodeOack,
  encodeRequest,
} from '../../src/tftp/packet.js';
import { negotiate } from '../../src/tftp/options.js';
import { toNetascii } from '../../src/tftp/netascii.js';

test('RRQ with options round-trips; option names are case-insensitive, first wins', () => {
  const buf = encodeRequest(OP_RRQ, 'boot/ipxe.efi', 'OCTET', [
    ['BlkSize', '1468'],
    ['tsize', '0'],
    ['blksize', '512'],
  ]);
  assert.deepEqual([...buf.subarray(0, 2)], [0, 1]);
  const p = decodePacket(buf);
  assert.equal(p.op, OP_RRQ);
  if (p.op !== OP_RRQ) return;
  assert.equal(p.filename, 'boot/ipxe.efi');
  assert.equal(p.mode, 'octet');
  assert.deepEqual([...p.options], [
    ['blksize', '1468'],
    ['tsize', '0'],
  ]);
});

test('RRQ bytes are exactly as RFC 1350 lays them out', () => {
  const raw = Buffer.from('\x00\x01pxelinux.0\x00octet\x00', 'latin1');
  assert.deepEqual(encodeRequest(OP_RRQ, 'pxelinux.0'), raw);
  const p = decodePacket(raw);
  assert.equal(p.op, OP_RRQ);
  if (p.op === OP_RRQ) assert.equal(p.options.size, 0);
});

test('RRQ padded with extra NULs or with a dangling option name still decodes', () => {
  const p = decodePacket(Buffer.from('\x00\x01a\x00octet\x00blksize\x001024\x00\x00\x00tsize\x00', 'latin1'));
  assert.equal(p.op, OP_RRQ);
  if (p.op === OP_RRQ) assert.deepEqual([...p.options], [['blksize', '1024']]);
});

test('WRQ decodes as WRQ', () => {
  assert.equal(decodePacket(encodeRequest(OP_WRQ, 'x')).op, OP_WRQ);
});

test('OACK, DATA, ACK, ERROR round-trip', () => {
  const o = decodePacket(encodeOack([['blksize', '1468'], ['windowsize', '16']]));
  assert.equal(o.op, OP_OACK);
  if (o.op === OP_OACK) assert.equal(o.options.get('windowsize'), '16');
  assert.deepEqual(encodeOack([['tsize', '5']]), Buffer.from('\x00\x06tsize\x005\x00', 'latin1'));

  const d = decodePacket(encodeData(70000, Buffer.from('hello')));
  assert.equal(d.op, OP_DATA);
  if (d.op === OP_DATA) {
    assert.equal(d.block, 70000 & 0xffff);
    assert.equal(d.data.toString(), 'hello');
  }
  const a = decodePacket(encodeAck(65535));
  assert.deepEqual(a, { op: OP_ACK, block: 65535 });
  assert.deepEqual(encodeAck(65536), Buffer.from([0, 4, 0, 0]));

  const e = encodeError(1, 'File not found');
  assert.deepEqual(e, Buffer.from('\x00\x05\x00\x01File not found\x00', 'latin1'));
  assert.deepEqual(decodePacket(e), { op: OP_ERROR, code: 1, message: 'File not found' });
});

test('malformed packets throw TftpPacketError with a reason', () => {
  const cases: [Buffer, string][] = [
    [Buffer.alloc(0), 'truncated'],
    [Buffer.from([0]), 'truncated'],
    [Buffer.from([0, 4, 1]), 'truncated'],
    [Buffer.from([0, 3, 0]), 'truncated'],
    [Buffer.from([0, 5, 0]), 'truncated'],
    [Buffer.from([0, 9, 0, 0]), 'unknown-opcode'],
    [Buffer.from([0xff, 0xff, 1, 2, 3]), 'unknown-opcode'],
    [Buffer.from('\x00\x01file-without-nul', 'latin1'), 'unterminated-string'],
    [Buffer.from('\x00\x01file\x00octet', 'latin1'), 'unterminated-string'],
    [Buffer.from('\x00\x01\x00octet\x00', 'latin1'), 'empty-filename'],
  ];
  for (const [buf, reason] of cases) {
    assert.throws(
      () => decodePacket(buf),
      (err: unknown) => err instanceof TftpPacketError && err.reason === reason,
      `${buf.toString('hex')} should throw ${reason}`,
    );
  }
});

test('random bytes never throw anything but TftpPacketError', () => {
  for (let i = 0; i < 5000; i++) {
    const len = Math.floor(Math.random() * 40);
    const buf = Buffer.alloc(len);
    for (let j = 0; j < len; j++) buf[j] = Math.floor(Math.random() * 256);
    if (len >= 2 && i % 2 === 0) buf[0] = 0; // bias towards valid opcodes
    try {
      decodePacket(buf);
    } catch (err) {
      assert.ok(err instanceof TftpPacketError, String(err));
    }
  }
});

test('negotiate: blksize clamps to MTU and RFC range, windowsize capped, tsize answers the real size, timeout range', () => {
  const opts = (o: Record<string, string>) => new Map(Object.entries(o));
  let n = negotiate(opts({ blksize: '65464', tsize: '0', windowsize: '16', timeout: '3' }), 12345, { mtu: 1500 });
  assert.equal(n.blksize, 1468);
  assert.equal(n.windowsize, 16);
  assert.equal(n.timeoutMs, 3000);
  assert.equal(n.askedTsize, true);
  assert.deepEqual(n.oack, [
    ['blksize', '1468'],
    ['tsize', '12345'],
    ['windowsize', '16'],
    ['timeout', '3'],
  ]);
  n = negotiate(opts({ blksize: '70000' }), 1, { mtu: 65536 });
  assert.equal(n.blksize, 65464);
  n = negotiate(opts({ blksize: '4', timeout: '0', windowsize: '0', foo: 'bar' }), 1, { mtu: 1500 });
  assert.equal(n.blksize, 512);
  assert.equal(n.windowsize, 1);
  assert.deepEqual(n.oack, []);
  n = negotiate(opts({ windowsize: '1000', timeout: '256' }), 1, { mtu: 1500 });
  assert.equal(n.windowsize, 64);
  assert.deepEqual(n.oack, [['windowsize', '64']]);
  n = negotiate(opts({ blksize: 'abc', tsize: 'x' }), 1, { mtu: 1500 });
  assert.deepEqual(n.oack, []);
});

test('netascii: LF -> CR LF, CR -> CR NUL', () => {
  assert.deepEqual(toNetascii(Buffer.from('a\nb\rc')), Buffer.from('a\r\nb\r\0c', 'latin1'));
  const plain = Buffer.from('abc');
  assert.equal(toNetascii(plain), plain);
});
