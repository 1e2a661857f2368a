// An ISO image read in place: pick the best tree (UDF when it has files, as on Windows
// media; else Rock Ridge, Joliet, plain ISO 9660), resolve paths, hand out files as
// ByteSources over their extents. Nothing is extracted or copied.
import type { Readable } from 'node:stream';
import { DiskFileSource, type ByteSource } from '../../files/published.js';
import { type BootImage, type BootInfo, readBootCatalog } from './eltorito.js';
import { IsoError } from './errors.js';
import { readExtents, streamExtents } from './extents.js';
import { Iso9660Tree } from './iso9660.js';
import { type RandomAccess, SECTOR, checkRange } from './source.js';
import type { Entry, Extent, RawEntry, Tree, TreeKind } from './types.js';
import { UdfTree } from './udf.js';
import { readVolumeDescriptors } from './volumes.js';

export interface IsoOpenOptions {
  /** Force one tree (diagnostics, tests); default: UDF if not empty, else Rock Ridge > Joliet > ISO 9660. */
  tree?: TreeKind;
}

const MAX_DEPTH = 64;
const MAX_WALK = 1_000_000;
const MAX_SYMLINK_HOPS = 16;
const MAX_CACHED_DIRS = 4096;

export class IsoImage {
  /** Problems that did not stop us (a damaged UDF side on a disc whose ISO side is fine). */
  readonly warnings: string[] = [];
  private readonly cache = new Map<string, RawEntry[]>();
  private rootEntry?: RawEntry;

  private constructor(
    private readonly src: RandomAccess & { close?(): Promise<void> },
    readonly volumeId: string,
    readonly tree: TreeKind,
    private readonly reader: Tree,
    readonly hasJoliet: boolean,
    readonly hasRockRidge: boolean,
    readonly hasUdf: boolean,
    readonly boot: BootInfo,
  ) {}

  /** Opens an ISO file on disk; the image keeps the file open until close(). */
  static async open(path: string, opts: IsoOpenOptions = {}): Promise<IsoImage> {
    const src = await DiskFileSource.open(path);
    try {
      return await IsoImage.fromSource(src, opts);
    } catch (e) {
      await src.close();
      throw e;
    }
  }

  /** Reads an image from any random-access source (closed by close() when it has close()). */
  static async fromSource(src: RandomAccess & { close?(): Promise<void> }, opts: IsoOpenOptions = {}): Promise<IsoImage> {
    const vds = await readVolumeDescriptors(src);
    // A download or copy that stopped early still has a valid start: its volume says how big it should be.
    const volumeBytes = vds.primary ? vds.primary.blocks * vds.primary.blockSize : 0;
    if (volumeBytes > src.size) {
      const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
      throw new IsoError(
        'truncated',
        `the image is cut short: its volume is ${mb(volumeBytes)} but the file holds ${mb(src.size)} (${Math.round((100 * src.size) / volumeBytes)}%). The download or copy stopped early: download it again and compare its SHA-256 with the publisher's`,
      );
    }
    const warnings: string[] = [];
    let udf: UdfTree | undefined;
    try {
      udf = await UdfTree.open(src);
    } catch (e) {
      if (!(e instanceof IsoError) || !vds.primary || opts.tree === 'udf') throw e;
      warnings.push(`UDF ignored: ${e.message}`);
    }
    if (!vds.primary && !udf) {
      throw new IsoError('not-iso', vds.udfRecognised ? 'not an ISO 9660/UDF image: UDF recognised but no anchor at sector 256' : 'not an ISO 9660/UDF image: no primary volume descriptor');
    }
    const primary = vds.primary ? await Iso9660Tree.primary(src, vds.primary) : undefined;
    const joliet = vds.joliet ? Iso9660Tree.joliet(src, vds.joliet) : undefined;
    const hasRockRidge = primary?.kind === 'rockridge';
    const candidates: Tree[] = [];
    if (udf) candidates.push(udf);
    if (primary && hasRockRidge) candidates.push(primary);
    if (joliet) candidates.push(joliet);
    if (primary && !hasRockRidge) candidates.push(primary);
    let chosen: Tree | undefined;
    if (opts.tree) {
      chosen = candidates.find((c) => c.kind === opts.tree);
      if (!chosen) throw new IsoError('not-found', `the image has no ${opts.tree} tree`);
    } else {
      chosen = candidates[0];
      // Prefer UDF only when it has files: some hybrids carry an empty UDF stub.
      if (chosen === udf && candidates.length > 1) {
        try {
          const root = await udf.root();
          if ((await udf.readDir(root)).length === 0) chosen = candidates[1];
        } catch (e) {
          if (!(e instanceof IsoError)) throw e;
          warnings.push(`UDF ignored: ${e.message}`);
          chosen = candidates[1];
        }
      }
    }
    let boot: BootInfo = { entries: [] };
    if (vds.bootCatalog !== undefined) {
      try {
        boot = await readBootCatalog(src, vds.bootCatalog);
      } catch (e) {
        if (!(e instanceof IsoError)) throw e;
        warnings.push(`El Torito ignored: ${e.message}`);
      }
    }
    const volumeId = vds.primary?.volumeId || udf?.volumeId || vds.joliet?.volumeId || '';
    const img = new IsoImage(src, volumeId, chosen.kind, chosen, !!joliet, hasRockRidge, !!udf, boot);
    img.warnings.push(...warnings);
    return img;
  }

