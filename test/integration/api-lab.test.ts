// `pxekit serve --ui` as a real process serving a lab veth, driven over its API
// by a real WebSocket client: commands round-trip, events stream, and the API is
// not reachable on the served NIC's address (nobody on the boot switch can drive it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeKernelStub } from '../helpers/fake-kernel.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, requireRoot } from '../helpers/lab.js';
import { CLI, EngineProcess } from '../helpers/engine-process.js';
import { ApiClient, ApiCallError, tryHandshake, freePort } from '../helpers/api-client.js';
import { runUdhcpc } from '../helpers/udhcpc.js';
import { generateToken } from '../../src/api/ws-server.js';
import type { StatusEvent } from '../../src/sessions/status.js';

const skip = requireRoot();

/** Starts `pxekit serve --ui --json` in the root namespace (where the lab's server end of the veth is). */
async function startUi(lab: Lab, dir: string, token: string, extra: string[] = [], stdin: 'ignore' | 'pipe' = 'ignore') {
  const child = lab.spawn(null, process.execPath, [CLI, 'serve', '--ui', '--json', '--data-dir', join(dir, 'data'), ...extra], {
    env: { ...process.env, PXEKIT_TOKEN: extra.includes('--token-stdin') ? undefined : token },
    stdio: [stdin, 'pipe', 'pipe'],
  });
  const engine = new EngineProcess(child);
  if (stdin === 'pipe') child.stdin!.write(`${token}\n`);
  const ui = await engine.waitFor((e) => e.type === 'ui', 'ui line');
  return { engine, child, port: ui.port as number, url: ui.url as string };
}

test('serve --ui: commands round-trip over WebSocket, events stream, API unreachable on the served NIC', { skip, timeout: 120_000 }, async (t) => {
  const lab = Lab.create({ serverInRoot: true });
  t.after(() => lab.destroy());
  const dir = mkdtempSync(join(tmpdir(), 'pxk-apilab-'));
  const kernel = writeKernelStub(dir);
  const token = generateToken();
  const { engine, child, port, url } = await startUi(lab, dir, token);
  t.after(() => engine.stop());
  assert.equal(url, `http://127.0.0.1:${port}/#token=${token}`, 'the printed URL carries the token given in PXEKIT_TOKEN');
  assert.ok(!engine.events.some((e) => JSON.stringify(e).includes(token) && e.type !== 'ui'), 'the token appears nowhere else');

  const c = await ApiClient.connect(port, token);
  t.after(() => c.close());
  assert.equal(c.hello?.status.state, 'stopped');
  const nics = await c.call('interfaces.list', {});
  const nic = nics.find((n) => n.name === lab.serverIf);
  assert.equal(nic?.ipv4?.address, lab.serverIp, 'the lab veth is listed with its address');

  const httpPort = await freePort();
  const serving = await c.call('serve.start', { iface: lab.serverIf, mode: 'auto', imagePath: kernel, probeSeconds: 1, httpPort });
  assert.equal(serving.state, 'serving');
  assert.equal(serving.mode, 'dhcp', 'nobody else on the veth: full DHCP');
  assert.equal(serving.address, lab.serverIp);
  for (const state of ['starting', 'probing', 'serving'])
    await c.waitFor((e) => e.type === 'status' && e.state === state, `status ${state} streamed`);
  await assert.rejects(c.call('serve.start', { iface: lab.serverIf, mode: 'dhcp', imagePath: kernel }), (e: ApiCallError) => e.code === 'busy');

  // A PXE client on the wire shows up as a session in the event stream.
  const fw = runUdhcpc(lab, lab.clientNs, lab.clientIf, { vendorClass: 'PXEClient:Arch:00000:UNDI:002001', arch: 0 });
  assert.ok(fw.ok, `client got a lease: ${fw.output}`);
  // Nobody on the boot network reaches the API: not from the client's side of the veth
  // (with its leased address, so the engine's own HTTP port there does answer), not even
  // locally on the NIC's address; only 127.0.0.1 answers.
  lab.ip(lab.clientNs, ['addr', 'add', `${fw.env.ip}/24`, 'dev', lab.clientIf]);
  const curl = spawnSync('ip', ['netns', 'exec', lab.clientNs, 'curl', '-sS', '--max-time', '5', `http://${lab.serverIp}:${port}/`], { encoding: 'utf8' });
  assert.equal(curl.status, 7, `curl from the client namespace cannot connect (exit 7): ${curl.stderr}`);
  const sameFromClient = spawnSync('ip', ['netns', 'exec', lab.clientNs, 'curl', '-sS', '--max-time', '5', `http://${lab.serverIp}:${httpPort}/`], { encoding: 'utf8' });
  assert.notEqual(sameFromClient.status, 7, 'control: the engine’s own HTTP server on that NIC is reachable from the client side');
  assert.equal(await tryHandshake(`ws://${lab.serverIp}:${port}/api`, [`pxekit.v1.${token}`]), 'ECONNREFUSED');
  assert.equal(await tryHandshake(`ws://127.0.0.1:${port}/api`, [`pxekit.v1.${token}`]), 101);

  await c.waitFor((e) => e.type === 'dhcp' && e.message === 'ack', 'DHCP ack event');
  const sessionEv = await c.waitFor((e) => e.type === 'session' && e.session.ip === fw.env.ip, 'session event');
  assert.equal(sessionEv.type === 'session' && sessionEv.session.arch, 'bios');
  const sessions = await c.call('sessions.list', {});
  assert.equal(sessions.length, 1);

  // Stop releases the ports: serving again on the same ports works, this time a library entry.
  assert.equal((await c.call('serve.stop', {})).state, 'stopped');
  const entry = await c.call('library.add', { path: kernel, name: 'lab kernel' });
  assert.equal((await c.call('serve.start', { iface: lab.serverIf, mode: 'dhcp', imageId: entry.id, probeSeconds: 1, httpPort })).state, 'serving');
  const exported = await c.call('logs.export', { format: 'jsonl' });
  assert.ok(exported.content.split('\n').filter(Boolean).some((l) => (JSON.parse(l) as { type: string; message?: string }).message === 'ack'));

  // engine.shutdown: answered, then the process stops serving and exits 0; the UI port is free.
  assert.deepEqual(await c.call('engine.shutdown', {}), { shuttingDown: true });
  const code = await engine.exited;
  assert.equal(code, 0, `clean exit; stderr ${engine.stderr}`);
  assert.equal(child.exitCode, 0);
  assert.ok(engine.events.some((e) => e.type === 'status' && (e as unknown as StatusEvent).state === 'stopped'));
  assert.equal(await tryHandshake(`ws://127.0.0.1:${port}/api`, [`pxekit.v1.${token}`]), 'ECONNREFUSED');
});

