// TFTP throughput: PXE Kit's TFTP server (in a process of its own) against tftpd-hpa,
// dnsmasq and atftpd serving the same files over the same lab veth, fetched by atftp
// (the one client here that speaks every option, windowsize included) inside the client
// namespace. Each server listens on its own address of the veth, so all run at once and
// rounds interleave (A B C D, B C D A, ...): load from anything else on the machine
// spreads evenly over them, and ratios stay meaningful when absolute figures do not.
//
// Cases: file sizes x option sets x clients at once. Single-client rows are medians of
// interleaved rounds (three times as many for files up to 4 MiB, one for 64 MiB and up); N-client rows start N atftp at once against one server and report
// the aggregate rate (N x size / time until the last one finished) and the slowest client:
// the median over interleaved rounds for files up to 4 MiB (a 20 x 1 MiB run lasts about a
// second, and single runs of the same code moved 15-25%), one run for bigger files.
// CPU µs per DATA packet is the server's own CPU time (children included: tftpd-hpa forks
// one per transfer) over the packets a transfer needs: a figure that load does not bend much.
//
// Run alone: node dist/test/bench/tftp.js [--quick] [--rounds N] [--sizes 1,32|none] [--cases 512,1468,ws16] [--concurrent 20x1,60x1|none]
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { Lab, requireRoot } from '../helpers/lab.js';
import { descendantsCpu, ensureAtftpd, median, ownCpuSeconds, procUsage, sleep, table, writeRandomFile } from './common.js';

export type TftpBenchServer = 'pxekit' | 'tftpd-hpa' | 'dnsmasq' | 'atftpd';

export interface TftpBenchCase {
  name: string;
  /** atftp --option arguments. */
  options: string[];
  blksize: number;
}

export const TFTP_BENCH_CASES: TftpBenchCase[] = [
  { name: '512', options: [], blksize: 512 },
  { name: '1468', options: ['blksize 1468'], blksize: 1468 },
  { name: '1468+ws16', options: ['blksize 1468', 'windowsize 16'], blksize: 1468 },
];

export interface TftpBenchOptions {
  /** File sizes for single-client runs (MiB). */
  sizesMiB?: number[];
  /** [clients at once, file size MiB] pairs for the concurrent runs. */
  concurrent?: Array<[number, number]>;
  /** Rounds per single-client case (sizes >= 64 MiB get one). */
  rounds?: number;
  quick?: boolean;
  /** Option sets by name ('512', '1468', '1468+ws16'); all by default. */
  cases?: string[];
  log?: (line: string) => void;
}

export interface TftpBenchRow {
  server: TftpBenchServer;
  sizeMiB: number;
  case: string;
  clients: number;
  /** Single client: median MiB/s over rounds. N clients: aggregate MiB/s (median over rounds for small files). */
  mibPerSec: number;
  /** N clients: seconds until the last one finished (of the median round). */
  slowestSec?: number;
  /** Clients that failed (N-client runs). */
  failed: number;
  /** Server CPU time per DATA packet, µs (median over rounds). */
  cpuUsPerPacket?: number;
}

export interface TftpBenchResult {
  rows: TftpBenchRow[];
  /** "size case xN" -> PXE Kit / best anchor. */
  ratio: Record<string, number>;
  summary: string[];
}

interface Target {
  server: TftpBenchServer;
  address: string;
  /** The process whose CPU time is the server's. */
  pid: () => number | undefined;
}

/** One atftp download; resolves seconds (wall clock around the client). `dest` undefined: /dev/null, exit code only. */
function fetchOnce(lab: Lab, server: string, file: string, options: string[], size: number, dest?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const args = ['--get', '-r', file, '-l', dest ?? '/dev/null'];
    for (const o of options) args.push('--option', o);
    args.push(server);
    const t0 = process.hrtime.bigint();
    const c = lab.spawn(lab.clientNs, 'atftp', args);
    let out = '';
    c.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    c.on('error', reject);
    c.on('close', (code) => {
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      let got = size;
      if (dest) {
        try {
          got = statSync(dest).size;
        } catch {
          got = -1;
        }
      }
      if (code !== 0 || got !== size) reject(new Error(`atftp ${server} ${file} ${options.join(',')}: exit ${code}, ${got} of ${size} bytes: ${out.trim()}`));
      else resolve(secs);
    });
  });
}

