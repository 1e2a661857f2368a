import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionTracker, type SessionForgotten, type SessionUpdate } from '../../src/sessions/tracker.js';
import { mergeSessionUpdate, type ClientSession } from '../../src/sessions/session.js';
import type { DhcpEvent, TransferEvent } from '../../src/sessions/events.js';
import type { FileRole } from '../../src/files/roles.js';

const MAC = '52:54:00:aa:00:01';
/** A plan whose hand-off is its files delivered (no loader reports it). */
const filesPlan = (payload: string[]) => ({ payload: payload.map((path) => ({ path, role: 'kernel' as const })), handoff: { kind: 'files' } as const });

function harness(payload = ['image/vmlinuz', 'image/initrd-0.img']) {
  let now = 1_000_000;
  const updates: SessionUpdate[] = [];
  const tracker = new SessionTracker({ planFor: () => filesPlan(payload), onUpdate: (u) => updates.push(u), now: () => now, silentAfterMs: 60_000 });
  const dhcp = (e: Partial<DhcpEvent>) => tracker.handle({ type: 'dhcp', at: now, direction: 'in', message: 'discover', mac: MAC, xid: 1, port: 67, ...e });
  let n = 0;
  const xfer = (e: Partial<TransferEvent>) =>
    tracker.handle({ type: 'transfer', at: now, protocol: 'tftp', phase: 'start', id: `t${n++}`, clientIp: '10.0.0.50', clientPort: 2000, mac: MAC, file: 'x', bytes: 0, ...e });
  return { tracker, updates, dhcp, xfer, advance: (ms: number) => (now += ms), state: () => tracker.get(MAC)!.state };
}

test('a BIOS client goes from DHCP to handed off through every state', () => {
  const h = harness();
  h.dhcp({ arch: 'bios', vendorClass: 'PXEClient:Arch:00000' });
  assert.equal(h.state(), 'dhcp');
  h.dhcp({ direction: 'out', message: 'offer', ip: '10.0.0.50', bootFile: 'undionly.kpxe' });
  assert.equal(h.state(), 'offered');
  h.dhcp({ direction: 'out', message: 'ack', ip: '10.0.0.50' });
  assert.equal(h.state(), 'bound');
  h.xfer({ id: 'b', file: 'undionly.kpxe', role: 'boot program', size: 1000 });
  assert.equal(h.state(), 'boot-program');
  h.xfer({ id: 'b', file: 'undionly.kpxe', role: 'boot program', phase: 'done', bytes: 1000 });
  h.dhcp({ isIpxe: true });
  assert.equal(h.state(), 'ipxe');
  h.xfer({ id: 's', protocol: 'http', file: 'ipxe/52-54-00-aa-00-01.ipxe', role: 'script', size: 100 });
  assert.equal(h.state(), 'script');
  h.xfer({ id: 'k', protocol: 'http', file: 'image/vmlinuz', role: 'kernel', size: 8000 });
  assert.equal(h.state(), 'payload');
  h.advance(1000);
  h.xfer({ id: 'k', protocol: 'http', file: 'image/vmlinuz', role: 'kernel', phase: 'progress', bytes: 4000 });
  const mid = h.tracker.get(MAC)!;
  assert.ok(mid.progress > 45 && mid.progress < 100, `progress ${mid.progress}`);
  assert.equal(mid.current?.rate, 4000);
  h.xfer({ id: 'k', protocol: 'http', file: 'image/vmlinuz', role: 'kernel', phase: 'done', bytes: 8000 });
  assert.equal(h.state(), 'payload', 'initrd still missing');
  h.xfer({ id: 'i', protocol: 'http', file: '/image/initrd-0.img', role: 'initrd', size: 10 });
  h.xfer({ id: 'i', protocol: 'http', file: '/image/initrd-0.img', role: 'initrd', phase: 'done', bytes: 10 });
  const s = h.tracker.get(MAC)!;
  assert.equal(s.state, 'handed-off');
  assert.equal(s.progress, 100);
  assert.equal(s.arch, 'bios');
  assert.equal(s.ip, '10.0.0.50');
  assert.deepEqual(
    [...new Set(s.timeline.map((e) => e.state))],
    ['dhcp', 'offered', 'bound', 'boot-program', 'ipxe', 'script', 'payload', 'handed-off'],
  );
});

