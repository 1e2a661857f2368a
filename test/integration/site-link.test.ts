// Site problems in a real lab: `pxekit serve` on a NIC without link (or without an
// address) waits and starts when it comes; a link pulled while serving is said within
// seconds and serving goes on when it returns, sessions kept; another DHCP server in
// --mode dhcp is an error-level site problem with the switch-to-proxy action, and
// serve.action over the API switches to proxyDHCP without dropping sessions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, requireRoot } from '../helpers/lab.js';
import { CLI, EngineProcess, type AnyEvent } from '../helpers/engine-process.js';
import { addBridgedHost, macOfLink, startDnsmasq, udhcpc } from '../helpers/dhcp-lab.js';
import { ApiClient, ApiCallError } from '../helpers/api-client.js';
import { generateToken } from '../../src/api/ws-server.js';
import type { SiteProblem, StatusEvent } from '../../src/sessions/status.js';
import type { ApiEvent } from '../../src/api/contract.js';

const skip = requireRoot();
const PXE = ['-V', 'PXEClient:Arch:00000:UNDI:002001'];

function workDir(t: { after: (fn: () => unknown) => void }): { dir: string; kernel: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pxk-site-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const kernel = join(dir, 'vmlinuz');
  const k = randomBytes(64 * 1024);
  k.write('HdrS', 0x202, 'latin1');
  writeFileSync(kernel, k);
  return { dir, kernel };
}

const siteOf = (e: object): SiteProblem[] => ((e as { site?: SiteProblem[] }).site) ?? [];
const hasSite = (code: SiteProblem['code']) => (e: AnyEvent | ApiEvent) => e.type === 'status' && siteOf(e as StatusEvent).some((p) => p.code === code);

function carrier(lab: Lab): string {
  return lab.exec(lab.serverNs, 'cat', [`/sys/class/net/${lab.serverIf}/operstate`]).trim();
}

async function until(what: string, fn: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!fn()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('serve on a NIC whose peer is down waits for the link, then serves a PXE client', { skip, timeout: 90_000 }, async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const { dir, kernel } = workDir(t);
  lab.ip(lab.clientNs, ['link', 'set', lab.clientIf, 'down']);
  await until('no carrier on the server end', () => carrier(lab) !== 'up');

  const engine = EngineProcess.start(lab, lab.serverNs, ['--iface', lab.serverIf, '--mode', 'dhcp', '--probe-seconds', '1', '--data-dir', join(dir, 'data'), kernel]);
  t.after(() => engine.stop());
  const waiting = await engine.waitFor(hasSite('waiting-for-link'), 'waiting-for-link', 20_000);
  assert.equal(waiting.state, 'starting');
  const p = siteOf(waiting).find((x) => x.code === 'waiting-for-link')!;
  assert.equal(p.title, `waiting for a link on ${lab.serverIf}: plug the cable or power on the machine`);
  assert.match(String(waiting.message), /waiting for a link/);
  // Still waiting a while later: no exit, no serving.
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(engine.child.exitCode, null, `still running; stderr ${engine.stderr}`);
  assert.ok(!engine.events.some((e) => e.type === 'status' && (e.state === 'serving' || e.state === 'error')), 'not serving without a link');

  // The machine at the other end powers on.
  lab.ip(lab.clientNs, ['link', 'set', lab.clientIf, 'up']);
  const serving = await engine.serving(20_000);
  assert.deepEqual(siteOf(serving), [], 'the wait is over');
  assert.ok(engine.events.some((e) => e.type === 'log' && /has a link and an IPv4 address/.test(String(e.message))), 'said in the log');
  const r = await udhcpc(lab, lab.clientNs, lab.clientIf, PXE);
  assert.equal(r.env.serverid, lab.serverIp, `PXE client served: ${r.stdout}${r.stderr}`);
  assert.equal(r.env.boot_file, 'undionly.kpxe');
});

