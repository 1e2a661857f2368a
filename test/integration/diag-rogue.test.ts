// Rogue-DHCP safety: a dnsmasq DHCP server appears on the segment in the middle
// of a serving session. PXE Kit must notice within 10 s, name it (address, MAC,
// what it offered) and react: --mode auto switches to proxyDHCP, --mode dhcp
// stops handing out addresses. A real DHCP client (udhcpc) then gets its address
// from dnsmasq only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireRoot } from '../helpers/lab.js';
import { addBridgedHost, macOfLink, startDnsmasq, udhcpc } from '../helpers/dhcp-lab.js';
import { diagLab, startEngine, waitDiagnosis } from '../helpers/diag-lab.js';
import type { AnyEvent } from '../helpers/engine-process.js';

const skip = requireRoot();

type Other = { serverId: string; offeredIp: string; mac?: string };

for (const mode of ['auto', 'dhcp'] as const) {
  test(`--mode ${mode}: a DHCP server appearing while serving is noticed within 10 s and PXE Kit stops handing out addresses`, { skip, timeout: 90_000 }, async (t) => {
    const d = diagLab(t);
    const { lab } = d;
    const rogueHost = addBridgedHost(lab, 1, `${lab.subnet}.254/24`);
    const client = addBridgedHost(lab, 2);
    const engine = startEngine(t, d, ['--mode', mode, '--probe-seconds', '1']);
    assert.equal((await engine.serving()).mode, 'dhcp');

    // Alone on the segment, PXE Kit is the DHCP server.
    const before = await udhcpc(lab, client.ns, client.iface, []);
    assert.equal(before.env.serverid, lab.serverIp, `udhcpc before: ${before.stdout}${before.stderr}`);

    const rogue = await startDnsmasq(lab, rogueHost, d.dir);
    t.after(() => void rogue.proc.kill('SIGKILL'));
    const rogueId = `${lab.subnet}.254`;
    const reacted = (e: AnyEvent) =>
      e.type === 'status' && (mode === 'auto' ? e.mode === 'proxy' : Boolean(e.dhcpSuspended)) && ((e.otherDhcpServers as Other[] | undefined) ?? []).some((o) => o.serverId === rogueId);
    // The promise: noticed within 10 s of the server starting to answer.
    const status = await engine.waitFor(reacted, `reaction to ${rogueId}`, 10_000);
    const other = (status.otherDhcpServers as Other[]).find((o) => o.serverId === rogueId)!;
    assert.match(other.offeredIp, new RegExp(`^${lab.subnet.replace(/\./g, '\\.')}\\.(1[0-4]\\d|150)$`), 'what it offered');
    assert.equal(other.mac, macOfLink(lab, rogueHost.ns, rogueHost.iface), "the rogue server's MAC");
    if (mode === 'dhcp') assert.match(String(status.dhcpSuspended), new RegExp(rogueId.replace(/\./g, '\\.')));
    const diag = await waitDiagnosis(engine, 'rogue-dhcp');
    assert.match(diag.title, new RegExp(`${rogueId.replace(/\./g, '\\.')}.*MAC ${other.mac}`));
    assert.match(diag.fix, mode === 'auto' ? /switched to proxyDHCP/ : /stopped handing out addresses/);
    const log = engine.events.find((e) => e.type === 'log' && e.level === 'warn' && /Another DHCP server/.test(String(e.message)));
    assert.ok(log, 'a warning in the log');

    // From now on addresses come from the other server only.
    const switchedAt = Number(status.at);
    const after = await udhcpc(lab, client.ns, client.iface, []);
    assert.equal(after.env.serverid, rogueId, `udhcpc after: ${after.stdout}${after.stderr}`);
    const ours = engine.events.filter((e) => e.type === 'dhcp' && e.direction === 'out' && !e.proxy && Number(e.at) > switchedAt);
    assert.deepEqual(ours, [], 'PXE Kit sent no address after reacting');
  });
}
