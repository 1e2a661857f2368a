import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRange } from '../../src/http/range.js';

test('no Range header means the whole file', () => {
  assert.deepEqual(parseRange(undefined, 100), { kind: 'full' });
});

test('bytes=a-b, a- and -n select one range, clamped to the file', () => {
  assert.deepEqual(parseRange('bytes=0-9', 100), { kind: 'partial', start: 0, end: 9 });
  assert.deepEqual(parseRange('bytes=10-', 100), { kind: 'partial', start: 10, end: 99 });
  assert.deepEqual(parseRange('bytes=-10', 100), { kind: 'partial', start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=-1000', 100), { kind: 'partial', start: 0, end: 99 });
  assert.deepEqual(parseRange('bytes=50-5000', 100), { kind: 'partial', start: 50, end: 99 });
  assert.deepEqual(parseRange('Bytes = 1 - 2', 100), { kind: 'partial', start: 1, end: 2 });
});

test('ranges starting past the end, -0, and any range of an empty file are unsatisfiable', () => {
  assert.deepEqual(parseRange('bytes=100-', 100), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=200-300', 100), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=-0', 100), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=0-', 0), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=-5', 0), { kind: 'unsatisfiable' });
});

test('malformed, other units and multi-range are ignored (whole file)', () => {
  for (const h of ['bytes=5-1', 'bytes=', 'bytes=-', 'items=0-1', 'bytes=a-b', 'bytes=0-1,5-6', 'bytes=99999999999999999999-']) {
    assert.deepEqual(parseRange(h, 100), { kind: 'full' }, h);
  }
});
