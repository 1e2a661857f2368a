// Giving up root after binding (Linux). The engine needs root for ports 67/69/4011 and for
// starting the Windows setup share; everything after that (parsing DHCP, TFTP, HTTP heads,
// ISO 9660/UDF from any file) runs as an unprivileged user, who keeps only the capabilities
// the running engine still uses. See docs/decisions.md ("Root only to bind").
//
// How: prctl(PR_SET_KEEPCAPS) so the permitted set survives setuid, initgroups/setgid/setuid
// (glibc applies them to every thread of the process), then capset() on the main thread: the
// kept capabilities become its effective and permitted sets, and nothing else remains. The
// other threads (libuv's pool, V8's, the TFTP/HTTP I/O threads) keep no capability at all:
// they only read files and move packets on sockets the main thread opened. Threads created
// later inherit the main thread's set. Then PR_SET_NO_NEW_PRIVS: no set-uid program the
// engine could be made to run gains root back.
import type Koffi from 'koffi';
import { createRequire } from 'node:module';
import { accessSync, constants, lchownSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const CAP_KILL = 5;
export const CAP_NET_BIND_SERVICE = 10;
export const CAP_NET_ADMIN = 12;
export const CAP_NET_RAW = 13;
const CAP_NAMES: Record<number, string> = {
  0: 'CAP_CHOWN', 1: 'CAP_DAC_OVERRIDE', 2: 'CAP_DAC_READ_SEARCH', 3: 'CAP_FOWNER', 4: 'CAP_FSETID', 5: 'CAP_KILL', 6: 'CAP_SETGID', 7: 'CAP_SETUID',
  8: 'CAP_SETPCAP', 10: 'CAP_NET_BIND_SERVICE', 12: 'CAP_NET_ADMIN', 13: 'CAP_NET_RAW', 21: 'CAP_SYS_ADMIN',
};

const PR_SET_KEEPCAPS = 8;
const PR_SET_NO_NEW_PRIVS = 38;
const LINUX_CAPABILITY_VERSION_3 = 0x20080522;

/** Who the engine becomes after binding. */
export interface DropTarget {
  name: string;
  uid: number;
  gid: number;
  home: string;
  /** How it was chosen: --user NAME (then a drop that cannot be done stops the start), or the user who ran sudo/pkexec. */
  via: '--user' | 'sudo' | 'pkexec';
}

export class PrivilegeError extends Error {}

type Passwd = { pw_name: string; pw_uid: number; pw_gid: number; pw_dir: string };
type Libc = {
  prctl: (option: number, a2: number, a3: number, a4: number, a5: number) => number;
  capset: (hdr: Buffer, data: Buffer) => number;
  getpwnam: (name: string) => unknown;
  getpwuid: (uid: number) => unknown;
  passwd: Koffi.IKoffiCType;
};
let libc: Libc | undefined;
// Loaded on first use (Linux only), as udp.ts loads sockopt-linux.ts: other platforms never load libc.
let koffi: typeof Koffi;
function load(): Libc {
  if (libc) return libc;
  koffi ??= createRequire(import.meta.url)('koffi') as typeof Koffi;
  const lib = koffi.load('libc.so.6');
  const passwd = koffi.struct('pxekit_passwd', {
    pw_name: 'char *', pw_passwd: 'char *', pw_uid: 'uint32_t', pw_gid: 'uint32_t', pw_gecos: 'char *', pw_dir: 'char *', pw_shell: 'char *',
  });
  libc = {
    prctl: lib.func('int prctl(int, unsigned long, unsigned long, unsigned long, unsigned long)'),
    capset: lib.func('int capset(void *, void *)'),
    getpwnam: lib.func('void *getpwnam(const char *)'),
    getpwuid: lib.func('void *getpwuid(uint32_t)'),
    passwd,
  };
  return libc;
}

function lookup(by: string | number): Passwd | undefined {
  const l = load();
  const p = typeof by === 'number' ? l.getpwuid(by) : l.getpwnam(by);
  return p ? (koffi.decode(p, l.passwd) as Passwd) : undefined;
}

/**
 * Who to become: `--user NAME` (or a uid), else the user who ran sudo (SUDO_UID) or pkexec
 * (PKEXEC_UID). Undefined with a note when the engine stays as it is: not Linux, not root,
 * `--user root`, or plain root with neither. Throws PrivilegeError for an unknown user.
 */
export function chooseDropTarget(user: string | undefined, env: NodeJS.ProcessEnv = process.env): { target?: DropTarget; note?: string } {
  if (process.platform !== 'linux') return user ? { note: `--user applies on Linux only; on ${process.platform} the engine's privileges are the ones it was started with` } : {};
  if (process.getuid?.() !== 0) return user ? { note: `--user ${user} ignored: PXE Kit already runs as ${os.userInfo().username}, not root` } : {};
  const from = (p: Passwd, via: DropTarget['via']): DropTarget => ({ name: p.pw_name, uid: p.pw_uid, gid: p.pw_gid, home: p.pw_dir, via });
  if (user !== undefined) {
    const p = lookup(/^\d+$/.test(user) ? Number(user) : user);
    if (!p) throw new PrivilegeError(`--user ${user}: there is no such user on this computer`);
    if (p.pw_uid === 0) return { note: `running as root (--user ${user}): the engine keeps every privilege while it parses what the network and the images send` };
    return { target: from(p, '--user') };
  }
  for (const [key, via] of [['SUDO_UID', 'sudo'], ['PKEXEC_UID', 'pkexec']] as const) {
    const v = env[key];
    if (!v || !/^\d+$/.test(v) || v === '0') continue;
    const p = lookup(Number(v));
    if (p) return { target: from(p, via) };
  }
  return { note: 'running as root: started as root, not through sudo or pkexec, so there is no user to become; give --user NAME to drop privileges after binding' };
}

/** The capabilities the engine keeps after the drop, with why (only what the running engine still does). */
export function keptCapabilities(release = os.release()): { cap: number; name: string; why: string }[] {
  const kept = [{ cap: CAP_NET_BIND_SERVICE, name: 'CAP_NET_BIND_SERVICE', why: 'DHCP ports 67/4011 are bound again when the mode switches to proxyDHCP' }];
  // Since Linux 5.7 SO_BINDTODEVICE on a socket not yet bound to a device needs no privilege.
  const [major, minor] = release.split('.').map((n) => parseInt(n, 10));
  if (major < 5 || (major === 5 && minor < 7)) kept.push({ cap: CAP_NET_RAW, name: 'CAP_NET_RAW', why: 'per-transfer TFTP sockets are bound to the NIC (SO_BINDTODEVICE; Linux before 5.7)' });
  return kept;
}

export const capMask = (caps: number[]): bigint => caps.reduce((m, c) => m | (1n << BigInt(c)), 0n);
export const capNames = (mask: bigint): string[] => {
  const names: string[] = [];
  for (let c = 0; c < 64; c++) if (mask & (1n << BigInt(c))) names.push(CAP_NAMES[c] ?? `cap ${c}`);
  return names;
};

export interface ProcCreds {
  uid: number[];
  gid: number[];
  groups: number[];
  capInh: bigint;
  capPrm: bigint;
  capEff: bigint;
  capBnd: bigint;
  noNewPrivs: boolean;
}

/** Uid/Gid (real, effective, saved, fs), groups and capability sets from /proc/<pid>/status (or a thread's). */
export function readProcCreds(statusFile = '/proc/self/status'): ProcCreds {
  const f: Record<string, string> = {};
  for (const line of readFileSync(statusFile, 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) f[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  const ints = (s = '') => s.split(/\s+/).filter(Boolean).map(Number);
  const hex = (s = '0') => BigInt(`0x${s}`);
  return {
    uid: ints(f.Uid), gid: ints(f.Gid), groups: ints(f.Groups),
    capInh: hex(f.CapInh), capPrm: hex(f.CapPrm), capEff: hex(f.CapEff), capBnd: hex(f.CapBnd), noNewPrivs: f.NoNewPrivs === '1',
  };
}

/** Makes the missing folders of `dir` as `target` (the user's data dir under their home, an evidence folder). */
export function makeDirsFor(dir: string, target: DropTarget): void {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !exists(d); d = path.dirname(d)) missing.unshift(d);
  for (const d of missing) {
    mkdirSync(d, { mode: 0o755 });
    lchownSync(d, target.uid, target.gid);
  }
}

function exists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** The user's own data folder (XDG), for a drop without --data-dir; their home must exist. */
export function userDataDir(target: DropTarget): string {
  if (!target.home || !exists(target.home) || statSync(target.home).uid !== target.uid) {
    throw new PrivilegeError(`${target.name} has no home folder of their own (${target.home || 'none'}) for PXE Kit's data: give --data-dir DIR`);
  }
  return path.join(target.home, '.local', 'share', 'pxekit');
}

/**
 * The data dir of a command run through sudo or pkexec (pxekit wimboot, pxekit inspect): the
 * invoking user's own, the one `pxekit serve` uses once it runs as that user, so what one stores
 * the other finds. `done()` gives what the command wrote there as root to the user. Otherwise
 * (--data-dir, PXEKIT_DATA_DIR, not root, plain root): that dir, as before.
 */
export function commandDataDir(given: string | undefined, fallback: () => string): { dataDir: string; done: () => void } {
  const target = chooseDropTarget(undefined).target;
  const own = ownDataDir(target, given);
  if (!own || !target) return { dataDir: given ?? fallback(), done: () => {} };
  return { dataDir: own, done: () => handOver(own, target, false) };
}

/**
 * The data dir of a run that becomes `target` (serve, serve --ui) or acts for it (commandDataDir):
 * the one given, or PXEKIT_DATA_DIR's (undefined: the caller's own default), else the target's
 * own folder, made for them. One rule, so what one command stores the others find.
 */
export function ownDataDir(target: DropTarget | undefined, given: string | undefined): string | undefined {
  if (given || process.env.PXEKIT_DATA_DIR || !target) return given;
  const dir = userDataDir(target);
  makeDirsFor(dir, target);
  return dir;
}

/**
 * Hands the data dir over before the drop: root-owned entries written by this start (leases,
 * history) go to the user, in a folder the engine created now or that the user owns; a
 * folder someone else owns is left alone (the check after the drop then says so). Does not
 * follow symbolic links or cross into another file system (a mounted ISO).
 */
function handOver(dir: string, target: DropTarget, createdNow: boolean): void {
  const st = statSync(dir);
  if (st.uid === 0 && createdNow) lchownSync(dir, target.uid, target.gid);
  else if (st.uid !== target.uid) return;
  const walk = (d: string, dev: number) => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      const s = lstatSync(p);
      if (s.dev !== dev) continue;
      if (s.uid === 0) lchownSync(p, target.uid, target.gid);
      if (s.isDirectory()) walk(p, dev);
    }
  };
  walk(dir, st.dev);
}

