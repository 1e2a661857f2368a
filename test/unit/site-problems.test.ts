// Site problems (src/diagnostics/site.ts), the link readiness and watcher (src/net/link.ts)
// and the serve.action request check: the pure parts, with made-up NICs and a fake link.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SiteBoard, withSiteCause, linkDown, otherDhcpServer, portBlocked, waitingForAddress, waitingForLink, siteLogLine, fromFirewallCheck, SITE_CAUSE_WINDOW_MS } from '../../src/diagnostics/site.js';
import { Diagnostician } from '../../src/diagnostics/rules.js';
import type { Diagnosis } from '../../src/diagnostics/types.js';
import type { SiteProblem } from '../../src/sessions/status.js';
import type { WireEvent } from '../../src/sessions/events.js';
import { LinkWatcher, nicReadiness, waitForNic, type NicReadiness } from '../../src/net/link.js';
import type { NetInterface } from '../../src/net/interfaces.js';
import { parseRequest } from '../../src/api/validate.js';

const MAC = '52:54:00:12:34:56';

function board() {
  const changes: { list: SiteProblem[]; set?: SiteProblem; cleared?: SiteProblem }[] = [];
  const b = new SiteBoard((list, c) => changes.push({ list, ...c }));
  return { b, changes };
}

test('SiteBoard: set publishes once per change, keeps the start time, clear publishes and remembers', () => {
  const { b, changes } = board();
  b.set(linkDown('eth1', 1000));
  b.set(linkDown('eth1', 2000)); // same words: nothing new
  assert.equal(changes.length, 1);
  assert.deepEqual(changes[0].list.map((p) => p.code), ['link-down']);
  b.set({ ...linkDown('eth1', 3000), title: 'other words' });
  assert.equal(changes.length, 2);
  assert.equal(b.get('link-down')!.since, 1000, 'a problem that changes its words keeps its start');
  b.clear('link-down', 5000);
  b.clear('link-down', 5000); // not there: nothing
  assert.equal(changes.length, 3);
  assert.equal(changes[2].cleared?.code, 'link-down');
  assert.deepEqual(b.list(), []);
  // A failure just after the link returned may still be the link's; long after, not.
  assert.deepEqual(b.causesAt(5000 + SITE_CAUSE_WINDOW_MS).map((p) => p.code), ['link-down']);
  assert.deepEqual(b.causesAt(5001 + SITE_CAUSE_WINDOW_MS), []);
});

test('SiteBoard: only warn/error problems of the segment explain a machine failure', () => {
  const { b } = board();
  b.set(otherDhcpServer({ iface: 'eth1', name: '10.0.0.254 offered 10.0.0.120', reaction: 'switched-to-proxy', since: 1 }));
  b.set(waitingForLink('eth1', false, 1));
  b.set({ code: 'no-machines-yet', severity: 'warn', title: 't', fix: 'f', since: 1 });
  assert.deepEqual(b.causesAt(10), [], 'proxy beside a DHCP server is how proxy works; no machines and waiting are no machine causes');
  b.set(otherDhcpServer({ iface: 'eth1', name: '10.0.0.254 offered 10.0.0.120', reaction: 'suspended', since: 1 }));
  assert.deepEqual(b.causesAt(10).map((p) => p.code), ['other-dhcp-server']);
});

test('other-dhcp-server: what PXE Kit did, its severity, and the switch-to-proxy action in DHCP mode only', () => {
  const sus = otherDhcpServer({ iface: 'eth1', name: '10.0.0.254 offered 10.0.0.120', reaction: 'suspended' });
  assert.equal(sus.severity, 'error');
  assert.match(sus.title, /10\.0\.0\.254.*stopped handing out addresses/);
  assert.deepEqual(sus.action, { id: 'switch-to-proxy', label: 'Switch to proxy mode and go on' });
  const forced = otherDhcpServer({ iface: 'eth1', name: 'x', reaction: 'forced' });
  assert.equal(forced.severity, 'warn');
  assert.equal(forced.action?.id, 'switch-to-proxy');
  const proxy = otherDhcpServer({ iface: 'eth1', name: 'x', reaction: 'switched-to-proxy' });
  assert.equal(proxy.severity, 'info');
  assert.match(proxy.title, /switched to proxy mode/);
  assert.equal(proxy.action, undefined);
});