  async close(): Promise<void> {
    this.cache.clear();
    await this.src.close?.();
  }

  /** Entries of a directory; IsoError 'not-found' / 'not-a-directory'. */
  async list(dirPath = ''): Promise<Entry[]> {
    const found = await this.resolve(dirPath, true);
    if (!found) throw new IsoError('not-found', `no such directory in the image: /${clean(dirPath)}`);
    if (found.raw.type !== 'directory') throw new IsoError('not-a-directory', `not a directory in the image: /${found.path}`);
    return (await this.children(found.raw)).map((r) => toEntry(r, join(found.path, r.name)));
  }

  /** The entry at `path` (exact name first, then case-insensitive), or undefined. Symlinks are not followed. */
  async stat(path: string): Promise<Entry | undefined> {
    const found = await this.resolve(path, false);
    return found && toEntry(found.raw, found.path);
  }

  /** A ByteSource over a file's bytes (symlinks inside the image are followed). */
  async openFile(path: string): Promise<ByteSource> {
    const found = await this.resolve(path, true);
    if (!found) throw new IsoError('not-found', `no such file in the image: /${clean(path)}`);
    if (found.raw.type !== 'file') throw new IsoError('not-a-file', `not a file in the image: /${found.path} (${found.raw.type})`);
    return this.sourceOver(found.raw.extents, found.raw.size, `/${found.path}`);
  }

  /** The El Torito boot image (UEFI: the ESP image, sized from its FAT boot sector) as bytes. */
  async openBootImage(which: 'bios' | 'uefi'): Promise<ByteSource> {
    const b: BootImage | undefined = this.boot[which];
    if (!b) throw new IsoError('not-found', `the image has no ${which === 'bios' ? 'BIOS' : 'UEFI'} El Torito boot entry`);
    return this.sourceOver([{ kind: 'image', pos: b.loadRba * SECTOR, length: b.size }], b.size, `${which} boot image`);
  }

