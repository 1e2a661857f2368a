// The pcapng writer and the job report. tshark (Wireshark's reader) must open the
// file and decode the DHCP, TFTP and HTTP records as such.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EvidenceRecorder } from '../../src/diagnostics/evidence.js';
import { buildJobReport, renderReportHtml, writeEvidence } from '../../src/diagnostics/report.js';
import { encodePacket } from '../../src/dhcp/codec.js';
import { BROADCAST_FLAG, MessageType, Opt, blankPacket, chaddrFromMac } from '../../src/dhcp/packet.js';
import type { ClientSession } from '../../src/sessions/session.js';
import type { Diagnosis } from '../../src/diagnostics/types.js';

const MAC = '52:54:00:aa:bb:cc';
const T0 = Date.UTC(2024, 4, 1, 10, 0, 0);

function hasTshark(): boolean {
  try {
    execFileSync('tshark', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function discover(): Buffer {
  const p = blankPacket({ xid: 0x1234abcd, flags: BROADCAST_FLAG, chaddr: chaddrFromMac(MAC) });
  p.options.set(Opt.MESSAGE_TYPE, Buffer.from([MessageType.DISCOVER]));
  p.options.set(Opt.VENDOR_CLASS, Buffer.from('PXEClient:Arch:00007:UNDI:003000'));
  return encodePacket(p);
}

function recorder(): EvidenceRecorder {
  const r = new EvidenceRecorder({ serverIp: '10.9.0.1', httpPort: 8080, iface: 'eth9' });
  r.tapDhcp({ at: T0, direction: 'in', payload: discover(), src: { address: '0.0.0.0', port: 68 }, dst: { address: '255.255.255.255', port: 67 } });
  const base = { type: 'transfer', clientIp: '10.9.0.100', mac: MAC } as const;
  r.record({ ...base, at: T0 + 1000, protocol: 'tftp', phase: 'error', id: 'a', clientPort: 2000, file: 'pxelinux.0', bytes: 0, errorCode: 'not-found', error: '"pxelinux.0" is not published' });
  r.record({ ...base, at: T0 + 2000, protocol: 'tftp', phase: 'start', id: 'b', clientPort: 2001, file: 'ipxe.efi', role: 'boot program', size: 2000, bytes: 0, detail: 'blksize=1468 windowsize=1 timeout=1000ms oack=blksize:1468,tsize:2000' });
  r.record({ ...base, at: T0 + 2500, protocol: 'tftp', phase: 'done', id: 'b', clientPort: 2001, file: 'ipxe.efi', role: 'boot program', size: 2000, bytes: 2000, detail: '400 ms' });
  r.record({ ...base, at: T0 + 3000, protocol: 'http', phase: 'start', id: 'c', clientPort: 40000, file: 'boot/x.ipxe', role: 'script', bytes: 0 });
  r.record({ ...base, at: T0 + 3100, protocol: 'http', phase: 'done', id: 'c', clientPort: 40000, file: 'boot/x.ipxe', role: 'script', bytes: 120 });
  return r;
}

test('pcapng opens in tshark: DHCP as sent, synthesized TFTP RRQ/ERROR/OACK/ACK and HTTP lines, with comments', { skip: hasTshark() ? undefined : 'no tshark' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'pxk-pcap-'));
  try {
    const file = join(dir, 'x.pcapng');
    writeFileSync(file, recorder().pcapng());
    const lines = execFileSync('tshark', ['-r', file, '-T', 'fields', '-E', 'separator=|', '-e', 'frame.time_epoch', '-e', '_ws.col.Protocol', '-e', '_ws.col.Info', '-e', 'frame.comment'], { encoding: 'utf8' })
      .trim()
      .split('\n');
    assert.equal(lines.length, 8, lines.join('\n'));
    const proto = lines.map((l) => l.split('|')[1]);
    // The status line's body is not recorded, so readers show it as a TCP segment awaiting reassembly.
    assert.deepEqual(proto.slice(0, 7), ['DHCP', 'TFTP', 'TFTP', 'TFTP', 'TFTP', 'TFTP', 'HTTP']);
    assert.match(lines[0], /DHCP Discover\s+- Transaction ID 0x1234abcd/);
    assert.match(lines[0], /^1714557600\.0+\|/);
    assert.match(lines[1], /Read Request, File: pxelinux\.0/);
    assert.match(lines[2], /Error Code, Code: File not found/);
    assert.match(lines[3], /Read Request, File: ipxe\.efi.*blksize=1468/);
    assert.match(lines[4], /Option Acknowledgement.*tsize=2000/);
    assert.match(lines[5], /Acknowledgement, Block: 2/);
    assert.match(lines[6], /GET \/boot\/x\.ipxe HTTP\/1\.1/);
    assert.match(lines[7], /HTTP\/1\.1 200 OK/);
    assert.match(lines[1], /synthesized by PXE Kit/);
    assert.match(lines[0], /DHCP payload as received/);
    const mac = execFileSync('tshark', ['-r', file, '-Y', `dhcp.hw.mac_addr == ${MAC}`, '-T', 'fields', '-e', 'dhcp.option.vendor_class_id'], { encoding: 'utf8' }).trim();
    assert.equal(mac, 'PXEClient:Arch:00007:UNDI:003000');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('job report: steps with durations, transfers of every attempt, failures and diagnoses; HTML escapes', () => {
  const session: ClientSession = {
    mac: MAC, ip: '10.9.0.100', arch: 'efi-x64', vendorClass: 'PXEClient', isIpxe: true, firstSeen: T0, lastSeen: T0 + 9000, state: 'handed-off', progress: 100,
    transfers: [], timelineFrom: 0, boots: 1,
    timeline: [
      { at: T0, state: 'dhcp', text: 'DHCP discover' },
      { at: T0 + 500, state: 'offered', text: 'Offered' },
      { at: T0 + 1000, state: 'bound', text: 'Acknowledged' },
      { at: T0 + 2000, state: 'boot-program', text: 'TFTP ipxe.efi' },
      { at: T0 + 2500, state: 'boot-program', text: 'done' },
      { at: T0 + 3000, state: 'script', text: 'HTTP <script>' },
      { at: T0 + 9000, state: 'handed-off', text: 'Everything delivered' },
    ],
  };
  const diag: Diagnosis = { code: 'tftp-file-not-found', title: 'asked for <pxelinux.0>', pxeError: 'PXE-E3B', causes: ['a'], fix: 'b', evidence: ['c'], at: T0 + 1000, mac: MAC };
  const general: Diagnosis = { code: 'no-clients', title: 'nobody', causes: ['x'], fix: 'y', evidence: [], at: T0 };
  const rep = buildJobReport({ status: { type: 'status', at: T0, state: 'serving', iface: 'eth9', address: '10.9.0.1', mode: 'dhcp' }, sessions: [session], diagnoses: [diag, general], recorder: recorder(), startedAt: T0 - 1000, stoppedAt: T0 + 20_000 });
  const m = rep.machines[0];
  assert.equal(m.bootSeconds, 9);
  assert.deepEqual(m.steps.map((s) => [s.state, s.durationMs]), [['dhcp', 500], ['offered', 500], ['bound', 1000], ['boot-program', 1000], ['script', 6000], ['handed-off', 0]]);
  assert.deepEqual(m.transfers.map((t) => [t.file, t.state]), [['pxelinux.0', 'failed'], ['ipxe.efi', 'done'], ['boot/x.ipxe', 'done']]);
  assert.equal(m.transfers[1].durationMs, 500);
  assert.deepEqual(m.diagnoses.map((d) => d.code), ['tftp-file-not-found']);
  assert.deepEqual(rep.general.map((d) => d.code), ['no-clients']);
  assert.deepEqual(rep.summary, { machines: 1, handedOff: 1, osUp: 0, failed: 1, looped: 0, boots: 1, unfinished: 0 });
  const html = renderReportHtml(rep);
  assert.match(html, /asked for &lt;pxelinux\.0&gt;/);
  assert.ok(!html.includes('<script>'), 'no raw script tag from data');
  const dir = mkdtempSync(join(tmpdir(), 'pxk-rep-'));
  try {
    const files = writeEvidence(dir, { status: { type: 'status', at: T0, state: 'stopped' }, sessions: [session], diagnoses: [diag], recorder: recorder(), stoppedAt: T0 + 20_000 });
    const json = JSON.parse(readFileSync(files.json, 'utf8'));
    assert.equal(json.machines[0].mac, MAC);
    assert.equal(json.evidence.pcapng, files.pcapng!.replace(/^.*\//, ''));
    assert.equal(readFileSync(files.pcapng!).readUInt32LE(0), 0x0a0d0d0a);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a full recorder keeps the newest packets, oldest first, and counts the ones it let go', { skip: hasTshark() ? undefined : 'no tshark' }, () => {
  const r = new EvidenceRecorder({ serverIp: '10.9.0.1', httpPort: 8080, iface: 'eth9', maxPackets: 3 });
  // Seven packets, all in the same millisecond (a burst): order must come from arrival, not time.
  for (let port = 1000; port < 1007; port++) r.tapDhcp({ at: T0, direction: 'in', payload: discover(), src: { address: '0.0.0.0', port }, dst: { address: '255.255.255.255', port: 67 } });
  assert.equal(r.packetCount(), 3);
  assert.equal(r.droppedPackets(), 4);
  const dir = mkdtempSync(join(tmpdir(), 'pxk-ring-'));
  try {
    const file = join(dir, 'ring.pcapng');
    writeFileSync(file, r.pcapng());
    const ports = execFileSync('tshark', ['-r', file, '-T', 'fields', '-e', 'udp.srcport'], { encoding: 'utf8' }).trim().split('\n');
    assert.deepEqual(ports, ['1004', '1005', '1006']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
