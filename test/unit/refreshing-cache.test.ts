// The OS's adapter listing is slow on Windows (PowerShell): read once synchronously, then kept and
// refreshed in the background (src/util/refreshing-cache.ts, src/net/interfaces.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RefreshingCache } from '../../src/util/refreshing-cache.js';
import { osAdapterCommands, readOsAdapters } from '../../src/net/interfaces.js';

test('only the first read waits; a stale value is answered at once while one refresh runs, then the fresh one', async () => {
  let now = 0;
  let version = 1;
  const calls = { now: 0, later: 0 };
  let release: () => void = () => {};
  const cache = new RefreshingCache<string, number>({
    readNow: () => (calls.now++, version),
    readLater: () => {
      calls.later++;
      return new Promise<number>((resolve) => (release = () => resolve(version)));
    },
    staleMs: 5000,
    now: () => now,
  });
  assert.equal(cache.get('win32'), 1);
  version = 2;
  now = 4999;
  assert.equal(cache.get('win32'), 1, 'fresh: no refresh');
  assert.equal(calls.later, 0);
  now = 5000;
  assert.equal(cache.get('win32'), 1, 'stale: the last value at once');
  assert.equal(cache.get('win32'), 1);
  assert.equal(calls.later, 1, 'one refresh at a time');
  release();
  await new Promise((r) => setImmediate(r));
  assert.equal(cache.get('win32'), 2, 'then the refreshed value');
  assert.equal(calls.now, 1, 'the synchronous read ran once');
});

test('a failed refresh keeps the last value and lets the next read try again', async () => {
  let now = 0;
  let fail = true;
  const cache = new RefreshingCache<string, string>({
    readNow: () => 'first',
    readLater: () => (fail ? Promise.reject(new Error('PowerShell timed out')) : Promise.resolve('second')),
    staleMs: 10,
    now: () => now,
  });
  assert.equal(cache.get('k'), 'first');
  now = 20;
  assert.equal(cache.get('k'), 'first');
  await new Promise((r) => setImmediate(r));
  assert.equal(cache.get('k'), 'first', 'kept after the failure');
  fail = false;
  await new Promise((r) => setImmediate(r));
  assert.equal(cache.get('k'), 'first');
  await new Promise((r) => setImmediate(r));
  assert.equal(cache.get('k'), 'second');
});

test('the background refresh runs the same commands the synchronous read runs (its outputs are replayed by name)', () => {
  for (const platform of ['win32', 'darwin'] as const) {
    const ran: string[] = [];
    readOsAdapters(platform, (file, args) => {
      ran.push([file, ...args].join(' '));
      return '';
    });
    assert.deepEqual(ran, osAdapterCommands(platform).map((c) => [c.file, ...c.args].join(' ')), platform);
  }
});
