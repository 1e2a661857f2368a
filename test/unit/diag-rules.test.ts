// The diagnosis rules on event sequences taken from real sessions (shapes as the
// engine emits them), with a fake clock for the deadlines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Diagnostician, fileFamily } from '../../src/diagnostics/rules.js';
import type { Diagnosis } from '../../src/diagnostics/types.js';
import type { DhcpEvent, TransferEvent, WireEvent } from '../../src/sessions/events.js';
import { formatEvent } from '../../src/sessions/format.js';

const MAC = '52:54:00:12:34:56';
const SERVER = '10.9.0.1';

function rig(timings = {}, unsignedLoader?: (file: string) => boolean) {
  let now = 1_000_000;
  const got: Diagnosis[] = [];
  const d = new Diagnostician({
    serverIp: SERVER,
    unsignedLoader,
    onDiagnosis: (x) => got.push(x),
    timings: { offerNoRequestMs: 5000, ackNoTftpMs: 5000, silentAfterBootProgramMs: 5000, scriptNoPayloadMs: 5000, noClientsMs: 10_000, ...timings },
    now: () => now,
  });
  return {
    d,
    got,
    codes: () => got.map((g) => g.code),
    at: () => now,
    advance(ms: number) {
      now += ms;
      d.tick(now);
    },
    feed(ev: Partial<DhcpEvent> | Partial<TransferEvent>) {
      d.handle({ at: now, ...ev } as WireEvent);
    },
  };
}

const discover = (extra: Partial<DhcpEvent> = {}): Partial<DhcpEvent> => ({
  type: 'dhcp', direction: 'in', message: 'discover', mac: MAC, xid: 1, port: 67, arch: 'efi-x64', vendorClass: 'PXEClient:Arch:00007:UNDI:003000', secs: 0, ...extra,
});
const out = (message: DhcpEvent['message'], extra: Partial<DhcpEvent> = {}): Partial<DhcpEvent> => ({
  type: 'dhcp', direction: 'out', message, mac: MAC, xid: 1, port: 67, arch: 'efi-x64', ip: '10.9.0.100', bootFile: 'ipxe.efi', serverId: SERVER, ...extra,
});
const tftp = (phase: TransferEvent['phase'], extra: Partial<TransferEvent> = {}): Partial<TransferEvent> => ({
  type: 'transfer', protocol: 'tftp', phase, id: 't1', clientIp: '10.9.0.100', clientPort: 2070, mac: MAC, file: 'ipxe.efi', bytes: 0, size: 1_000_000, ...extra,
});

test('offer sent, no REQUEST: offer-ignored after the deadline, once', () => {
  const r = rig();
  r.feed(discover());
  r.feed(out('offer'));
  r.advance(4000);
  assert.deepEqual(r.codes(), []);
  r.advance(1500);
  assert.deepEqual(r.codes(), ['offer-ignored']);
  assert.match(r.got[0].title, /offered 10\.9\.0\.100/);
  r.advance(10_000);
  assert.deepEqual(r.codes(), ['offer-ignored']);
});

test('REQUEST naming another server: offer-taken-elsewhere names it, with what the watcher knows', () => {
  let now = 0;
  const got: Diagnosis[] = [];
  const d = new Diagnostician({ serverIp: SERVER, onDiagnosis: (x) => got.push(x), now: () => now, otherServers: () => [{ serverId: '10.9.0.254', from: '10.9.0.254', offeredIp: '10.9.0.120', mac: 'aa:bb:cc:dd:ee:ff' }] });
  d.handle({ at: now, ...discover() } as WireEvent);
  d.handle({ at: now, ...out('offer') } as WireEvent);
  now += 500;
  d.handle({ at: now, type: 'dhcp', direction: 'in', message: 'request', mac: MAC, xid: 1, port: 67, serverId: '10.9.0.254', ip: '10.9.0.120' });
  assert.equal(got.length, 1);
  assert.equal(got[0].code, 'offer-taken-elsewhere');
  assert.match(got[0].title, /10\.9\.0\.254, MAC aa:bb:cc:dd:ee:ff/);
  d.tick(now + 60_000);
  assert.equal(got.length, 1, 'no offer-ignored on top');
});

