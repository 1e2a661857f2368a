// --mode auto/dhcp/proxy against a real second DHCP server (dnsmasq) on the segment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, requireRoot } from '../helpers/lab.js';
import { EngineProcess } from '../helpers/engine-process.js';

const skip = requireRoot();

function setUp(t: { after: (fn: () => unknown) => void }) {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const dir = mkdtempSync(join(tmpdir(), 'pxk-modes-'));
  const kernel = join(dir, 'vmlinuz');
  const k = randomBytes(4096);
  k.write('HdrS', 0x202, 'latin1');
  writeFileSync(kernel, k);
  return { lab, dir, kernel };
}

/** The site's DHCP server: dnsmasq, DHCP only, on the client side of the link. */
function startSiteDhcp(lab: Lab, dir: string) {
  lab.ip(lab.clientNs, ['addr', 'add', `${lab.subnet}.254/24`, 'dev', lab.clientIf]);
  const dnsmasq = lab.spawn(lab.clientNs, 'dnsmasq', [
    '--no-daemon', '--port=0', '--conf-file=/dev/null', `--interface=${lab.clientIf}`, '--bind-interfaces',
    `--dhcp-range=${lab.subnet}.100,${lab.subnet}.150,1h`, `--dhcp-leasefile=${join(dir, 'dnsmasq.leases')}`, `--pid-file=${join(dir, 'dnsmasq.pid')}`,
  ]);
  return dnsmasq;
}

test('--mode auto serves full DHCP on an empty segment and proxyDHCP beside another DHCP server', { skip, timeout: 60_000 }, async (t) => {
  const { lab, dir, kernel } = setUp(t);
  const alone = EngineProcess.start(lab, lab.serverNs, ['--iface', lab.serverIf, '--probe-seconds', '2', '--data-dir', join(dir, 'd1'), kernel]);
  t.after(() => alone.stop());
  assert.equal((await alone.serving()).mode, 'dhcp');
  await alone.stop();

  startSiteDhcp(lab, dir);
  const beside = EngineProcess.start(lab, lab.serverNs, ['--iface', lab.serverIf, '--probe-seconds', '5', '--data-dir', join(dir, 'd2'), kernel]);
  t.after(() => beside.stop());
  const status = await beside.serving();
  assert.equal(status.mode, 'proxy');
  const others = status.otherDhcpServers as Array<{ serverId: string; offeredIp: string }>;
  assert.equal(others[0]?.serverId, `${lab.subnet}.254`, 'names the other server');
  assert.match(String(status.modeReason), new RegExp(`${lab.subnet}\\.254`));
});

test('--mode dhcp refuses to start while another DHCP server answers, unless --force', { skip, timeout: 60_000 }, async (t) => {
  const { lab, dir, kernel } = setUp(t);
  startSiteDhcp(lab, dir);
  const refused = EngineProcess.start(lab, lab.serverNs, ['--iface', lab.serverIf, '--mode', 'dhcp', '--probe-seconds', '5', '--data-dir', join(dir, 'd1'), kernel]);
  t.after(() => refused.stop());
  const err = await refused.waitFor((e) => e.type === 'status' && e.state === 'error', 'refusal');
  assert.match(String(err.message), new RegExp(`Another DHCP server answers on ${lab.serverIf}: ${lab.subnet}\\.254.*--mode proxy.*--force`));
  assert.equal(await refused.exited, 1);

  const forced = EngineProcess.start(lab, lab.serverNs, ['--iface', lab.serverIf, '--mode', 'dhcp', '--force', '--probe-seconds', '5', '--data-dir', join(dir, 'd2'), kernel]);
  t.after(() => forced.stop());
  const status = await forced.serving();
  assert.equal(status.mode, 'dhcp');
  assert.match(String(status.modeReason), /forced/);
});
