// The engine's own SMB share of a Windows ISO's contents, so Windows PE (booted by wimboot)
// can find its setup media again. One smbd per share, run as a child of the engine with a
// private configuration (smb-config.ts), bound to the chosen NIC's address, stopped by PID.
// The system's Samba (its smb.conf, passdb, service) is never read or touched.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { accessSync, constants, readFileSync, rmSync, rmdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { extractIso } from './iso-extract.js';
import { SHARE_USER, smbConfig, usernameMap, checkShareName, SmbConfigError } from './smb-config.js';

export type ShareErrorCode = 'smbd-missing' | 'bad-source' | 'mount-failed' | 'port-in-use' | 'start-failed';

export class ShareError extends Error {
  constructor(
    readonly code: ShareErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface SetupShareOptions {
  /** The NIC served (for messages; smbd binds to `address`). */
  iface: string;
  address: string;
  prefix: number;
  /** A Windows ISO file (loop-mounted read-only) or a folder holding the ISO's contents. */
  source: string;
  shareName?: string;
  /** Where the configuration, passdb, locks and logs go (the engine's data dir or a temp dir). */
  workDir: string;
  /** Run smbd inside this network namespace (`ip netns exec`), where `iface` lives. */
  netns?: string;
  /** smbd and pdbedit binaries (default: found on PATH or in /usr/sbin). */
  smbd?: string;
  pdbedit?: string;
  /** The user smbd reads a folder (or the extracted copy) as; default its owner. The root helper
   *  (share-helper-main.ts) gives the user the engine runs as, so a share never reads more than that user can. */
  readAs?: string;
  /** How long smbd may take to open its socket (ms). */
  startTimeoutMs?: number;
}

export interface SetupShare {
  /** \\address\share, as Windows names it. */
  unc: string;
  shareName: string;
  user?: string;
  password?: string;
  /** The directory served (the ISO's mount point, or the folder itself). */
  path: string;
  /** How the media are on disk: the ISO loop-mounted, a folder shared in place, or the ISO's
   *  files copied into the run directory (kernels without udf/iso9660). */
  how: 'loop-mount' | 'folder' | 'extracted';
  /** smbd's process id. */
  pid: number;
  stop(): Promise<void>;
}

const INSTALL_SAMBA = 'install samba (Debian/Ubuntu: sudo apt-get install samba; its service need not run)';
const SBIN = ['/usr/sbin', '/usr/local/sbin', '/sbin'];

function findTool(name: string, given?: string): string {
  const candidates = given ? [given] : [...(process.env.PATH ?? '').split(':').filter(Boolean), ...SBIN].map((d) => path.join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      /* next */
    }
  }
  throw new ShareError('smbd-missing', `${name} (Samba) was not found${given ? ` at ${given}` : ''}: ${INSTALL_SAMBA}`);
}

/** Runs a short command; resolves with its output, rejects with its stderr. */
function run(cmd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(out.trim() || `${cmd} exited with ${code}`))));
    // A command that does not read its input (mount) may exit before we write: not an error.
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
  });
}

/** A password net use, cmd.exe and smb.conf all take literally: letters and digits only. */
function randomPassword(n = 24): string {
  const abc = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
  return Array.from({ length: n }, () => abc[randomInt(abc.length)]).join('');
}

