// The desktop app's engine lifecycle (electron/engine-lifecycle.ts, no Electron
// needed) against the real engine binary: spawn, restart after a crash, bounded
// backoff, a declined prompt, and a clean stop with the API port released.
// The OS prompt itself cannot run here; "pkexec" is a stand-in script that does
// what pkexec does for an authorised user (wipe the environment, exec the
// program with stdin kept) or what it does when the user declines (exit 126).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineLifecycle, portClosed, type EngineLifecycleState } from '../../electron/engine-lifecycle.js';
import {
  directElevator, macShellLine, MAC_PROMPT, osascriptArgs, pkexecElevator, runElevatedEngineStub, STUB_FLAG, stubArgument, uacPowerShell, type Elevator, type StubPlan,
} from '../../electron/elevate.js';
import { CLI } from '../helpers/engine-process.js';
import { ApiClient } from '../helpers/api-client.js';

const engine = { command: process.execPath, args: [CLI] };

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function lifecycle(t: { after: (fn: () => Promise<void>) => void }, elevator: Elevator = directElevator, extra: Partial<ConstructorParameters<typeof EngineLifecycle>[0]> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'pxk-life-'));
  const lc = new EngineLifecycle({ engine, elevator, extraArgs: ['--data-dir', join(dir, 'data')], readyTimeoutMs: 20_000, restart: { initialDelayMs: 100, maxDelayMs: 400, maxAttempts: 3 }, stopTimeoutMs: 6000, ...extra });
  const states: Array<[EngineLifecycleState, string | undefined]> = [];
  lc.on('state', (s: EngineLifecycleState, d?: string) => states.push([s, d]));
  t.after(() => lc.stop());
  return { lc, states, dir };
}

const until = (lc: EngineLifecycle, state: EngineLifecycleState) =>
  new Promise<void>((resolve) => {
    if (lc.state === state) return resolve();
    const on = (s: EngineLifecycleState) => {
      if (s === state) {
        lc.off('state', on);
        resolve();
      }
    };
    lc.on('state', on);
  });

test('spawns the engine, restarts it after a crash (same token, same port), stops it with the port released', { timeout: 60_000 }, async (t) => {
  const { lc, states } = lifecycle(t);
  const ep = await lc.start();
  assert.equal(lc.state, 'running');
  assert.equal(ep.url, `http://127.0.0.1:${ep.port}/#token=${lc.token}`);
  const firstPid = lc.pid!;
  const c = await ApiClient.connect(ep.port, lc.token);
  assert.equal(c.hello?.status.state, 'stopped');
  await c.close();

  // The engine dies (as a crash would): restarted with backoff, reachable again.
  const readyAgain = new Promise<{ port: number }>((resolve) => lc.once('ready', resolve));
  process.kill(firstPid, 'SIGKILL');
  const ep2 = await readyAgain;
  assert.ok(states.some(([s, d]) => s === 'restarting' && /SIGKILL/.test(d ?? '')), JSON.stringify(states));
  assert.notEqual(lc.pid, firstPid);
  assert.equal(ep2.port, ep.port, 'same port: an open UI reconnects to the same address');
  const c2 = await ApiClient.connect(ep2.port, lc.token);
  assert.equal((await c2.call('engine.status', {})).state, 'stopped');

  const pid = lc.pid!;
  await lc.stop();
  assert.equal(lc.state, 'stopped');
  assert.ok(!alive(pid), 'engine process gone');
  assert.ok(await portClosed(ep.port), 'API port released');
  await c2.closed;
  assert.ok(!states.slice(states.findIndex(([s]) => s === 'stopping')).some(([s]) => s === 'restarting'), 'a requested stop is not a crash');
});

