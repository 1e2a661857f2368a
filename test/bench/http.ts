// HTTP throughput: PXE Kit's file server against nginx (sendfile) on the same file, over
// a lab veth, fetched by curl inside the client namespace. Prints MiB/s and the ratio.
// Run alone: node dist/test/bench/http.js [--size-mib 128] [--parallel 20] [--rounds 3]
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Lab, requireRoot } from '../helpers/lab.js';
import { median, ownCpuSeconds, writeRandomFile } from './common.js';
import { RANGE_BYTES, RANGE_READS, fetchOnce, fetchRanges, freePort, warmUpRanges } from './curl-client.js';
import { HttpFileServer } from '../../src/http/server.js';
import { PublishedFiles, diskFile } from '../../src/files/published.js';

export interface HttpBenchOptions {
  sizeMiB?: number;
  parallel?: number;
  rounds?: number;
  log?: (line: string) => void;
}

export interface HttpBenchRow {
  server: 'pxekit' | 'nginx';
  mode: 'single' | 'parallel';
  /** Median over rounds; for 'parallel', the aggregate rate of all clients. */
  mibPerSec: number;
}

export interface HttpBenchResult {
  sizeMiB: number;
  parallel: number;
  rows: HttpBenchRow[];
  /** PXE Kit / nginx, per mode; `range`: random 256 KiB Range reads on one keep-alive connection (as iPXE sanboot reads an ISO). */
  ratio: { single: number; parallel: number; range: number };
  /** Range reads per second, median of rounds. */
  rangeReadsPerSec: { pxekit: number; nginx: number };
  /** Server CPU time per Range read (µs, user + system), summed over the timed rounds: load bends it less than the rate. */
  rangeCpuMicros: { pxekit: number; nginx: number };
}

/** Range reads per run, and their length. */
/** Rates for one URL: a single client, then `parallel` clients at once (aggregate). */
async function measureRound(lab: Lab, url: string, size: number, parallel: number): Promise<{ single: number; parallel: number }> {
  const mib = size / (1024 * 1024);
  const single = mib / (await fetchOnce(lab, url, size));
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: parallel }, () => fetchOnce(lab, url, size)));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return { single, parallel: (mib * parallel) / secs };
}

/**
 * Alternates the two servers round by round, so a busy machine (other tests, QEMU)
 * slows both alike instead of whichever happened to run during the noise.
 */
async function measureBoth(lab: Lab, urls: [string, string], size: number, parallel: number, rounds: number) {
  for (const u of urls) await fetchOnce(lab, u, size); // warm-up: page cache, JIT, nginx worker
  const acc = urls.map(() => ({ single: [] as number[], parallel: [] as number[] }));
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < urls.length; k++) {
      const m = await measureRound(lab, urls[k], size, parallel);
      acc[k].single.push(m.single);
      acc[k].parallel.push(m.parallel);
    }
  }
  return acc.map((a) => ({ single: median(a.single), parallel: median(a.parallel) }));
}

