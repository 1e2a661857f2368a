// Every buffer that grows with traffic is bounded in bytes (decisions §25): the API's event
// ring, each session (timeline, transfers, texts), the renderer's log, its MAC filter and its
// sessions store; and DHCP's malformed-packet events are rate-limited. Each test floods past
// the bound and checks the stated ceiling held. Memory is measured as the structures' own
// byte counts (what the bound counts), never process RSS; nothing here asserts on time.
import { mock, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EVENT_RING_ENTRY_OVERHEAD, EVENT_RING_MAX_BYTES, EventRing, eventJson } from '../../src/api/event-ring.js';
import type { ApiEvent } from '../../src/api/contract.js';
import { SessionTracker, type SessionUpdate } from '../../src/sessions/tracker.js';
import type { TransferEvent, WireEvent } from '../../src/sessions/events.js';
import {
  DIAGNOSIS_LINES_MAX,
  FILE_NAME_MAX,
  SESSION_MAX_BYTES,
  SESSIONS_MAX,
  TEXT_MAX,
  TIMELINE_MAX,
  TRANSFERS_MAX,
  capText,
} from '../../src/sessions/session.js';
import { DhcpServer, DROP_EVENTS_PER_SECOND } from '../../src/dhcp/server.js';
import type { DhcpServerOptions } from '../../src/dhcp/context.js';
import { flushLog, LOG_LINE_TEXT_MAX, LOG_MACS_MAX, LogRing, appendLog, lineBytes, logRing, useLog } from '../../renderer/src/store/log.js';
import { replaceSessions, upsertSession, useSessions } from '../../renderer/src/store/sessions.js';

const jsonBytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v), 'utf8');
const macOf = (i: number) => `52:54:00:${((i >> 16) & 0xff).toString(16).padStart(2, '0')}:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;

// ---- the event ring ----

test('event ring: bounded in bytes (oldest dropped), and still in count', () => {
  const r = new EventRing<{ n: number; pad: string }>(1000, { maxBytes: 10_000 });
  const item = (n: number) => ({ n, pad: 'x'.repeat(100) });
  const one = jsonBytes(item(100)) + EVENT_RING_ENTRY_OVERHEAD;
  for (let i = 100; i < 400; i++) {
    r.push(item(i));
    assert.ok(r.bytes <= r.maxBytes, `after ${i}: ${r.bytes} bytes`);
  }
  const held = Math.floor(10_000 / one);
  assert.equal(r.size, held);
  assert.equal(r.dropped, 300 - held);
  assert.deepEqual(r.toArray().map((x) => x.n), Array.from({ length: held }, (_, i) => 400 - held + i), 'the newest, oldest first');
  assert.deepEqual(r.toArray(2).map((x) => x.n), [398, 399]);
  // The count bound still holds for small events.
  const c = new EventRing<number>(5, { maxBytes: 1 << 20 });
  for (let i = 0; i < 50; i++) c.push(i);
  assert.deepEqual(c.toArray(), [45, 46, 47, 48, 49]);
  // An event bigger than the whole ceiling is dropped, not kept over it.
  const small = new EventRing<{ s: string }>(10, { maxBytes: 1000 });
  small.push({ s: 'a' });
  small.push({ s: 'y'.repeat(5000) });
  assert.ok(small.bytes <= 1000);
  assert.equal(small.size, 0);
  assert.equal(small.dropped, 2);
  assert.equal(EVENT_RING_MAX_BYTES, 64 * 1024 * 1024, 'the stated default (decisions §25)');
});

test("event ring: a machine's progress updates are superseded by its next update; state updates and log lines stay", () => {
  const r = new EventRing<ApiEvent>(1000);
  const session = (mac: string, timeline: number) => ({
    mac, isIpxe: false, firstSeen: 1, lastSeen: 2, state: 'payload' as const, progress: 50, transfers: [],
    timeline: Array.from({ length: timeline }, () => ({ at: 1, state: 'payload' as const, text: 'x' })), timelineFrom: 0, boots: 1,
  });
  const up = (mac: string, reason: SessionUpdate['reason'], timeline = 0): ApiEvent => ({ type: 'session', at: 1, reason, session: session(mac, timeline) });
  r.push(up('a', 'state', 1));
  for (let i = 0; i < 100; i++) {
    r.push(up('a', 'progress'));
    r.push(up('b', 'progress'));
  }
  r.push({ type: 'log', at: 1, level: 'info', source: 'engine', message: 'hello' });
  assert.deepEqual(r.toArray().map((e) => (e.type === 'session' ? `${e.session.mac}:${e.reason}` : e.type)), ['a:state', 'a:progress', 'b:progress', 'log']);
  r.push(up('a', 'timeline', 1));
  assert.deepEqual(r.toArray().map((e) => (e.type === 'session' ? `${e.session.mac}:${e.reason}` : e.type)), ['a:state', 'b:progress', 'log', 'a:timeline']);
  assert.equal(r.superseded, 199);
  // A transfer's progress events are superseded by its next event.
  const x = (phase: TransferEvent['phase'], bytes: number): ApiEvent => ({ type: 'transfer', at: 1, protocol: 'http', phase, id: 'h1', clientIp: '10.0.0.2', clientPort: 1, file: 'f', bytes });
  r.push(x('start', 0));
  for (let b = 1; b < 50; b++) r.push(x('progress', b));
  r.push(x('done', 50));
  assert.deepEqual(r.toArray(2).map((e) => (e.type === 'transfer' ? e.phase : e.type)), ['start', 'done']);
  // The WebSocket frame reuses the ring's text: the same bytes JSON.stringify would make.
  const ev: ApiEvent = { type: 'log', at: 5, level: 'warn', source: 'dhcp', message: 'über "quoted"' };
  r.push(ev);
  assert.equal(eventJson(ev), JSON.stringify(ev));
  const replayed = r.toArray(1)[0];
  assert.deepEqual(replayed, ev);
  assert.equal(eventJson(replayed), JSON.stringify(ev));
});

/**
 * 20 machines booting as a sanboot does, as the engine publishes it: every wire event and every
 * session update into the ring. Long file names (a client's own), hundreds of files per machine
 * (each a timeline entry), thousands of Range reads, and a progress update for every event
 * (progressEveryMs 0): far more than the ceiling.
 */
function sanbootFlood(ring: EventRing<ApiEvent>, o: { machines: number; files: number; reads: number }) {
  let now = 1_000_000;
  let pushed = 0;
  let pushedBytes = 0;
  let biggestSession = 0;
  const publish = (ev: ApiEvent) => {
    ring.push(ev);
    pushed++;
    pushedBytes += Buffer.byteLength(eventJson(ev)) + EVENT_RING_ENTRY_OVERHEAD;
    if (ev.type === 'session') biggestSession = Math.max(biggestSession, Buffer.byteLength(eventJson(ev)));
    assert.ok(ring.bytes <= ring.maxBytes, `ring at ${ring.bytes} bytes, ceiling ${ring.maxBytes}`);
  };
  const plan = { payload: [{ path: 'iso/win.iso', role: 'iso' as const }], readAsDisk: 'iso/win.iso', handoff: { kind: 'signal' as const } };
  const tracker = new SessionTracker({ planFor: () => plan, onUpdate: publish, now: () => now, progressEveryMs: 0 });
  const wire = (ev: WireEvent) => {
    publish(ev);
    tracker.handle(ev);
  };
  let id = 0;
  const long = (m: number, f: number) => `/drivers/${'very-long-directory-name-'.repeat(12)}m${m}-f${f}.sys`;
  for (let m = 0; m < o.machines; m++) {
    const mac = macOf(m);
    wire({ type: 'dhcp', at: now, direction: 'in', message: 'discover', mac, xid: m, port: 67, arch: 'efi-x64', vendorClass: 'PXEClient:Arch:00007' });
    wire({ type: 'dhcp', at: now, direction: 'out', message: 'ack', mac, xid: m, port: 67, ip: `10.0.${m}.9`, bootFile: 'ipxe.efi' });
  }
  for (let f = 0; f < o.files; f++) {
    for (let m = 0; m < o.machines; m++) {
      const base = { type: 'transfer' as const, at: (now += 1), protocol: 'http' as const, id: `h${id++}`, clientIp: `10.0.${m}.9`, clientPort: 1000, mac: macOf(m), file: long(m, f), size: 4096 };
      wire({ ...base, phase: 'start', bytes: 0 });
      wire({ ...base, phase: 'progress', bytes: 2048 });
      wire({ ...base, phase: 'done', bytes: 4096 });
    }
  }
  const total = 4 * 1024 ** 3;
  for (let i = 0; i < o.reads; i++) {
    for (let m = 0; m < o.machines; m++) {
      const range = { start: i * 65536, end: i * 65536 + 65535, total };
      const base = { type: 'transfer' as const, at: (now += 1), protocol: 'http' as const, id: `r${id++}`, clientIp: `10.0.${m}.9`, clientPort: 1000, mac: macOf(m), file: '/iso/win.iso', role: 'iso' as const, size: 65536, range };
      wire({ ...base, phase: 'start', bytes: 0 });
      wire({ ...base, phase: 'progress', bytes: 32768 });
      wire({ ...base, phase: 'done', bytes: 65536 });
    }
  }
  return { tracker, pushed, pushedBytes, biggestSession };
}

test('flood: 20 sanbooting machines never take the event ring past its stated ceiling', () => {
  // The default ring (64 MiB, 100,000 events) as the controller makes it.
  const ring = new EventRing<ApiEvent>(100_000);
  const { tracker, pushed, pushedBytes, biggestSession } = sanbootFlood(ring, { machines: 20, files: 100, reads: 100 });
  assert.ok(pushedBytes > 2 * EVENT_RING_MAX_BYTES, `the flood is over the ceiling: ${(pushedBytes / 2 ** 20).toFixed(0)} MiB in ${pushed} events`);
  assert.ok(ring.peakBytes <= EVENT_RING_MAX_BYTES, `peak ${ring.peakBytes}`);
  assert.ok(ring.bytes <= EVENT_RING_MAX_BYTES);
  assert.ok(ring.dropped > 0, 'the byte bound, not the count, pushed events out');
  assert.ok(ring.size < 100_000);
  assert.ok(pushed < 100_000, 'the count bound alone would have held every byte of the flood');
  assert.ok(biggestSession <= SESSION_MAX_BYTES);
  // What is kept still tells the story: every machine, its latest state.
  const kept = ring.toArray();
  const last = new Map<string, number>();
  for (const e of kept) if (e.type === 'session') last.set(e.session.mac, e.session.transfers.at(-1)?.bytes ?? 0);
  assert.equal(last.size, 20);
  for (let m = 0; m < 20; m++) {
    const s = tracker.get(macOf(m))!;
    assert.equal(s.transfers.length, TRANSFERS_MAX);
    assert.equal(s.timeline.length, TIMELINE_MAX);
    assert.equal(last.get(macOf(m)), s.transfers.at(-1)!.bytes, 'the newest update of each machine is in the ring');
  }
  console.log(
    `flood: ${pushed} events, ${(pushedBytes / 2 ** 20).toFixed(1)} MiB pushed; ring holds ${ring.size} events, ${(ring.bytes / 2 ** 20).toFixed(1)} MiB (peak ${(ring.peakBytes / 2 ** 20).toFixed(1)} MiB, ceiling ${EVENT_RING_MAX_BYTES / 2 ** 20} MiB); ` +
      `${ring.superseded} superseded, ${ring.dropped} dropped; biggest session update ${(biggestSession / 1024).toFixed(1)} KiB`,
  );
});

test('flood with a small ceiling: the count-only ring would have held all of it; this one holds its ceiling', () => {
  const ring = new EventRing<ApiEvent>(100_000, { maxBytes: 2 * 1024 * 1024 });
  const { pushed, pushedBytes } = sanbootFlood(ring, { machines: 20, files: 30, reads: 30 });
  assert.ok(pushed < 100_000 && pushedBytes > 4 * ring.maxBytes, `${pushed} events fit the count bound, ${pushedBytes} bytes do not fit the byte bound`);
  assert.ok(ring.peakBytes <= ring.maxBytes);
});

// ---- one session ----

test("a session's JSON stays under SESSION_MAX_BYTES whatever a client names its files", () => {
  let now = 1_000_000;
  const tracker = new SessionTracker({ planFor: () => undefined, onUpdate: () => undefined, now: () => now, progressEveryMs: 0 });
  const MAC = '52:54:00:aa:bb:cc';
  tracker.handle({ type: 'dhcp', at: now, direction: 'in', message: 'discover', mac: MAC, xid: 1, port: 67, arch: 'bios' });
  // Control characters: the worst case JSON has (six bytes each), and names far past 255.
  const worst = (i: number) => `${'\u0001'.repeat(4000)}${i}`;
  for (let i = 0; i < 1000; i++) {
    now += 1;
    const base = { type: 'transfer' as const, at: now, protocol: 'tftp' as const, id: `t${i}`, clientIp: '10.0.0.9', clientPort: 1000, mac: MAC, file: worst(i), bytes: 0 };
    tracker.handle({ ...base, phase: 'start' });
    tracker.handle({ ...base, phase: 'error', errorCode: 'aborted', error: worst(i) });
  }
  tracker.handle({ type: 'transfer', at: now, protocol: 'tftp', id: 'cur', clientIp: '10.0.0.9', clientPort: 1000, mac: MAC, file: worst(-1), bytes: 0, phase: 'start' });
  tracker.diagnose(MAC, {
    code: 'file-not-found' as never, title: worst(1), fix: worst(2), pxeError: worst(3),
    causes: Array.from({ length: 100 }, (_, i) => worst(i)), evidence: Array.from({ length: 100 }, (_, i) => worst(i)), at: now, mac: MAC,
  });
  tracker.refuse(MAC, worst(4));
  const s = tracker.get(MAC)!;
  assert.equal(s.timeline.length, TIMELINE_MAX);
  assert.equal(s.transfers.length, TRANSFERS_MAX);
  assert.ok(s.timeline.every((e) => e.text.length <= TEXT_MAX));
  assert.ok(s.transfers.every((t) => t.file.length <= FILE_NAME_MAX && t.id.length <= FILE_NAME_MAX + 5));
  assert.ok(s.failure!.message.length <= TEXT_MAX);
  assert.ok(s.diagnosis!.causes.length <= DIAGNOSIS_LINES_MAX && s.diagnosis!.evidence.length <= DIAGNOSIS_LINES_MAX);
  assert.ok([s.diagnosis!.title, s.diagnosis!.fix, ...s.diagnosis!.causes].every((t) => t.length <= TEXT_MAX));
  const bytes = jsonBytes(tracker.list()[0]);
  assert.ok(bytes <= SESSION_MAX_BYTES, `worst session ${bytes} bytes, ceiling ${SESSION_MAX_BYTES}`);
  console.log(`worst-case session: ${(bytes / 1024).toFixed(1)} KiB of JSON (ceiling ${SESSION_MAX_BYTES / 1024} KiB)`);
  // capText never splits a surrogate pair.
  const emoji = capText('😀'.repeat(600));
  assert.ok(emoji.length <= TEXT_MAX && !/[\ud800-\udbff]…$/.test(emoji));
});

// ---- DHCP malformed packets ----

const garbage = (i: number): Buffer => {
  if (i % 3 === 0) return Buffer.alloc(i % 200, i & 0xff); // too short
  const b = Buffer.alloc(300, 0);
  b[0] = i % 3 === 1 ? 7 : 1; // bad op, or a bad magic cookie
  b[2] = 6;
  b[1] = 1;
  return b;
};

function dhcpServer(t: { after: (fn: () => void) => void }, emitted: WireEvent[], extra: Partial<DhcpServerOptions> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'pxk-mb-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  return new DhcpServer({
    iface: 'lo', serverIp: '127.0.0.1', prefix: 8, leaseSeconds: 300, dataDir, mode: 'proxy',
    policy: { decide: () => ({ kind: 'refuse', reason: 'test' }) }, emit: (e) => void emitted.push(e), ...extra,
  });
}

test('DHCP: a flood of malformed packets is counted whole but reported at most 20 a second, with one "(N more)" line', async (t) => {
  mock.timers.enable({ apis: ['Date', 'setTimeout'], now: 10_000 });
  t.after(() => mock.timers.reset());
  const emitted: WireEvent[] = [];
  const server = dhcpServer(t, emitted);
  const receive = (server as unknown as { receive: (k: 'dhcp' | 'pxe', b: Buffer, r: dgram.RemoteInfo) => void }).receive.bind(server);
  const rinfo = (i: number): dgram.RemoteInfo => ({ address: `10.9.${(i >> 8) & 0xff}.${i & 0xff}`, port: 68, family: 'IPv4', size: 0 });
  for (let i = 0; i < 10_000; i++) receive(i % 2 ? 'dhcp' : 'pxe', garbage(i), rinfo(i));
  assert.equal(server.stats().dropped, 10_000, 'every one counted');
  assert.equal(emitted.filter((e) => e.type === 'drop').length, DROP_EVENTS_PER_SECOND);
  mock.timers.tick(1000); // the summary goes out even if the flood stopped within the second
  const summaries = emitted.filter((e) => e.type === 'log');
  assert.equal(summaries.length, 1);
  assert.match((summaries[0] as { message: string }).message, /9980 more malformed packets/);
  // The next second: again at most 20 events, and stop() says what was left.
  for (let i = 0; i < 5000; i++) receive('dhcp', garbage(i), rinfo(i));
  await server.stop();
  assert.equal(emitted.filter((e) => e.type === 'drop').length, 2 * DROP_EVENTS_PER_SECOND);
  assert.match((emitted.at(-1) as { message: string }).message, /4980 more malformed packets/);
  assert.equal(server.stats().dropped, 15_000);
});

test('DHCP: garbage datagrams on a real socket (loopback) are rate-limited the same way', { skip: process.getuid?.() !== 0 ? 'binding to a NIC needs root' : false }, async (t) => {
  mock.timers.enable({ apis: ['Date'], now: 50_000 }); // one rate window however long the sends take
  t.after(() => mock.timers.reset());
  const emitted: WireEvent[] = [];
  const port = 20_000 + (process.pid % 20_000);
  const server = dhcpServer(t, emitted, { dhcpPort: port, pxePort: port + 1 });
  await server.start();
  t.after(() => server.stop());
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  t.after(() => sock.close());
  const N = 3000;
  for (let sent = 0; sent < N; ) {
    // In batches the receive queue holds, each waited for.
    const batch = Math.min(200, N - sent);
    await Promise.all(Array.from({ length: batch }, (_, k) => new Promise<void>((resolve, reject) => sock.send(garbage(sent + k), port, '127.0.0.1', (err) => (err ? reject(err) : resolve())))));
    sent += batch;
    while (server.stats().received < sent) await new Promise((r) => setImmediate(r));
  }
  assert.equal(server.stats().dropped, N);
  assert.equal(emitted.filter((e) => e.type === 'drop').length, DROP_EVENTS_PER_SECOND);
  await server.stop();
  assert.match((emitted.filter((e) => e.type === 'log').at(-1) as { message: string }).message, new RegExp(`${N - DROP_EVENTS_PER_SECOND} more malformed packets`));
});

// ---- the renderer's stores ----

test('renderer log: bounded in bytes, each line capped, the MAC filter to the most recent 200', () => {
  const ring = new LogRing(100_000, 1024 * 1024);
  for (let i = 0; i < 20_000; i++) {
    ring.push({ at: i, level: 'info', protocol: 'boot', mac: macOf(i), text: `line ${i} ${'y'.repeat(i % 5000)}` });
    assert.ok(ring.bytes <= ring.maxBytes);
  }
  assert.ok(ring.size < 20_000 && ring.size > 0);
  // The count bound holds exactly, as before.
  const small = new LogRing(10);
  for (let i = 0; i < 25; i++) small.push({ at: i, level: 'info', protocol: 'boot', text: `l${i}` });
  assert.equal(small.size, 10);
  assert.equal(small.get(small.firstSeq)!.text, 'l15');
  assert.equal(ring.get(ring.nextSeq - 1)!.text.slice(0, 10), 'line 19999');
  assert.equal(ring.get(ring.firstSeq - 1), undefined);
  for (let s = ring.firstSeq; s < ring.nextSeq; s++) assert.ok(ring.get(s)!.text.length <= LOG_LINE_TEXT_MAX);
  let sum = 0;
  for (let s = ring.firstSeq; s < ring.nextSeq; s++) sum += lineBytes(ring.get(s)!);
  assert.equal(sum, ring.bytes, 'the count is the lines held');
  // The app's log and its MAC filter under 5,000 made-up MACs.
  for (let i = 0; i < 5000; i++) appendLog({ at: i, level: 'warn', protocol: 'dhcp', mac: macOf(i), text: 'x' });
  appendLog({ at: 1, level: 'info', protocol: 'dhcp', mac: macOf(7), text: 'seen again' });
  flushLog();
  const macs = useLog.getState().macs;
  assert.equal(macs.length, LOG_MACS_MAX);
  assert.ok(macs.includes(macOf(4999)) && macs.includes(macOf(7)) && !macs.includes(macOf(8)), 'the most recently seen');
  assert.deepEqual(macs, [...macs].sort());
  assert.ok(logRing.bytes <= logRing.maxBytes);
});

test('renderer sessions: at most SESSIONS_MAX machines, the ones heard from longest ago (early ones first) let go', () => {
  const session = (i: number, state: 'dhcp' | 'payload' = 'payload') => ({
    mac: macOf(i), isIpxe: false, firstSeen: i, lastSeen: i, state, progress: 0, transfers: [], timeline: [{ at: i, state, text: 't' }], timelineFrom: 0, boots: 1,
  });
  replaceSessions([]);
  upsertSession(session(0, 'payload'));
  upsertSession(session(1, 'dhcp'));
  for (let i = 2; i < 1500; i++) upsertSession(session(i));
  const byMac = useSessions.getState().byMac;
  assert.equal(Object.keys(byMac).length, SESSIONS_MAX);
  assert.ok(byMac[macOf(1499)] && !byMac[macOf(0)] && !byMac[macOf(1)]);
  // One more: the early machine goes before an older one that got further.
  replaceSessions([session(0, 'payload'), session(1, 'dhcp'), ...Array.from({ length: SESSIONS_MAX - 2 }, (_, i) => session(10 + i))]);
  upsertSession(session(9000));
  const after = useSessions.getState().byMac;
  assert.equal(Object.keys(after).length, SESSIONS_MAX);
  assert.ok(after[macOf(0)] && !after[macOf(1)] && after[macOf(9000)]);
  // A hello with more machines than the bound keeps the most recently heard from.
  replaceSessions(Array.from({ length: 2000 }, (_, i) => session(i)));
  const hello = useSessions.getState().byMac;
  assert.equal(Object.keys(hello).length, SESSIONS_MAX);
  assert.ok(hello[macOf(1999)] && !hello[macOf(0)]);
});