test('ACK with a TFTP boot file and no TFTP request: PXE-E32; a request in time cancels it', () => {
  const r = rig();
  r.feed(discover());
  r.feed(out('offer'));
  r.feed({ type: 'dhcp', direction: 'in', message: 'request', mac: MAC, xid: 1, port: 67, serverId: SERVER });
  r.feed(out('ack'));
  r.advance(6000);
  assert.deepEqual(r.codes(), ['no-tftp-after-ack']);
  assert.match(r.got[0].pxeError!, /PXE-E32/);

  const ok = rig();
  ok.feed(discover());
  ok.feed(out('ack'));
  ok.advance(1000);
  ok.feed(tftp('start', { role: 'boot program', detail: 'blksize=1468 windowsize=1' }));
  ok.advance(10_000);
  assert.deepEqual(ok.codes(), []);
});

test('proxy offer with a boot file starts the TFTP deadline too; an HTTP URL does not', () => {
  const r = rig();
  r.feed(discover());
  r.feed(out('offer', { proxy: true, ip: undefined }));
  r.advance(6000);
  assert.deepEqual(r.codes(), ['no-tftp-after-ack']);
  const h = rig();
  h.feed(discover({ isIpxe: true }));
  h.feed(out('ack', { bootFile: 'http://10.9.0.1:8080/boot.ipxe' }));
  h.advance(60_000);
  assert.deepEqual(h.codes(), []);
});

test('TFTP not found: PXE-E3B; a BIOS file asked by a UEFI client: wrong-arch-file instead', () => {
  const r = rig();
  r.feed(discover());
  r.feed(tftp('error', { errorCode: 'not-found', file: 'pxelinux.cfg/default.efi', error: 'not published' }));
  assert.deepEqual(r.codes(), ['tftp-file-not-found']);
  assert.match(r.got[0].pxeError!, /PXE-E3B/);

  const w = rig();
  w.feed(discover());
  w.feed(tftp('start', { file: 'undionly.kpxe', role: 'boot program' }));
  assert.deepEqual(w.codes(), ['wrong-arch-file']);
  assert.match(w.got[0].title, /x64 UEFI machine but asked for undionly\.kpxe, a BIOS/);

  const b = rig();
  b.feed(discover({ arch: 'bios', vendorClass: 'PXEClient:Arch:00000:UNDI:002001' }));
  b.feed(tftp('error', { errorCode: 'not-found', file: 'bootx64.efi' }));
  assert.deepEqual(b.codes(), ['wrong-arch-file']);
});

test('file families', () => {
  assert.equal(fileFamily('undionly.kpxe'), 'bios');
  assert.equal(fileFamily('pxelinux.0'), 'bios');
  assert.equal(fileFamily('boot/ipxe.efi'), 'x64');
  assert.equal(fileFamily('ipxe-arm64.efi'), 'arm64');
  assert.equal(fileFamily('grubaa64.efi'), 'arm64');
  assert.equal(fileFamily('loader.efi'), 'uefi');
  assert.equal(fileFamily('vmlinuz'), 'unknown');
});

test('stall at block 1 with a big blksize blames the MTU; the same block again says so; mid-file blames the link', () => {
  const r = rig();
  r.feed(discover());
  r.feed(tftp('start', { detail: 'blksize=1468 windowsize=1 timeout=1000ms oack=blksize:1468,tsize:1000000' }));
  r.feed(tftp('error', { errorCode: 'timeout', bytes: 0, error: 'client stopped acknowledging at block 1 of 682' }));
  assert.deepEqual(r.codes(), ['tftp-stall']);
  assert.match(r.got[0].causes[0], /MTU/);
  assert.match(r.got[0].fix, /PXE Kit will offer this machine blksize 512 from its next attempt/);
  assert.equal(r.d.blksizeCap(MAC), 512);
  r.feed(tftp('start', { id: 't2', detail: 'blksize=1468 windowsize=1' }));
  r.feed(tftp('error', { id: 't2', errorCode: 'timeout', bytes: 0 }));
  assert.deepEqual(r.codes(), ['tftp-stall', 'tftp-stall']);
  assert.match(r.got[1].title, /block 1 again/);

  const l = rig();
  l.feed(tftp('start', { detail: 'blksize=512 windowsize=1' }));
  l.feed(tftp('error', { errorCode: 'timeout', bytes: 512 * 40 }));
  assert.match(l.got[0].title, /block 41/);
  assert.match(l.got[0].causes[0], /lossy link/);
  assert.equal(l.d.blksizeCap(MAC), undefined, 'a mid-file stall at 512 changes nothing');
});

