// Machine history across engine runs (src/sessions/history.ts + the tracker's restore seam):
// one run's machines and diagnoses are written to the data dir, bounded, and the next run lists
// them marked previousRun until they are heard from; a damaged file is kept aside, not fatal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SessionTracker, type SessionUpdate } from '../../src/sessions/tracker.js';
import { HISTORY_TIMELINE_MAX, SessionHistory, SessionHistoryWriter, historyPath, loadSessionHistory, trimForHistory } from '../../src/sessions/history.js';
import type { ClientSession } from '../../src/sessions/session.js';
import type { Diagnosis } from '../../src/diagnostics/types.js';
import type { DhcpEvent } from '../../src/sessions/events.js';
import { Controller } from '../../src/api/controller.js';
import { connectApi } from '../helpers/api-client.js';

const MAC = '52:54:00:12:34:56';
const OTHER = '52:54:00:ab:cd:ef';

function run(dataDir: string, now: { t: number }, updates: SessionUpdate[] = []) {
  const box: { history?: SessionHistory } = {};
  const tracker = new SessionTracker({
    planFor: () => undefined,
    onUpdate: (u) => {
      updates.push(u);
      if (u.reason !== 'progress') box.history?.changed();
    },
    now: () => now.t,
    silentAfterMs: 60_000,
  });
  const warnings: string[] = [];
  const history = (box.history = SessionHistory.open(dataDir, tracker, (m) => warnings.push(m), 10));
  const dhcp = (mac: string, e: Partial<DhcpEvent> = {}) => tracker.handle({ type: 'dhcp', at: now.t, direction: 'in', message: 'discover', mac, xid: 1, port: 67, arch: 'bios', ...e });
  return { tracker, history, warnings, dhcp };
}

const diagnosis = (mac: string, at: number): Diagnosis => ({
  code: 'no-tftp-after-ack',
  title: 'The machine never asked for its boot file',
  pxeError: 'PXE-E32: TFTP open timeout',
  causes: ['a firewall drops TFTP'],
  fix: 'Allow UDP 69 on this NIC.',
  evidence: ['ACK sent, no TFTP request'],
  at,
  mac,
});

test('sessions and their diagnoses written by one run are listed by the next, marked previousRun', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pxk-hist-'));
  const now = { t: 1_700_000_000_000 };
  const first = run(dataDir, now);
  first.dhcp(MAC);
  first.dhcp(MAC, { direction: 'out', message: 'offer', ip: '10.0.0.50', bootFile: 'undionly.kpxe' });
  first.tracker.diagnose(MAC, diagnosis(MAC, now.t));
  now.t += 1000;
  first.dhcp(OTHER);
  await first.history.flush();
  assert.equal(first.tracker.list().length, 2);

  const file = JSON.parse(readFileSync(historyPath(dataDir), 'utf8')) as { version: number; sessions: ClientSession[] };
  assert.equal(file.version, 1);
  assert.deepEqual(file.sessions.map((s) => s.mac), [MAC, OTHER]);

  // The next run: the tracker lists them before any machine is heard from.
  now.t += 60 * 60_000;
  const updates: SessionUpdate[] = [];
  const second = run(dataDir, now, updates);
  const listed = second.tracker.list();
  assert.deepEqual(listed.map((s) => [s.mac, s.state, s.previousRun]), [
    [MAC, 'offered', true],
    [OTHER, 'dhcp', true],
  ]);
  assert.equal(listed[0].diagnosis?.pxeError, 'PXE-E32: TFTP open timeout');
  assert.ok(listed[0].timeline.some((e) => e.text.startsWith('Diagnosis:')), 'the timeline came back with the diagnosis entry');
  assert.equal(updates.length, 0, 'restoring publishes nothing');

  // A restored machine is not failed as "silent" by the new run's clock...
  second.tracker.tick();
  assert.equal(second.tracker.get(MAC)!.state, 'offered');
  // ...and is live again once heard from: a new boot attempt continues its timeline.
  const before = listed[0].timelineFrom + listed[0].timeline.length;
  second.dhcp(MAC, { direction: 'out', message: 'offer', ip: '10.0.0.50' });
  const s = second.tracker.get(MAC)!;
  assert.equal(s.previousRun, undefined);
  assert.equal(updates.at(-1)!.session.timelineFrom, before, 'the update carries only the new entries');
  assert.equal(second.tracker.list().find((x) => x.mac === OTHER)!.previousRun, true);
  await second.history.flush();
  assert.equal(second.warnings.length, 0);
});

