// TFTP throughput: PXE Kit's TFTP server against tftpd-hpa and dnsmasq on the same file,
// over a lab veth, fetched by atftp (the one client here that speaks every option,
// windowsize included) inside the client namespace. Prints MiB/s and the ratio of PXE Kit
// to the best anchor for each option set.
// Run alone: node dist/test/bench/tftp.js [--size-mib 32] [--rounds 3]
import { chmodSync, createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { pathToFileURL } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { Lab, requireRoot } from '../helpers/lab.js';
import { TftpServer } from '../../src/tftp/server.js';
import { PublishedFiles, diskFile } from '../../src/files/published.js';

export interface TftpBenchOptions {
  sizeMiB?: number;
  rounds?: number;
  log?: (line: string) => void;
}

export type TftpBenchServer = 'pxekit' | 'tftpd-hpa' | 'dnsmasq';

export interface TftpBenchCase {
  name: string;
  /** atftp --option arguments. */
  options: string[];
}

export interface TftpBenchRow {
  server: TftpBenchServer;
  case: string;
  /** Median over rounds. */
  mibPerSec: number;
}

export interface TftpBenchResult {
  sizeMiB: number;
  rows: TftpBenchRow[];
  /** PXE Kit / best anchor, per case. */
  ratio: Record<string, number>;
}

export const TFTP_BENCH_CASES: TftpBenchCase[] = [
  { name: 'blksize 512 (no options)', options: [] },
  { name: 'blksize 1468', options: ['blksize 1468'] },
  { name: 'blksize 1468 + windowsize 16', options: ['blksize 1468', 'windowsize 16'] },
];

async function writeRandomFile(path: string, sizeMiB: number): Promise<void> {
  const out = createWriteStream(path);
  const block = randomBytes(1024 * 1024);
  for (let i = 0; i < sizeMiB; i++) {
    block.writeUInt32LE(i, 0);
    if (!out.write(Buffer.from(block))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

/** One atftp download into a file; resolves seconds (wall clock around the client) after checking the size. */
function fetchOnce(lab: Lab, server: string, file: string, options: string[], size: number, dest: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const args = ['--get', '-r', file, '-l', dest];
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
      let got = -1;
      try {
        got = statSync(dest).size;
      } catch {
        /* no file */
      }
      if (code !== 0 || got !== size) reject(new Error(`atftp ${file} ${options.join(',')}: exit ${code}, ${got} of ${size} bytes: ${out}`));
      else resolve(secs);
    });
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** One server under test, listening on its own lab address (so all three run at once and rounds interleave). */
interface Target {
  server: TftpBenchServer;
  address: string;
}

/**
 * Medians per server for one option set. Rounds interleave the servers (A B C, B C A, ...)
 * so that load from anything else on the machine spreads evenly over them.
 */
async function measureCase(lab: Lab, targets: Target[], c: TftpBenchCase, size: number, rounds: number, dest: string): Promise<Map<TftpBenchServer, number>> {
  const mib = size / (1024 * 1024);
  const rates = new Map<TftpBenchServer, number[]>(targets.map((t) => [t.server, []]));
  for (const t of targets) await fetchOnce(lab, t.address, 'image.bin', c.options, size, dest); // warm-up: page cache, JIT
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < targets.length; i++) {
      const t = targets[(i + r) % targets.length];
      rates.get(t.server)!.push(mib / (await fetchOnce(lab, t.address, 'image.bin', c.options, size, dest)));
    }
  }
  return new Map([...rates].map(([k, v]) => [k, median(v)]));
}

async function waitReady(lab: Lab, child: ChildProcess, what: string, address: string, dest: string): Promise<void> {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  for (let i = 0; i < 50; i++) {
    if (child.exitCode !== null) throw new Error(`${what} exited: ${stderr}`);
    try {
      await fetchOnce(lab, address, 'probe.txt', [], 6, dest);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${what} did not start: ${stderr}`);
}

export async function benchTftp(opts: TftpBenchOptions = {}): Promise<TftpBenchResult> {
  const sizeMiB = opts.sizeMiB ?? 32;
  const rounds = opts.rounds ?? 3;
  const log = opts.log ?? ((l: string) => console.log(l));
  const why = requireRoot();
  if (why) throw new Error(`the TFTP bench ${why}`);

  const lab = Lab.create({ serverInRoot: true });
  const dir = mkdtempSync(join(tmpdir(), 'pxk-bench-tftp-'));
  const root = join(dir, 'root');
  const dest = join(dir, 'out.bin');
  let server: TftpServer | undefined;
  try {
    lab.ip(lab.clientNs, ['addr', 'add', `${lab.subnet}.2/24`, 'dev', lab.clientIf]);
    // tftpd-hpa drops to user "tftp": the tree must be world-readable.
    chmodSync(dir, 0o755);
    mkdirSync(root, { mode: 0o755 });
    const file = join(root, 'image.bin');
    log(`tftp bench: writing a ${sizeMiB} MiB file`);
    await writeRandomFile(file, sizeMiB);
    writeFileSync(join(root, 'probe.txt'), 'probe\n');
    chmodSync(file, 0o644);
    chmodSync(join(root, 'probe.txt'), 0o644);
    const size = sizeMiB * 1024 * 1024;
    log(`tftp bench: ${sizeMiB} MiB, atftp client over a veth (MTU 1500), median of ${rounds} interleaved rounds`);

    const hpaIp = `${lab.subnet}.3`;
    const dnsmasqIp = `${lab.subnet}.4`;
    for (const ip of [hpaIp, dnsmasqIp]) lab.ip(null, ['addr', 'add', `${ip}/24`, 'dev', lab.serverIf]);

    // PXE Kit, in process.
    const files = new PublishedFiles();
    files.add(diskFile('image.bin', file, 'bench'));
    files.add(diskFile('probe.txt', join(root, 'probe.txt'), 'bench'));
    server = new TftpServer({ iface: lab.serverIf, ifaceAddress: lab.serverIp, files, emit: () => undefined });
    await server.start();
    // tftpd-hpa, foreground, bound to its lab address only.
    const hpa = lab.spawn(null, 'in.tftpd', ['-L', '-s', root, '-a', `${hpaIp}:69`]);
    await waitReady(lab, hpa, 'in.tftpd', hpaIp, dest);
    // dnsmasq as a TFTP server only (--port=0: no DNS), bound to its lab address only.
    const dnsmasq = lab.spawn(null, 'dnsmasq', [
      '--no-daemon',
      '--conf-file=/dev/null',
      '--port=0',
      '--enable-tftp',
      `--tftp-root=${root}`,
      `--listen-address=${dnsmasqIp}`,
      '--bind-interfaces',
      '--user=root',
      '--pid-file',
      '--log-facility=-',
    ]);
    await waitReady(lab, dnsmasq, 'dnsmasq', dnsmasqIp, dest);

    const targets: Target[] = [
      { server: 'pxekit', address: lab.serverIp },
      { server: 'tftpd-hpa', address: hpaIp },
      { server: 'dnsmasq', address: dnsmasqIp },
    ];
    const rows: TftpBenchRow[] = [];
    for (const c of TFTP_BENCH_CASES) {
      const m = await measureCase(lab, targets, c, size, rounds, dest);
      for (const t of targets) {
        rows.push({ server: t.server, case: c.name, mibPerSec: m.get(t.server)! });
        log(`  ${t.server.padEnd(9)}  ${c.name.padEnd(30)} ${m.get(t.server)!.toFixed(2).padStart(8)} MiB/s`);
      }
    }

    const ratio: Record<string, number> = {};
    for (const c of TFTP_BENCH_CASES) {
      const ours = rows.find((r) => r.server === 'pxekit' && r.case === c.name)!.mibPerSec;
      const best = Math.max(...rows.filter((r) => r.server !== 'pxekit' && r.case === c.name).map((r) => r.mibPerSec));
      ratio[c.name] = ours / best;
      log(`  ratio PXE Kit / best anchor, ${c.name}: ${ratio[c.name].toFixed(2)}`);
    }
    return { sizeMiB, rows, ratio };
  } finally {
    await server?.stop();
    await lab.killChildren(); // in.tftpd and dnsmasq, by PID
    lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name: string, def: number): number => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : def;
  };
  benchTftp({ sizeMiB: arg('size-mib', 32), rounds: arg('rounds', 3) }).catch((err: Error) => {
    console.error(err.message);
    process.exit(1);
  });
}