test('an engine the app cannot signal (root) is stopped over its API', { timeout: 30_000 }, async (t) => {
  // Like a root child seen from an unprivileged app: kill() has no effect.
  const unsignallable: Elevator = {
    ...directElevator,
    name: 'root-like',
    launch(cmd, token) {
      const child = directElevator.launch(cmd, token);
      child.kill = () => false;
      return child;
    },
  };
  const { lc } = lifecycle(t, unsignallable);
  const ep = await lc.start();
  const pid = lc.pid!;
  const exited = new Promise<{ code: number | null }>((resolve) => lc.once('exit', resolve));
  await lc.stop();
  assert.deepEqual(await exited, { code: 0, signal: null }, 'exited by itself, cleanly');
  assert.ok(!alive(pid));
  assert.ok(await portClosed(ep.port));
});

test('pkexec path: the token arrives over stdin with the environment wiped', { timeout: 30_000 }, async (t) => {
  const bin = mkdtempSync(join(tmpdir(), 'pxk-pkexec-'));
  // Stand-in for an authorised pkexec: clears the environment and execs the program.
  writeFileSync(join(bin, 'pkexec'), '#!/bin/sh\nexec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"\n');
  chmodSync(join(bin, 'pkexec'), 0o755);
  const savedPath = process.env.PATH;
  process.env.PATH = `${bin}:${savedPath}`;
  t.after(async () => {
    process.env.PATH = savedPath;
  });
  const { lc } = lifecycle(t, pkexecElevator, { engine: { ...engine, env: { PXEKIT_DATA_DIR: join(bin, 'data') } } });
  const ep = await lc.start();
  const c = await ApiClient.connect(ep.port, lc.token);
  assert.equal(c.hello?.status.state, 'stopped', 'the token came through stdin');
  await c.close();
  await lc.stop();
  assert.ok(await portClosed(ep.port));
});

test('a declined prompt (pkexec 126) is reported, not retried', { timeout: 30_000 }, async (t) => {
  const bin = mkdtempSync(join(tmpdir(), 'pxk-pkexec-'));
  writeFileSync(join(bin, 'pkexec'), '#!/bin/sh\necho "Error executing command as another user: Not authorized" >&2\nexit 126\n');
  chmodSync(join(bin, 'pkexec'), 0o755);
  const savedPath = process.env.PATH;
  process.env.PATH = `${bin}:${savedPath}`;
  t.after(async () => {
    process.env.PATH = savedPath;
  });
  const { lc, states } = lifecycle(t, pkexecElevator);
  await assert.rejects(lc.start());
  await until(lc, 'declined');
  const declined = states.find(([s]) => s === 'declined');
  assert.match(declined?.[1] ?? '', /administrator rights/);
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(!states.some(([s]) => s === 'restarting'), 'no retry after the user said no');
});

test('an engine that keeps failing is restarted a bounded number of times, then reported failed', { timeout: 30_000 }, async (t) => {
  // The real engine refusing to start (an unknown option: usage error, exit 2) every time.
  const { lc, states } = lifecycle(t, directElevator, { extraArgs: ['--no-such-option'] });
  await assert.rejects(lc.start());
  await until(lc, 'failed');
  assert.equal(states.filter(([s, d]) => s === 'restarting' && /restarting in/.test(d ?? '')).length, 3, JSON.stringify(states));
  assert.match(states.at(-1)?.[1] ?? '', /gave up after 3 restarts/);
  assert.match(states.at(-1)?.[1] ?? '', /no-such-option/, 'the engine’s own error is in the message');
});

// ---- The macOS and Windows prompts: their command lines, and early errors reaching the window ----
// Neither prompt can run here (no macOS, no Windows): the lines they would run are checked as
// text, and the parts that are plain shell or plain Node (the macOS shell line, the Windows
// stub) are run for real on Linux.

