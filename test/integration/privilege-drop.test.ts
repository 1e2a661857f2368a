// pxekit serve --user NAME: the engine binds its ports as root, then runs as NAME with only
// the capabilities it still needs (src/net/privilege.ts). Checked from outside, in
// /proc/<pid>/status, and by what the engine can still do: TFTP transfers on per-transfer
// sockets bound to the NIC, and files read with NAME's rights (a kernel made root-only while
// serving is refused; one root-only from the start stops the start with why).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, readdirSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Lab, requireRoot } from '../helpers/lab.js';
import { caps, EXPECTED_CAPS, statusOf, throwawayUser, workDir } from '../helpers/privilege.js';
import { CLI, EngineProcess } from '../helpers/engine-process.js';
import { addBridgedHost, startDnsmasq } from '../helpers/dhcp-lab.js';
import { diagLab, startEngine } from '../helpers/diag-lab.js';

const skip = requireRoot() || (process.platform !== 'linux' ? 'Linux only' : false);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function tftpGet(lab: Lab, file: string, out: string): string {
  // tftp-hpa exits 0 even when the server refuses: its output says what happened.
  return lab.exec(lab.clientNs, 'tftp', ['-v', '-m', 'binary', lab.serverIp, '-c', 'get', file, out], { allowFail: true });
}

