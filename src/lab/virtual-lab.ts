// A private virtual lab: one network namespace holding a bridge (the "switch"),
// the server's address on that bridge, tap devices for QEMU guests, and
// optionally a second namespace on a veth holding a "site" DHCP server
// (dnsmasq, DHCP only), as in an office where PXE Kit runs in proxy mode.
//
//   lab namespace pxklab-<pid>-<id>                 site namespace pxksite-<pid>-<id>
//   ┌───────────────────────────────────────┐       ┌───────────────────────────┐
//   │ pxkbr0 10.123.0.1/24  (engine binds)  │       │ pxksite0 10.123.0.2/24    │
//   │   ├─ pxktap0  (QEMU guest)            │       │   dnsmasq --port=0 (DHCP) │
//   │   ├─ pxktap1  ...                     │ veth  │                           │
//   │   └─ pxkveth0 ────────────────────────┼───────┤                           │
//   └───────────────────────────────────────┘       └───────────────────────────┘
//
// Everything lives in namespaces this lab creates: nothing touches the host's
// NICs, and destroy() kills every process by PID and deletes the namespaces.
// Names carry the creating PID so leftovers of a crashed run can be told from
// a lab another live process is using.
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const LAB_BRIDGE = 'pxkbr0';
const NS_PREFIXES = ['pxklab-', 'pxksite-'];