test('serve --ui --exit-with-parent: a root engine never outlives its app (token over stdin)', { skip, timeout: 90_000 }, async (t) => {
  const lab = Lab.create({ serverInRoot: true });
  t.after(() => lab.destroy());
  const dir = mkdtempSync(join(tmpdir(), 'pxk-apiparent-'));
  const token = generateToken();

  // 1. The app's connection goes away: the engine quits by itself (after its grace period).
  const a = await startUi(lab, dir, token, ['--exit-with-parent', '--token-stdin'], 'pipe');
  t.after(() => a.engine.stop());
  const c = await ApiClient.connect(a.port, token);
  await c.close();
  assert.equal(await a.engine.exited, 0, `exited by itself; stderr ${a.engine.stderr}`);

  // 2. The app dies outright: its end of the stdin pipe closes, the engine quits at once.
  const b = await startUi(lab, dir, token, ['--exit-with-parent', '--token-stdin'], 'pipe');
  t.after(() => b.engine.stop());
  const c2 = await ApiClient.connect(b.port, token);
  t.after(() => c2.close());
  b.child.stdin!.end();
  assert.equal(await b.engine.exited, 0, `exited on stdin EOF; stderr ${b.engine.stderr}`);
  await c2.closed;

  // 3. A wrong token on stdin never opens the API to whoever guesses: the given one is used.
  const d = await startUi(lab, dir, token, ['--token-stdin'], 'pipe');
  t.after(() => d.engine.stop());
  assert.equal(await tryHandshake(`ws://127.0.0.1:${d.port}/api`, [`pxekit.v1.${generateToken()}`]), 401);
  assert.equal(await tryHandshake(`ws://127.0.0.1:${d.port}/api`, [`pxekit.v1.${token}`]), 101);
});
