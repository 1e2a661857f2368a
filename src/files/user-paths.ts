// Paths as a person gives them: pasted from a file manager's "Copy as path" (quoted), with
// "~" for their home, or as a file:// URL. The engine runs as root (sudo, pkexec), so "~" is
// the home of the user who started it, not root's; a relative path is refused, because the
// engine's working directory means nothing to the person typing.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export class PathRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PathRefused';
  }
}

interface PasswdEntry {
  name: string;
  uid: number;
  home: string;
}

function passwd(file = '/etc/passwd'): PasswdEntry[] {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .map((l) => l.split(':'))
      .filter((f) => f.length >= 6)
      .map((f) => ({ name: f[0], uid: Number(f[2]), home: f[5] }));
  } catch {
    return [];
  }
}

export interface UserContext {
  env?: NodeJS.ProcessEnv;
  /** For tests: the passwd file. */
  passwdFile?: string;
}

/** The invoking user's name and home: SUDO_USER, or pkexec's PKEXEC_UID, else the process's own user. */
export function invokingUser(ctx: UserContext = {}): { name?: string; home: string } {
  const env = ctx.env ?? process.env;
  const users = passwd(ctx.passwdFile);
  if (env.SUDO_USER && env.SUDO_USER !== 'root') {
    const u = users.find((x) => x.name === env.SUDO_USER);
    if (u) return { name: u.name, home: u.home };
  }
  if (env.PKEXEC_UID && env.PKEXEC_UID !== '0') {
    const u = users.find((x) => x.uid === Number(env.PKEXEC_UID));
    if (u) return { name: u.name, home: u.home };
  }
  return { name: env.USER, home: env.HOME || os.homedir() };
}

/**
 * A typed or pasted path as an absolute, normalised path: surrounding quotes stripped,
 * "~" and "~/x" the invoking user's home, "~name/x" that user's, file:// URLs decoded.
 * Throws PathRefused (with why and what to give instead) for empty and relative paths.
 */
export function normaliseUserPath(input: string, ctx: UserContext = {}): string {
  let p = input.trim();
  // "Copy as path" (Windows, GNOME, KDE) quotes the whole path; some shells copy with 'single' quotes.
  for (let i = 0; i < 2 && p.length >= 2; i++) {
    const q = p[0];
    if ((q === '"' || q === "'") && p[p.length - 1] === q) p = p.slice(1, -1).trim();
  }
  if (!p) throw new PathRefused('no path given: pick a file, or type its whole path (like /home/me/Downloads/debian-12.iso)');
  if (/^file:\/\//i.test(p)) {
    try {
      p = fileURLToPath(p);
    } catch {
      throw new PathRefused(`${input.trim()} is not a file on this computer: give its path, like /home/me/Downloads/debian-12.iso`);
    }
  }
  if (p === '~' || p.startsWith('~/')) p = path.join(invokingUser(ctx).home, p.slice(1));
  else if (p.startsWith('~')) {
    const name = p.slice(1).split('/')[0];
    const u = passwd(ctx.passwdFile).find((x) => x.name === name);
    if (!u) throw new PathRefused(`${p}: there is no user named "${name}" on this computer`);
    p = path.join(u.home, p.slice(1 + name.length));
  }
  if (!path.isAbsolute(p)) {
    throw new PathRefused(
      `"${p}" is a relative path: PXE Kit runs as its own process and cannot tell which folder it is relative to. ` +
        `Give the whole path, starting with / (or ~ for your home folder), or pick the file with Browse`,
    );
  }
  return path.resolve(p);
}