test('a missing boot file over TFTP is PXE-E3B; an aborted tsize probe is not a failure', () => {
  const h = harness();
  h.dhcp({});
  h.dhcp({ direction: 'out', message: 'ack', ip: '10.0.0.50' });
  h.xfer({ id: 'p', file: 'ipxe.efi', role: 'boot program', size: 5 });
  h.xfer({ id: 'p', file: 'ipxe.efi', role: 'boot program', phase: 'error', errorCode: 'aborted' });
  assert.equal(h.state(), 'boot-program');
  h.xfer({ id: 'q', file: 'pxelinux.0', phase: 'error', errorCode: 'not-found' });
  const s = h.tracker.get(MAC)!;
  assert.equal(s.state, 'failed');
  assert.equal(s.failure?.code, 'not-found');
  assert.match(s.failure!.pxeError!, /PXE-E3B/);
  assert.match(s.failure!.message, /pxelinux\.0/);
});

test('a machine that goes quiet mid-boot is reported silent; a new DISCOVER starts a new attempt', () => {
  const h = harness();
  h.dhcp({});
  h.dhcp({ direction: 'out', message: 'ack', ip: '10.0.0.50' });
  h.xfer({ id: 'b', file: 'ipxe.efi', role: 'boot program', size: 10 });
  h.xfer({ id: 'b', file: 'ipxe.efi', role: 'boot program', phase: 'done', bytes: 10 });
  h.advance(30_000);
  h.tracker.tick();
  assert.equal(h.state(), 'boot-program');
  h.advance(31_000);
  h.tracker.tick();
  assert.equal(h.state(), 'failed');
  assert.equal(h.tracker.get(MAC)!.failure?.code, 'silent');
  h.dhcp({});
  assert.equal(h.state(), 'dhcp');
  assert.equal(h.tracker.get(MAC)!.boots, 2);
  assert.equal(h.tracker.get(MAC)!.failure, undefined);
});

test('a refused architecture fails with PXE-E53 and progress updates are throttled', () => {
  const h = harness();
  h.dhcp({ arch: 'efi-arm64' });
  h.tracker.refuse(MAC, 'no ARM64 boot program');
  assert.equal(h.tracker.get(MAC)!.failure?.pxeError?.startsWith('PXE-E53'), true);
  const before = h.updates.length;
  h.xfer({ id: 'k', protocol: 'http', file: 'image/vmlinuz', role: 'kernel', size: 100 });
  for (let i = 1; i <= 10; i++) h.xfer({ id: 'k', protocol: 'http', file: 'image/vmlinuz', role: 'kernel', phase: 'progress', bytes: i * 10 });
  assert.ok(h.updates.length - before < 5, `throttled: ${h.updates.length - before} updates`);
});

test('updates carry only new timeline entries; folded together they equal the whole timeline', () => {
  const h = harness();
  h.dhcp({ arch: 'bios' });
  h.dhcp({ direction: 'out', message: 'offer', ip: '10.0.0.50' });
  h.dhcp({ direction: 'out', message: 'ack', ip: '10.0.0.50' });
  for (const u of h.updates) assert.equal(u.session.timeline.length, 1, 'one new entry per state change');
  assert.deepEqual(h.updates.map((u) => u.session.timelineFrom), [0, 1, 2]);
  // A machine looping through DHCP: 300 boot attempts, more than the 200 kept.
  for (let i = 0; i < 300; i++) {
    h.dhcp({});
    h.dhcp({ direction: 'out', message: 'ack', ip: '10.0.0.50' });
  }
  assert.ok(h.updates.every((u) => u.session.timeline.length <= 1), 'no update resends history');
  let folded: ClientSession | undefined;
  for (const u of h.updates) folded = mergeSessionUpdate(folded, u.session);
  const live = h.tracker.list()[0];
  assert.equal(live.timeline.length, 200);
  assert.equal(live.timelineFrom, 3 + 600 - 200);
  assert.deepEqual(folded, live);
  // A replayed older update (a reconnect) and then the newest again end in the same place.
  const replayed = mergeSessionUpdate(mergeSessionUpdate(folded, h.updates[h.updates.length - 3].session), h.updates[h.updates.length - 2].session);
  assert.deepEqual(mergeSessionUpdate(replayed, h.updates[h.updates.length - 1].session).timeline, live.timeline);
});

