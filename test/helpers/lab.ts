// Private network labs for tests: network namespaces and veth links that the
// test creates and destroys itself. Nothing here touches the machine's real NICs.
//
//   server side  <-- veth -->  client namespace
//   (a netns, or the root namespace with serverInRoot: true, so an in-process
//    server can bind to the veth end; traffic still never leaves the veth)
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export function sh(cmd: string, args: string[], opts: { allowFail?: boolean; input?: string } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', input: opts.input, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (err) {
    if (opts.allowFail) return '';
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

export interface LabOptions {
  /** Subnet's first three octets, e.g. "10.77.1"; the server gets .1. */
  subnet?: string;
  /** Put the server end in the root namespace (for in-process servers). */
  serverInRoot?: boolean;
  /** Give the server end no address (to test the "no IPv4" error). */
  serverWithoutAddress?: boolean;
}

/** Labs not yet destroyed: removed at process exit too, so a test process that ends without
 *  running its after() hooks (a crash, an event loop that drained early) leaves no namespace behind. */
const liveLabs = new Set<Lab>();
process.on('exit', () => {
  for (const lab of [...liveLabs]) lab.destroy();
});

export class Lab {
  readonly id = randomBytes(3).toString('hex');
  readonly serverNs: string | null;
  readonly clientNs: string;
  readonly serverIf: string;
  readonly clientIf: string;
  readonly subnet: string;
  readonly serverIp: string;
  private readonly children = new Set<ChildProcess>();
  /** Namespaces added by extensions of the lab (bridged hosts); removed on destroy(). */
  readonly extraNs: string[] = [];
  /** Links in the root namespace added by extensions (addSecondInterface); removed on destroy(). */
  private readonly extraLinks: string[] = [];

  private constructor(opts: LabOptions) {
    this.subnet = opts.subnet ?? `10.77.${1 + (parseInt(this.id, 16) % 200)}`;
    this.serverIp = `${this.subnet}.1`;
    this.serverNs = opts.serverInRoot ? null : `pxk-s-${this.id}`;
    this.clientNs = `pxk-c-${this.id}`;
    this.serverIf = `pxs${this.id}`;
    this.clientIf = `pxc${this.id}`;
  }

  static create(opts: LabOptions = {}): Lab {
    const lab = new Lab(opts);
    liveLabs.add(lab);
    try {
      lab.setUp(opts);
    } catch (err) {
      lab.destroy();
      throw err;
    }
    return lab;
  }

  private setUp(opts: LabOptions): void {
    if (this.serverNs) sh('ip', ['netns', 'add', this.serverNs]);
    sh('ip', ['netns', 'add', this.clientNs]);
    sh('ip', ['link', 'add', this.serverIf, 'type', 'veth', 'peer', 'name', this.clientIf]);
    if (this.serverNs) sh('ip', ['link', 'set', this.serverIf, 'netns', this.serverNs]);
    sh('ip', ['link', 'set', this.clientIf, 'netns', this.clientNs]);
    this.ip(this.serverNs, ['link', 'set', 'lo', 'up']);
    this.ip(this.clientNs, ['link', 'set', 'lo', 'up']);
    if (!opts.serverWithoutAddress) this.ip(this.serverNs, ['addr', 'add', `${this.serverIp}/24`, 'dev', this.serverIf]);
    this.ip(this.serverNs, ['link', 'set', this.serverIf, 'up']);
    this.ip(this.clientNs, ['link', 'set', this.clientIf, 'up']);
    this.waitForCarrier();
  }

  /** A veth reports carrier a moment after both ends are up; tests that list NICs must not race it. */
  private waitForCarrier(): void {
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    for (let i = 0; i < 100; i++) {
      const state = this.ip(this.serverNs, ['-o', 'link', 'show', this.serverIf]);
      if (/state UP/.test(state)) return;
      Atomics.wait(sleeper, 0, 0, 20);
    }
  }

  /** Runs `ip` in a namespace (null = root). */
  ip(ns: string | null, args: string[]): string {
    return ns ? sh('ip', ['-n', ns, ...args]) : sh('ip', args);
  }

  /** argv that runs `cmd` inside `ns` (null = root). */
  wrap(ns: string | null, cmd: string, args: string[]): [string, string[]] {
    return ns ? ['ip', ['netns', 'exec', ns, cmd, ...args]] : [cmd, args];
  }

  exec(ns: string | null, cmd: string, args: string[], opts: { allowFail?: boolean; input?: string } = {}): string {
    const [c, a] = this.wrap(ns, cmd, args);
    return sh(c, a, opts);
  }

  /** Starts a process in a namespace; it is killed (by PID) on destroy(). */
  spawn(ns: string | null, cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    const [c, a] = this.wrap(ns, cmd, args);
    const child = spawn(c, a, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return child;
  }

  async killChildren(): Promise<void> {
    const waits = [...this.children].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          const t = setTimeout(() => {
            c.kill('SIGKILL');
          }, 3000);
          c.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
          c.kill('SIGTERM');
        }),
    );
    await Promise.all(waits);
  }

  /**
   * A second interface of the server side ("B"), on its own network `net`.1/24, whose far end
   * sits in its own namespace: a client there reaches the server only through B. Removed on destroy().
   */
  addSecondInterface(net: string): { ns: string; rootIf: string; nsIf: string } {
    const ns = `pxk-b-${this.id}`;
    const [rootIf, nsIf] = [`pxB${this.id}`, `pxb${this.id}`];
    sh('ip', ['netns', 'add', ns]);
    this.extraNs.push(ns);
    this.extraLinks.push(rootIf);
    sh('ip', ['link', 'add', rootIf, 'type', 'veth', 'peer', 'name', nsIf]);
    sh('ip', ['link', 'set', nsIf, 'netns', ns]);
    sh('ip', ['addr', 'add', `${net}.1/24`, 'dev', rootIf]);
    sh('ip', ['link', 'set', rootIf, 'up']);
    this.ip(ns, ['link', 'set', nsIf, 'up']);
    return { ns, rootIf, nsIf };
  }

  /** Removes everything this lab made. Safe to call twice. */
  destroy(): void {
    for (const l of this.extraLinks.splice(0)) sh('ip', ['link', 'del', l], { allowFail: true });
    liveLabs.delete(this);
    for (const c of this.children) if (c.exitCode === null) c.kill('SIGKILL');
    // Processes started with "ip netns exec" are killed above; kill stragglers in our namespaces.
    for (const ns of [this.clientNs, this.serverNs, ...this.extraNs]) {
      if (!ns) continue;
      for (const pid of sh('ip', ['netns', 'pids', ns], { allowFail: true }).split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    if (!this.serverNs) sh('ip', ['link', 'del', this.serverIf], { allowFail: true });
    for (const ns of [this.clientNs, this.serverNs, ...this.extraNs]) if (ns) sh('ip', ['netns', 'del', ns], { allowFail: true });
  }
}

export function requireRoot(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  return undefined;
}