async function waitReady(lab: Lab, child: ChildProcess, what: string, address: string): Promise<void> {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  for (let i = 0; i < 50; i++) {
    if (child.exitCode !== null) throw new Error(`${what} exited: ${stderr}`);
    try {
      await fetchOnce(lab, address, 'probe.txt', [], 6);
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`${what} did not start: ${stderr}`);
}

const packetsFor = (bytes: number, blksize: number): number => Math.floor(bytes / blksize) + 1;

/**
 * fetchOnce, tried up to three times: on this shared machine a client occasionally gives
 * up on ANY server (atftp's own 5 s timeout under a load average of 10). Retries are
 * counted and reported; a case that fails three times is reported as failed, and the
 * bench goes on.
 */
async function fetchRetry(lab: Lab, server: string, file: string, options: string[], size: number, dest: string | undefined, onRetry: (err: Error) => void): Promise<number> {
  for (let i = 0; ; i++) {
    try {
      return await fetchOnce(lab, server, file, options, size, dest);
    } catch (err) {
      if (i >= 2) throw err;
      onRetry(err as Error);
      await sleep(500);
    }
  }
}

export async function benchTftp(opts: TftpBenchOptions = {}): Promise<TftpBenchResult> {
  const quick = opts.quick ?? false;
  const sizesMiB = opts.sizesMiB ?? (quick ? [1, 8] : [1, 32, 128]);
  // 60 x 32 MiB at 512-byte blocks alone takes ~10 min over four servers: on request (--concurrent 60x32).
  const concurrent = opts.concurrent ?? (quick ? [[20, 1]] : [[20, 1], [60, 1], [20, 32]]);
  const rounds = opts.rounds ?? (quick ? 1 : 3);
  const log = opts.log ?? ((l: string) => console.log(l));
  const cases = TFTP_BENCH_CASES.filter((c) => !opts.cases || opts.cases.includes(c.name));
  const why = requireRoot();
  if (why) throw new Error(`the TFTP bench ${why}`);
  const atftpd = ensureAtftpd(log);

  const lab = Lab.create({ serverInRoot: true });
  const dir = mkdtempSync(join(tmpdir(), 'pxk-bench-tftp-'));
  const root = join(dir, 'root');
  const dest = join(dir, 'out.bin');
  let pxk: ChildProcess | undefined;
  try {
    lab.ip(lab.clientNs, ['addr', 'add', `${lab.subnet}.2/24`, 'dev', lab.clientIf]);
    // tftpd-hpa drops to user "tftp": the tree must be world-readable.
    chmodSync(dir, 0o755);
    mkdirSync(root, { mode: 0o755 });
    const allSizes = [...new Set([...sizesMiB, ...concurrent.map(([, s]) => s)])];
    for (const s of allSizes) {
      await writeRandomFile(join(root, `image-${s}.bin`), s * 1024 * 1024);
      chmodSync(join(root, `image-${s}.bin`), 0o644);
    }
    writeFileSync(join(root, 'probe.txt'), 'probe\n');
    chmodSync(join(root, 'probe.txt'), 0o644);

    const ip = (n: number) => `${lab.subnet}.${n}`;
    for (const n of [3, 4, 5]) lab.ip(null, ['addr', 'add', `${ip(n)}/24`, 'dev', lab.serverIf]);
    const targets: Target[] = [];

    // PXE Kit, in a process of its own. maxPerClient is raised: every bench client shares
    // one source address here, where a classroom has one address per machine.
    const child = fileURLToPath(new URL('./tftp-child.js', import.meta.url));
    pxk = lab.spawn(null, process.execPath, [...(process.env.PXEKIT_BENCH_NODE_FLAGS ? process.env.PXEKIT_BENCH_NODE_FLAGS.split(' ') : []), child, lab.serverIf, lab.serverIp, root, '69', '100'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const pxkLines = createInterface({ input: pxk.stdout! });
    await new Promise<void>((resolve, reject) => {
      pxkLines.once('line', (l) => (l === 'ready' ? resolve() : reject(new Error(`PXE Kit child: ${l}`))));
      pxk!.once('exit', (code) => reject(new Error(`PXE Kit child exited (${code})`)));
    });
    const pxkPid = pxk.pid!;
    targets.push({ server: 'pxekit', address: lab.serverIp, pid: () => pxkPid });

    const hpa = lab.spawn(null, 'in.tftpd', ['-L', '-s', root, '-a', `${ip(3)}:69`]);
    await waitReady(lab, hpa, 'in.tftpd', ip(3));
    targets.push({ server: 'tftpd-hpa', address: ip(3), pid: () => hpa.pid });

    // dnsmasq as a TFTP server only (--port=0: no DNS); its default cap of 50 transfers is raised for the 60-client runs.
    const dnsmasq = lab.spawn(null, 'dnsmasq', [
      '--no-daemon', '--conf-file=/dev/null', '--port=0', '--enable-tftp', `--tftp-root=${root}`, '--tftp-max=200',
      `--listen-address=${ip(4)}`, '--bind-interfaces', '--user=root', '--pid-file', '--log-facility=-',
    ]);
    await waitReady(lab, dnsmasq, 'dnsmasq', ip(4));
    targets.push({ server: 'dnsmasq', address: ip(4), pid: () => dnsmasq.pid });

    if (atftpd) {
      const a = lab.spawn(null, atftpd, ['--daemon', '--no-fork', '--port', '69', '--bind-address', ip(5), '--user', 'root.root', '--group', 'root', '--logfile', '/dev/null', '--maxthread', '200', root]);
      await waitReady(lab, a, 'atftpd', ip(5));
      targets.push({ server: 'atftpd', address: ip(5), pid: () => a.pid });
    }
    log(`tftp bench: servers ${targets.map((t) => t.server).join(', ')}; atftp client; sizes ${sizesMiB.join('/')} MiB single (median of ${rounds} interleaved rounds), concurrent ${concurrent.map(([n, s]) => `${n}x${s} MiB`).join(', ')} (median of ${rounds} rounds up to 4 MiB)`);

    // Server CPU time. tftpd-hpa forks a child per transfer and does not wait for it in a
    // way that lands in cutime, so descendants are sampled while the transfer runs and the
    // last value seen for each is added.
    const seenChildren = new Map<number, { root: number; secs: number }>();
    const sample = () => {
      for (const t of targets) for (const [pid, secs] of descendantsCpu(t.pid()!)) seenChildren.set(pid, { root: t.pid()!, secs });
    };
    const cpuSampler = setInterval(sample, 25);
    const cpuOf = (t: Target): number => {
      sample();
      let total = ownCpuSeconds(t.pid()!);
      for (const c of seenChildren.values()) if (c.root === t.pid()) total += c.secs;
      return total;
    };
    const rows: TftpBenchRow[] = [];
    const show = (r: TftpBenchRow) =>
      log(
        `  ${r.server.padEnd(9)} ${String(r.sizeMiB).padStart(4)} MiB ${r.case.padEnd(10)} x${String(r.clients).padEnd(3)} ${r.mibPerSec.toFixed(2).padStart(8)} MiB/s` +
          (r.cpuUsPerPacket !== undefined ? `  ${r.cpuUsPerPacket.toFixed(1).padStart(6)} µs CPU/packet` : '') +
          (r.slowestSec !== undefined ? `  slowest ${r.slowestSec.toFixed(2)} s` : '') +
          (r.failed ? `  FAILED ${r.failed}` : ''),
      );

    // Single client.
    for (const sizeMiB of sizesMiB) {
      const size = sizeMiB * 1024 * 1024;
      const file = `image-${sizeMiB}.bin`;
      // Small files take tens of milliseconds, where a single round is mostly noise: three times the rounds.
      const n = sizeMiB >= 64 ? 1 : sizeMiB <= 4 ? rounds * 3 : rounds;
      for (const c of cases) {
        const rates = new Map<TftpBenchServer, number[]>(targets.map((t) => [t.server, []]));
        const cpu = new Map<TftpBenchServer, number[]>(targets.map((t) => [t.server, []]));
        const failed = new Map<TftpBenchServer, number>();
        const retry = (t: Target) => (err: Error) => log(`    (retrying ${t.server}: ${err.message.split('\n')[0].slice(0, 160)})`);
        if (sizeMiB < 64) for (const t of targets) await fetchRetry(lab, t.address, file, c.options, size, dest, retry(t)).catch(() => undefined); // warm-up: page cache, JIT
        for (let r = 0; r < n; r++) {
          for (let i = 0; i < targets.length; i++) {
            const t = targets[(i + r) % targets.length];
            const c0 = cpuOf(t);
            let secs: number;
            try {
              secs = await fetchRetry(lab, t.address, file, c.options, size, dest, retry(t));
            } catch (err) {
              log(`    ${t.server} FAILED ${sizeMiB} MiB ${c.name}: ${(err as Error).message.split('\n')[0].slice(0, 200)}`);
              failed.set(t.server, (failed.get(t.server) ?? 0) + 1);
              continue;
            }
            await sleep(20);
            const c1 = cpuOf(t);
            rates.get(t.server)!.push(sizeMiB / secs);
            cpu.get(t.server)!.push(((c1 - c0) * 1e6) / packetsFor(size, c.blksize));
          }
        }
        for (const t of targets) {
          const ok = rates.get(t.server)!.length > 0;
          const row: TftpBenchRow = { server: t.server, sizeMiB, case: c.name, clients: 1, mibPerSec: ok ? median(rates.get(t.server)!) : 0, failed: failed.get(t.server) ?? 0, cpuUsPerPacket: ok ? median(cpu.get(t.server)!) : undefined };
          rows.push(row);
          show(row);
        }
      }
    }

    // N clients at once against one server; rounds rotate the order of the servers.
    let turn = 0;
    for (const [clients, sizeMiB] of concurrent) {
      const size = sizeMiB * 1024 * 1024;
      const n = sizeMiB <= 4 ? rounds : 1;
      for (const c of cases) {
        const runs = new Map<TftpBenchServer, TftpBenchRow[]>(targets.map((t) => [t.server, []]));
        for (let r = 0; r < n; r++) {
          turn++;
          for (let i = 0; i < targets.length; i++) {
            const t = targets[(i + turn) % targets.length];
            const c0 = cpuOf(t);
            const t0 = process.hrtime.bigint();
            const results = await Promise.allSettled(Array.from({ length: clients }, () => fetchOnce(lab, t.address, `image-${sizeMiB}.bin`, c.options, size)));
            const secs = Number(process.hrtime.bigint() - t0) / 1e9;
            await sleep(20);
            const cpuUs = ((cpuOf(t) - c0) * 1e6) / (clients * packetsFor(size, c.blksize));
            const ok = results.filter((x) => x.status === 'fulfilled').length;
            runs.get(t.server)!.push({ server: t.server, sizeMiB, case: c.name, clients, mibPerSec: (ok * sizeMiB) / secs, slowestSec: secs, failed: clients - ok, cpuUsPerPacket: cpuUs });
            if (ok < clients) log(`    ${t.server} round ${r + 1}: first failure: ${(results.find((x) => x.status === 'rejected') as PromiseRejectedResult).reason}`);
            await sleep(300);
          }
        }
        for (const t of targets) {
          const all = runs.get(t.server)!;
          // The median round by rate; failures of any round are kept, never averaged away.
          const mid = [...all].sort((a, b) => a.mibPerSec - b.mibPerSec)[Math.floor(all.length / 2)]; // as median() picks
          const row: TftpBenchRow = { ...mid, failed: Math.max(...all.map((x) => x.failed)), cpuUsPerPacket: median(all.map((x) => x.cpuUsPerPacket!)) };
          rows.push(row);
          show(row);
        }
      }
    }

    const ratio: Record<string, number> = {};
    const summary: string[] = [];
    const keys = [...new Set(rows.map((r) => `${r.sizeMiB}|${r.case}|${r.clients}`))];
    const tbl: string[][] = [['TFTP case', ...targets.map((t) => t.server), 'PXE Kit / best']];
    for (const k of keys) {
      const [s, c, n] = k.split('|');
      const rs = rows.filter((r) => `${r.sizeMiB}|${r.case}|${r.clients}` === k);
      const ours = rs.find((r) => r.server === 'pxekit')!;
      const best = Math.max(...rs.filter((r) => r.server !== 'pxekit').map((r) => r.mibPerSec));
      const name = `${s} MiB ${c} x${n}`;
      ratio[name] = ours.failed ? 0 : ours.mibPerSec / best;
      tbl.push([name, ...targets.map((t) => {
        const r = rs.find((x) => x.server === t.server)!;
        return `${r.mibPerSec.toFixed(1)}${r.failed ? ` (${r.failed} failed)` : ''}`;
      }), ratio[name].toFixed(2)]);
      summary.push(`TFTP ${name}: PXE Kit / best anchor = ${ratio[name].toFixed(2)}`);
    }
    log('\nTFTP MiB/s (single client: median; xN: aggregate)\n' + table(tbl));
    const cpuRows = rows.filter((r) => r.clients === 1 && r.cpuUsPerPacket !== undefined && r.sizeMiB === sizesMiB[sizesMiB.length - 1]);
    if (cpuRows.length) {
      const ctbl: string[][] = [['server CPU µs per DATA packet', ...targets.map((t) => t.server)]];
      for (const c of cases) ctbl.push([`${sizesMiB[sizesMiB.length - 1]} MiB ${c.name}`, ...targets.map((t) => cpuRows.find((r) => r.server === t.server && r.case === c.name)!.cpuUsPerPacket!.toFixed(1))]);
      log('\n' + table(ctbl));
    }
    pxk.stdin?.write('stats\n');
    const stats = await Promise.race([new Promise<string>((r) => pxkLines.once('line', r)), sleep(2000).then(() => '{}')]);
    const peak = procUsage(pxkPid);
    clearInterval(cpuSampler);
    log(`\nPXE Kit TFTP process: peak RSS ${peak?.peakRssMiB.toFixed(0)} MiB; counters ${stats}`);
    return { rows, ratio, summary };
  } finally {
    pxk?.stdin?.end();
    await lab.killChildren(); // PXE Kit's child, in.tftpd, dnsmasq and atftpd, by PID
    lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const list = (s: string | undefined) => s?.split(',').map(Number);
  benchTftp({
    quick: process.argv.includes('--quick'),
    rounds: arg('rounds') ? Number(arg('rounds')) : undefined,
    sizesMiB: arg('sizes') === 'none' ? [] : list(arg('sizes')),
    cases: arg('cases')?.split(','),
    concurrent: arg('concurrent') === 'none' ? [] : arg('concurrent')?.split(',').map((p) => p.split('x').map(Number) as [number, number]),
  }).catch((err: Error) => {
    console.error(err.message);
    process.exit(1);
  });
}
