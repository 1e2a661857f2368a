// DHCP: perfdhcp (kea-admin) runs full DORA exchanges at rising rates against PXE Kit,
// dnsmasq and kea-dhcp4. Three DHCP servers on one segment would all answer every
// broadcast, so each server gets its own lab (server namespace + veth + client
// namespace); the servers stay up side by side and the runs interleave server by server
// at each rate. Reported: 4-way exchanges per second achieved, drops (answers that never
// came: perfdhcp waits out the ones in flight when sending stops) and the mean REQUEST to
// ACK time (PXE Kit writes the lease to disk, fsynced, before it ACKs).
// Run alone: node dist/test/bench/dhcp.js [--quick] [--rates 500,2000]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { Lab, requireRoot } from '../helpers/lab.js';
import { REPO, sleep, table } from './common.js';
import { startEngine, writeBootFiles, type BenchEngine } from './engine.js';

export type DhcpBenchServer = 'pxekit' | 'dnsmasq' | 'kea';

export interface DhcpBenchRow {
  server: DhcpBenchServer;
  /** Offered rate (exchanges/s perfdhcp tries to start). */
  rate: number;
  /** 4-way exchanges per second completed. */
  achieved: number;
  /** Percent of DISCOVER and REQUEST exchanges without an answer. */
  dropPct: number;
  sent: number;
  drops: number;
  /** Mean REQUEST to ACK time, ms: the lease is on disk before the ACK (RFC 2131 4.3.2). */
  ackMs: number;
}

export interface DhcpBenchResult {
  rows: DhcpBenchRow[];
  summary: string[];
}

/**
 * kea-dhcp4 is not installed by scripts/install-deps.sh (the tests do not need it, and
 * installing the package would start a system service): its .deb is unpacked into
 * .lab/kea and run from there against kea-common's libraries (installed with kea-admin).
 */