test('serve on a NIC without an IPv4 address waits, says how to set one, serves once it has one; Ctrl-C while waiting exits cleanly', { skip, timeout: 90_000 }, async (t) => {
  const lab = Lab.create({ serverWithoutAddress: true });
  t.after(() => lab.destroy());
  const { dir, kernel } = workDir(t);
  const args = ['--iface', lab.serverIf, '--mode', 'dhcp', '--probe-seconds', '1', '--data-dir', join(dir, 'data'), kernel];

  // Ctrl-C while waiting: a clean exit, stopped.
  const first = EngineProcess.start(lab, lab.serverNs, args);
  t.after(() => first.stop());
  await first.waitFor(hasSite('waiting-for-link'), 'waiting (no address)', 20_000);
  const askedAt = Date.now();
  assert.equal(await first.stop(), 0, `exit 0 on SIGINT; stderr ${first.stderr}`);
  assert.ok(Date.now() - askedAt < 5000, 'stops promptly');
  const last = first.events.filter((e) => e.type === 'status').at(-1)!;
  assert.equal(last.state, 'stopped');

  const engine = EngineProcess.start(lab, lab.serverNs, args);
  t.after(() => engine.stop());
  const waiting = await engine.waitFor(hasSite('waiting-for-link'), 'waiting (no address)', 20_000);
  const p = siteOf(waiting).find((x) => x.code === 'waiting-for-link')!;
  assert.match(p.title, /no address/);
  assert.match(String(waiting.message), new RegExp(`sudo ip addr add .* dev ${lab.serverIf}`), 'the message says how to set a static address');
  lab.ip(lab.serverNs, ['addr', 'add', `${lab.serverIp}/24`, 'dev', lab.serverIf]);
  const serving = await engine.serving(20_000);
  assert.equal(serving.address, lab.serverIp);
  const r = await udhcpc(lab, lab.clientNs, lab.clientIf, PXE);
  assert.equal(r.env.serverid, lab.serverIp, `PXE client served: ${r.stdout}${r.stderr}`);
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

test('over the API: a pulled cable is link-down within seconds and serving goes on when it returns; another DHCP server in --mode dhcp offers switch-to-proxy, which works', { skip, timeout: 150_000 }, async (t) => {
  const lab = Lab.create({ serverInRoot: true });
  t.after(() => lab.destroy());
  const { dir, kernel } = workDir(t);
  const rogueHost = addBridgedHost(lab, 1, `${lab.subnet}.254/24`);
  const m1 = addBridgedHost(lab, 2);
  const m2 = addBridgedHost(lab, 3);
  const token = generateToken();
  const child = lab.spawn(null, process.execPath, [CLI, 'serve', '--ui', '--json', '--data-dir', join(dir, 'data')], {
    env: { ...process.env, PXEKIT_TOKEN: token, PXEKIT_WATCH_MS: '1000' },
  });
  const proc = new EngineProcess(child);
  t.after(() => proc.stop());
  const ui = await proc.waitFor((e) => e.type === 'ui', 'ui line');
  const c = await ApiClient.connect(ui.port as number, token);
  t.after(() => c.close());

  // Nothing served: the action does not apply.
  await assert.rejects(c.call('serve.action', { id: 'switch-to-proxy' }), (e: ApiCallError) => e.code === 'action-not-applicable');
  const started = await c.call('serve.start', { iface: lab.serverIf, mode: 'dhcp', imagePath: kernel, probeSeconds: 1, httpPort: await freePort() });
  assert.equal(started.mode, 'dhcp');
  assert.deepEqual(started.site ?? [], []);
  await assert.rejects(c.call('serve.action', { id: 'retry-ports' }), (e: ApiCallError) => e.code === 'action-not-applicable' && /retry-ports/.test(e.message));

  const first = await udhcpc(lab, m1.ns, m1.iface, PXE);
  assert.equal(first.env.serverid, lab.serverIp, `first machine served: ${first.stdout}${first.stderr}`);
  const mac1 = macOfLink(lab, m1.ns, m1.iface);
  await c.waitFor((e) => e.type === 'session' && e.session.mac === mac1, 'first session');

  // The cable is pulled (the switch side of the laptop's link goes down).
  const pulledAt = Date.now();
  lab.ip(lab.clientNs, ['link', 'set', lab.clientIf, 'down']);
  const down = await c.waitFor(hasSite('link-down'), 'link-down', 5000);
  assert.ok(Date.now() - pulledAt < 3000, `link-down said within 3 s (took ${Date.now() - pulledAt} ms)`);
  assert.equal((down as StatusEvent).state, 'serving', 'still serving, sessions kept');
  const p = siteOf(down as StatusEvent).find((x) => x.code === 'link-down')!;
  assert.equal(p.severity, 'error');
  assert.match(p.title, new RegExp(`link on ${lab.serverIf} is down`));
  await c.waitFor((e) => e.type === 'log' && e.level === 'error' && /link on .* is down/.test(e.message), 'a log line');
  assert.ok((await c.call('sessions.list', {})).some((s) => s.mac === mac1), 'the session is kept while the link is down');

  // Back: the problem goes, serving goes on, the earlier session is still listed.
  const downSeen = c.events.length;
  lab.ip(lab.clientNs, ['link', 'set', lab.clientIf, 'up']);
  await c.waitFor((e) => c.events.indexOf(e) >= downSeen && e.type === 'status' && !siteOf(e).some((x) => x.code === 'link-down'), 'link-down gone', 5000);
  await c.waitFor((e) => e.type === 'log' && /link is back/.test(e.message), 'a log line for the return');
  const second = await udhcpc(lab, m2.ns, m2.iface, PXE);
  assert.equal(second.env.serverid, lab.serverIp, `served after the link returned: ${second.stdout}${second.stderr}`);
  const mac2 = macOfLink(lab, m2.ns, m2.iface);
  await c.waitFor((e) => e.type === 'session' && e.session.mac === mac2, 'second session');
  const macs = (await c.call('sessions.list', {})).map((s) => s.mac);
  assert.ok(macs.includes(mac1) && macs.includes(mac2), `both sessions listed: ${macs.join(', ')}`);

  // Another DHCP server appears: PXE Kit stops handing out addresses and says so as an error with the action.
  const rogue = await startDnsmasq(lab, rogueHost, dir);
  t.after(() => void rogue.proc.kill('SIGKILL'));
  const rogueEv = (await c.waitFor(hasSite('other-dhcp-server'), 'other-dhcp-server', 15_000)) as StatusEvent;
  assert.equal(rogueEv.state, 'serving');
  const other = siteOf(rogueEv).find((x) => x.code === 'other-dhcp-server')!;
  assert.equal(other.severity, 'error');
  assert.match(other.title, new RegExp(`${lab.subnet.replace(/\./g, '\\.')}\\.254.*stopped handing out addresses`));
  assert.deepEqual(other.action, { id: 'switch-to-proxy', label: 'Switch to proxy mode and go on' });
  assert.ok((await c.call('engine.status', {})).dhcpSuspended);

  const switched = await c.call('serve.action', { id: 'switch-to-proxy' });
  assert.equal(switched.state, 'serving');
  assert.equal(switched.mode, 'proxy');
  assert.equal(switched.dhcpSuspended, undefined);
  assert.ok(!siteOf(switched).some((x) => x.code === 'other-dhcp-server'), 'handled: no longer a site problem');
  await assert.rejects(c.call('serve.action', { id: 'switch-to-proxy' }), (e: ApiCallError) => e.code === 'action-not-applicable' && /already/.test(e.message));

  // In proxy mode: the address from dnsmasq, the boot information from PXE Kit; sessions kept.
  const switchedAt = Date.now();
  const third = await udhcpc(lab, m1.ns, m1.iface, []);
  assert.equal(third.env.serverid, `${lab.subnet}.254`, `address from the other server: ${third.stdout}${third.stderr}`);
  // udhcpc takes the first offer, where firmware waits for both; the proxy answer is what matters here.
  await udhcpc(lab, m1.ns, m1.iface, PXE);
  await c.waitFor((e) => e.type === 'dhcp' && e.direction === 'out' && Boolean(e.proxy) && e.mac === mac1 && e.at >= switchedAt - 1000, 'a proxyDHCP answer from PXE Kit', 15_000);
  const after = (await c.call('sessions.list', {})).map((s) => s.mac);
  assert.ok(after.includes(mac1) && after.includes(mac2), 'sessions kept across the switch');
});