test('macOS prompt: osascript names PXE Kit in its own text and runs the engine with stderr into a fresh file', () => {
  const line = macShellLine({ command: '/Applications/PXE Kit.app/Contents/MacOS/PXE Kit', args: ['/x/main.js', 'serve'], env: { ELECTRON_RUN_AS_NODE: '1' } }, '/tmp/pxekit-a/token', '/tmp/pxekit-e/stderr.txt');
  assert.equal(line, "set -C; exec 2>'/tmp/pxekit-e/stderr.txt'; ELECTRON_RUN_AS_NODE='1' '/Applications/PXE Kit.app/Contents/MacOS/PXE Kit' '/x/main.js' 'serve' '--token-file' '/tmp/pxekit-a/token'");
  const args = osascriptArgs(line);
  assert.equal(args[0], '-e');
  assert.ok(args[1].startsWith('do shell script "set -C; exec 2>'), args[1]);
  assert.ok(args[1].endsWith(`with prompt "${MAC_PROMPT}" with administrator privileges`), args[1]);
  assert.match(MAC_PROMPT, /^PXE Kit needs/);
  // No stderr file: the plain line, as before.
  assert.equal(macShellLine({ command: '/e', args: [] }, '/t'), "'/e' '--token-file' '/t'");
});

test('macOS shell line, run by sh: the engine\'s stderr lands in the file; an existing file or link is never written through', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pxk-macline-'));
  const cmd = { command: process.execPath, args: ['-e', 'console.error("pxekit: cannot tie the DHCP socket to en5 on this Mac"); process.exit(3)', '--'] };
  const r = spawnSync('sh', ['-c', macShellLine(cmd, join(dir, 'token'), join(dir, 'stderr.txt'))], { encoding: 'utf8' });
  assert.equal(r.status, 3);
  assert.equal(r.stderr, '', 'nothing on the prompt\'s own stderr');
  assert.match(readFileSync(join(dir, 'stderr.txt'), 'utf8'), /^pxekit: cannot tie the DHCP socket to en5 on this Mac\n$/);
  writeFileSync(join(dir, 'victim'), 'untouched');
  symlinkSync(join(dir, 'victim'), join(dir, 'link.txt'));
  const r2 = spawnSync('sh', ['-c', macShellLine(cmd, join(dir, 'token'), join(dir, 'link.txt'))], { encoding: 'utf8' });
  assert.notEqual(r2.status, 0, 'set -C: the shell refuses to write through an existing name');
  assert.equal(readFileSync(join(dir, 'victim'), 'utf8'), 'untouched');
});

test('Windows prompt: UAC elevates PXE Kit\'s own executable (not cmd.exe), its variables and stderr file in one argument', () => {
  const plan: StubPlan = { command: 'C:\\Program Files\\PXE Kit\\PXE Kit.exe', args: ['C:\\Program Files\\PXE Kit\\resources\\engine\\dist\\src\\cli\\main.js', 'serve', '--token-file', "C:\\Users\\O'Brien\\AppData\\Local\\Temp\\pxekit-1\\token"], env: { ELECTRON_RUN_AS_NODE: '1' }, stderrFile: 'C:\\Users\\x\\AppData\\Local\\Temp\\pxekit-engine-1\\stderr.txt' };
  const ps = uacPowerShell('C:\\Program Files\\PXE Kit\\PXE Kit.exe', plan);
  assert.ok(ps.startsWith("$p = Start-Process -FilePath 'C:\\Program Files\\PXE Kit\\PXE Kit.exe' -ArgumentList '--pxekit-elevated-engine="), ps);
  assert.match(ps, / -Verb RunAs -WindowStyle Hidden -Wait -PassThru; exit \$p\.ExitCode$/);
  assert.doesNotMatch(ps, /cmd\.exe|\.cmd'|powershell/i);
  const arg = /-ArgumentList '([^']+)'/.exec(ps)![1];
  assert.match(arg, /^--pxekit-elevated-engine=[A-Za-z0-9_-]+$/, 'one argument without spaces or quotes');
  assert.deepEqual(JSON.parse(Buffer.from(arg.slice(STUB_FLAG.length), 'base64url').toString()), plan);
});

