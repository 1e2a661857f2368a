// The files of a netboot folder, indexed once so that every TFTP and HTTP request is a map
// lookup (PublishedFiles resolves synchronously, and loaders ask for dozens of names that do not
// exist while they search). Symbolic links are followed only when they stay inside the folder:
// Debian's netboot tree links pxelinux.0 and pxelinux.cfg to debian-installer/amd64/, while a
// link to /etc is not part of any image. Opening re-checks the real path, so a link swapped
// after indexing still cannot lead out.
import { promises as fsp, type Dirent } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { DiskFileSource, type ByteSource } from '../files/published.js';

/** More than this many entries is a whole disk, not a netboot folder: refused with what to do. */
export const TREE_MAX_ENTRIES = 250_000;

export interface IndexedFile {
  /** Tree-relative, as the folder spells it ("debian-installer/amd64/linux"). */
  path: string;
  /** The real file on disk (links resolved). */
  real: string;
}

export interface FolderIndex {
  root: string;
  /** Lower-cased tree-relative path -> file (loaders differ in case: Windows ones say "\Boot\BCD"). */
  byLower: Map<string, IndexedFile>;
  /** Exact tree-relative path -> file. */
  byPath: Map<string, IndexedFile>;
  files: number;
  /** Links that lead out of the folder (not served), and other entries left out. */
  outside: string[];
}

export class TreeTooLarge extends Error {}

function inside(realRoot: string, real: string): boolean {
  return real === realRoot || real.startsWith(realRoot + sep);
}

/** Indexes every file under `root`; throws TreeTooLarge past `max` entries. */
export async function indexFolder(root: string, max = TREE_MAX_ENTRIES): Promise<FolderIndex> {
  const base = resolve(root);
  const realRoot = await fsp.realpath(base);
  const idx: FolderIndex = { root: base, byLower: new Map(), byPath: new Map(), files: 0, outside: [] };
  let seen = 0;
  // Directories already walked, by real path: a link to a parent must not loop.
  const walked = new Set<string>([realRoot]);
  const stack: { rel: string; abs: string }[] = [{ rel: '', abs: realRoot }];
  while (stack.length) {
    const { rel, abs } = stack.pop()!;
    let entries: Dirent[];
    try {
      entries = await fsp.readdir(abs, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const d of entries) {
      if (++seen > max) {
        throw new TreeTooLarge(
          `${root} holds more than ${max.toLocaleString('en')} files and folders: that is a whole disk, not a netboot folder. Point PXE Kit at the folder that holds the boot loader (pxelinux.0, grubx64.efi...)`,
        );
      }
      const childRel = rel ? `${rel}/${d.name}` : d.name;
      const childAbs = join(abs, d.name);
      let isDir = d.isDirectory();
      let isFile = d.isFile();
      let real = childAbs;
      if (d.isSymbolicLink()) {
        const r = await fsp.realpath(childAbs).catch(() => undefined);
        if (!r || !inside(realRoot, r)) {
          idx.outside.push(childRel);
          continue;
        }
        const st = await fsp.stat(r).catch(() => undefined);
        if (!st) continue;
        real = r;
        isDir = st.isDirectory();
        isFile = st.isFile();
      }
      if (isDir) {
        if (walked.has(real)) continue;
        walked.add(real);
        stack.push({ rel: childRel, abs: real });
      } else if (isFile) {
        const f = { path: childRel, real };
        idx.byPath.set(childRel, f);
        if (!idx.byLower.has(childRel.toLowerCase())) idx.byLower.set(childRel.toLowerCase(), f);
        idx.files++;
      }
    }
  }
  return idx;
}

/** The indexed file for a normalised request path (exact first, then in any case), or undefined. */
export function findIndexed(idx: FolderIndex, path: string): IndexedFile | undefined {
  return idx.byPath.get(path) ?? idx.byLower.get(path.toLowerCase());
}

/** Opens an indexed file, refusing when its real path has left the folder since it was indexed. */
export async function openIndexed(idx: FolderIndex, f: IndexedFile): Promise<ByteSource> {
  const realRoot = await fsp.realpath(idx.root);
  const real = await fsp.realpath(f.real);
  if (!inside(realRoot, real)) throw new Error(`${f.path} now leads out of ${idx.root}: not served`);
  return DiskFileSource.open(real);
}
