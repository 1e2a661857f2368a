// The desktop app's engine lifecycle (electron/engine-lifecycle.ts, no Electron
// needed) against the real engine binary: spawn, restart after a crash, bounded
// backoff, a declined prompt, and a clean stop with the API port released.
// The OS prompt itself cannot run here; "pkexec" is a stand-in script that does
// what pkexec does for an authorised user (wipe the environment, exec the
// program with stdin kept) or what it does when the user declines (exit 126).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineLifecycle, portClosed, type EngineLifecycleState } from '../../electron/engine-lifecycle.js';
import { directElevator, pkexecElevator, type Elevator } from '../../electron/elevate.js';
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