/** Windows media are UDF (with a stub ISO 9660 tree); plain ISO 9660 for the rest. */
async function mountIso(iso: string, dir: string): Promise<'mounted' | 'no-kernel-support'> {
  const errors: string[] = [];
  for (const type of ['udf', 'iso9660']) {
    try {
      // mode/dmode: readable by the guest account whatever the image recorded.
      await run('mount', ['-t', type, '-o', 'loop,ro,nosuid,nodev,noexec,mode=0444,dmode=0555', iso, dir]);
      return 'mounted';
    } catch (err) {
      errors.push(`${type}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  if (errors.every((e) => /unknown filesystem type/.test(e))) return 'no-kernel-support';
  throw new ShareError('mount-failed', `could not mount ${iso} read-only to share it (${errors.join('; ')})`);
}

function umountSync(dir: string): void {
  for (let i = 0; i < 20; i++) {
    try {
      execFileSync('umount', [dir], { stdio: 'ignore' });
      return;
    } catch {
      if (!isMounted(dir)) return;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100); // busy: smbd's children are exiting
    }
  }
  execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
}

export function isMounted(dir: string): boolean {
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[1] === dir.replace(/ /g, '\\040'));
}

function killPid(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone */
  }
}

async function ownerName(p: string): Promise<string> {
  const { uid } = await fs.stat(p);
  try {
    return (await run('getent', ['passwd', String(uid)])).split(':')[0];
  } catch {
    throw new ShareError('bad-source', `${p} belongs to uid ${uid}, which has no account name Samba could read it as`);
  }
}

export async function startSetupShare(o: SetupShareOptions): Promise<SetupShare> {
  const shareName = o.shareName ?? 'pxekit';
  try {
    checkShareName(shareName);
  } catch (err) {
    throw new ShareError('bad-source', (err as Error).message);
  }
  const smbd = findTool('smbd', o.smbd);
  const pdbedit = findTool('pdbedit', o.pdbedit);
  const st = await fs.stat(o.source).catch(() => {
    throw new ShareError('bad-source', `${o.source}: no such ISO file or folder`);
  });
  if (!st.isFile() && !st.isDirectory()) throw new ShareError('bad-source', `${o.source} is neither an ISO file nor a folder`);

  await fs.mkdir(o.workDir, { recursive: true });
  const runDir = await fs.mkdtemp(path.join(o.workDir, 'smb-'));
  let mountDir: string | undefined;
  let mounted = false;
  let child: ChildProcess | undefined;
  const cleanupSync = () => {
    // smbd's group: smbd itself and any per-client child still alive.
    if (child?.pid) killPid(-child.pid, 'SIGKILL');
    if (mounted && mountDir) umountSync(mountDir);
    mounted = false;
    if (mountDir) {
      try {
        rmdirSync(mountDir);
      } catch {
        /* still busy after umount -l: an empty directory left in the temp dir */
      }
    }
    mountDir = undefined;
    rmSync(runDir, { recursive: true, force: true });
  };
  // The engine's exit (a crash, Ctrl-C handled elsewhere) must not leave smbd or a loop mount behind.
  const onExit = () => {
    try {
      cleanupSync();
    } catch {
      /* best effort at exit */
    }
  };
  process.on('exit', onExit);
  try {
    let sharePath: string;
    let forceUser: string | undefined;
    let how: SetupShare['how'] = 'folder';
    if (st.isFile()) {
      // Under the temp dir, not workDir: the guest account must be able to walk to it, and the
      // engine's data dir usually sits in root's home.
      mountDir = await fs.mkdtemp(path.join(tmpdir(), 'pxekit-media-'));
      await fs.chmod(mountDir, 0o755);
      if ((await mountIso(path.resolve(o.source), mountDir)) === 'mounted') {
        mounted = true;
        how = 'loop-mount';
        sharePath = mountDir;
      } else {
        rmdirSync(mountDir);
        mountDir = undefined;
        sharePath = path.join(runDir, 'media');
        await fs.mkdir(sharePath);
        await extractIso(path.resolve(o.source), sharePath).catch((err: Error) => {
          throw new ShareError('mount-failed', `the kernel has no udf/iso9660 filesystem to mount ${o.source}, and copying its files failed: ${err.message}`);
        });
        how = 'extracted';
      }
    } else {
      sharePath = path.resolve(o.source);
    }
    // A folder (and the extracted copy) is read as its owner, who can read it; a mounted ISO's
    // files are world-readable and read as the guest account.
    if (how !== 'loop-mount') forceUser = o.readAs ?? (await ownerName(sharePath));
    // The extracted copy is read as readAs, who must be able to walk to it (private/ stays 0700).
    if (how === 'extracted' && o.readAs) await fs.chmod(runDir, 0o711);
    for (const d of ['private', 'lock', 'state', 'cache', 'pid', 'log']) await fs.mkdir(path.join(runDir, d), { mode: d === 'private' ? 0o700 : 0o755 });
    const conf = path.join(runDir, 'smb.conf');
    try {
      await fs.writeFile(conf, smbConfig({ runDir, address: o.address, prefix: o.prefix, shareName, path: sharePath, forceUser }));
    } catch (err) {
      if (err instanceof SmbConfigError) throw new ShareError('bad-source', err.message);
      throw err;
    }
    await fs.writeFile(path.join(runDir, 'users.map'), usernameMap());
    const password = randomPassword();
    // The account Windows PE logs on with, in our passdb only (tdbsam under runDir).
    await run(pdbedit, ['-s', conf, '-a', '-u', 'nobody', '-t'], `${password}\n${password}\n`).catch((err: Error) => {
      throw new ShareError('start-failed', `pdbedit could not create the share's account: ${err.message}`);
    });

    const argv = ['--foreground', '--no-process-group', `--configfile=${conf}`, '--debuglevel=2', '--debug-stdout'];
    const [cmd, args] = o.netns ? ['ip', ['netns', 'exec', o.netns, smbd, ...argv]] : [smbd, argv];
    // Its own process group (setsid): smbd signals its whole group when it exits, which in ours
    // would be the engine. The group, named by smbd's PID, also holds every child it forks.
    const started = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    child = started;
    await waitReady(started, o, o.startTimeoutMs ?? 15_000);

    let stopping: Promise<void> | undefined;
    return {
      unc: `\\\\${o.address}\\${shareName}`,
      shareName,
      user: SHARE_USER,
      password,
      path: sharePath,
      how,
      pid: started.pid!,
      stop: () =>
        (stopping ??= (async () => {
          process.off('exit', onExit);
          await stopChild(started);
          cleanupSync();
        })()),
    };
  } catch (err) {
    if (child) await stopChild(child);
    process.off('exit', onExit);
    cleanupSync();
    throw err;
  }
}