test('waiting problems say what to do: plug/power on, switch on, or how to set a static address', () => {
  assert.equal(waitingForLink('eth1', false).title, 'waiting for a link on eth1: plug the cable or power on the machine');
  assert.match(waitingForLink('eth1', true).fix, /ip link set eth1 up/);
  const a = waitingForAddress('eth1');
  assert.equal(a.code, 'waiting-for-link');
  assert.match(a.fix, /sudo ip addr add 192\.168\.50\.1\/24 dev eth1/);
});

test('port-blocked from a NetError message: first sentence the title, the rest the fix, retry offered', () => {
  const p = portBlocked('UDP port 67 is already in use by dnsmasq (pid 42). Stop it ("sudo systemctl stop dnsmasq") and try again.');
  assert.equal(p.title, 'UDP port 67 is already in use by dnsmasq (pid 42)');
  assert.match(p.fix, /^Stop it/);
  assert.equal(p.action?.id, 'retry-ports');
});

test('the firewall check as a site problem: only a failed firewall check', () => {
  assert.equal(fromFirewallCheck({ id: 'firewall', status: 'ok', title: 't', detail: 'd' }), undefined);
  assert.equal(fromFirewallCheck({ id: 'port-67', status: 'fail', title: 't', detail: 'd' }), undefined);
  const p = fromFirewallCheck({ id: 'firewall', status: 'fail', title: 't', detail: 'no inbound allow rule for TFTP (UDP 69)', fix: 'add the rules' });
  assert.equal(p?.code, 'firewall');
  assert.match(p!.title, /TFTP \(UDP 69\)/);
});

test('log lines: a new link-down is said, problems said elsewhere are not; every clearing is', () => {
  assert.equal(siteLogLine({ set: linkDown('eth1') })?.level, 'error');
  assert.equal(siteLogLine({ set: waitingForLink('eth1', false) }), undefined);
  assert.match(siteLogLine({ cleared: linkDown('eth1') })!.message, /link is back/);
});

test('withSiteCause: a machine diagnosis during a site problem names it first; engine-wide ones are left alone', () => {
  const d: Diagnosis = { code: 'silent-after-boot-program', title: 't', causes: ['the loader crashed'], fix: 'Update the NIC firmware.', evidence: [], at: 10, mac: MAC };
  const site = otherDhcpServer({ iface: 'eth1', name: '10.0.0.254', reaction: 'suspended', since: 5 });
  const out = withSiteCause(d, [site]);
  assert.equal(out.siteCause, 'other-dhcp-server');
  assert.match(out.causes[0], /most likely not this machine: another DHCP server/);
  assert.equal(out.causes[1], 'the loader crashed');
  assert.ok(out.fix.startsWith(site.fix));
  assert.equal(withSiteCause({ ...d, mac: undefined }, [site]).siteCause, undefined);
  assert.equal(withSiteCause(d, []), d);
});

test('the Diagnostician hook: a machine that goes silent while another DHCP server stands is not blamed on its firmware', () => {
  let now = 1_000_000;
  const got: Diagnosis[] = [];
  const { b } = board();
  const rules = new Diagnostician({
    serverIp: '10.9.0.1',
    onDiagnosis: (x) => got.push(x),
    timings: { silentAfterBootProgramMs: 5000 },
    now: () => now,
    adjust: (x) => withSiteCause(x, b.causesAt(x.at)),
  });
  const feed = (ev: object) => rules.handle({ at: now, ...ev } as WireEvent);
  feed({ type: 'dhcp', direction: 'in', message: 'discover', mac: MAC, xid: 1, port: 67, arch: 'bios', vendorClass: 'PXEClient:Arch:00000:UNDI:002001', secs: 0 });
  feed({ type: 'transfer', protocol: 'tftp', phase: 'done', mac: MAC, clientIp: '10.9.0.100', file: 'undionly.kpxe', role: 'boot program', bytes: 70_000, id: 't1' });
  b.set(otherDhcpServer({ iface: 'eth1', name: '10.9.0.254 offered 10.9.0.120', reaction: 'suspended', since: now }));
  now += 6000;
  rules.tick(now);
  assert.equal(got.length, 1);
  assert.equal(got[0].code, 'silent-after-boot-program');
  assert.equal(got[0].siteCause, 'other-dhcp-server');
  assert.match(got[0].causes[0], /another DHCP server on eth1: 10\.9\.0\.254/);
  assert.equal(rules.list()[0].siteCause, 'other-dhcp-server', 'the report keeps the adjusted diagnosis');
});