test('Windows stub (run here under Node): runs the engine with its variables, stderr into a fresh file, passes the exit code', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pxk-stub-'));
  const plan: StubPlan = { command: process.execPath, args: ['-e', 'console.error("pxekit: " + process.env.PXK_STUB_VAR); process.exit(4)'], env: { PXK_STUB_VAR: 'early error' }, stderrFile: join(dir, 'stderr.txt') };
  const codes: number[] = [];
  assert.equal(runElevatedEngineStub(['node', 'x', stubArgument(plan)], (c) => codes.push(c)), true);
  assert.deepEqual(codes, [4]);
  assert.equal(readFileSync(join(dir, 'stderr.txt'), 'utf8'), 'pxekit: early error\n');
  // A name that exists already (a link to a file of someone else's) is never written through.
  writeFileSync(join(dir, 'victim'), 'untouched');
  symlinkSync(join(dir, 'victim'), join(dir, 'link.txt'));
  assert.equal(runElevatedEngineStub(['node', stubArgument({ ...plan, stderrFile: join(dir, 'link.txt') })], (c) => codes.push(c)), true);
  assert.equal(readFileSync(join(dir, 'victim'), 'utf8'), 'untouched');
  assert.equal(runElevatedEngineStub(['node', 'main.js', 'serve'], () => assert.fail('not a stub command line')), false);
});

const ELEVATE_JS = fileURLToPath(new URL('../../electron/elevate.js', import.meta.url));

/** Stand-ins for the two prompts that run what they would run, minus the prompt: the child's own stderr stays empty, as osascript's and Start-Process's do. */
const macStandIn: Elevator = {
  name: 'osascript-standin',
  launch(cmd, token, opts) {
    const dir = mkdtempSync(join(tmpdir(), 'pxk-tok-'));
    writeFileSync(join(dir, 'token'), token, { mode: 0o600 });
    return spawn('sh', ['-c', macShellLine(cmd, join(dir, 'token'), opts?.stderrFile)], { stdio: ['pipe', 'pipe', 'pipe'] });
  },
  declined: () => false,
  declinedMessage: '',
};
const windowsStandIn: Elevator = {
  name: 'uac-standin',
  launch(cmd, token, opts) {
    const dir = mkdtempSync(join(tmpdir(), 'pxk-tok-'));
    writeFileSync(join(dir, 'token'), token, { mode: 0o600 });
    const plan: StubPlan = { command: cmd.command, args: [...cmd.args, '--token-file', join(dir, 'token')], env: cmd.env ?? {}, stderrFile: opts?.stderrFile };
    const run = `import(${JSON.stringify(ELEVATE_JS)}).then((m) => m.runElevatedEngineStub())`;
    return spawn(process.execPath, ['-e', run, '--', stubArgument(plan)], { stdio: ['pipe', 'pipe', 'pipe'] });
  },
  declined: () => false,
  declinedMessage: '',
};

for (const [os, elevator] of [['macOS', macStandIn], ['Windows', windowsStandIn]] as const) {
  test(`${os} prompt stand-in: an engine error before the API is up reaches the window's error state`, { timeout: 30_000 }, async (t) => {
    const earlyErrorDir = mkdtempSync(join(tmpdir(), 'pxk-early-'));
    const { lc, states } = lifecycle(t, elevator, { extraArgs: ['--no-such-option'], restart: { maxAttempts: 0 }, earlyErrorDir });
    await assert.rejects(lc.start());
    await until(lc, 'failed');
    const failed = states.at(-1)?.[1] ?? '';
    assert.match(failed, /^engine exited \(2\): .*no-such-option.*; gave up after 0 restarts$/, failed);
    // The folder for the file is gone with the engine.
    const { readdirSync } = await import('node:fs');
    assert.deepEqual(readdirSync(earlyErrorDir).filter((f) => existsSync(join(earlyErrorDir, f))), []);
  });
}
