// An engine that gives root up still shares Windows setup media: its root helper
// (src/share/share-helper.ts) starts smbd and the ISO's loop mount for it, and stops them with
// it. Run as sudo would run `pxekit serve` (SUDO_UID), and as the desktop app runs
// `pxekit serve --ui` through pkexec (PKEXEC_UID): the engine runs as the user, the helper as
// root, the share serves install.wim byte for byte, and nothing is left running or mounted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Lab, requireRoot } from '../helpers/lab.js';
import { CLI, EngineProcess } from '../helpers/engine-process.js';
import { ApiClient, freePort } from '../helpers/api-client.js';
import { runUdhcpc } from '../helpers/udhcpc.js';
import { effectiveUid, statusOf, throwawayUser, workDir } from '../helpers/privilege.js';
import { windowsSetupIso } from '../helpers/windows-media.js';
import { wimbootStandin } from '../helpers/wimboot-standin.js';
import { generateToken } from '../../src/api/ws-server.js';

const skip = requireRoot() || (process.platform !== 'linux' ? 'Linux only' : false);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function mediaMounts(): string[] {
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .filter((l) => l.includes('pxekit-media-'));
}

const helperDirs = () => readdirSync('/var/tmp').filter((n) => n.startsWith('pxekit-share-'));

/** The share helper started for `user` (its command line names the user), or undefined. */
function helperPid(user: string): number | undefined {
  for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (argv.some((a) => a.endsWith('share-helper-main.js')) && argv.includes(user)) return Number(p);
    } catch {
      /* ended meanwhile */
    }
  }
  return undefined;
}

/** What WinPE's injected script connects: \\address\share with its account. */
function shareOf(lab: Lab, httpPort: number): { unc: string; user: string; password: string } {
  const r = spawnSync('ip', ['netns', 'exec', lab.clientNs, 'curl', '-sf', '--noproxy', '*', `http://${lab.serverIp}:${httpPort}/winpe/win/pxekit-setup.cmd`], { encoding: 'utf8' });
  const m = /net use Z: \\\\([0-9.]+)\\(\w+) \/user:(\w+) (\S+) \/persistent:no/.exec(r.stdout);
  assert.ok(m, `the injected script connects a share: ${r.stdout}${r.stderr}`);
  assert.equal(m[1], lab.serverIp);
  return { unc: `//${m[1]}/${m[2]}`, user: m[3], password: m[4] };
}