export interface DropOptions {
  dataDir: string;
  /** The engine created the data dir in this start (so all in it is its own). */
  dataDirCreated: boolean;
  /** Files and folders the engine serves, which the user must be able to read. */
  readable: string[];
  /** Folders the user must be able to write (the evidence folder). */
  writable?: string[];
}

export interface DropResult {
  user: string;
  uid: number;
  gid: number;
  kept: { cap: number; name: string; why: string }[];
  creds: ProcCreds;
  message: string;
}

/** The message for a file the user cannot read (shared with src/images/publish-image.ts). */
export const cannotRead = (user: string, file: string): string =>
  `PXE Kit runs as ${user} after binding; ${user} cannot read ${file}: give ${user} read access to it (and to its folders), or start PXE Kit with --user root`;

/**
 * Drops from root to `target`, keeping keptCapabilities(); verifies the result in /proc and
 * that the user can read what is served and write the data dir. Throws PrivilegeError with
 * the reason; a failure past setuid leaves the process unprivileged (never back to root).
 */
export function dropPrivileges(target: DropTarget, o: DropOptions): DropResult {
  if (process.platform !== 'linux') throw new PrivilegeError(`dropping privileges is done on Linux only, not ${process.platform}`);
  if (process.getuid?.() !== 0) throw new PrivilegeError(`PXE Kit does not run as root (uid ${process.getuid?.()}), so it cannot become ${target.name}`);
  const kept = keptCapabilities();
  const mask = capMask(kept.map((k) => k.cap));
  const l = load();
  try {
    handOver(o.dataDir, target, o.dataDirCreated);
  } catch (err) {
    throw new PrivilegeError(`could not hand the data dir ${o.dataDir} over to ${target.name}: ${(err as Error).message}`);
  }
  const step = (what: string, f: () => void) => {
    try {
      f();
    } catch (err) {
      throw new PrivilegeError(`could not drop root to ${target.name}: ${what} failed: ${(err as Error).message}`);
    }
  };
  step('prctl(PR_SET_KEEPCAPS)', () => {
    if (l.prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) !== 0) throw new Error(`errno ${koffi.errno()}`);
  });
  // Node has initgroups on POSIX; its type is missing from the typings we use.
  step('initgroups', () => (process as unknown as { initgroups(user: string, extra: number): void }).initgroups(target.name, target.gid));
  step('setgid', () => process.setgid!(target.gid));
  step('setuid', () => process.setuid!(target.uid));
  step('capset', () => {
    const hdr = Buffer.alloc(8);
    hdr.writeUInt32LE(LINUX_CAPABILITY_VERSION_3, 0);
    hdr.writeInt32LE(0, 4); // this thread
    const data = Buffer.alloc(24); // two { effective, permitted, inheritable } words: caps 0-31, 32-63
    const lo = Number(mask & 0xffffffffn);
    const hi = Number(mask >> 32n);
    data.writeUInt32LE(lo, 0);
    data.writeUInt32LE(lo, 4);
    data.writeUInt32LE(hi, 12);
    data.writeUInt32LE(hi, 16);
    if (l.capset(hdr, data) !== 0) throw new Error(`errno ${koffi.errno()}`);
  });
  step('prctl(PR_SET_KEEPCAPS, 0)', () => void l.prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0));
  step('prctl(PR_SET_NO_NEW_PRIVS)', () => {
    if (l.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) !== 0) throw new Error(`errno ${koffi.errno()}`);
  });

  // What the kernel says now, for the process and every thread.
  const creds = readProcCreds('/proc/self/status');
  const hex = (m: bigint) => m.toString(16).padStart(16, '0');
  if (creds.uid.some((u) => u !== target.uid) || creds.gid.some((g) => g !== target.gid)) {
    throw new PrivilegeError(`dropping root to ${target.name} did not take: /proc/self/status says Uid ${creds.uid.join(' ')}, Gid ${creds.gid.join(' ')}`);
  }
  if (creds.capEff !== mask || creds.capPrm !== mask) {
    throw new PrivilegeError(`dropping root to ${target.name}: capabilities are CapEff ${hex(creds.capEff)} CapPrm ${hex(creds.capPrm)}, expected ${hex(mask)} (${capNames(mask).join(', ')})`);
  }
  for (const task of readdirSync('/proc/self/task')) {
    let t: ProcCreds;
    try {
      t = readProcCreds(`/proc/self/task/${task}/status`);
    } catch {
      continue; // the thread ended meanwhile
    }
    if (t.uid.some((u) => u !== target.uid) || (t.capPrm & ~mask) !== 0n) {
      throw new PrivilegeError(`dropping root to ${target.name}: thread ${task} still has Uid ${t.uid.join(' ')}, CapPrm ${hex(t.capPrm)}`);
    }
  }
  // Files are opened with the user's rights from now on: what is served must be readable.
  for (const p of o.readable) {
    try {
      accessSync(p, statSync(p).isDirectory() ? constants.R_OK | constants.X_OK : constants.R_OK);
    } catch {
      throw new PrivilegeError(cannotRead(target.name, p));
    }
  }
  for (const d of [o.dataDir, ...(o.writable ?? [])]) {
    try {
      accessSync(d, constants.W_OK | constants.X_OK);
    } catch {
      throw new PrivilegeError(`PXE Kit runs as ${target.name} after binding; ${target.name} cannot write ${d}: give a --data-dir (or --evidence folder) ${target.name} can write`);
    }
  }
  process.env.PXEKIT_RUNS_AS = target.name; // for messages about files the user cannot read (src/images/publish-image.ts)
  const keptText = kept.map((k) => `${k.name} (${k.why})`).join(', ');
  const message =
    `dropped root after binding: the engine runs as ${target.name} (uid ${target.uid}, gid ${target.gid}, from ${target.via}), ` +
    `keeping only ${keptText}; files are opened with ${target.name}'s rights`;
  return { user: target.name, uid: target.uid, gid: target.gid, kept, creds, message };
}
