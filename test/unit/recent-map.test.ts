import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecentMap } from '../../src/util/recent-map.js';

test('holds at most its limit and forgets the least recently used first', () => {
  const gone: string[] = [];
  const m = new RecentMap<string, number>(3, { onEvict: (k) => gone.push(k) });
  m.set('a', 1);
  m.set('b', 2);
  m.set('c', 3);
  assert.equal(m.get('a'), 1); // a use: b is now the oldest
  m.set('d', 4);
  assert.deepEqual(gone, ['b']);
  assert.equal(m.size, 3);
  assert.equal(m.peek('c'), 3); // peek is not a use: c stays the oldest
  m.set('e', 5);
  assert.deepEqual(gone, ['b', 'c']);
  assert.deepEqual([...m.entries()].map(([k]) => k), ['a', 'd', 'e']);
  m.set('a', 10); // replacing is a use, not a growth
  assert.equal(m.size, 3);
  assert.deepEqual(gone, ['b', 'c']);
  assert.ok(m.delete('d'));
  assert.deepEqual(gone, ['b', 'c'], 'delete() is not an eviction');
});

test('entries worth keeping outlast others; when all are, the oldest goes but never the new one', () => {
  const gone: string[] = [];
  const m = new RecentMap<string, { keep: boolean }>(3, { keep: (v) => v.keep, onEvict: (k) => gone.push(k) });
  m.set('kept-1', { keep: true });
  m.set('early-1', { keep: false });
  m.set('kept-2', { keep: true });
  for (let i = 0; i < 100; i++) m.set(`flood-${i}`, { keep: false });
  assert.ok(m.has('kept-1') && m.has('kept-2'), 'a flood of entries not worth keeping never pushes out kept ones');
  assert.ok(m.has('flood-99'));
  assert.equal(gone.length, 100);
  assert.equal(gone[0], 'early-1');
  m.set('kept-3', { keep: true }); // pushes out flood-99, the only one not worth keeping
  m.set('kept-4', { keep: true }); // all kept: the oldest goes
  assert.deepEqual([...m.entries()].map(([k]) => k), ['kept-2', 'kept-3', 'kept-4']);
  const one = new RecentMap<string, { keep: boolean }>(1, { keep: () => true });
  one.set('x', { keep: true });
  one.set('y', { keep: true });
  assert.deepEqual([...one.entries()].map(([k]) => k), ['y'], 'the entry just set is never the one evicted');
});

test('a limit below 1 is refused', () => {
  assert.throws(() => new RecentMap(0), /at least 1/);
  assert.throws(() => new RecentMap(Number.NaN), /at least 1/);
});