/** Resolves when smbd listens ("waiting for connections", debug level 2); rejects with why it did not. */
function waitReady(child: ChildProcess, o: SetupShareOptions, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const tail: string[] = [];
    let partial = '';
    let ready = false;
    const onData = (c: Buffer) => {
      partial += c.toString();
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!ready) tail.push(line);
        if (tail.length > 60) tail.shift();
        if (!ready && /waiting for connections/.test(line)) {
          ready = true;
          clearTimeout(timer);
          resolve();
        }
      }
    };
    // smbd keeps logging per connection: keep draining the pipes so it never blocks on them.
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    const fail = (why: string) => {
      if (ready) return;
      ready = true;
      clearTimeout(timer);
      reject(explain(why, tail.join('\n'), o));
    };
    const timer = setTimeout(() => fail(`smbd did not start listening within ${timeoutMs / 1000} s`), timeoutMs);
    child.once('error', (err) => fail(`smbd could not be started: ${err.message}`));
    child.once('exit', (code, sig) => fail(`smbd exited (${sig ?? `code ${code}`})`));
  });
}

function explain(why: string, log: string, o: SetupShareOptions): ShareError {
  if (/Address already in use/i.test(log)) return new ShareError('port-in-use', `port 445 on ${o.address} (${o.iface}) is already in use by another program (another Samba or Windows file sharing?): stop it, then start again`);
  if (/no network interfaces found|No sockets available/i.test(log)) return new ShareError('start-failed', `smbd found no address ${o.address}/${o.prefix} to listen on (${o.iface} has no such address${o.netns ? ` in namespace ${o.netns}` : ''})`);
  const last = log.split('\n').filter((l) => l.trim() && !/^\s*#\d+ /.test(l)).slice(-8).join('\n');
  return new ShareError('start-failed', `${why}${last ? `:\n${last}` : ''}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (!child.pid) return;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }
  // Per-client children notice their parent is gone and exit; these are ones that have not yet.
  killPid(-child.pid, 'SIGKILL');
}