test('boot program delivered then silence: Secure Boot first for UEFI; iPXE asking DHCP again cancels it', () => {
  const r = rig();
  r.feed(discover());
  r.feed(tftp('start', { role: 'boot program' }));
  r.feed(tftp('done', { role: 'boot program', bytes: 1_000_000 }));
  r.advance(5500);
  assert.deepEqual(r.codes(), ['silent-after-boot-program']);
  assert.match(r.got[0].causes[0], /Secure Boot/);

  const ok = rig();
  ok.feed(discover());
  ok.feed(tftp('done', { role: 'boot program', bytes: 1_000_000 }));
  ok.advance(2000);
  ok.feed(discover({ xid: 2, isIpxe: true }));
  ok.advance(10_000);
  assert.deepEqual(ok.codes(), []);
});

test('script fetched, no payload: script-without-payload; HTTP 404 on the kernel: payload-not-found', () => {
  const r = rig();
  r.feed({ type: 'transfer', protocol: 'http', phase: 'done', id: 'h1', clientIp: '10.9.0.100', clientPort: 4000, mac: MAC, file: 'boot/52-54.ipxe', role: 'script', bytes: 300 });
  r.advance(5500);
  assert.deepEqual(r.codes(), ['script-without-payload']);
  r.feed({ type: 'transfer', protocol: 'http', phase: 'error', id: 'h2', clientIp: '10.9.0.100', clientPort: 4001, mac: MAC, file: 'images/vmlinuz', bytes: 0, errorCode: 'not-found' });
  assert.deepEqual(r.codes(), ['script-without-payload', 'payload-not-found']);
});

test('spanning tree: a first DISCOVER whose secs says the firmware waited long; a new attempt after a long gap', () => {
  const r = rig({ stpSecs: 10, stpGapMs: 15_000 });
  r.feed(discover({ secs: 4 }));
  assert.deepEqual(r.codes(), []);
  r.feed(discover({ xid: 7, secs: 31 }));
  assert.deepEqual(r.codes(), ['spanning-tree']);
  assert.match(r.got[0].fix, /PortFast/);
  assert.match(r.got[0].evidence[0], /31 s/);

  const g = rig({ stpSecs: 10, stpGapMs: 15_000 });
  g.feed(discover({ xid: 1 }));
  g.advance(20_000);
  g.feed(discover({ xid: 2 }));
  assert.ok(g.codes().includes('spanning-tree'));
});

test('refusal logged for an ARM64 client: no-image-for-arch', () => {
  const r = rig();
  r.d.handle({ type: 'log', at: r.at(), level: 'warn', source: 'proxy', message: 'x', mac: MAC, arch: 'efi-arm64', refusal: 'an ARM64 UEFI client asked to boot; no ARM64 iPXE binary is available' });
  assert.deepEqual(r.codes(), ['no-image-for-arch']);
  assert.match(r.got[0].title, /an ARM64 UEFI machine/);
  assert.match(r.got[0].fix, /no iPXE for ARM64 machines/);
});

test('no PXE client at all: one engine-wide diagnosis; non-PXE DHCP traffic is mentioned', () => {
  const r = rig();
  r.d.serving(r.at());
  r.feed({ type: 'dhcp', direction: 'in', message: 'discover', mac: 'aa:aa:aa:aa:aa:aa', xid: 9, port: 67 });
  r.advance(9000);
  assert.deepEqual(r.codes(), []);
  r.advance(2000);
  assert.deepEqual(r.codes(), ['no-clients']);
  assert.equal(r.got[0].mac, undefined);
  assert.match(r.got[0].causes.join(' '), /1 other device/);
  r.advance(60_000);
  assert.equal(r.got.length, 1);
  const line = formatEvent({ type: 'diagnosis', at: r.at(), diagnosis: r.got[0] });
  assert.match(line!, /PXE Kit DIAGNOSIS: No machine has asked to boot.*\n.*likely: .*\n.*fix: /);
});

