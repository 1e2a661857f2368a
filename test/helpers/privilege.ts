// Shared by the privilege tests (test/integration/privilege-*.test.ts): a throwaway user, and
// what /proc says about a process's users and capabilities.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { release, tmpdir } from 'node:os';

/** A throwaway system user (with a home folder at `home`, else none), removed after the test. */
export function throwawayUser(t: { after(fn: () => void): void }, home?: string): { name: string; uid: number; gid: number } {
  const name = `pxekit-test-${randomBytes(3).toString('hex')}`;
  execFileSync('useradd', ['--system', ...(home ? ['--create-home', '--home-dir', home] : ['--no-create-home']), '--shell', '/usr/sbin/nologin', name]);
  // -f: the hook may run before the engine (started later, stopped by a later hook) has exited.
  t.after(() => execFileSync('userdel', ['-f', name], { stdio: 'ignore' }));
  const [uid, gid] = ['-u', '-g'].map((f) => Number(execFileSync('id', [f, name], { encoding: 'utf8' }).trim()));
  return { name, uid, gid };
}

export function statusOf(pid: number | string, task?: string): Record<string, string> {
  const f: Record<string, string> = {};
  const file = task ? `/proc/${pid}/task/${task}/status` : `/proc/${pid}/status`;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) f[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return f;
}

/** The capability numbers set in a CapEff/CapPrm hex mask. */
export function caps(hex: string): number[] {
  const m = BigInt(`0x${hex}`);
  const out: number[] = [];
  for (let c = 0; c < 64; c++) if (m & (1n << BigInt(c))) out.push(c);
  return out;
}

// CAP_NET_BIND_SERVICE (10); CAP_NET_RAW (13) only where SO_BINDTODEVICE still needs it (Linux < 5.7).
const [major, minor] = release().split('.').map(Number);
export const EXPECTED_CAPS = major < 5 || (major === 5 && minor < 7) ? [10, 13] : [10];

/** The effective uid of a running process, from /proc. */
export const effectiveUid = (pid: number): number => Number(statusOf(pid).Uid.split(/\s+/)[1]);

/** A folder others can enter (mkdtemp makes 0700), with a fake bzImage readable by all. */
export function workDir(t: { after(fn: () => void): void }): { dir: string; kernel: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pxk-priv-'));
  chmodSync(dir, 0o755);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const k = randomBytes(200_000);
  k.write('HdrS', 0x202, 'latin1');
  const kernel = join(dir, 'vmlinuz');
  writeFileSync(kernel, k, { mode: 0o644 });
  chmodSync(kernel, 0o644);
  return { dir, kernel };
}