function smbclient(lab: Lab, s: { unc: string; user: string; password: string }, command: string): { code: number | null; out: string } {
  const r = spawnSync('ip', ['netns', 'exec', lab.clientNs, 'smbclient', '--configfile=/dev/null', s.unc, '-U', `${s.user}%${s.password}`, '-m', 'SMB3', '-c', command], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** install.wim copied over the share is the ISO's. */
function assertShareServes(lab: Lab, dir: string, s: ReturnType<typeof shareOf>, tag: string): void {
  const copy = join(dir, `install-${tag}.wim`);
  const got = smbclient(lab, s, `get sources/install.wim ${copy}`);
  assert.equal(got.code, 0, got.out);
  assert.equal(sha(readFileSync(copy)), sha(readFileSync(join(dir, 'win-src', 'sources', 'install.wim'))), 'install.wim over SMB is the ISO\'s');
}

/** After the engine's exit: the helper is gone, and with it smbd, the loop mount and its work folder. */
async function assertAllGone(lab: Lab, user: string, s: ReturnType<typeof shareOf>, mountsBefore: string[], dirsBefore: string[]): Promise<void> {
  for (let i = 0; i < 100 && helperPid(user) !== undefined; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(helperPid(user), undefined, 'the helper exited with the engine');
  const after = smbclient(lab, s, 'ls');
  assert.doesNotMatch(after.out, /install\.wim|sources/, `share gone after stop: ${after.out}`);
  assert.deepEqual(mediaMounts(), mountsBefore, 'no loop mount left');
  assert.deepEqual(helperDirs(), dirsBefore, 'the helper removed its work folder');
}

test('through sudo: pxekit wimboot stores wimboot in the user\'s data dir; pxekit serve of Windows setup media finds it, runs as the user, its root helper shares the ISO, and both stop together', { skip, timeout: 120_000 }, async (t) => {
  const { dir } = workDir(t);
  const home = join(dir, 'home');
  const user = throwawayUser(t, home);
  const lab = Lab.create();
  t.after(() => lab.destroy());
  lab.ip(lab.clientNs, ['addr', 'add', `${lab.subnet}.2/24`, 'dev', lab.clientIf]);
  const iso = windowsSetupIso(dir);
  const mountsBefore = mediaMounts();
  const dirsBefore = helperDirs();
  // As `sudo pxekit ...` runs: root, HOME root's (a stand-in here: nothing lands in the real one), SUDO_* naming the technician.
  const sudoEnv: NodeJS.ProcessEnv = { ...process.env, HOME: join(dir, 'root-home'), SUDO_UID: String(user.uid), SUDO_GID: String(user.gid), SUDO_USER: user.name };
  delete sudoEnv.PXEKIT_DATA_DIR;
  delete sudoEnv.XDG_DATA_HOME;

  // `sudo pxekit wimboot FILE` stores it where the technician's own serve looks, owned by them.
  const stored = spawnSync(process.execPath, [CLI, 'wimboot', '--json', wimbootStandin(join(dir, 'helpers'))], { env: sudoEnv, encoding: 'utf8' });
  assert.equal(stored.status, 0, stored.stderr);
  const rec = (JSON.parse(stored.stdout) as { installed: { path: string } }).installed;
  assert.ok(rec.path.startsWith(join(home, '.local', 'share', 'pxekit') + '/'), `stored in the user's data dir: ${rec.path}`);
  for (let p = rec.path; p !== home; p = dirname(p)) assert.equal(statSync(p).uid, user.uid, `${p} belongs to the user`);

  const engine = new EngineProcess(lab.spawn(lab.serverNs, process.execPath, [CLI, 'serve', '--json', '--iface', lab.serverIf, '--mode', 'proxy', iso], { env: sudoEnv }));
  t.after(() => engine.stop());
  const status = await engine.serving();
  assert.equal(status.state, 'serving', JSON.stringify(status));
  assert.match(String(status.image), /wimboot/, 'the stored wimboot was found');
  const logs = engine.events.filter((e) => e.type === 'log').map((e) => String(e.message));
  assert.ok(logs.some((m) => /^Windows setup media shared read-only as \\\\/.test(m)), `the share is up: ${logs.join('\n')}`);
  assert.ok(logs.some((m) => m.includes(`runs as ${user.name} (uid ${user.uid}, gid ${user.gid}, from sudo)`)), `the engine dropped root: ${logs.join('\n')}`);
  assert.ok(!logs.some((m) => /^running as root/.test(m)), 'no "stays root for the share" any more');
  assert.equal(effectiveUid(engine.child.pid!), user.uid, 'the engine runs as the user');
  const helper = helperPid(user.name);
  assert.ok(helper, 'a share helper runs for this user');
  assert.equal(effectiveUid(helper), 0, 'the helper is root');
  assert.equal(Number(statusOf(helper).PPid), engine.child.pid, 'a child of the engine, started before the drop');

  const s = shareOf(lab, 8080);
  assertShareServes(lab, dir, s, 'sudo');
  assert.equal(await engine.stop(), 0);
  await assertAllGone(lab, user.name, s, mountsBefore, dirsBefore);
});

test('pxekit serve --ui through pkexec: root is given up as soon as the API is bound; a later Serve binds DHCP as the user and its Windows media are shared by the root helper', { skip, timeout: 120_000 }, async (t) => {
  const user = throwawayUser(t);
  const lab = Lab.create({ serverInRoot: true });
  t.after(() => lab.destroy());
  const { dir } = workDir(t);
  const iso = windowsSetupIso(dir);
  const wimboot = wimbootStandin(join(dir, 'helpers'));
  const mountsBefore = mediaMounts();
  const dirsBefore = helperDirs();
  const token = generateToken();
  const env: NodeJS.ProcessEnv = { ...process.env, PKEXEC_UID: String(user.uid), PXEKIT_TOKEN: token };
  delete env.SUDO_UID;
  const child = lab.spawn(null, process.execPath, [CLI, 'serve', '--ui', '--json', '--data-dir', join(dir, 'data'), '--wimboot', wimboot], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const engine = new EngineProcess(child);
  t.after(() => engine.stop());
  const ui = await engine.waitFor((e) => e.type === 'ui', 'ui line');
  const dropped = engine.events.find((e) => e.type === 'log' && /dropped root/.test(String(e.message)));
  assert.ok(dropped, `the drop is said before the UI is offered: ${JSON.stringify(engine.events)}`);
  assert.match(String(dropped.message), new RegExp(`runs as ${user.name} \\(uid ${user.uid}, gid ${user.gid}, from pkexec\\)`));
  assert.equal(effectiveUid(child.pid!), user.uid, 'nothing is served yet, and the engine already runs as the user');
  const helper = helperPid(user.name);
  assert.ok(helper, 'the share helper was started before the drop');
  assert.equal(effectiveUid(helper), 0);

  const c = await ApiClient.connect(ui.port as number, token);
  t.after(() => c.close());
  const checks = await c.call('host.check', { iface: lab.serverIf });
  const priv = checks.checks.find((x) => x.id === 'privilege');
  assert.equal(priv?.status, 'ok', `the preflight knows a dropped engine can bind: ${JSON.stringify(priv)}`);
  const httpPort = await freePort();
  const serving = await c.call('serve.start', { iface: lab.serverIf, mode: 'dhcp', imagePath: iso, probeSeconds: 1, httpPort });
  assert.equal(serving.state, 'serving');
  // Ports 67 and 69 bound by the user with CAP_NET_BIND_SERVICE: a PXE client gets its lease.
  const fw = runUdhcpc(lab, lab.clientNs, lab.clientIf, { vendorClass: 'PXEClient:Arch:00000:UNDI:002001', arch: 0 });
  assert.ok(fw.ok, `client got a lease from the dropped engine: ${fw.output}`);
  lab.ip(lab.clientNs, ['addr', 'add', `${fw.env.ip}/24`, 'dev', lab.clientIf]);
  const s = shareOf(lab, httpPort);
  assertShareServes(lab, dir, s, 'ui');
  assert.equal(effectiveUid(child.pid!), user.uid, 'still the user while serving');

  assert.deepEqual(await c.call('engine.shutdown', {}), { shuttingDown: true });
  assert.equal(await engine.exited, 0, `clean exit; stderr ${engine.stderr}`);
  await assertAllGone(lab, user.name, s, mountsBefore, dirsBefore);
});