test('per-machine state is bounded: a flood of made-up MACs keeps only the most recent, and the count says "or more"', () => {
  let now = 1_000_000;
  const got: Diagnosis[] = [];
  const d = new Diagnostician({ serverIp: SERVER, onDiagnosis: (x) => got.push(x), timings: { offerNoRequestMs: 5000, noClientsMs: 10_000 }, now: () => now, maxClients: 10 });
  const mac = (i: number) => `02:00:00:00:00:${i.toString(16).padStart(2, '0')}`;
  for (let i = 0; i < 100; i++) {
    d.handle({ ...discover({ mac: mac(i), xid: i }), at: now } as WireEvent);
    d.handle({ ...out('offer', { mac: mac(i), xid: i }), at: now } as WireEvent);
  }
  now += 6000;
  d.tick(now);
  assert.deepEqual(got.map((g) => g.mac), Array.from({ length: 10 }, (_, i) => mac(90 + i)), 'only the 10 most recent machines were still tracked');

  const plain = new Diagnostician({ serverIp: SERVER, onDiagnosis: (x) => got.push(x), timings: { noClientsMs: 10_000 }, now: () => now, maxClients: 5 });
  plain.serving(now);
  for (let i = 0; i < 20; i++) plain.handle({ type: 'dhcp', direction: 'in', message: 'discover', mac: mac(i), xid: i, port: 67, at: now });
  now += 11_000;
  plain.tick(now);
  assert.match(got.at(-1)!.causes.join(' '), /5 or more other device/);
});

test('an unsigned loader for a UEFI machine, then silence or a new DISCOVER: secure-boot-refused, not the generic silence', () => {
  const unsigned = (f: string) => /(^|\/)ipxe\.efi$/.test(f);
  // Silence after the download.
  const quiet = rig({}, unsigned);
  quiet.feed(discover());
  quiet.feed(tftp('done', { role: 'boot program', bytes: 1_000_000 }));
  quiet.advance(5500);
  assert.deepEqual(quiet.codes(), ['secure-boot-refused']);
  assert.match(quiet.got[0].title, /refused ipxe\.efi: it is not signed/);
  assert.match(quiet.got[0].fix, /signed shim/);
  assert.match(quiet.got[0].evidence[0], /no Authenticode signature/);

  // The firmware moves on to its next network boot option (OVMF: HTTP Boot) within seconds: named then, not 25 s later.
  const retry = rig({ silentAfterBootProgramMs: 600_000 }, unsigned);
  retry.feed(discover());
  retry.feed(tftp('done', { role: 'boot program', bytes: 1_000_000 }));
  retry.advance(3000);
  retry.feed(discover({ xid: 2, vendorClass: 'HTTPClient:Arch:00016:UNDI:003000' }));
  assert.deepEqual(retry.codes(), ['secure-boot-refused']);
  assert.match(retry.got[0].evidence[0], /new DHCP DISCOVER 3 s after/);

  // iPXE running (its own DISCOVER) means the loader was not refused.
  const ran = rig({}, unsigned);
  ran.feed(discover());
  ran.feed(tftp('done', { role: 'boot program', bytes: 1_000_000 }));
  ran.advance(1000);
  ran.feed(discover({ xid: 2, isIpxe: true }));
  ran.advance(10_000);
  assert.deepEqual(ran.codes(), []);

  // A signed loader (the shim) going quiet is the generic silence.
  const signed = rig({}, unsigned);
  signed.feed(discover());
  signed.feed(tftp('done', { role: 'boot program', file: 'shimx64.efi', bytes: 1_000_000 }));
  signed.advance(5500);
  assert.deepEqual(signed.codes(), ['silent-after-boot-program']);

  // A BIOS machine cannot have Secure Boot.
  const bios = rig({}, () => true);
  bios.feed(discover({ arch: 'bios', vendorClass: 'PXEClient:Arch:00000:UNDI:002001' }));
  bios.feed(tftp('done', { role: 'boot program', file: 'undionly.kpxe', bytes: 70_000 }));
  bios.advance(5500);
  assert.deepEqual(bios.codes(), ['silent-after-boot-program']);
});

test("a loader's normal search for optional files (expected misses) is no diagnosis", () => {
  const r = rig();
  r.feed(discover());
  r.feed(tftp('error', { file: 'revocations_sbat.efi', errorCode: 'not-found', expected: 'shim looks for optional lists' }));
  r.feed(tftp('error', { file: '/grub/x86_64-efi/command.lst', errorCode: 'not-found', expected: 'GRUB looks for its module lists' }));
  assert.deepEqual(r.codes(), []);
  r.feed(tftp('error', { file: 'grubx64.efi', errorCode: 'not-found' }));
  assert.deepEqual(r.codes(), ['tftp-file-not-found']);
});