test('a snapshot handed to a listener does not change when the session moves on', () => {
  const h = harness();
  h.dhcp({});
  h.xfer({ id: 'b', file: 'undionly.kpxe', role: 'boot program', size: 1000 });
  const first = h.updates[h.updates.length - 1].session;
  const bytes = first.current!.bytes;
  h.advance(1000);
  h.xfer({ id: 'b', file: 'undionly.kpxe', role: 'boot program', phase: 'progress', bytes: 500 });
  assert.equal(first.current!.bytes, bytes);
  assert.equal(first.transfers[0].bytes, bytes);
  assert.equal(first.current, first.transfers[0], 'current is the same object as its transfer row');
});

test('past its limit the tracker forgets machines that never got past an offer first, and says so', () => {
  let now = 1_000_000;
  const forgotten: SessionForgotten[] = [];
  const tracker = new SessionTracker({ planFor: () => undefined, onUpdate: () => undefined, onForget: (f) => forgotten.push(f), maxSessions: 3, now: () => now });
  const mac = (i: number) => `02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
  const dhcp = (m: string, e: Partial<DhcpEvent> = {}) => tracker.handle({ type: 'dhcp', at: now, direction: 'in', message: 'discover', mac: m, xid: 1, port: 67, ...e });
  // A real machine that got its address, then a flood of made-up MACs that only DISCOVER.
  dhcp(MAC);
  dhcp(MAC, { direction: 'out', message: 'ack', ip: '10.0.0.50' });
  for (let i = 0; i < 500; i++) {
    now += 1;
    dhcp(mac(i));
  }
  assert.equal(tracker.size, 3);
  assert.equal(tracker.get(MAC)?.state, 'bound', 'the machine past the offer stage is kept through the flood');
  assert.ok(tracker.get(mac(499)) && tracker.get(mac(498)), 'the newest made-up ones are tracked');
  assert.equal(forgotten.length, 498);
  assert.deepEqual(forgotten.map((f) => f.forgotten).slice(-2), [497, 498], 'each says how many so far');
  assert.equal(forgotten[0].mac, mac(0));
  assert.deepEqual(tracker.list().map((s) => s.mac), [MAC, mac(498), mac(499)], 'listed first seen first');
  // A forgotten machine that comes back starts a fresh session.
  dhcp(mac(0));
  assert.equal(tracker.get(mac(0))?.timeline.length, 1);
  assert.equal(tracker.size, 3);
});

/** A plan whose loader reports the hand-off (every script PXE Kit writes). */
const signalPlan = (o: { payload?: { path: string; role: FileRole; firmware?: 'bios' | 'uefi' }[]; readAsDisk?: string } = {}) => ({
  payload: o.payload ?? [],
  readAsDisk: o.readAsDisk,
  handoff: { kind: 'signal' } as const,
});

function signalHarness(plan: ReturnType<typeof signalPlan>) {
  let now = 1_000_000;
  const updates: SessionUpdate[] = [];
  const tracker = new SessionTracker({ planFor: () => plan, onUpdate: (u) => updates.push(u), now: () => now, silentAfterMs: 60_000, progressEveryMs: 0 });
  let n = 0;
  const xfer = (e: Partial<TransferEvent>) =>
    tracker.handle({ type: 'transfer', at: now, protocol: 'http', phase: 'start', id: `t${n++}`, clientIp: '10.0.0.50', clientPort: 2000, mac: MAC, file: 'x', bytes: 0, ...e });
  tracker.handle({ type: 'dhcp', at: now, direction: 'in', message: 'discover', mac: MAC, xid: 1, port: 67, arch: 'bios', vendorClass: 'PXEClient:Arch:00000' });
  const handedOffEntries = () => updates.filter((u) => u.reason === 'state' && u.session.state === 'handed-off').length;
  return { tracker, updates, xfer, advance: (ms: number) => (now += ms), now: () => now, state: () => tracker.get(MAC)!.state, handedOffEntries };
}

test('with a reporting loader, files delivered are not the hand-off: the report is, once, and nothing after it takes the machine back', () => {
  const h = signalHarness(signalPlan({ payload: [{ path: 'image/vmlinuz', role: 'kernel' }] }));
  h.xfer({ id: 'k', file: '/image/vmlinuz', role: 'kernel', size: 100 });
  h.xfer({ id: 'k', file: '/image/vmlinuz', role: 'kernel', phase: 'done', bytes: 100 });
  assert.equal(h.state(), 'payload', 'the kernel alone does not hand off');
  // The report's request is the hand-off; its end, done or never acknowledged (GRUB goes on to
  // `boot` at once and its last ACK is often lost), changes nothing.
  h.xfer({ id: 's0', file: '/handoff/52-54-00-aa-00-01', role: 'hand-off signal' });
  assert.equal(h.state(), 'handed-off');
  h.xfer({ id: 's0', file: '/handoff/52-54-00-aa-00-01', role: 'hand-off signal', phase: 'error', errorCode: 'timeout', bytes: 0 });
  assert.equal(h.state(), 'handed-off');
  assert.equal(h.tracker.get(MAC)!.diagnosis, undefined);
  assert.match(h.tracker.get(MAC)!.timeline.at(-1)!.text, /reported it is handing over/);
  assert.equal(h.tracker.get(MAC)!.progress, 100);
  // A second report (a retried request), then what the OS fetches after: handed off once, then the OS is seen.
  h.xfer({ id: 's1', file: '/handoff/52-54-00-aa-00-01', role: 'hand-off signal' });
  assert.equal(h.state(), 'handed-off');
  h.xfer({ id: 'iso', file: '/iso/live.iso', role: 'iso', size: 1000 });
  h.xfer({ id: 'iso', file: '/iso/live.iso', role: 'iso', phase: 'done', bytes: 1000 });
  assert.equal(h.state(), 'os-started');
  assert.equal(h.handedOffEntries(), 1);
  assert.match(h.tracker.get(MAC)!.timeline.map((e) => e.text).join('\n'), /The operating system is running: it fetches HTTP \/iso\/live\.iso/);
  // Terminal: no "silent" failure later; a quiet OS is noted once.
  h.advance(600_000);
  h.tracker.tick();
  h.tracker.tick();
  assert.equal(h.state(), 'os-started');
  assert.equal(h.tracker.get(MAC)!.timeline.filter((e) => /^Quiet for/.test(e.text)).length, 1);
});

test("a sanboot's many Range reads are one download with progress by bytes of the ISO; the hand-off stays single", () => {
  const size = 64 * 1024 * 1024;
  const h = signalHarness(signalPlan({ payload: [{ path: 'iso/x.iso', role: 'iso' }], readAsDisk: 'iso/x.iso' }));
  const read = (i: number, len: number) => {
    const range = { start: i * len, end: i * len + len - 1, total: size };
    h.xfer({ id: `r${i}`, file: '/iso/x.iso', role: 'iso', size: len, range });
    h.xfer({ id: `r${i}`, file: '/iso/x.iso', role: 'iso', phase: 'progress', bytes: len / 2, size: len, range });
    h.xfer({ id: `r${i}`, file: '/iso/x.iso', role: 'iso', phase: 'done', bytes: len, size: len, range });
  };
  read(0, 2048);
  h.xfer({ id: 'sig', file: '/handoff/52-54-00-aa-00-01', role: 'hand-off signal' });
  assert.equal(h.state(), 'handed-off');
  let last = 0;
  for (let i = 1; i <= 100; i++) {
    read(i, 256 * 1024);
    const t = h.tracker.get(MAC)!.transfers;
    assert.equal(t.length, 1, 'one download, not one row per read');
    assert.ok(t[0].bytes > last, 'bytes grow with every read');
    last = t[0].bytes;
  }
  const t = h.tracker.get(MAC)!.transfers[0];
  assert.equal(t.bytes, 2048 + 100 * 256 * 1024);
  assert.equal(t.size, size, 'the size is the whole ISO, not one range');
  assert.equal(h.state(), 'handed-off');
  assert.equal(h.handedOffEntries(), 1, 'never flips back and forth');
  const texts = h.tracker.get(MAC)!.timeline.map((e) => e.text);
  assert.equal(texts.filter((x) => /iso\/x\.iso/.test(x)).length, 1, `one timeline line for all reads: ${texts.join(' | ')}`);
});

test('a machine fetches only the payload of its own firmware: a BIOS machine without bootx64.efi is handed off when no loader reports', () => {
  let now = 1_000_000;
  const plan = {
    payload: [
      { path: 'iso/w/bootmgr', role: 'payload' as const, firmware: 'bios' as const },
      { path: 'iso/w/efi/boot/bootx64.efi', role: 'payload' as const, firmware: 'uefi' as const },
      { path: 'iso/w/sources/boot.wim', role: 'payload' as const },
    ],
    handoff: { kind: 'files' } as const,
  };
  const tracker = new SessionTracker({ planFor: () => plan, onUpdate: () => undefined, now: () => now });
  tracker.handle({ type: 'dhcp', at: now, direction: 'in', message: 'discover', mac: MAC, xid: 1, port: 67, arch: 'bios', vendorClass: 'PXEClient:Arch:00000' });
  const x = (id: string, file: string, phase: 'start' | 'done') =>
    tracker.handle({ type: 'transfer', at: now, protocol: 'http', phase, id, clientIp: '10.0.0.5', clientPort: 1, mac: MAC, file, role: 'payload', bytes: phase === 'done' ? 10 : 0, size: 10 });
  for (const [id, f] of [['a', 'iso/w/bootmgr'], ['b', 'iso/w/sources/boot.wim']]) {
    x(id, f, 'start');
    x(id, f, 'done');
  }
  assert.equal(tracker.get(MAC)!.state, 'handed-off');
  now += 600_000;
  tracker.tick();
  assert.equal(tracker.get(MAC)!.state, 'handed-off', 'not FAILED 90 s later for want of the UEFI file');
});

test('progress held back by the rate limit is sent by the next tick: the last bytes of a burst are shown', () => {
  let now = 1_000_000;
  const updates: SessionUpdate[] = [];
  const tracker = new SessionTracker({ planFor: () => undefined, onUpdate: (u) => updates.push(u), now: () => now, progressEveryMs: 250 });
  const x = (phase: 'start' | 'progress', bytes: number) =>
    tracker.handle({ type: 'transfer', at: now, protocol: 'http', phase, id: 'k', clientIp: '10.0.0.5', clientPort: 1, mac: MAC, file: 'image/vmlinuz', role: 'kernel', bytes, size: 1000 });
  x('start', 0);
  now += 300;
  x('progress', 100);
  now += 10;
  x('progress', 900);
  const lastBytes = () => updates.filter((u) => u.reason === 'progress').at(-1)?.session.transfers[0].bytes;
  assert.equal(lastBytes(), 100, 'the second update is held back');
  tracker.tick();
  assert.equal(lastBytes(), 900);
  const n = updates.length;
  tracker.tick();
  assert.equal(updates.length, n, 'owed once, sent once');
});

test('after the hand-off: the OS asking for its own address is "OS network up" with how long it took; no new boot attempt', () => {
  const h = signalHarness(signalPlan({ payload: [{ path: 'image/vmlinuz', role: 'kernel' }] }));
  const dhcp = (e: Partial<DhcpEvent>) => h.tracker.handle({ type: 'dhcp', at: h.now(), direction: 'in', message: 'discover', mac: MAC, xid: 9, port: 67, ...e } as DhcpEvent);
  h.xfer({ id: 's', file: '/handoff/52-54-00-aa-00-01', role: 'hand-off signal' });
  assert.equal(h.state(), 'handed-off');
  h.advance(23_000);
  dhcp({ vendorClass: 'udhcp 1.36.1' });
  const s = h.tracker.get(MAC)!;
  assert.equal(s.state, 'os-up');
  assert.equal(s.boots, 1, 'the OS asking is no new boot attempt');
  assert.deepEqual(s.os, { state: 'os-up', at: h.now(), afterMs: 23_000, how: 'its DHCP client "udhcp 1.36.1"' });
  assert.match(s.timeline.at(-1)!.text, /The operating system asked for its own address \(its DHCP client "udhcp 1\.36\.1"\) 23 s after the hand-off: it is running and its network is up/);
  assert.equal(s.vendorClass, 'PXEClient:Arch:00000', "the firmware's vendor class stays the machine's");
  // Its REQUEST and a DHCP client with no vendor class (dhclient) change nothing more.
  dhcp({ message: 'request', vendorClass: 'udhcp 1.36.1' });
  dhcp({ vendorClass: undefined });
  assert.equal(h.tracker.get(MAC)!.state, 'os-up');
  assert.equal(h.tracker.get(MAC)!.timeline.filter((e) => e.state === 'os-up').length, 1);
});

test('back at network boot soon after the hand-off with no sign of the OS: the boot failed; again: looping, N times; every boot counted', () => {
  const h = signalHarness(signalPlan({ payload: [{ path: 'image/vmlinuz', role: 'kernel' }] }));
  const pxe = (e: Partial<DhcpEvent> = {}) => h.tracker.handle({ type: 'dhcp', at: h.now(), direction: 'in', message: 'discover', mac: MAC, xid: 9, port: 67, arch: 'bios', vendorClass: 'PXEClient:Arch:00000', ...e } as DhcpEvent);
  const handOff = () => h.xfer({ id: `s${h.now()}`, file: '/handoff/52-54-00-aa-00-01', role: 'hand-off signal' });
  handOff();
  h.advance(9_000);
  pxe();
  let s = h.tracker.get(MAC)!;
  assert.equal(s.state, 'failed');
  assert.equal(s.failure?.code, 'boot-loop');
  assert.match(s.failure!.message, /^Back at network boot 9 s after the hand-off, with no sign of its operating system: what it was given did not start\. Its screen said why/);
  assert.equal(s.boots, 2);
  assert.equal(s.loops, 1);
  // The next attempt goes on as usual, then comes back again.
  h.xfer({ id: 'k2', file: '/image/vmlinuz', role: 'kernel', size: 100 });
  assert.equal(h.tracker.get(MAC)!.state, 'payload');
  handOff();
  h.advance(5_000);
  pxe();
  s = h.tracker.get(MAC)!;
  assert.match(s.failure!.message, /\(looping: 2 times\)/);
  assert.equal(s.boots, 3);
  // Long after a hand-off (a reboot of a running system), a PXE boot is a new attempt, not a loop.
  handOff();
  h.advance(600_000);
  pxe();
  s = h.tracker.get(MAC)!;
  assert.equal(s.state, 'dhcp');
  assert.equal(s.loops, 2);
  assert.equal(s.boots, 4);
});

test('a sanbooted ISO that starts iPXE again is said to be one: it boots the network again and again', () => {
  const h = signalHarness(signalPlan({ payload: [{ path: 'iso/ipxe.iso', role: 'iso' }], readAsDisk: 'iso/ipxe.iso' }));
  h.xfer({ id: 'sig', file: '/handoff/52-54-00-aa-00-01', role: 'hand-off signal' });
  h.advance(20_000);
  h.tracker.handle({ type: 'dhcp', at: h.now(), direction: 'in', message: 'discover', mac: MAC, xid: 3, port: 67, arch: 'bios', vendorClass: 'PXEClient:Arch:00000:UNDI:002001', isIpxe: true } as DhcpEvent);
  const s = h.tracker.get(MAC)!;
  assert.equal(s.failure?.code, 'boot-loop');
  assert.match(s.failure!.message, /\(as iPXE\).*The ISO it was given starts iPXE itself/);
});

test("a loader's own DHCP mid-boot (OVMF's for syslinux.efi, no PXEClient) is the same boot, not a new attempt", () => {
  const h = signalHarness(signalPlan({ payload: [{ path: 'image/vmlinuz', role: 'kernel' }] }));
  h.xfer({ id: 'l', file: '/syslinux.efi', role: 'boot program', size: 100 });
  h.xfer({ id: 'l', file: '/syslinux.efi', role: 'boot program', phase: 'done', bytes: 100 });
  h.tracker.handle({ type: 'dhcp', at: h.now(), direction: 'in', message: 'discover', mac: MAC, xid: 7, port: 67 } as DhcpEvent);
  h.tracker.handle({ type: 'dhcp', at: h.now(), direction: 'in', message: 'request', mac: MAC, xid: 7, port: 67 } as DhcpEvent);
  const s = h.tracker.get(MAC)!;
  assert.equal(s.boots, 1);
  assert.equal(s.state, 'boot-program');
  assert.equal(s.vendorClass, 'PXEClient:Arch:00000', "the firmware's vendor class stays the machine's");
  assert.match(s.timeline.at(-1)!.text, /The loader asked for an address of its own/);
  // The firmware itself starting over is still a new attempt.
  h.tracker.handle({ type: 'dhcp', at: h.now(), direction: 'in', message: 'discover', mac: MAC, xid: 8, port: 67, arch: 'bios', vendorClass: 'PXEClient:Arch:00000' } as DhcpEvent);
  assert.equal(h.tracker.get(MAC)!.boots, 2);
});
