// host.check and evidence.save over the real API (a real Controller behind a real
// WebSocket server), serving a lab veth with a real PXE client: the preflight check's
// findings in words, refused while serving; the evidence written into
// <dataDir>/evidence/<time>/ on request, refused before anything was served.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeKernelStub } from '../helpers/fake-kernel.js';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab } from '../helpers/lab.js';
import { ApiClient, ApiCallError, freePort } from '../helpers/api-client.js';
import { udhcpc } from '../helpers/dhcp-lab.js';
import { Controller } from '../../src/api/controller.js';
import { ApiServer, generateToken } from '../../src/api/ws-server.js';
import { parseRequest } from '../../src/api/validate.js';

test('host.check and evidence.save: parameters checked before anything runs', () => {
  const bad = (params: unknown, cmd = 'host.check') => {
    const r = parseRequest(JSON.stringify({ v: 1, id: 1, cmd, params }));
    assert.equal(r.ok, false, JSON.stringify(params));
    return r.ok ? '' : `${r.code}: ${r.message}`;
  };
  assert.match(bad({}), /^invalid-params: host\.check: "iface" must be a string/);
  assert.match(bad({ iface: 'eth 1' }), /"iface" is not valid/);
  assert.match(bad({ iface: 'eth1', httpPort: 0 }), /"httpPort" must be a whole number from 1 to 65535/);
  assert.match(bad({ iface: 'eth1', force: true }), /unknown field "force"/);
  assert.match(bad({ dir: '/tmp' }, 'evidence.save'), /evidence\.save: unknown field "dir"/);
  const ok = parseRequest(JSON.stringify({ v: 1, id: 2, cmd: 'host.check', params: { iface: 'eth1', httpPort: 8081 } }));
  assert.ok(ok.ok && ok.request.cmd === 'host.check');
  assert.deepEqual(ok.ok ? ok.request.params : undefined, { iface: 'eth1', httpPort: 8081 });
});

test('host.check on a lab NIC and a missing one; evidence.save before, while and after serving', { timeout: 120_000 }, async (t) => {
  const lab = Lab.create({ serverInRoot: true });
  t.after(() => lab.destroy());
  const dir = mkdtempSync(join(tmpdir(), 'pxk-apicheck-'));
  const dataDir = join(dir, 'data');
  const kernel = writeKernelStub(dir);
  const controller = new Controller({ dataDir, library: null });
  const token = generateToken();
  const server = new ApiServer({ controller, token, rendererDir: null });
  await server.start();
  t.after(async () => {
    await controller.close();
    await server.close();
  });
  const c = await ApiClient.connect(server.port, token);
  t.after(() => c.close());
  const httpPort = await freePort();

  // The chosen NIC, free: every finding in words, nothing failed.
  const good = await c.call('host.check', { iface: lab.serverIf, httpPort });
  assert.equal(good.iface, lab.serverIf);
  const byId = new Map(good.checks.map((x) => [x.id, x]));
  assert.equal(byId.get('interface')?.status, 'ok');
  assert.match(byId.get('interface')?.detail ?? '', new RegExp(`^${lab.serverIp.replace(/\./g, '\\.')}/\\d+, link up, MAC `));
  for (const id of ['privilege', 'port-67', 'port-69', 'port-4011', 'port-http'] as const) assert.equal(byId.get(id)?.status, 'ok', `${id}: ${JSON.stringify(byId.get(id))}`);
  assert.equal(good.ok, true, JSON.stringify(good.checks));

  // A port held by another program: a failure with who holds it and the fix.
  const holder = createServer();
  await new Promise<void>((r) => holder.listen({ host: lab.serverIp, port: httpPort }, () => r()));
  const held = await c.call('host.check', { iface: lab.serverIf, httpPort });
  await new Promise<void>((r) => holder.close(() => r()));
  const http = held.checks.find((x) => x.id === 'port-http');
  assert.equal(held.ok, false);
  assert.equal(http?.status, 'fail');
  assert.match(http?.detail ?? '', new RegExp(`TCP port ${httpPort} is already in use`));
  assert.match(http?.fix ?? '', /^Stop that program, or choose another port/);

  // A NIC that is not there: the interface check fails and says so; the port checks wait for it.
  const missing = await c.call('host.check', { iface: 'pxk-nonic0' });
  assert.equal(missing.ok, false);
  assert.equal(missing.checks[0].id, 'interface');
  assert.equal(missing.checks[0].status, 'fail');
  assert.match(missing.checks[0].detail, /pxk-nonic0/);
  assert.equal(missing.checks.find((x) => x.id === 'port-67')?.status, 'skip');

  // Nothing served yet: no evidence, and why.
  await assert.rejects(c.call('evidence.save', {}), (e: unknown) => {
    assert.ok(e instanceof ApiCallError);
    assert.equal(e.code, 'not-available');
    assert.match(e.message, /Nothing has been served since PXE Kit started, so there is no capture to save: start serving, boot a machine, then save the evidence\.$/);
    return true;
  });

  const serving = await c.call('serve.start', { iface: lab.serverIf, mode: 'dhcp', imagePath: kernel, probeSeconds: 0, httpPort });
  assert.equal(serving.state, 'serving');
  // While serving, the ports are PXE Kit's own: the check is refused with the reason.
  await assert.rejects(c.call('host.check', { iface: lab.serverIf, httpPort }), (e: unknown) => {
    assert.ok(e instanceof ApiCallError);
    assert.equal(e.code, 'busy');
    assert.match(e.message, new RegExp(`PXE Kit is serving on ${lab.serverIf}: ports 67, 69 and 4011 are its own now\\. Stop serving to check the network\\.$`));
    return true;
  });

  // A PXE client (busybox udhcpc, run without blocking: the engine answers in this process).
  const fw = await udhcpc(lab, lab.clientNs, lab.clientIf, ['-V', 'PXEClient:Arch:00000:UNDI:002001']);
  assert.ok(fw.env.ip, `client got a lease: ${JSON.stringify(fw)}`);

  // Now, while serving: pcapng and report under <dataDir>/evidence/<time>/.
  const files = await c.call('evidence.save', {});
  assert.match(files.dir, new RegExp(`^${dataDir.replace(/[.]/g, '\\.')}/evidence/\\d{4}-\\d\\d-\\d\\dT\\d\\d-\\d\\d-\\d\\d$`));
  for (const f of [files.html, files.json, files.pcapng!]) {
    assert.ok(f.startsWith(`${files.dir}/`), f);
    assert.ok(existsSync(f) && statSync(f).size > 0, `${f} written`);
  }
  const pcap = readFileSync(files.pcapng!);
  assert.equal(pcap.readUInt32LE(0), 0x0a0d0d0a, 'a pcapng section header');
  assert.ok(pcap.length > 200, 'the capture holds the DHCP exchange');
  const report = JSON.parse(readFileSync(files.json, 'utf8')) as Record<string, unknown>;
  assert.ok(JSON.stringify(report).includes(lab.serverIf), 'the report names the NIC served');
  assert.match(readFileSync(files.html, 'utf8'), /<html/i);

  // After stop: the run's evidence can still be saved (a new folder, or the same second's).
  await c.call('serve.stop', {});
  await new Promise((r) => setTimeout(r, 1100));
  const after = await c.call('evidence.save', {});
  assert.notEqual(after.dir, files.dir);
  assert.ok(existsSync(after.html));
});