function sh(cmd: string, args: string[], opts: { allowFail?: boolean } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    if (opts.allowFail) return '';
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(e.stderr || e.message).trim()}`);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function killNamespaceProcesses(ns: string): void {
  for (const pid of sh('ip', ['netns', 'pids', ns], { allowFail: true }).split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/** Deletes lab namespaces left by processes that no longer exist (a crashed test or demo). */
export function cleanupStaleLabs(log: (line: string) => void = () => {}): string[] {
  const removed: string[] = [];
  const list = sh('ip', ['netns', 'list'], { allowFail: true });
  for (const line of list.split('\n')) {
    const ns = line.split(/\s+/)[0];
    if (!ns || !NS_PREFIXES.some((p) => ns.startsWith(p))) continue;
    const pid = Number(/^pxk(?:lab|site)-(\d+)-/.exec(ns)?.[1]);
    if (pid && alive(pid)) continue;
    killNamespaceProcesses(ns);
    sh('ip', ['netns', 'del', ns], { allowFail: true });
    removed.push(ns);
    log(`lab: removed leftover namespace ${ns}`);
  }
  return removed;
}

export interface SiteDhcpOptions {
  /** First and last address dnsmasq hands out; default .100 - .199. */
  range?: [string, string];
  /** Called with each line dnsmasq logs (it runs with --log-dhcp). */
  onLog?: (line: string) => void;
}

export interface VirtualLabOptions {
  /** First three octets of the lab's /24; default 10.123.0. Private to the namespace. */
  subnet?: string;
  log?: (line: string) => void;
}

export class VirtualLab {
  readonly id = randomBytes(2).toString('hex');
  readonly ns: string;
  readonly siteNs: string;
  readonly bridge = LAB_BRIDGE;
  readonly subnet: string;
  /** The server's address, on the bridge: the engine binds to the bridge interface. */
  readonly serverIp: string;
  readonly prefix = 24;
  /** The site DHCP server's address (when started). */
  readonly siteIp: string;
  /** Scratch directory (dnsmasq leases, firmware variable stores); removed on destroy. */
  readonly tmp: string;
  private taps = 0;
  private hosts: string[] = [];
  private siteStarted = false;
  private siteProcess?: ChildProcess;
  private readonly children = new Set<ChildProcess>();
  private readonly log: (line: string) => void;
  private destroyed = false;

  private constructor(opts: VirtualLabOptions) {
    this.ns = `pxklab-${process.pid}-${this.id}`;
    this.siteNs = `pxksite-${process.pid}-${this.id}`;
    this.subnet = opts.subnet ?? '10.123.0';
    this.serverIp = `${this.subnet}.1`;
    this.siteIp = `${this.subnet}.2`;
    this.log = opts.log ?? (() => {});
    this.tmp = mkdtempSync(join(tmpdir(), 'pxklab-'));
  }

  /** Builds the lab namespace and bridge. Cleans leftovers of crashed labs first. */
  static create(opts: VirtualLabOptions = {}): VirtualLab {
    if (process.platform !== 'linux') throw new Error('the virtual lab needs Linux (network namespaces)');
    if (process.getuid?.() !== 0) throw new Error('the virtual lab needs root (network namespaces, tap devices): run with sudo');
    cleanupStaleLabs(opts.log);
    const lab = new VirtualLab(opts);
    try {
      lab.setUp();
    } catch (err) {
      lab.destroySync();
      throw err;
    }
    return lab;
  }

  private setUp(): void {
    sh('ip', ['netns', 'add', this.ns]);
    this.ip(['link', 'set', 'lo', 'up']);
    // No STP and no forwarding delay: a tap that QEMU just opened must pass the
    // firmware's first DHCPDISCOVER, not spend 15 s in "listening/learning".
    this.ip(['link', 'add', this.bridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
    this.ip(['addr', 'add', `${this.serverIp}/${this.prefix}`, 'dev', this.bridge]);
    this.ip(['link', 'set', this.bridge, 'up']);
    this.log(`lab: namespace ${this.ns}, bridge ${this.bridge} ${this.serverIp}/${this.prefix}`);
  }

  /** Runs `ip` inside the lab namespace. */
  ip(args: string[]): string {
    return sh('ip', ['-n', this.ns, ...args]);
  }

  /** argv that runs cmd inside the lab namespace (or the site namespace). */
  wrap(cmd: string, args: string[], ns: string = this.ns): [string, string[]] {
    return ['ip', ['netns', 'exec', ns, cmd, ...args]];
  }

  exec(cmd: string, args: string[], opts: { allowFail?: boolean; ns?: string } = {}): string {
    const [c, a] = this.wrap(cmd, args, opts.ns);
    return sh(c, a, opts);
  }

  /**
   * Starts a process inside the lab namespace; it is killed by PID on destroy().
   * ("ip netns exec" execs the command, so the child's PID is the command's.)
   */
  spawn(cmd: string, args: string[], opts: SpawnOptions & { ns?: string } = {}): ChildProcess {
    const { ns, ...rest } = opts;
    const [c, a] = this.wrap(cmd, args, ns);
    const child = spawn(c, a, { stdio: ['ignore', 'pipe', 'pipe'], ...rest });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    child.on('error', () => this.children.delete(child));
    return child;
  }

  /** Creates a tap device on the bridge for one guest; returns its name. */
  addTap(): string {
    const tap = `pxktap${this.taps++}`;
    this.ip(['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
    this.ip(['link', 'set', tap, 'master', this.bridge]);
    this.ip(['link', 'set', tap, 'up']);
    return tap;
  }

  /**
   * Another machine on the switch, as a namespace cabled to the bridge by a veth
   * (for DHCP/TFTP clients run as programs rather than QEMU guests). Its
   * interface is "eth0" with no address; it is removed on destroy().
   */
  addHost(): { ns: string; ifname: string } {
    const n = this.hosts.length;
    const ns = `pxksite-${process.pid}-${this.id}-h${n}`;
    sh('ip', ['netns', 'add', ns]);
    this.hosts.push(ns);
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    this.ip(['link', 'add', `pxkhost${n}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    this.ip(['link', 'set', `pxkhost${n}`, 'master', this.bridge]);
    this.ip(['link', 'set', `pxkhost${n}`, 'up']);
    sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    return { ns, ifname: 'eth0' };
  }

  /** Every namespace this lab may have made (for checks that destroy() removed them). */
  namespaces(): string[] {
    return [this.ns, this.siteNs, ...this.hosts];
  }

  /** Path for a scratch file of this lab. */
  file(name: string): string {
    return join(this.tmp, name);
  }

  /**
   * Starts the site's own DHCP server (dnsmasq, DHCP only, no DNS, no PXE) in a
   * second namespace cabled to the bridge. Resolves once dnsmasq is listening.
   */
  async startSiteDhcp(opts: SiteDhcpOptions = {}): Promise<ChildProcess> {
    if (this.siteStarted) throw new Error('site DHCP server already started');
    this.siteStarted = true;
    sh('ip', ['netns', 'add', this.siteNs]);
    sh('ip', ['-n', this.siteNs, 'link', 'set', 'lo', 'up']);
    this.ip(['link', 'add', 'pxkveth0', 'type', 'veth', 'peer', 'name', 'pxksite0', 'netns', this.siteNs]);
    this.ip(['link', 'set', 'pxkveth0', 'master', this.bridge]);
    this.ip(['link', 'set', 'pxkveth0', 'up']);
    sh('ip', ['-n', this.siteNs, 'addr', 'add', `${this.siteIp}/${this.prefix}`, 'dev', 'pxksite0']);
    sh('ip', ['-n', this.siteNs, 'link', 'set', 'pxksite0', 'up']);
    const [lo, hi] = opts.range ?? [`${this.subnet}.100`, `${this.subnet}.199`];
    const args = [
      '--no-daemon',
      '--conf-file=/dev/null',
      '--port=0', // no DNS: this is only the site's DHCP server
      '--interface=pxksite0',
      '--bind-interfaces',
      `--dhcp-range=${lo},${hi},255.255.255.0,10m`,
      `--dhcp-leasefile=${this.file('site-dhcp.leases')}`,
      `--pid-file=${this.file('site-dhcp.pid')}`,
      '--log-dhcp',
      '--log-facility=-',
      '--user=root',
    ];
    const child = this.spawn('dnsmasq', args, { ns: this.siteNs });
    this.siteProcess = child;
    const lines: string[] = [];
    const onLine = (line: string) => {
      lines.push(line);
      opts.onLog?.(line);
    };
    lineReader(child.stdout, onLine);
    lineReader(child.stderr, onLine);
    await new Promise<void>((resolve, reject) => {
      const started = Date.now();
      const poll = setInterval(() => {
        if (child.exitCode !== null) {
          clearInterval(poll);
          reject(new Error(`site dnsmasq exited (${child.exitCode}): ${lines.join(' | ')}`));
        } else if (lines.some((l) => /DHCP, IP range/.test(l))) {
          clearInterval(poll);
          resolve();
        } else if (Date.now() - started > 10_000) {
          clearInterval(poll);
          reject(new Error(`site dnsmasq did not start: ${lines.join(' | ')}`));
        }
      }, 50);
    });
    this.log(`lab: site DHCP server (dnsmasq) at ${this.siteIp} in ${this.siteNs}, range ${lo}-${hi}`);
    return child;
  }

  /** Stops all lab processes (SIGTERM, then SIGKILL after graceMs), then removes everything. */
  async destroy(graceMs = 3000): Promise<void> {
    await Promise.all(
      [...this.children].map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            const t = setTimeout(() => c.kill('SIGKILL'), graceMs);
            c.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
            c.kill('SIGTERM');
          }),
      ),
    );
    this.destroySync();
  }

  /** Immediate teardown (for exit handlers): SIGKILL by PID, delete namespaces and scratch files. */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const ns of [this.ns, this.siteNs, ...this.hosts]) {
      killNamespaceProcesses(ns);
      sh('ip', ['netns', 'del', ns], { allowFail: true });
    }
    rmSync(this.tmp, { recursive: true, force: true });
    this.log(`lab: removed ${this.ns}`);
  }

  /** The site dnsmasq's PID ("ip netns exec" execs it, so it is the child's PID). */
  sitePid(): number | undefined {
    return this.siteProcess?.pid;
  }

  writeFile(name: string, data: string | Buffer): string {
    const p = this.file(name);
    writeFileSync(p, data);
    return p;
  }
}

/** Calls onLine for every complete line of a stream (CR and ANSI escapes stripped). */
export function lineReader(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (!stream) return;
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, i).replace(/\r/g, ''));
      buf = buf.slice(i + 1);
    }
  });
  stream.on('end', () => {
    if (buf) onLine(buf.replace(/\r/g, ''));
    buf = '';
  });
}