test('pxekit serve --user: binds as root, then runs as the user with only CAP_NET_BIND_SERVICE; TFTP still serves, files are read with the user\'s rights', { skip, timeout: 120_000 }, async (t) => {
  const user = throwawayUser(t);
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const { dir, kernel } = workDir(t);
  const dataDir = join(dir, 'data');
  const initrd = join(dir, 'initrd.img');
  writeFileSync(initrd, randomBytes(50_000));
  chmodSync(initrd, 0o644);
  const engine = EngineProcess.start(lab, lab.serverNs, ['--iface', lab.serverIf, '--mode', 'proxy', '--data-dir', dataDir, '--user', user.name, '--evidence', join(dir, 'job'), '--initrd', initrd, kernel]);
  t.after(() => engine.stop());
  const status = await engine.serving();
  assert.equal(status.state, 'serving');
  const pid = engine.child.pid!;

  // The start log says who the engine became and what it kept.
  const said = engine.events.find((e) => e.type === 'log' && /dropped root after binding/.test(String(e.message)));
  assert.ok(said, `a log line says the engine dropped root; events: ${JSON.stringify(engine.events.filter((e) => e.type === 'log'))}`);
  assert.match(String(said.message), new RegExp(`runs as ${user.name} \\(uid ${user.uid}, gid ${user.gid}, from --user\\)`));
  assert.match(String(said.message), /CAP_NET_BIND_SERVICE/);

  // What the kernel says about the running engine.
  const st = statusOf(pid);
  assert.equal(st.Name, 'node', 'the pid is the engine itself (ip netns exec execs it)');
  assert.deepEqual(st.Uid.split(/\s+/).map(Number), [user.uid, user.uid, user.uid, user.uid], 'real, effective, saved and fs uid are the user');
  assert.deepEqual(st.Gid.split(/\s+/).map(Number), [user.gid, user.gid, user.gid, user.gid], 'all four gids are the user\'s group');
  assert.ok(!st.Groups.split(/\s+/).filter(Boolean).map(Number).includes(0), `no root group left: Groups ${st.Groups}`);
  assert.deepEqual(caps(st.CapEff), EXPECTED_CAPS, `CapEff ${st.CapEff}`);
  assert.deepEqual(caps(st.CapPrm), EXPECTED_CAPS, `CapPrm ${st.CapPrm}`);
  assert.deepEqual(caps(st.CapInh), [], `CapInh ${st.CapInh}`);
  assert.equal(st.NoNewPrivs, '1', 'no set-uid program can give root back');
  // Every thread (libuv's pool, V8's, the I/O threads): the user, and nothing beyond the kept set.
  const tasks = readdirSync(`/proc/${pid}/task`);
  assert.ok(tasks.length > 1, 'the engine has threads');
  for (const task of tasks) {
    const ts = statusOf(pid, task);
    assert.deepEqual(ts.Uid.split(/\s+/).map(Number), [user.uid, user.uid, user.uid, user.uid], `thread ${task} (${ts.Name}) runs as the user`);
    assert.ok(caps(ts.CapPrm).every((c) => EXPECTED_CAPS.includes(c)), `thread ${task} (${ts.Name}) CapPrm ${ts.CapPrm}`);
  }
  // The data dir was handed over: the files written before the drop are the user's.
  assert.equal(statSync(dataDir).uid, user.uid, 'the data dir belongs to the user');
  for (const name of readdirSync(dataDir)) assert.equal(statSync(join(dataDir, name)).uid, user.uid, `${name} in the data dir belongs to the user`);

  // TFTP after the drop: a fresh socket per transfer, bound to the NIC, on the lab's link.
  lab.ip(lab.clientNs, ['addr', 'add', `${lab.subnet}.250/24`, 'dev', lab.clientIf]);
  const out = join(dir, 'got-undionly');
  const said1 = tftpGet(lab, 'undionly.kpxe', out);
  assert.ok(existsSync(out) && statSync(out).size > 10_000, `undionly.kpxe over TFTP after the drop: ${said1}`);
  const outK = join(dir, 'got-vmlinuz');
  const said2 = tftpGet(lab, 'image/vmlinuz', outK);
  assert.ok(existsSync(outK), `the kernel over TFTP: ${said2}`);
  assert.equal(sha(readFileSync(outK)), sha(readFileSync(kernel)), 'the kernel arrives whole');

  // Files are opened with the user's rights: the initrd (not opened yet; an open file stays
  // shared for 2 s after a transfer, src/files/shared-sources.ts), made root-only, is refused.
  chmodSync(initrd, 0o600);
  const outDenied = join(dir, 'denied-initrd');
  const said3 = tftpGet(lab, 'image/initrd-0.img', outDenied);
  const got = existsSync(outDenied) ? readFileSync(outDenied) : Buffer.alloc(0);
  assert.notEqual(sha(got), sha(readFileSync(initrd)), `a root-only initrd must not be served by the user: tftp said ${said3}`);
  assert.match(said3, /Error code 1: File not found/, `tftp reports the refusal: ${said3}`);
  const refused = await engine.waitFor((e) => e.type === 'transfer' && e.phase === 'error' && e.file === 'image/initrd-0.img', 'the refusal event');
  assert.match(String(refused.error), new RegExp(`EACCES: permission denied, open '${initrd}'`), 'refused for permissions');
  // Readable again, it is served again: the refusal was the user's rights, nothing else.
  chmodSync(initrd, 0o644);
  const outOk = join(dir, 'ok-initrd');
  tftpGet(lab, 'image/initrd-0.img', outOk);
  assert.equal(sha(readFileSync(outOk)), sha(readFileSync(initrd)));

  assert.equal(await engine.stop(), 0, `the engine stops cleanly as the user; stderr: ${engine.stderr}`);
  // The evidence is written at stop, as the user, into the folder made for them before the drop.
  const job = readdirSync(join(dir, 'job'));
  assert.ok(job.some((f) => f.endsWith('.pcapng')) && job.some((f) => f.endsWith('.json')), `evidence written: ${job.join(', ')}`);
  for (const f of job) assert.equal(statSync(join(dir, 'job', f)).uid, user.uid, `${f} written by the user`);
});

test('pxekit serve --user: an image only root can read stops the start, naming the user and the file', { skip, timeout: 60_000 }, async (t) => {
  const user = throwawayUser(t);
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const { dir, kernel } = workDir(t);
  chmodSync(kernel, 0o600);
  const engine = EngineProcess.start(lab, lab.serverNs, ['--iface', lab.serverIf, '--mode', 'proxy', '--data-dir', join(dir, 'data'), '--user', user.name, kernel]);
  t.after(() => engine.stop());
  const st = await engine.waitFor((e) => e.type === 'status' && (e.state === 'serving' || e.state === 'error'), 'serving or error');
  assert.equal(st.state, 'error', 'a kernel the user cannot read is not served');
  assert.equal(String(st.message), `PXE Kit runs as ${user.name} after binding; ${user.name} cannot read ${kernel}: give ${user.name} read access to it (and to its folders), or start PXE Kit with --user root`);
  assert.equal(await engine.exited, 1);
});

