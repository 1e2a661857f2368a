// Serving a file from INSIDE an ISO (PXE Kit reads it through the ISO reader's extents)
// vs the same file from disk (PXE Kit) vs nginx (sendfile), side by side, alternating
// round by round, curl in a lab namespace over a veth. The goal: inside-ISO within 10% of
// from-disk and within 20% of nginx.
// Run alone: node dist/test/bench/iso.js [--size-mib 1024] [--rounds 3]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Lab, requireRoot } from '../helpers/lab.js';
import { buildIso } from '../helpers/iso-build.js';
import { median, writeRandomFile } from './common.js';
import { RANGE_READS, fetchOnce, fetchRanges, freePort, warmUpRanges } from './curl-client.js';
import { HttpFileServer } from '../../src/http/server.js';
import { PublishedFiles, diskFile } from '../../src/files/published.js';
import { publishTreeImage } from '../../src/images/publish-iso.js';

export interface IsoBenchOptions {
  sizeMiB?: number;
  rounds?: number;
  parallel?: number;
  log?: (line: string) => void;
}

type Source = 'iso' | 'disk' | 'nginx';
const SOURCES: Source[] = ['iso', 'disk', 'nginx'];
const LABEL: Record<Source, string> = { iso: 'PXE Kit, inside the ISO', disk: 'PXE Kit, from disk', nginx: 'nginx (sendfile)' };

async function startNginx(lab: Lab, dir: string, root: string, address: string, port: number): Promise<void> {
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
  server { listen ${address}:${port}; root ${root}; }
}
`,
  );
  const child = lab.spawn(null, 'nginx', ['-p', dir, '-e', `${dir}/logs/error.log`, '-c', conf]);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
    const ok = await new Promise<boolean>((resolve) => {
      const c = lab.spawn(lab.clientNs, 'curl', ['-s', '--noproxy', '*', '-o', '/dev/null', '-I', `http://${address}:${port}/`]);
      c.on('close', (code) => resolve(code === 0));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nginx did not start: ${stderr}`);
}

export async function benchIso(opts: IsoBenchOptions = {}): Promise<{ summary: string[]; mibPerSec: Record<Source, number>; ratio: { isoVsDisk: number; isoVsNginx: number; rangeIsoVsDisk: number } }> {
  const sizeMiB = opts.sizeMiB ?? 1024;
  const rounds = opts.rounds ?? 3;
  const parallel = opts.parallel ?? 4;
  const log = opts.log ?? ((l: string) => console.log(l));
  const why = requireRoot();
  if (why) throw new Error(`the ISO bench ${why}`);
  const lab = Lab.create({ serverInRoot: true });
  const dir = mkdtempSync(join(tmpdir(), 'pxk-bench-iso-'));
  let server: HttpFileServer | undefined;
  let unpublish: (() => Promise<void>) | undefined;
  try {
    lab.ip(lab.clientNs, ['addr', 'add', `${lab.subnet}.2/24`, 'dev', lab.clientIf]);
    const www = join(dir, 'www');
    mkdirSync(www);
    const size = sizeMiB * 1024 * 1024;
    log(`iso bench: writing a ${sizeMiB} MiB file and an ISO holding it`);
    await writeRandomFile(join(www, 'big.bin'), size);
    const iso = buildIso(www, join(dir, 'bench.iso'), { rockRidge: true });

    const files = new PublishedFiles();
    files.add(diskFile('disk/big.bin', join(www, 'big.bin'), 'image file'));
    server = new HttpFileServer({ address: lab.serverIp, port: 0, files, emit: () => undefined });
    await server.start();
    const img = await publishTreeImage(files, iso, { id: 'bench', serverIp: lab.serverIp, httpPort: server.port, helpers: { noSearch: true } });
    unpublish = img.unpublish;
    const nginxPort = await freePort(lab.serverIp);
    await startNginx(lab, dir, www, lab.serverIp, nginxPort);
    const url: Record<Source, string> = {
      iso: `http://${lab.serverIp}:${server.port}/iso/bench/big.bin`,
      disk: `http://${lab.serverIp}:${server.port}/disk/big.bin`,
      nginx: `http://${lab.serverIp}:${nginxPort}/big.bin`,
    };
    log(`iso bench: ${sizeMiB} MiB, 1 client and ${parallel} at once, ${RANGE_READS} random range reads (after 3,000 untimed); median of ${rounds} rounds, sources alternating (load average ${loadavg()[0].toFixed(1)})`);
    for (const s of SOURCES) await fetchOnce(lab, url[s], size); // warm-up: page cache, JIT
    for (const s of SOURCES) await warmUpRanges(lab, url[s], size);
    const single: Record<Source, number[]> = { iso: [], disk: [], nginx: [] };
    const multi: Record<Source, number[]> = { iso: [], disk: [], nginx: [] };
    const ranges: Record<Source, number[]> = { iso: [], disk: [], nginx: [] };
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < SOURCES.length; k++) {
        const s = SOURCES[(k + r) % SOURCES.length];
        single[s].push(sizeMiB / (await fetchOnce(lab, url[s], size)));
        const t0 = process.hrtime.bigint();
        await Promise.all(Array.from({ length: parallel }, () => fetchOnce(lab, url[s], size)));
        multi[s].push((sizeMiB * parallel) / (Number(process.hrtime.bigint() - t0) / 1e9));
        ranges[s].push(RANGE_READS / (await fetchRanges(lab, url[s], size, 777 + r)));
      }
    }
    const m = (x: Record<Source, number[]>) => ({ iso: median(x.iso), disk: median(x.disk), nginx: median(x.nginx) });
    const s1 = m(single);
    const sN = m(multi);
    const rr = m(ranges);
    for (const s of SOURCES) {
      log(`  ${LABEL[s].padEnd(26)} 1 client ${s1[s].toFixed(0).padStart(6)} MiB/s   ${parallel} clients ${sN[s].toFixed(0).padStart(6)} MiB/s   range reads ${rr[s].toFixed(0).padStart(5)}/s`);
    }
    const ratio = { isoVsDisk: s1.iso / s1.disk, isoVsNginx: s1.iso / s1.nginx, rangeIsoVsDisk: rr.iso / rr.disk };
    const summary = [
      `ISO ${sizeMiB} MiB single: inside ISO / from disk = ${ratio.isoVsDisk.toFixed(2)} (goal >= 0.90)`,
      `ISO ${sizeMiB} MiB single: inside ISO / nginx = ${ratio.isoVsNginx.toFixed(2)} (goal >= 0.80)`,
      `ISO ${sizeMiB} MiB x${parallel}: inside ISO / from disk = ${(sN.iso / sN.disk).toFixed(2)}, / nginx = ${(sN.iso / sN.nginx).toFixed(2)}`,
      `ISO range reads: inside ISO / from disk = ${ratio.rangeIsoVsDisk.toFixed(2)}, / nginx = ${(rr.iso / rr.nginx).toFixed(2)}`,
    ];
    for (const l of summary) log(`  ${l}`);
    return { summary, mibPerSec: s1, ratio };
  } finally {
    await unpublish?.();
    await server?.stop();
    await lab.killChildren();
    lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name: string, def: number): number => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : def;
  };
  benchIso({ sizeMiB: arg('size-mib', 1024), rounds: arg('rounds', 3) }).catch((err: Error) => {
    console.error(err.message);
    process.exit(1);
  });
}
