// Shared pieces of the benchmarks: test files, medians, a process's CPU time and peak
// memory read from /proc, and the anchor programs that are not installed as Debian
// packages by scripts/install-deps.sh (fetched here, at bench time, with a message).
import { createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The checkout's root (dist/test/bench/ -> ../../..). */
export const REPO = fileURLToPath(new URL('../../../', import.meta.url));

export async function writeRandomFile(path: string, bytes: number): Promise<void> {
  const out = createWriteStream(path);
  const block = randomBytes(1024 * 1024);
  for (let done = 0, i = 0; done < bytes; i++) {
    // Vary each MiB so nothing along the way can deduplicate or compress it.
    block.writeUInt32LE(i, 0);
    const n = Math.min(block.length, bytes - done);
    if (!out.write(Buffer.from(block.subarray(0, n)))) await once(out, 'drain');
    done += n;
  }
  out.end();
  await once(out, 'finish');
}

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const TICK = 100; // USER_HZ: /proc/PID/stat counts CPU time in 1/100 s on every Linux we run on

export interface ProcUsage {
  /** CPU seconds (user + system), including reaped children (tftpd-hpa forks one per transfer). */
  cpuSeconds: number;
  /** Peak resident set size (VmHWM), MiB. */
  peakRssMiB: number;
  /** Current resident set size, MiB. */
  rssMiB: number;
}

/** Reads a process's CPU time and memory from /proc; undefined once it is gone. */
export function procUsage(pid: number): ProcUsage | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the ")" closing the command name: state is field 3; utime 14, stime 15, cutime 16, cstime 17.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return { cpuSeconds: ticks / TICK, peakRssMiB: kb('VmHWM') / 1024, rssMiB: kb('VmRSS') / 1024 };
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) of the process itself, children not included. */
export function ownCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICK;
  } catch {
    return 0;
  }
}

/** Own CPU seconds of every live descendant of `pid`. */
export function descendantsCpu(pid: number, out = new Map<number, number>()): Map<number, number> {
  for (const c of childrenOf(pid)) {
    out.set(c, ownCpuSeconds(c));
    descendantsCpu(c, out);
  }
  return out;
}

/** CPU seconds of a process and all its live descendants (children of `ip netns exec`, threads' owners...). */
export function treeCpuSeconds(pid: number): number {
  let total = procUsage(pid)?.cpuSeconds ?? 0;
  for (const child of childrenOf(pid)) total += treeCpuSeconds(child);
  return total;
}

function childrenOf(pid: number): number[] {
  try {
    const out: number[] = [];
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const c = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (c) out.push(...c.split(/\s+/).map(Number));
    }
    return out;
  } catch {
    return [];
  }
}

/** The first live descendant of `pid` whose command is `comm` (e.g. the real server under `ip netns exec`). */
export function findDescendant(pid: number, comm: string): number | undefined {
  for (const c of childrenOf(pid)) {
    try {
      if (readFileSync(`/proc/${c}/comm`, 'utf8').trim() === comm) return c;
    } catch {
      /* gone */
    }
    const deeper = findDescendant(c, comm);
    if (deeper) return deeper;
  }
  return undefined;
}

/**
 * atftpd conflicts with tftpd-hpa in apt (both provide tftp-server), so it is not
 * installed: its .deb is downloaded with apt and unpacked into .lab/atftpd, and the
 * binary is run from there. Returns the binary's path, or undefined (with the reason logged).
 */
export function ensureAtftpd(log: (l: string) => void): string | undefined {
  const dir = join(REPO, '.lab', 'atftpd');
  const bin = join(dir, 'usr', 'sbin', 'atftpd');
  if (existsSync(bin)) return bin;
  log('bench: fetching atftpd (apt-get download atftpd; unpacked into .lab/atftpd, not installed: it conflicts with tftpd-hpa)');
  try {
    mkdirSync(dir, { recursive: true });
    execFileSync('apt-get', ['download', 'atftpd'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    const deb = readdirSync(dir).find((f) => f.startsWith('atftpd_') && f.endsWith('.deb'));
    if (!deb) throw new Error('no .deb downloaded');
    execFileSync('dpkg-deb', ['-x', join(dir, deb), dir]);
    return existsSync(bin) ? bin : undefined;
  } catch (err) {
    log(`bench: atftpd unavailable, skipped (${(err as Error).message.split('\n')[0]})`);
    return undefined;
  }
}

/** Installs a Debian package the bench needs (and the tests do not), saying so. */
export function ensureAptPackage(binary: string, pkg: string, log: (l: string) => void): boolean {
  const has = () => {
    try {
      execFileSync('sh', ['-c', `command -v ${binary} || test -x /usr/sbin/${binary}`], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  if (has()) return true;
  log(`bench: installing ${pkg} for the benchmark only (apt-get install -y --no-install-recommends ${pkg}); the tests do not need it`);
  try {
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', pkg], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  } catch (err) {
    log(`bench: could not install ${pkg}: ${(err as Error).message.split('\n')[0]}`);
  }
  return has();
}

/** A one-line description of the machine's conditions, for the report. */
export function machineConditions(): string {
  const cpus = readFileSync('/proc/cpuinfo', 'utf8').match(/^processor/gm)?.length ?? 0;
  const model = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  return `${cpus} x ${model}, Linux ${kernel}, Node ${process.version}, load average ${load}`;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Formats a table: first row is the header. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')).join('\n');
}