test('the history is bounded: newest machines, newest timeline entries, no live transfer', () => {
  const base = (i: number): ClientSession => ({
    mac: `52:54:00:00:${String(Math.floor(i / 256)).padStart(2, '0')}:${(i % 256).toString(16).padStart(2, '0')}`,
    isIpxe: false,
    firstSeen: i,
    lastSeen: 1000 + i,
    state: 'payload',
    progress: 50,
    current: { id: 't', protocol: 'http', file: 'x', bytes: 1, rate: 1, state: 'running', startedAt: 1 },
    transfers: [],
    timeline: Array.from({ length: 150 }, (_, k) => ({ at: k, state: 'payload' as const, text: `entry ${k}` })),
    timelineFrom: 10,
    boots: 1,
  });
  const trimmed = trimForHistory(Array.from({ length: 300 }, (_, i) => base(i)), 200);
  assert.equal(trimmed.length, 200);
  assert.equal(trimmed[0].firstSeen, 100, 'the 100 seen longest ago are dropped');
  assert.equal(trimmed[0].timeline.length, HISTORY_TIMELINE_MAX);
  assert.equal(trimmed[0].timeline[0].text, `entry ${150 - HISTORY_TIMELINE_MAX}`);
  assert.equal(trimmed[0].timelineFrom, 10 + 150 - HISTORY_TIMELINE_MAX);
  assert.equal(trimmed[0].current, undefined);
});

test('writes are coalesced: at most one per interval while machines change', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pxk-hist-'));
  let list: ClientSession[] = [];
  let writes = 0;
  const w = new SessionHistoryWriter({
    dataDir,
    everyMs: 200,
    source: () => {
      writes++;
      return list;
    },
  });
  for (let i = 0; i < 50; i++) {
    list = [{ mac: MAC, isIpxe: false, firstSeen: 1, lastSeen: 1 + i, state: 'dhcp', progress: 0, transfers: [], timeline: [], timelineFrom: 0, boots: 1 }];
    w.changed();
    await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise((r) => setTimeout(r, 450));
  assert.ok(writes >= 2 && writes <= 5, `${writes} writes for 50 changes over ~0.5 s`);
  assert.equal(loadSessionHistory(dataDir).sessions[0].lastSeen, 50, 'the last change was written');
  await w.flush();
});

test('a damaged history is kept aside and the run starts without it', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pxk-hist-'));
  writeFileSync(historyPath(dataDir), '{"version":1,"sessions":[{"mac":');
  assert.deepEqual(loadSessionHistory(dataDir, true).sessions, []);
  assert.ok(!readdirSync(dataDir).some((f) => f.includes('.corrupt-')), 'a read-only reader copies nothing');
  const { tracker, warnings } = run(dataDir, { t: 1 });
  assert.equal(tracker.list().length, 0);
  assert.match(warnings[0], /damaged.*starting without it; it was kept as/);
  assert.ok(readdirSync(dataDir).some((f) => f.startsWith('sessions.json.corrupt-')));
  assert.ok(existsSync(historyPath(dataDir)));
});

test('a restarted engine process shows the previous run in its hello and sessions.list before serving', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pxk-hist-'));
  const now = { t: Date.now() };
  const first = run(dataDir, now);
  first.dhcp(MAC);
  first.tracker.diagnose(MAC, diagnosis(MAC, now.t));
  await first.history.flush();

  // The next process: a fresh controller and API server on the same data dir, nothing served yet.
  const controller = new Controller({ dataDir, library: null, logCapacity: 100 });
  const c = await connectApi(t, controller);
  assert.deepEqual(
    c.hello!.sessions.map((s) => [s.mac, s.previousRun, s.diagnosis?.code]),
    [[MAC, true, 'no-tftp-after-ack']],
  );
  assert.equal((await c.call('sessions.list', {})).length, 1);
});
