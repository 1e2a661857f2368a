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
  // The table is JSON, the change since is a line of the journal, and no temp file is left behind.
  const json = JSON.parse(readFileSync(join(dataDir, 'leases.json'), 'utf8'));
  assert.equal(json.leases[0].ip, a);
  assert.deepEqual(readdirSync(dataDir).sort(), ['leases.journal', 'leases.json']);
});

test('an ACKed lease is in the journal before commit returns, and a restart replays it', async (t) => {
  const { open, dataDir } = setup(t);
  const s1 = await open();
  const a = s1.offer(A)!;
  assert.equal(await s1.commit(A, a, 3600), true);
  // Not in the table yet (written at open): only the journal has it, and is read back.
  assert.deepEqual(JSON.parse(readFileSync(join(dataDir, 'leases.json'), 'utf8')).leases, []);
  const lines = readFileSync(join(dataDir, 'leases.journal'), 'utf8').trim().split('\n');
  assert.equal(lines.length, 2, 'a header and one change');
  assert.equal(JSON.parse(lines[1]).mac, A);
  const s2 = await open();
  assert.equal(s2.leaseFor(A)?.bound, true);
  assert.equal(s2.macForIp(a), A);
  assert.equal(s2.loadProblem, undefined);
});

test('journal: a torn last line is ignored, a damaged line is reported, a stale generation is ignored', async (t) => {
  const { open, dataDir } = setup(t);
  const s1 = await open();
  const [a, b] = [s1.offer(A)!, s1.offer(B)!];
  await s1.commit(A, a, 3600);
  await s1.commit(B, b, 3600);
  const journal = join(dataDir, 'leases.journal');
  const [header, first, second] = readFileSync(journal, 'utf8').trim().split('\n');

  // A crash in the middle of an append: the last line has no end. B's ACK was never sent.
  writeFileSync(journal, `${header}\n${first}\n${second.slice(0, 20)}`);
  let s = await open();
  assert.equal(s.leaseFor(A)?.bound, true);
  assert.equal(s.leaseFor(B), undefined);
  assert.equal(s.loadProblem, undefined, 'a torn last line is what a crash leaves: not a problem');

  // A damaged line in the middle: skipped and said; the lines after it still count.
  s = await open(); // (a new generation: rebuild a journal of it by hand)
  const gen = JSON.parse(readFileSync(join(dataDir, 'leases.json'), 'utf8')).generation;
  const lease = (mac: string, ip: string) => JSON.stringify({ op: 'lease', mac, ip, state: 'bound', expiresAt: 9e12 });
  writeFileSync(journal, `${JSON.stringify({ journal: 1, generation: gen })}\n{"op":"lea\n${lease(C, '10.9.0.77')}\n`);
  s = await open();
  assert.equal(s.ipForMac(C), '10.9.0.77');
  assert.match(s.loadProblem ?? '', /1 damaged line/);

  // A journal of an older generation (a crash after the table was rewritten, before the
  // new journal replaced it): the table already holds it, so it is not replayed.
  writeFileSync(journal, `${JSON.stringify({ journal: 1, generation: 0 })}\n${lease(B, '10.9.0.88')}\n`);
  s = await open();
  assert.equal(s.ipForMac(B), undefined);
  assert.equal(s.ipForMac(C), '10.9.0.77');
  assert.equal(s.loadProblem, undefined);
});

test('a long journal is folded into the table; every change survives', async (t) => {
  const { open, dataDir } = setup(t, { range: '10.9.0.10-10.9.0.13' });
  const s1 = await open();
  const a = s1.offer(A)!;
  // 1,100 renewals of one lease: past the journal's 1,024 changes.
  for (let i = 1; i <= 1100; i++) await s1.commit(A, a, 3600 + i);
  const table = JSON.parse(readFileSync(join(dataDir, 'leases.json'), 'utf8'));
  assert.ok(table.generation >= 2, `the table was rewritten: generation ${table.generation}`);
  const journalLines = readFileSync(join(dataDir, 'leases.journal'), 'utf8').trim().split('\n').length;
  assert.ok(journalLines < 200, `and the journal started again: ${journalLines} lines`);
  const s2 = await open();
  assert.equal(s2.leaseFor(A)?.expiresAt, 1_000_000 + (3600 + 1100) * 1000, 'the last renewal is the one kept');
  await s1.close();
  await s2.close();
});

test('a failed append is not ACKed, and the next change folds everything into the table', async (t) => {
  const { open, dataDir } = setup(t);
  const s1 = await open();
  const [a, b] = [s1.offer(A)!, s1.offer(B)!];
  // The disk goes away under the journal (its file closed behind the store's back).
  await (s1 as unknown as { journal: { close(): Promise<void> } }).journal.close();
  await assert.rejects(s1.commit(A, a, 3600), 'the caller learns the lease is not on disk (no ACK)');
  assert.equal(await s1.commit(B, b, 3600), true, 'the next change is written another way');
  const table = JSON.parse(readFileSync(join(dataDir, 'leases.json'), 'utf8'));
  assert.deepEqual(table.leases.map((l: { mac: string }) => l.mac).sort(), [A, B], 'the table holds both, the failed one included');
  const s2 = await open();
  assert.equal(s2.macForIp(b), B);
  assert.equal(s2.loadProblem, undefined);
});

test('a data directory that cannot be written fails at open, saying what to do', async (t) => {
  const { dataDir } = setup(t);
  const notADir = join(dataDir, 'file');
  writeFileSync(notADir, 'x');
  await assert.rejects(LeaseStore.open({ serverIp: '10.9.0.1', prefix: 24, dataDir: notADir }), /cannot write the lease files in .*--data-dir/);
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
  assert.match(s.loadProblem ?? '', /damaged.*kept as .*leases\.json\.corrupt-/);
  assert.ok(s.offer(A));
  // The file is rewritten at open; what could not be read is kept beside it.
  const kept = readdirSync(dataDir).filter((f) => f.startsWith('leases.json.corrupt-'));
  assert.equal(kept.length, 1);
  assert.equal(readFileSync(join(dataDir, kept[0]), 'utf8'), '{ not json');
  assert.equal(JSON.parse(readFileSync(join(dataDir, 'leases.json'), 'utf8')).version, 1);
});

test('a table entry of the wrong shape is skipped and said; the others load', async (t) => {
  const { open, dataDir } = setup(t);
  const good = { mac: A, ip: '10.9.0.20', state: 'bound', expiresAt: 9e12 };
  writeFileSync(join(dataDir, 'leases.json'), JSON.stringify({ version: 1, leases: [good, { mac: B, ip: 20, state: 'bound', expiresAt: 9e12 }, null], declined: [{ ip: '10.9.0.30' }] }));
  const s = await open();
  assert.equal(s.ipForMac(A), '10.9.0.20');
  assert.equal(s.ipForMac(B), undefined);
  assert.match(s.loadProblem ?? '', /3 damaged entries skipped/);
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
