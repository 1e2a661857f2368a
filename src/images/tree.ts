// The one view of an image's files the recipes need: an ISO read in place, or a
// folder on disk (an ISO someone already unpacked). Recipes never care which.
import { promises as fsp } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { DiskFileSource, type ByteSource } from '../files/published.js';
import type { IsoImage } from './iso/index.js';
import type { BootInfo, Extent } from './iso/index.js';

export interface TreeEntry {
  name: string;
  /** "/"-separated, no leading slash, as the image spells it. */
  path: string;
  type: 'file' | 'directory' | 'other';
  size: number;
  /** ISO only: where the bytes lie in the image file (one contiguous run for almost every file). */
  extents?: readonly Extent[];
}

export interface ImageTree {
  readonly kind: 'iso' | 'folder';
  /** El Torito boot entries (ISOs only). */
  readonly boot?: BootInfo;
  readonly volumeId?: string;
  /** Case-insensitive lookup (ISO 9660 names are upper case, Rock Ridge/UDF as on the source disk). */
  stat(path: string): Promise<TreeEntry | undefined>;
  list(dir: string): Promise<TreeEntry[]>;
  openFile(path: string): Promise<ByteSource>;
  /** Every file, parents first. */
  walk(): AsyncGenerator<TreeEntry>;
  close(): Promise<void>;
}

const MAX_TEXT = 64 * 1024;

/** A small file's bytes, or undefined when missing, not a file, or larger than `max`. */
export async function readBytes(tree: ImageTree, path: string, max: number): Promise<Buffer | undefined> {
  const st = await tree.stat(path);
  if (!st || st.type !== 'file' || st.size > max) return undefined;
  const src = await tree.openFile(st.path);
  try {
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = await src.read(buf, off, buf.length - off, off);
      if (n <= 0) break;
      off += n;
    }
    return buf.subarray(0, off);
  } finally {
    await src.close();
  }
}

/** A small text file's contents, or undefined when missing or too large. */
export async function readText(tree: ImageTree, path: string, max = MAX_TEXT): Promise<string | undefined> {
  const buf = await readBytes(tree, path, max);
  if (!buf) return undefined;
  // Windows media write UTF-16 text files (idwbinfo.txt has a BOM).
  if (buf[0] === 0xff && buf[1] === 0xfe) return buf.subarray(2).toString('utf16le');
  return buf.toString('utf8');
}

/** The first existing file of `candidates` (its spelling in the image), or undefined. */
export async function firstFile(tree: ImageTree, candidates: string[]): Promise<TreeEntry | undefined> {
  for (const c of candidates) {
    const st = await tree.stat(c);
    if (st?.type === 'file') return st;
  }
  return undefined;
}

export function isoTree(iso: IsoImage): ImageTree {
  const conv = (e: { name: string; path: string; type: string; size: number; extents: readonly Extent[] }): TreeEntry => ({
    name: e.name,
    path: e.path,
    type: e.type === 'file' || e.type === 'directory' ? e.type : 'other',
    size: e.size,
    ...(e.type === 'file' ? { extents: e.extents } : {}),
  });
  return {
    kind: 'iso',
    boot: iso.boot,
    volumeId: iso.volumeId,
    async stat(path) {
      // Follow symlinks: Debian live trees link vmlinuz -> vmlinuz-6.1.0-...
      const e = await iso.stat(path);
      if (!e) return undefined;
      if (e.type === 'symlink') {
        try {
          const src = await iso.openFile(path);
          await src.close();
          return { name: e.name, path: e.path, type: 'file', size: src.size };
        } catch {
          return undefined;
        }
      }
      return conv(e);
    },
    async list(dir) {
      try {
        return (await iso.list(dir)).map(conv);
      } catch {
        return [];
      }
    },
    openFile: (path) => iso.openFile(path),
    async *walk() {
      for await (const e of iso.walk()) yield conv(e);
    },
    close: () => iso.close(),
  };
}

/** A folder on disk; paths resolve case-insensitively like an ISO's, and never outside the folder. */
export function folderTree(root: string): ImageTree {
  const base = resolve(root);
  async function find(path: string): Promise<string | undefined> {
    let cur = base;
    let rel = '';
    for (const seg of path.replace(/\\/g, '/').split('/').filter((s) => s && s !== '.')) {
      if (seg === '..') return undefined;
      let names: string[];
      try {
        names = await fsp.readdir(cur);
      } catch {
        return undefined;
      }
      const hit = names.find((n) => n === seg) ?? names.find((n) => n.toLowerCase() === seg.toLowerCase());
      if (!hit) return undefined;
      cur = join(cur, hit);
      rel = rel ? `${rel}/${hit}` : hit;
    }
    // Symlinks that leave the folder are not part of the image.
    const real = await fsp.realpath(cur).catch(() => undefined);
    const realBase = await fsp.realpath(base);
    if (!real || (real !== realBase && !real.startsWith(realBase + sep))) return undefined;
    return rel;
  }
  async function entry(rel: string): Promise<TreeEntry | undefined> {
    const st = await fsp.stat(join(base, rel)).catch(() => undefined);
    if (!st) return undefined;
    const name = rel.split('/').pop() ?? '';
    return { name, path: rel, type: st.isFile() ? 'file' : st.isDirectory() ? 'directory' : 'other', size: st.isFile() ? st.size : 0 };
  }
  const tree: ImageTree = {
    kind: 'folder',
    async stat(path) {
      const rel = await find(path);
      return rel === undefined ? undefined : entry(rel);
    },
    async list(dir) {
      const rel = await find(dir);
      if (rel === undefined) return [];
      const names = await fsp.readdir(join(base, rel)).catch(() => [] as string[]);
      const out: TreeEntry[] = [];
      for (const n of names.sort()) {
        const e = await entry(rel ? `${rel}/${n}` : n);
        if (e) out.push(e);
      }
      return out;
    },
    async openFile(path) {
      const rel = await find(path);
      if (rel === undefined) throw new Error(`no such file in the folder: ${path}`);
      return DiskFileSource.open(join(base, rel));
    },
    async *walk() {
      const stack = [''];
      let count = 0;
      while (stack.length) {
        const dir = stack.pop()!;
        for (const e of await tree.list(dir)) {
          if (++count > 1_000_000) return;
          yield e;
          if (e.type === 'directory') stack.push(e.path);
        }
      }
    },
    close: async () => {},
  };
  return tree;
}

/** The file's absolute path on disk for a folder tree (diskFile needs it). */
export function folderFilePath(root: string, rel: string): string {
  return join(resolve(root), ...rel.split('/'));
}
