// The real engine (`pxekit serve --json --mode dhcp`) as a child process in a lab
// namespace, for the DHCP bench and the boot storm: its CPU time and peak memory are
// read from /proc like any other server's. The image is a stand-in kernel (a file with
// the x86 boot header magic) and an initrd of the size the test wants.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import type { Lab } from '../helpers/lab.js';
import { CLI } from '../helpers/engine-process.js';
import { writeRandomFile } from './common.js';

export interface BenchEngine {
  child: ChildProcess;
  /** The node process itself (under `ip netns exec` when in a namespace). */
  pid: () => number | undefined;
  /** Count of JSON events seen, by type. */
  events: Map<string, number>;
  stderr: () => string;
  stop: () => Promise<void>;
}

/** Writes vmlinuz (a stand-in: "HdrS" at 0x202 is what image detection checks) and an initrd of `initrdMiB`. */
export async function writeBootFiles(dir: string, initrdMiB: number): Promise<{ kernel: string; initrd: string }> {
  mkdirSync(dir, { recursive: true });
  const kernel = join(dir, 'vmlinuz');
  const k = Buffer.alloc(1024 * 1024);
  k.write('HdrS', 0x202, 'latin1');
  writeFileSync(kernel, k);
  const initrd = join(dir, 'initrd.img');
  await writeRandomFile(initrd, initrdMiB * 1024 * 1024);
  return { kernel, initrd };
}

export async function startEngine(lab: Lab, ns: string | null, iface: string, dataDir: string, files: { kernel: string; initrd: string }, extra: string[] = []): Promise<BenchEngine> {
  const args = [CLI, 'serve', '--json', '--mode', 'dhcp', '--force', '--probe-seconds', '0', '--iface', iface, '--data-dir', dataDir, '--initrd', files.initrd, ...extra, files.kernel];
  // PXEKIT_BENCH_PROFILE=DIR: the engine writes a V8 CPU profile there when it stops (open it in Chrome DevTools).
  const prof = process.env.PXEKIT_BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PXEKIT_BENCH_PROFILE}`] : [];
  const child = lab.spawn(ns, process.execPath, [...prof, ...args]);
  const events = new Map<string, number>();
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()).length > 20_000 && (stderr = stderr.slice(-10_000)));
  let serving: (() => void) | undefined;
  let failed: ((e: Error) => void) | undefined;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    // Only the type is kept: a DHCP storm prints thousands of events a second.
    const type = /"type":"([a-z-]+)"/.exec(line)?.[1] ?? 'other';
    events.set(type, (events.get(type) ?? 0) + 1);
    if (type === 'status' && /"state":"serving"/.test(line)) serving?.();
    if (type === 'status' && /"state":"error"/.test(line)) failed?.(new Error(`engine failed: ${line}`));
  });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`engine did not start: ${stderr}`)), 30_000);
    serving = () => (clearTimeout(t), resolve());
    failed = (e) => (clearTimeout(t), reject(e));
    child.once('exit', (code) => (clearTimeout(t), reject(new Error(`engine exited (${code}): ${stderr}`))));
  });
  const pid = () => {
    // Under `ip netns exec` the node process replaces ip (exec), so the PID is the same.
    return child.pid;
  };
  return {
    child,
    pid,
    events,
    stderr: () => stderr,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => (clearTimeout(t), resolve()));
        child.kill('SIGINT');
      }),
  };
}