test('pxekit serve through sudo (SUDO_UID) drops to the invoking user; --user root and plain root stay root and say so', { skip, timeout: 90_000 }, async (t) => {
  const user = throwawayUser(t);
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const { dir, kernel } = workDir(t);

  const viaSudo = new EngineProcess(
    lab.spawn(lab.serverNs, process.execPath, [CLI, 'serve', '--json', '--iface', lab.serverIf, '--mode', 'proxy', '--data-dir', join(dir, 'data-sudo'), kernel], {
      env: { ...process.env, SUDO_UID: String(user.uid), SUDO_GID: String(user.gid), SUDO_USER: user.name },
    }),
  );
  t.after(() => viaSudo.stop());
  await viaSudo.serving();
  assert.equal(statusOf(viaSudo.child.pid!).Uid.split(/\s+/)[1], String(user.uid), 'effective uid is the invoking user');
  assert.ok(viaSudo.events.some((e) => e.type === 'log' && String(e.message).includes(`runs as ${user.name} (uid ${user.uid}, gid ${user.gid}, from sudo)`)));
  assert.equal(await viaSudo.stop(), 0);

  const env = { ...process.env };
  delete env.SUDO_UID;
  delete env.PKEXEC_UID;
  const plain = new EngineProcess(lab.spawn(lab.serverNs, process.execPath, [CLI, 'serve', '--json', '--iface', lab.serverIf, '--mode', 'proxy', '--data-dir', join(dir, 'data-root'), kernel], { env }));
  t.after(() => plain.stop());
  await plain.serving();
  const stRoot = statusOf(plain.child.pid!);
  assert.equal(stRoot.Uid.split(/\s+/)[1], '0', 'plain root stays root');
  assert.ok(plain.events.some((e) => e.type === 'log' && /^running as root: .*give --user NAME to drop privileges/.test(String(e.message))), 'and says so');
  assert.equal(await plain.stop(), 0);
});

test('pxekit serve --user, --mode auto: after the drop, a DHCP server appearing makes the engine rebind 67 and 4011 for proxyDHCP (CAP_NET_BIND_SERVICE)', { skip, timeout: 90_000 }, async (t) => {
  const user = throwawayUser(t);
  const d = diagLab(t);
  chmodSync(d.dir, 0o755);
  chmodSync(d.kernel, 0o644);
  const { lab } = d;
  const rogueHost = addBridgedHost(lab, 1, `${lab.subnet}.254/24`);
  const engine = startEngine(t, d, ['--mode', 'auto', '--probe-seconds', '1', '--user', user.name], { watchMs: 1000 });
  assert.equal((await engine.serving()).mode, 'dhcp');
  const pid = engine.child.pid!;
  assert.equal(statusOf(pid).Uid.split(/\s+/)[1], String(user.uid), 'serving as the user');

  const rogue = await startDnsmasq(lab, rogueHost, d.dir);
  t.after(() => void rogue.proc.kill('SIGKILL'));
  const switched = await engine.waitFor((e) => e.type === 'status' && e.mode === 'proxy', 'the switch to proxyDHCP', 15_000);
  assert.equal(switched.state, 'serving');
  const failed = engine.events.filter((e) => e.type === 'log' && e.level === 'error');
  assert.deepEqual(failed, [], 'no error rebinding the DHCP ports as the user');
  // The new DHCP server's sockets are the engine's, on 67 and 4011, opened after the drop.
  const udp = lab.exec(lab.serverNs, 'ss', ['-Huanp']);
  const mine = udp.split('\n').filter((l) => l.includes(`pid=${pid},`));
  for (const port of [67, 4011]) assert.ok(mine.some((l) => new RegExp(`:${port}\\s`).test(l)), `the engine listens on ${port} after the switch:\n${udp}`);
  assert.equal(statusOf(pid).Uid.split(/\s+/)[1], String(user.uid), 'still the user');
  assert.equal(await engine.stop(), 0, `the engine stops cleanly; stderr: ${engine.stderr}`);
});
