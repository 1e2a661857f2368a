// `pxekit serve --evidence DIR`: at stop, a pcapng that tshark opens and that
// shows the test client's DHCP and TFTP packets, and the job report (JSON + HTML)
// naming the machine, what it fetched and the diagnosis of its failed request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireRoot } from '../helpers/lab.js';
import { macOfLink, runAsync, udhcpc } from '../helpers/dhcp-lab.js';
import { diagLab, startEngine, waitDiagnosis } from '../helpers/diag-lab.js';

const skip = requireRoot();

test('serve --evidence writes a pcapng tshark reads (DHCP + TFTP of the client) and a job report', { skip, timeout: 90_000 }, async (t) => {
  const d = diagLab(t);
  const { lab } = d;
  const evidence = join(d.dir, 'evidence');
  const engine = startEngine(t, d, ['--mode', 'dhcp', '--probe-seconds', '1', '--evidence', evidence], { watchMs: 0 });
  await engine.serving();
  const mac = macOfLink(lab, lab.clientNs, lab.clientIf);
  const r = await udhcpc(lab, lab.clientNs, lab.clientIf, ['-V', 'PXEClient:Arch:00000:UNDI:002001', '-x', '0x5d:0000']);
  assert.equal(r.env.boot_file, 'undionly.kpxe');
  const ip = r.env.ip;
  lab.ip(lab.clientNs, ['addr', 'add', `${ip}/24`, 'dev', lab.clientIf]);
  const got = await runAsync(lab, lab.clientNs, 'tftp', ['-m', 'binary', lab.serverIp, '-c', 'get', 'undionly.kpxe', '/dev/null']);
  assert.equal(got.code, 0, got.stderr);
  const missing = await runAsync(lab, lab.clientNs, 'tftp', ['-m', 'binary', lab.serverIp, '-c', 'get', 'pxelinux.0', '/dev/null']);
  assert.match(missing.stdout + missing.stderr, /not found/i);
  await waitDiagnosis(engine, 'tftp-file-not-found', mac);
  await engine.waitFor((e) => e.type === 'transfer' && e.phase === 'done' && e.file === 'undionly.kpxe', 'the download done');

  assert.equal(await engine.stop(), 0);
  const files = readdirSync(evidence);
  const pcap = files.find((f) => f.endsWith('.pcapng'));
  const json = files.find((f) => f.endsWith('.json'));
  const html = files.find((f) => f.endsWith('.html'));
  assert.ok(pcap && json && html, `evidence files: ${files.join(', ')}`);
  assert.ok(engine.events.some((e) => e.type === 'log' && /evidence written/.test(String(e.message))));

  // tshark: the client's four DHCP messages (by its MAC) and its TFTP traffic (by its address).
  const dhcp = execFileSync('tshark', ['-r', join(evidence, pcap), '-Y', `dhcp.hw.mac_addr == ${mac}`, '-T', 'fields', '-e', 'dhcp.option.dhcp'], { encoding: 'utf8' })
    .trim()
    .split('\n');
  // udhcpc retransmits a REQUEST when the ACK is slow (a loaded machine): every message is
  // one of the four, and each first appears in DORA order.
  const dora = ['1', '2', '3', '5'];
  const firsts = dora.map((type) => dhcp.indexOf(type));
  assert.ok(dhcp.every((type) => dora.includes(type)) && firsts.every((at, i) => at >= 0 && (i === 0 || firsts[i - 1] < at)), `DISCOVER, OFFER, REQUEST, ACK in order: ${dhcp.join(',')}`);
  const tftp = execFileSync('tshark', ['-r', join(evidence, pcap), '-Y', `tftp && ip.addr == ${ip}`, '-T', 'fields', '-e', 'tftp.opcode', '-e', 'tftp.source_file', '-e', 'tftp.error.code'], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((l) => l.split('\t'));
  assert.deepEqual(tftp[0].slice(0, 2), ['1', 'undionly.kpxe'], 'RRQ undionly.kpxe');
  assert.ok(tftp.some((f) => f[0] === '4'), 'the final ACK of the completed transfer');
  assert.ok(tftp.some((f) => f[0] === '1' && f[1] === 'pxelinux.0'), 'RRQ pxelinux.0');
  assert.ok(tftp.some((f) => f[0] === '5' && f[2] === '1'), 'ERROR 1 File not found');

  const report = JSON.parse(readFileSync(join(evidence, json), 'utf8'));
  const m = report.machines.find((x: { mac: string }) => x.mac === mac);
  assert.ok(m, 'the machine is in the report');
  assert.equal(m.ip, ip);
  assert.equal(m.arch, 'bios');
  assert.deepEqual(m.transfers.map((x: { file: string; state: string }) => [x.file, x.state]), [['undionly.kpxe', 'done'], ['pxelinux.0', 'failed']]);
  assert.ok(m.steps.some((s: { state: string; durationMs: number }) => s.state === 'bound' && s.durationMs >= 0));
  assert.deepEqual(m.diagnoses.map((x: { code: string }) => x.code), ['tftp-file-not-found']);
  assert.equal(report.run.iface, lab.serverIf);
  assert.equal(report.evidence.pcapng, pcap);
  const page = readFileSync(join(evidence, html), 'utf8');
  assert.match(page, new RegExp(mac));
  assert.match(page, /PXE-E3B/);
});