  /** Every entry, depth first, parents before children. Directory cycles are skipped, depth and count bounded. */
  async *walk(dirPath = ''): AsyncGenerator<Entry> {
    const start = await this.resolve(dirPath, true);
    if (!start || start.raw.type !== 'directory') throw new IsoError('not-a-directory', `not a directory in the image: /${clean(dirPath)}`);
    const seen = new Set<string>([start.raw.key]);
    const stack: Array<{ raw: RawEntry; path: string; depth: number }> = [{ raw: start.raw, path: start.path, depth: 0 }];
    let count = 0;
    while (stack.length) {
      const { raw, path, depth } = stack.pop()!;
      const kids = await this.children(raw);
      const dirs: Array<{ raw: RawEntry; path: string; depth: number }> = [];
      for (const k of kids) {
        if (++count > MAX_WALK) throw new IsoError('limit', `limit: more than ${MAX_WALK} entries in the image`);
        const p = join(path, k.name);
        yield toEntry(k, p);
        if (k.type === 'directory' && !seen.has(k.key)) {
          if (depth + 1 > MAX_DEPTH) throw new IsoError('limit', `limit: directories nested deeper than ${MAX_DEPTH} at /${p}`);
          seen.add(k.key);
          dirs.push({ raw: k, path: p, depth: depth + 1 });
        }
      }
      stack.push(...dirs.reverse());
    }
  }

  private sourceOver(extents: readonly Extent[], size: number, what: string): ByteSource {
    for (const e of extents) if (e.kind === 'image') checkRange(this.src, e.pos, e.length, `data of ${what}`);
    const src = this.src;
    return {
      size,
      read: (buf, offset, length, position) => {
        if (position >= size || length <= 0) return Promise.resolve(0);
        return readExtents(src, extents, buf, offset, Math.min(length, size - position), position);
      },
      stream: (start: number, end: number): Readable => streamExtents(src, extents, start, Math.min(end, size - 1)),
      close: async () => {},
    };
  }

  private async root(): Promise<RawEntry> {
    return (this.rootEntry ??= await this.reader.root());
  }

  private async children(dir: RawEntry): Promise<RawEntry[]> {
    const hit = this.cache.get(dir.key);
    if (hit) return hit;
    const kids = await this.reader.readDir(dir);
    if (this.cache.size >= MAX_CACHED_DIRS) this.cache.clear();
    this.cache.set(dir.key, kids);
    return kids;
  }

  /** Walks path components; `follow` resolves a final symlink too (intermediate ones always). */
  private async resolve(path: string, follow: boolean): Promise<{ raw: RawEntry; path: string } | undefined> {
    const todo = clean(path).split('/').filter((s) => s !== '' && s !== '.');
    const stack: Array<{ raw: RawEntry; path: string }> = [{ raw: await this.root(), path: '' }];
    let hops = 0;
    while (todo.length) {
      const seg = todo.shift()!;
      const cur = stack[stack.length - 1];
      if (seg === '..') {
        if (stack.length > 1) stack.pop();
        continue;
      }
      if (cur.raw.type !== 'directory') return undefined;
      const kids = await this.children(cur.raw);
      const lower = seg.toLowerCase();
      const kid = kids.find((k) => k.name === seg) ?? kids.find((k) => k.name.toLowerCase() === lower);
      if (!kid) return undefined;
      if (kid.type === 'symlink' && (todo.length > 0 || follow)) {
        if (++hops > MAX_SYMLINK_HOPS) throw new IsoError('limit', `limit: more than ${MAX_SYMLINK_HOPS} symlinks resolving /${clean(path)}`);
        const target = kid.target ?? '';
        if (target.startsWith('/')) stack.splice(1);
        todo.unshift(...target.split('/').filter((s) => s !== '' && s !== '.'));
        continue;
      }
      stack.push({ raw: kid, path: join(cur.path, kid.name) });
    }
    return stack[stack.length - 1];
  }
}

function clean(p: string): string {
  return p.replace(/\\/g, '/').replace(/^\/+|\/+$/g, '');
}

function join(dir: string, name: string): string {
  return dir ? `${dir}/${name}` : name;
}

function toEntry(r: RawEntry, path: string): Entry {
  const e: { -readonly [K in keyof Entry]: Entry[K] } = { name: r.name, path, type: r.type, size: r.size, extents: r.extents };
  if (r.mtime) e.mtime = r.mtime;
  if (r.target !== undefined) e.target = r.target;
  if (r.hidden) e.hidden = true;
  return e;
}
