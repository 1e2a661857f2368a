// A boot storm: N simulated PXE machines (storm-client.ts) power on at once against the
// real engine (`pxekit serve --mode dhcp`, a child process in the lab's server namespace)
// serving a stand-in kernel and a 50 MiB initrd. All must finish. Reported: total time,
// the slowest machine, phase times, and the engine's peak memory (VmHWM) and CPU time.
// Also the link's own limit (iperf3 over the same kind of veth) for scale.
// Run alone: node dist/test/bench/storm.js [--clients 60] [--initrd-mib 50]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Lab, requireRoot } from '../helpers/lab.js';
import { ensureAptPackage, procUsage, sleep } from './common.js';
import { startEngine, writeBootFiles, type BenchEngine } from './engine.js';

export interface StormResult {
  clients: number;
  failed: number;
  totalSec: number;
  slowestSec: number;
  /** Median per-phase completion times (s since power-on). */
  medianPhaseSec: Record<string, number>;
  engine: { peakRssMiB: number; cpuSeconds: number; cpuPercentOfOneCore: number };
  summary: string[];
}

interface StormMachine {
  mac: string;
  phases: Record<string, number>;
  bytes: { tftp: number; http: number };
  error?: string;
}

export async function benchStorm(opts: { clients?: number; initrdMiB?: number; log?: (l: string) => void } = {}): Promise<StormResult> {
  const clients = opts.clients ?? 60;
  const initrdMiB = opts.initrdMiB ?? 50;
  const log = opts.log ?? ((l: string) => console.log(l));
  const why = requireRoot();
  if (why) throw new Error(`the storm bench ${why}`);
  const lab = Lab.create();
  const dir = mkdtempSync(join(tmpdir(), 'pxk-bench-storm-'));
  let engine: BenchEngine | undefined;
  try {
    const files = await writeBootFiles(join(dir, 'img'), initrdMiB);
    engine = await startEngine(lab, lab.serverNs, lab.serverIf, join(dir, 'data'), files, ['--range', `${lab.subnet}.10-${lab.subnet}.250`]);
    const pid = engine.pid()!;
    const before = procUsage(pid)!;
    log(`storm: ${clients} simulated UEFI PXE machines at once: DHCP, boot program over TFTP (blksize 1468, lockstep), iPXE DHCP, script + 1 MiB kernel + ${initrdMiB} MiB initrd over HTTP; engine RSS at start ${before.rssMiB.toFixed(0)} MiB`);
    const script = fileURLToPath(new URL('./storm-client.js', import.meta.url));
    const t0 = Date.now();
    const out = await new Promise<string>((resolve, reject) => {
      const c = lab.spawn(lab.clientNs, process.execPath, [script, lab.clientIf, String(clients)]);
      let stdout = '';
      let stderr = '';
      c.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
      c.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      // Sample the engine's RSS while the storm runs (VmHWM is the peak anyway; this shows the curve's top).
      const sampler = setInterval(() => procUsage(pid), 500);
      c.on('close', (code) => {
        clearInterval(sampler);
        if (code === 0) resolve(stdout);
        else reject(new Error(`storm client exit ${code}: ${stderr.slice(-1000)}`));
      });
    });
    const wallSec = (Date.now() - t0) / 1000;
    await sleep(200);
    const after = procUsage(pid)!;
    const { totalMs, machines } = JSON.parse(out) as { totalMs: number; machines: StormMachine[] };
    const failed = machines.filter((m) => m.error);
    const done = machines.filter((m) => !m.error);
    const phaseNames = ['dhcp', 'tftp', 'dhcp-ipxe', 'script', 'http'];
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
    const medianPhaseSec = Object.fromEntries(phaseNames.map((p) => [p, med(done.map((m) => m.phases[p] / 1000))]));
    const slowestSec = Math.max(0, ...done.map((m) => m.phases.http / 1000));
    const cpuSeconds = after.cpuSeconds - before.cpuSeconds;
    const engineStats = { peakRssMiB: after.peakRssMiB, cpuSeconds, cpuPercentOfOneCore: (100 * cpuSeconds) / wallSec };
    const bytes = done.reduce((a, m) => a + m.bytes.http + m.bytes.tftp, 0);
    log(`  ${done.length}/${clients} machines finished, ${failed.length} failed; total ${(totalMs / 1000).toFixed(1)} s, slowest machine ${slowestSec.toFixed(1)} s`);
    log(`  median phase completion (s after power-on): ${phaseNames.map((p) => `${p} ${medianPhaseSec[p].toFixed(2)}`).join(', ')}`);
    log(`  moved ${(bytes / 2 ** 20).toFixed(0)} MiB (${(bytes / 2 ** 20 / (totalMs / 1000)).toFixed(0)} MiB/s aggregate)`);
    log(`  engine: peak RSS ${engineStats.peakRssMiB.toFixed(0)} MiB, CPU ${cpuSeconds.toFixed(1)} s (${engineStats.cpuPercentOfOneCore.toFixed(0)}% of one core over the storm)`);
    for (const f of failed.slice(0, 5)) log(`  FAILED ${f.mac}: ${f.error}`);
    const summary = [
      `Boot storm x${clients}: ${done.length}/${clients} booted, total ${(totalMs / 1000).toFixed(1)} s, slowest ${slowestSec.toFixed(1)} s, engine peak RSS ${engineStats.peakRssMiB.toFixed(0)} MiB, CPU ${cpuSeconds.toFixed(1)} s`,
    ];
    return { clients, failed: failed.length, totalSec: totalMs / 1000, slowestSec, medianPhaseSec, engine: engineStats, summary };
  } finally {
    await engine?.stop();
    await lab.killChildren();
    lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** iperf3 TCP over a fresh lab veth: the link's own limit, for scale. */
export async function benchLink(opts: { seconds?: number; log?: (l: string) => void } = {}): Promise<{ gbitPerSec: number; summary: string[] }> {
  const log = opts.log ?? ((l: string) => console.log(l));
  if (!ensureAptPackage('iperf3', 'iperf3', log)) throw new Error('iperf3 is not installed and could not be (apt-get install iperf3)');
  const lab = Lab.create();
  try {
    const srv = lab.spawn(lab.serverNs, 'iperf3', ['-s', '-B', lab.serverIp, '-1']);
    srv.stdout?.resume();
    lab.ip(lab.clientNs, ['addr', 'add', `${lab.subnet}.2/24`, 'dev', lab.clientIf]);
    await sleep(500);
    const out = lab.exec(lab.clientNs, 'iperf3', ['-c', lab.serverIp, '-t', String(opts.seconds ?? 5), '-J']);
    const j = JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } };
    const gbit = j.end.sum_received.bits_per_second / 1e9;
    log(`link: iperf3 TCP over the veth: ${gbit.toFixed(2)} Gbit/s (${((gbit * 1e9) / 8 / 2 ** 20).toFixed(0)} MiB/s)`);
    return { gbitPerSec: gbit, summary: [`Link limit (iperf3 TCP, veth): ${gbit.toFixed(2)} Gbit/s = ${((gbit * 1e9) / 8 / 2 ** 20).toFixed(0)} MiB/s`] };
  } finally {
    await lab.killChildren();
    lab.destroy();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name: string, def: number): number => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : def;
  };
  benchStorm({ clients: arg('clients', 60), initrdMiB: arg('initrd-mib', 50) }).catch((err: Error) => {
    console.error(err.message);
    process.exit(1);
  });
}
