// The file browser behind the UI's "Browse" (API files.list): folders and files under the
// roots the user allows, each file said for what it is by its content. Nothing outside the
// roots is listed: paths are normalised, ".." collapsed, and symlinks resolved and checked
// against the roots' own real paths before anything is read.
import { existsSync, mkdirSync, promises as fsp, realpathSync } from 'node:fs';
import path from 'node:path';
import type { FileEntry, FileListing, BrowseRoot } from './contract.js';
import { identifyFile } from '../images/identify.js';
import { archiveFormat } from '../images/netboot-archive.js';
import { invokingUser, normaliseUserPath, PathRefused, type UserContext } from '../files/user-paths.js';

export { PathRefused };

/** Files identified per listing (each read is 64 KiB); the rest are listed without. */
const IDENTIFY_MAX = 400;
const LIST_MAX = 2000;

export interface BrowseOptions extends UserContext {
  dataDir: string;
  /** Extra roots (PXEKIT_BROWSE_ROOTS, colon-separated, by default). */
  extraRoots?: string[];
}

/** The invoking user's home, the data dir's images folder, removable media (/media, /run/media), and any extra roots: those that exist. */
export function defaultRoots(o: BrowseOptions): BrowseRoot[] {
  const user = invokingUser(o);
  const images = path.join(o.dataDir, 'images');
  try {
    mkdirSync(images, { recursive: true });
  } catch {
    /* a read-only data dir: the folder is simply not offered */
  }
  const extra = o.extraRoots ?? (o.env ?? process.env).PXEKIT_BROWSE_ROOTS?.split(':').filter(Boolean) ?? [];
  const roots: BrowseRoot[] = [
    { path: user.home, label: user.name ? `Home (${user.name})` : 'Home' },
    { path: images, label: 'PXE Kit images folder' },
    { path: '/media', label: 'Removable media' },
    { path: '/run/media', label: 'Removable media' },
    ...extra.map((p) => ({ path: p, label: p })),
  ];
  const seen = new Set<string>();
  return roots.filter((r) => {
    if (!path.isAbsolute(r.path) || !existsSync(r.path) || seen.has(r.path)) return false;
    seen.add(r.path);
    return true;
  });
}

function real(p: string): string | undefined {
  try {
    return realpathSync(p);
  } catch {
    return undefined;
  }
}

function inside(p: string, root: string): boolean {
  return p === root || p.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

/** The root a (real) path lies under, or undefined. */
function rootOf(realPath: string, roots: BrowseRoot[]): BrowseRoot | undefined {
  return roots.find((r) => {
    const rr = real(r.path);
    return rr !== undefined && inside(realPath, rr);
  });
}

/** Throws PathRefused unless the path (symlinks resolved) is under one of the roots; returns its real path. */
export function checkInRoots(p: string, roots: BrowseRoot[]): string {
  const r = real(p);
  if (r === undefined) throw new PathRefused(`${p} does not exist (or cannot be read)`);
  if (!rootOf(r, roots)) {
    const where = roots.map((x) => x.path).join(', ');
    throw new PathRefused(`${p}${r !== p ? ` (which is ${r})` : ''} is outside the folders PXE Kit may browse (${where}). Copy the image into one of them, or type its path`);
  }
  return r;
}

/** Lists one folder under the roots, or the roots themselves when `dir` is not given. */
export async function listFiles(dir: string | undefined, o: BrowseOptions & { roots?: BrowseRoot[] }): Promise<FileListing> {
  const roots = o.roots ?? defaultRoots(o);
  if (dir === undefined || dir.trim() === '') {
    const entries: FileEntry[] = roots.map((r) => ({ name: r.label, path: r.path, kind: 'dir', size: 0 }));
    return { dir: null, roots, entries };
  }
  const asked = normaliseUserPath(dir, o);
  const realDir = checkInRoots(asked, roots);
  const st = await fsp.stat(realDir);
  if (!st.isDirectory()) throw new PathRefused(`${asked} is a file, not a folder`);
  const names = (await fsp.readdir(realDir)).filter((n) => !n.startsWith('.')).sort((a, b) => a.localeCompare(b));
  const entries: FileEntry[] = [];
  let identified = 0;
  for (const name of names.slice(0, LIST_MAX)) {
    const full = path.join(realDir, name);
    const target = real(full);
    // A symlink out of the roots (or a broken one) is not listed: nothing beyond the roots is shown.
    if (target === undefined || !rootOf(target, roots)) continue;
    const s = await fsp.stat(target).catch(() => undefined);
    if (!s) continue;
    if (s.isDirectory()) entries.push({ name, path: full, kind: 'dir', size: 0 });
    else if (s.isFile()) {
      const e: FileEntry = { name, path: full, kind: 'file', size: s.size };
      if (identified++ < IDENTIFY_MAX) {
        e.image = await identifyFile(target).catch((err: Error) => ({ ok: false as const, what: 'unreadable', reason: `it cannot be read (${err.message})` }));
        // A .tar.gz/.zip is served as the netboot folder it holds.
        const archive = !e.image.ok && (await archiveFormat(target).catch(() => undefined));
        if (archive) e.image = { ok: true, kind: 'netboot', what: `a ${archive} archive (served as the netboot folder it holds)` };
      }
      entries.push(e);
    }
  }
  entries.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'dir' ? -1 : 1));
  const root = rootOf(realDir, roots)!;
  const rootReal = real(root.path)!;
  const parent = realDir === rootReal ? undefined : path.dirname(realDir);
  return { dir: realDir, parent, roots, entries, ...(names.length > LIST_MAX ? { truncated: true } : {}) };
}