/** Starts nginx (one process: master_process off) and resolves its PID once it answers. */
async function startNginx(lab: Lab, dir: string, address: string, port: number): Promise<number> {
  for (const d of ['tmp', 'logs']) mkdirSync(join(dir, d), { recursive: true });
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log;
events { worker_connections 512; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  server { listen ${address}:${port}; root ${dir}/www; }
}
`,
  );
  const child = lab.spawn(null, 'nginx', ['-p', dir, '-e', `${dir}/logs/error.log`, '-c', conf]);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  // Ready when it accepts a connection (bounded: 10 s).
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
    const ok = await new Promise<boolean>((resolve) => {
      const c = lab.spawn(lab.clientNs, 'curl', ['-s', '--noproxy', '*', '-o', '/dev/null', '-I', `http://${address}:${port}/`]);
      c.on('close', (code) => resolve(code === 0));
    });
    if (ok && child.pid !== undefined) return child.pid;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nginx did not start: ${stderr}`);
}

export async function benchHttp(opts: HttpBenchOptions = {}): Promise<HttpBenchResult> {
  const sizeMiB = opts.sizeMiB ?? 128;
  const parallel = opts.parallel ?? 20;
  const rounds = opts.rounds ?? 3;
  const log = opts.log ?? ((l: string) => console.log(l));
  const why = requireRoot();
  if (why) throw new Error(`the HTTP bench ${why}`);

  const lab = Lab.create({ serverInRoot: true });
  const dir = mkdtempSync(join(tmpdir(), 'pxk-bench-http-'));
  let server: HttpFileServer | undefined;
  try {
    lab.ip(lab.clientNs, ['addr', 'add', `${lab.subnet}.2/24`, 'dev', lab.clientIf]);
    mkdirSync(join(dir, 'www'));
    const file = join(dir, 'www', 'image.bin');
    log(`http bench: writing a ${sizeMiB} MiB file`);
    await writeRandomFile(file, sizeMiB * 1024 * 1024);
    const size = sizeMiB * 1024 * 1024;

    const files = new PublishedFiles();
    files.add(diskFile('image.bin', file, 'image file'));
    server = new HttpFileServer({ address: lab.serverIp, port: 0, files, emit: () => undefined });
    await server.start();
    const nginxPort = await freePort(lab.serverIp);
    const nginxPid = await startNginx(lab, dir, lab.serverIp, nginxPort);

    log(`http bench: ${sizeMiB} MiB, 1 client and ${parallel} at once, median of ${rounds} alternating rounds, curl over a veth (load average ${loadavg()[0].toFixed(1)})`);
    const [ours, theirs] = await measureBoth(
      lab,
      [`http://${lab.serverIp}:${server.port}/image.bin`, `http://${lab.serverIp}:${nginxPort}/image.bin`],
      size,
      parallel,
      rounds,
    );
    const rows: HttpBenchRow[] = [
      { server: 'pxekit', mode: 'single', mibPerSec: ours.single },
      { server: 'nginx', mode: 'single', mibPerSec: theirs.single },
      { server: 'pxekit', mode: 'parallel', mibPerSec: ours.parallel },
      { server: 'nginx', mode: 'parallel', mibPerSec: theirs.parallel },
    ];
    // Range reads, alternating the two servers round by round. Each server's CPU time is read
    // around its own rounds (PXE Kit runs in this process; curl's output handling is counted
    // with it, a few µs per read).
    const rangeRates: number[][] = [[], []];
    const rangeCpu = [0, 0];
    const cpuOf = [() => ownCpuSeconds(process.pid), () => ownCpuSeconds(nginxPid)];
    const urls = [`http://${lab.serverIp}:${server.port}/image.bin`, `http://${lab.serverIp}:${nginxPort}/image.bin`];
    for (const u of urls) await warmUpRanges(lab, u, size);
    const rangeRounds = Math.max(rounds, 5);
    for (let r = 0; r < rangeRounds; r++) {
      for (let k = 0; k < 2; k++) {
        const kk = (k + r) % 2;
        const cpu0 = cpuOf[kk]();
        rangeRates[kk].push(RANGE_READS / (await fetchRanges(lab, urls[kk], size, 12345 + r)));
        rangeCpu[kk] += cpuOf[kk]() - cpu0;
      }
    }
    const rangeReadsPerSec = { pxekit: median(rangeRates[0]), nginx: median(rangeRates[1]) };
    const perRead = (cpu: number): number => (cpu * 1e6) / (RANGE_READS * rangeRounds);
    const rangeCpuMicros = { pxekit: perRead(rangeCpu[0]), nginx: perRead(rangeCpu[1]) };
    log(`  range reads (${rangeRounds} rounds of ${RANGE_READS} x ${RANGE_BYTES / 1024} KiB at random offsets, one connection, after 3,000 untimed): PXE Kit ${rangeReadsPerSec.pxekit.toFixed(0)}/s, nginx ${rangeReadsPerSec.nginx.toFixed(0)}/s`);
    log(`  server CPU per range read: PXE Kit ${rangeCpuMicros.pxekit.toFixed(0)} µs, nginx ${rangeCpuMicros.nginx.toFixed(0)} µs`);
    const ratio = { single: ours.single / theirs.single, parallel: ours.parallel / theirs.parallel, range: rangeReadsPerSec.pxekit / rangeReadsPerSec.nginx };
    for (const r of rows) log(`  ${r.server.padEnd(7)} ${r.mode === 'single' ? '1 client  ' : `${parallel} clients`}  ${r.mibPerSec.toFixed(0).padStart(6)} MiB/s`);
    const st = server.stats();
    log(`  PXE Kit bodies: ${st.bodies}, by sendfile ${st.bodiesBySendfile}, of which finished on a sending thread ${st.bodiesOnThreads}`);
    log(`  ratio PXE Kit/nginx: 1 client ${ratio.single.toFixed(2)}, ${parallel} clients ${ratio.parallel.toFixed(2)}, range reads ${ratio.range.toFixed(2)}`);
    return { sizeMiB, parallel, rows, ratio, rangeReadsPerSec, rangeCpuMicros };
  } finally {
    await server?.stop();
    await lab.killChildren(); // nginx, by PID
    lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name: string, def: number): number => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : def;
  };
  benchHttp({ sizeMiB: arg('size-mib', 128), parallel: arg('parallel', 20), rounds: arg('rounds', 3) }).catch((err: Error) => {
    console.error(err.message);
    process.exit(1);
  });
}
