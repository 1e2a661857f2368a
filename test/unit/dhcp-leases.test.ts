import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LeaseStore } from '../../src/dhcp/leases.js';
import { poolAddresses, intToIp, parseRange, prefixToNetmask, netmaskToPrefix } from '../../src/dhcp/ipv4.js';

const A = '52:54:00:00:00:0a';
const B = '52:54:00:00:00:0b';
const C = '52:54:00:00:00:0c';

function setup(t: { after: (fn: () => void) => void }, extra: Partial<Parameters<typeof LeaseStore.open>[0]> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'pxk-leases-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const clock = { t: 1_000_000 };
  const open = () => LeaseStore.open({ serverIp: '10.9.0.1', prefix: 24, dataDir, now: () => clock.t, ...extra });
  return { dataDir, clock, open };
}

test('pool: subnet minus network, broadcast and server; explicit range clipped', () => {
  const p = poolAddresses('10.9.0.1', 24).map(intToIp);
  assert.equal(p.length, 253);
  assert.equal(p[0], '10.9.0.2');
  assert.equal(p.at(-1), '10.9.0.254');
  assert.deepEqual(poolAddresses('10.9.0.5', 29).map(intToIp), ['10.9.0.1', '10.9.0.2', '10.9.0.3', '10.9.0.4', '10.9.0.6']);
  assert.deepEqual(poolAddresses('10.9.0.1', 24, '10.9.0.0-10.9.0.3').map(intToIp), ['10.9.0.2', '10.9.0.3']);
  assert.throws(() => poolAddresses('10.9.0.1', 24, '10.8.0.10-10.8.0.20'), /not inside/);
  assert.throws(() => parseRange('nonsense'), /FIRST-LAST/);
  assert.equal(prefixToNetmask(20), '255.255.240.0');
  assert.equal(netmaskToPrefix('255.255.255.128'), 25);
});

test('same client gets the same address; offers are held; two clients never share', async (t) => {
  const { open, clock } = setup(t);
  const s = await open();
  const a = s.offer(A)!;
  assert.equal(s.offer(A), a);
  const b = s.offer(B, a)!; // B asks for A's offered address: refused
  assert.notEqual(b, a);
  assert.equal(await s.commit(B, a, 600), false);
  assert.equal(await s.commit(A, a, 600), true);
  assert.equal(s.macForIp(a), A);
  assert.equal(s.ipForMac(A), a);
  // The offer to B lapses; a third client may then get B's address, but A's stays A's.
  clock.t += 120_000;
  assert.notEqual(s.offer(C), a);
  // A's lease expires; A still gets its address back.
  clock.t += 3_600_000;
  assert.equal(s.offer(A), a);
});

test('leases survive a restart; a restarted server never gives one address to two clients', async (t) => {
  const { open, dataDir } = setup(t);
  const s1 = await open();
  const a = s1.offer(A)!;
  await s1.commit(A, a, 3600);
  const s2 = await open();
  assert.equal(s2.offer(A), a);
  const b = s2.offer(B, a);
  assert.notEqual(b, a);
  assert.equal(await s2.commit(B, a, 3600), false);
  // The file is JSON and no temp file is left behind.
  const json = JSON.parse(readFileSync(join(dataDir, 'leases.json'), 'utf8'));
  assert.equal(json.leases[0].ip, a);
  assert.deepEqual(readdirSync(dataDir), ['leases.json']);
});

test('release frees the address, decline bans it for a while', async (t) => {
  const { open, clock } = setup(t, { range: '10.9.0.10-10.9.0.11', declineSeconds: 100 });
  const s = await open();
  const a = s.offer(A)!;
  await s.commit(A, a, 3600);
  const b = s.offer(B)!;
  await s.commit(B, b, 3600);
  assert.equal(s.offer(C), undefined, 'pool of two is exhausted');
  assert.equal(await s.release(A, a), true);
  assert.equal(s.offer(C), a);
  await s.decline(C, a);
  assert.equal(s.offer(C), undefined, 'declined address is out of the pool');
  const s2 = await open();
  assert.equal(s2.offer(C), undefined, 'the ban survives a restart');
  clock.t += 101_000;
  assert.equal(s.offer(C), a);
});

test('a damaged lease file is reported, not fatal', async (t) => {
  const { open, dataDir } = setup(t);
  writeFileSync(join(dataDir, 'leases.json'), '{ not json');
  const s = await open();
  assert.match(s.loadProblem ?? '', /damaged/);
  assert.ok(s.offer(A));
});

test('concurrent commits are serialised and all land on disk', async (t) => {
  const { open } = setup(t);
  const s = await open();
  const macs = Array.from({ length: 30 }, (_, i) => `52:54:00:00:01:${i.toString(16).padStart(2, '0')}`);
  await Promise.all(macs.map((m) => s.commit(m, s.offer(m)!, 600)));
  const s2 = await open();
  const ips = new Set(macs.map((m) => s2.ipForMac(m)));
  assert.equal(ips.size, 30);
});

test('a full pool is said on the first unanswered DISCOVER, then at most once a minute with the count', async (t) => {
  const { open, clock } = setup(t, { range: '10.9.0.10-10.9.0.11' });
  const s = await open();
  assert.ok(s.offer(A) && s.offer(B));
  assert.equal(s.offer(C), undefined, 'two addresses, three clients');
  assert.equal(s.poolFullNotice(), 1, 'the first one is said');
  for (let i = 0; i < 999; i++) assert.equal(s.poolFullNotice(), undefined, 'a flood is not said request by request');
  clock.t += 60_000;
  assert.equal(s.poolFullNotice(), 1000, 'a minute on: said again, with how many went unanswered');
  assert.equal(s.poolFullNotice(), undefined);
});