const nic = (o: Partial<NetInterface>): NetInterface => ({ name: 'eth1', mac: '02:00:00:00:00:01', ipv4: { address: '192.168.50.1', prefix: 24, netmask: '255.255.255.0' }, linkUp: true, wireless: false, loopback: false, usable: true, note: '', ...o });

test('nicReadiness: no link and no address are waits; no such NIC and loopback are errors', () => {
  assert.equal(nicReadiness('eth1', [nic({})], true).kind, 'ready');
  assert.deepEqual(nicReadiness('eth1', [nic({ linkUp: false, usable: false })], true), { kind: 'no-link', adminDown: false });
  assert.deepEqual(nicReadiness('eth1', [nic({ linkUp: false, usable: false })], false), { kind: 'no-link', adminDown: true });
  assert.deepEqual(nicReadiness('eth1', [nic({ ipv4: null, usable: false })], true), { kind: 'no-address' });
  assert.throws(() => nicReadiness('eth9', [nic({})], true), /no interface named "eth9"/);
  assert.throws(() => nicReadiness('lo', [nic({ name: 'lo', loopback: true })], true), /loopback/);
});

test('waitForNic: says each reason once, in order, resolves when ready, gives up when stopped', async () => {
  const seq: NicReadiness[] = [
    { kind: 'no-link', adminDown: false },
    { kind: 'no-link', adminDown: false },
    { kind: 'no-address' },
    { kind: 'ready', nic: { ...nic({}), ipv4: { address: '192.168.50.1', prefix: 24, netmask: '255.255.255.0' } } },
  ];
  const said: string[] = [];
  let i = 0;
  const got = await waitForNic('eth1', { everyMs: 1, shouldStop: () => false, onWaiting: (r) => said.push(r.kind), readiness: () => seq[Math.min(i++, seq.length - 1)] });
  assert.equal(got?.ipv4.address, '192.168.50.1');
  assert.deepEqual(said, ['no-link', 'no-address']);
  let stop = false;
  const waiting = waitForNic('eth1', { everyMs: 1, shouldStop: () => stop, onWaiting: () => undefined, readiness: () => ({ kind: 'no-link', adminDown: false }) });
  setTimeout(() => (stop = true), 20);
  assert.equal(await waiting, undefined);
});

test('LinkWatcher: a loss after two readings in a row, a return at once, a single bad reading is no loss', () => {
  let up = true;
  const seen: boolean[] = [];
  const w = new LinkWatcher('eth1', (u) => seen.push(u), () => up, 1_000_000);
  w.poll();
  up = false;
  w.poll();
  up = true;
  w.poll();
  assert.deepEqual(seen, [], 'one bad reading is a flap');
  up = false;
  w.poll();
  w.poll();
  w.poll();
  assert.deepEqual(seen, [false]);
  up = true;
  w.poll();
  w.poll();
  assert.deepEqual(seen, [false, true]);
});

test('serve.action: the known action ids only, nothing else', () => {
  const ok = parseRequest(JSON.stringify({ v: 1, id: 1, cmd: 'serve.action', params: { id: 'switch-to-proxy' } }));
  assert.ok(ok.ok);
  assert.deepEqual(ok.ok && ok.request.params, { id: 'switch-to-proxy' });
  for (const params of [{}, { id: 'reboot' }, { id: 3 }, { id: 'switch-to-proxy', extra: 1 }]) {
    const r = parseRequest(JSON.stringify({ v: 1, id: 1, cmd: 'serve.action', params }));
    assert.equal(r.ok ? 'ok' : r.code, 'invalid-params', JSON.stringify(params));
  }
});