function ensureKea(log: (l: string) => void): string | undefined {
  const dir = join(REPO, '.lab', 'kea');
  const bin = join(dir, 'usr', 'sbin', 'kea-dhcp4');
  if (existsSync(bin)) return bin;
  log('bench: fetching kea-dhcp4 (apt-get download kea-dhcp4-server; unpacked into .lab/kea, not installed)');
  try {
    mkdirSync(dir, { recursive: true });
    execFileSync('apt-get', ['download', 'kea-dhcp4-server'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    const deb = readdirSync(dir).find((f) => f.startsWith('kea-dhcp4-server_') && f.endsWith('.deb'));
    if (!deb) throw new Error('no .deb downloaded');
    execFileSync('dpkg-deb', ['-x', join(dir, deb), dir]);
    return existsSync(bin) ? bin : undefined;
  } catch (err) {
    log(`bench: kea-dhcp4 unavailable, skipped (${(err as Error).message.split('\n')[0]})`);
    return undefined;
  }
}

interface Perf {
  achieved: number;
  sent: number;
  drops: number;
  ackMs: number;
}

/**
 * Parses perfdhcp's report: the DISCOVER-OFFER and REQUEST-ACK blocks. perfdhcp runs with
 * an exit wait (-W), so an exchange still in flight when sending stops is counted by its
 * answer, not as a drop; its own "Rate" line divides by the wait too, so the rate here is
 * the ACKs received over the sending period.
 */
export function parsePerfdhcp(out: string, seconds: number): Perf {
  const sent = [...out.matchAll(/sent packets:\s*(\d+)/g)].map((m) => Number(m[1]));
  const received = [...out.matchAll(/received packets:\s*(\d+)/g)].map((m) => Number(m[1]));
  const drops = [...out.matchAll(/drops:\s*(\d+)/g)].map((m) => Number(m[1]));
  const delays = [...out.matchAll(/avg delay:\s*([\d.]+)\s*ms/g)].map((m) => Number(m[1]));
  const acks = received[1] ?? 0; // the second block is REQUEST-ACK
  return { achieved: acks / seconds, sent: sent.reduce((a, b) => a + b, 0), drops: drops.reduce((a, b) => a + b, 0), ackMs: delays[1] ?? NaN };
}

/** Exit wait (µs): as long as perfdhcp's drop time, so only a lost answer is a drop. */
const EXIT_WAIT_US = 1_000_000;

function runPerfdhcp(lab: Lab, rate: number, seconds: number, clients: number): Promise<Perf> {
  return new Promise((resolve, reject) => {
    const c = lab.spawn(lab.clientNs, 'perfdhcp', ['-4', '-r', String(rate), '-R', String(clients), '-p', String(seconds), '-W', String(EXIT_WAIT_US), '-l', lab.clientIf]);
    let out = '';
    c.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    c.on('error', reject);
    // perfdhcp exits 3 when it saw drops: that is a result, not a failure.
    c.on('close', (code) => (process.env.PXEKIT_BENCH_VERBOSE && console.log(out), code === 0 || code === 3 ? resolve(parsePerfdhcp(out, seconds)) : reject(new Error(`perfdhcp exit ${code}: ${out.slice(-500)}`))));
  });
}

export async function benchDhcp(opts: { quick?: boolean; rates?: number[]; seconds?: number; log?: (l: string) => void } = {}): Promise<DhcpBenchResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const rates = opts.rates ?? (opts.quick ? [200, 1000] : [100, 500, 1000, 2000, 4000]);
  const seconds = opts.seconds ?? (opts.quick ? 3 : 10);
  const clients = 200; // simulated machines (MACs); the pools hold 241 addresses
  const why = requireRoot();
  if (why) throw new Error(`the DHCP bench ${why}`);
  const kea = ensureKea(log);

  const labs: Lab[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'pxk-bench-dhcp-'));
  let engine: BenchEngine | undefined;
  const children: ChildProcess[] = [];
  try {
    const targets: Array<{ server: DhcpBenchServer; lab: Lab }> = [];
    const mkLab = () => {
      const l = Lab.create();
      labs.push(l);
      // perfdhcp needs an address: it acts as a relay (giaddr = this address, replies come back to port 67 here).
      l.ip(l.clientNs, ['addr', 'add', `${l.subnet}.2/24`, 'dev', l.clientIf]);
      return l;
    };

    const pxLab = mkLab();
    const files = await writeBootFiles(join(dir, 'img'), 1);
    engine = await startEngine(pxLab, pxLab.serverNs, pxLab.serverIf, join(dir, 'pxk-data'), files, ['--range', `${pxLab.subnet}.10-${pxLab.subnet}.250`]);
    targets.push({ server: 'pxekit', lab: pxLab });

    const dnLab = mkLab();
    const dn = dnLab.spawn(dnLab.serverNs, 'dnsmasq', [
      '--no-daemon', '--conf-file=/dev/null', '--port=0', `--interface=${dnLab.serverIf}`, '--bind-interfaces',
      `--dhcp-range=${dnLab.subnet}.10,${dnLab.subnet}.250,1h`, `--dhcp-leasefile=${join(dir, 'dnsmasq.leases')}`,
      // No ICMP probe before offering (PXE Kit does not ping either: equal work per exchange).
      '--no-ping', '--user=root', '--pid-file', '--log-facility=/dev/null', '--dhcp-authoritative',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(dn);
    targets.push({ server: 'dnsmasq', lab: dnLab });

    if (kea) {
      const kLab = mkLab();
      const kdir = join(dir, 'kea');
      mkdirSync(kdir);
      const conf = join(kdir, 'kea-dhcp4.conf');
      writeFileSync(conf, JSON.stringify({
        Dhcp4: {
          'interfaces-config': { interfaces: [kLab.serverIf], 'dhcp-socket-type': 'raw' },
          'lease-database': { type: 'memfile', persist: false },
          'valid-lifetime': 3600,
          subnet4: [{ id: 1, subnet: `${kLab.subnet}.0/24`, pools: [{ pool: `${kLab.subnet}.10 - ${kLab.subnet}.250` }] }],
          loggers: [{ name: 'kea-dhcp4', output_options: [{ output: 'stderr' }], severity: 'WARN' }],
        },
      }));
      const k = kLab.spawn(kLab.serverNs, kea, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, KEA_PIDFILE_DIR: kdir, KEA_LOCKFILE_DIR: kdir } });
      children.push(k);
      targets.push({ server: 'kea', lab: kLab });
    }
    const errs = new Map<ChildProcess, string>();
    for (const c of children) c.stderr?.on('data', (d: Buffer) => errs.set(c, ((errs.get(c) ?? '') + d.toString()).slice(-2000)));
    await sleep(1500);
    for (const c of children) if (c.exitCode !== null) throw new Error(`a DHCP anchor exited at start (${c.spawnargs.join(' ')})`);

    log(`dhcp bench: perfdhcp -4 -r RATE -R ${clients} -p ${seconds}, rates ${rates.join('/')}, servers ${targets.map((t) => t.server).join(', ')} (each on its own veth)`);
    const rows: DhcpBenchRow[] = [];
    for (const t of targets) await runPerfdhcp(t.lab, 50, 1, clients); // warm-up: leases for the simulated clients, JIT
    let turn = 0;
    for (const rate of rates) {
      turn++;
      for (let i = 0; i < targets.length; i++) {
        const t = targets[(i + turn) % targets.length];
        const p = await runPerfdhcp(t.lab, rate, seconds, clients);
        const row: DhcpBenchRow = { server: t.server, rate, achieved: p.achieved, sent: p.sent, drops: p.drops, ackMs: p.ackMs, dropPct: p.sent ? (100 * p.drops) / p.sent : 100 };
        rows.push(row);
        log(`  ${t.server.padEnd(8)} rate ${String(rate).padStart(5)}/s: ${row.achieved.toFixed(0).padStart(6)} exchanges/s, drops ${row.drops} (${row.dropPct.toFixed(2)}%), REQUEST->ACK ${row.ackMs.toFixed(1)} ms`);
        if (row.achieved === 0) log(`    (no answers; server stderr: ${t.server === 'pxekit' ? engine?.stderr().slice(-600) : [...errs].find(([c]) => c.spawnargs.join(' ').includes(t.server === 'kea' ? 'kea' : 'dnsmasq'))?.[1].slice(-600)})`);
      }
    }
    const servers = targets.map((t) => t.server);
    const tbl: string[][] = [['DHCP offered rate/s', ...servers.map((s) => `${s} ex/s (drops, ACK ms)`)]];
    const summary: string[] = [];
    for (const rate of rates) {
      tbl.push([String(rate), ...servers.map((s) => {
        const r = rows.find((x) => x.server === s && x.rate === rate)!;
        return `${r.achieved.toFixed(0)} (${r.dropPct.toFixed(1)}%, ${r.ackMs.toFixed(1)})`;
      })]);
      const ours = rows.find((x) => x.server === 'pxekit' && x.rate === rate)!;
      const dn = rows.find((x) => x.server === 'dnsmasq' && x.rate === rate)!;
      summary.push(`DHCP ${rate}/s offered: PXE Kit ${ours.achieved.toFixed(0)}/s (${ours.dropPct.toFixed(1)}% drops) / dnsmasq ${dn.achieved.toFixed(0)}/s (${dn.dropPct.toFixed(1)}%) = ${(ours.achieved / Math.max(dn.achieved, 1)).toFixed(2)}`);
    }
    log('\n' + table(tbl));
    return { rows, summary };
  } finally {
    await engine?.stop();
    for (const l of labs) {
      await l.killChildren();
      l.destroy();
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const i = process.argv.indexOf('--rates');
  benchDhcp({ quick: process.argv.includes('--quick'), rates: i > 0 ? process.argv[i + 1].split(',').map(Number) : undefined }).catch((err: Error) => {
    console.error(err.message);
    process.exit(1);
  });
}
