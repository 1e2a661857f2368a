// Netboot archives (Debian's netboot.tar.gz, rescue tools shipped as .zip) taken as an image: the
// archive is unpacked once into <dataDir>/netboot/<first 16 hex of its sha256>/ and that folder is
// served. Why it is built this way:
// - Identified by content, never by name: a gzip stream whose first block is a ustar header, a ustar
//   header, or a zip's first signature. A gzip that holds anything else (initrd.gz, a cpio) is no
//   archive here: it is a file to serve as it is.
// - The sha256 of the archive (streamed, never read whole) is its identity: the same archive renamed
//   or copied is reused, a changed one gets a new folder. The first 16 hex digits name the folder; the
//   full hash is kept in <sha16>.json next to it (with what was skipped) and checked on reuse.
// - Unpacked into a temporary sibling (.<sha16>.partial-<pid>-<random>) that is renamed into place
//   only when complete, so an interrupted unpack never looks complete; on any error that temporary
//   folder (and only it) is removed. A folder left by a process that no longer runs is swept.
// - Own readers, no dependency: tar (ustar, GNU long names, pax path/linkpath/size) over zlib's
//   gunzip, and zip (central directory, zip64, stored/deflate with CRC check). They are short, and
//   every path and link decision is made here, not by a library default.
// - Safety: no entry writes outside the tree. Absolute names, drive letters and names that climb out
//   (../x) are skipped and listed; zip backslashes are read as folder separators. Nothing is written
//   through a symlink: every parent of a path is lstat'ed (and must be a real folder made by the
//   unpack) and files are opened O_EXCL|O_NOFOLLOW after removing whatever the archive put there
//   before. Symlinks are kept only when they resolve inside the tree, checked once all are made by
//   following every link component by component as the OS would (a link to "." followed by ".." is
//   caught, chains too); links out, loops and links through removed links are skipped and listed.
//   Hard links inside the tree are copied. Devices and fifos are skipped. Files are written 0644,
//   folders 0755, whatever the archive says (no setuid, no world-writable).
// - Limits count what is actually written (a zip bomb stops at the limit, whatever its headers claim),
//   and every entry counts toward maxFiles (skipped ones too: a list of a million skipped devices
//   costs memory as well).
import { createHash, randomBytes } from 'node:crypto';
import { constants as fsc, createReadStream } from 'node:fs';
import { copyFile, lstat, mkdir, open, readFile, readdir, readlink, rename, rm, stat, statfs, symlink, chmod } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { createGunzip, createInflateRaw, crc32 } from 'node:zlib';
import { writeFileAtomic } from '../util/durable-file.js';

export type ArchiveFormat = 'tar' | 'tar.gz' | 'zip';

export type ArchiveErrorReason = 'not-archive' | 'damaged' | 'too-many-files' | 'too-big' | 'no-space' | 'changed' | 'io';

/** Why an archive could not be unpacked, in plain words; `reason` for programs. */
export class ArchiveError extends Error {
  constructor(
    message: string,
    readonly reason: ArchiveErrorReason,
  ) {
    super(message);
    this.name = 'ArchiveError';
  }
}

export interface UnpackedArchive {
  /** The folder holding the archive's tree: <dataDir>/netboot/<first 16 hex of the archive's sha256>/ */
  dir: string;
  sha256: string;
  format: ArchiveFormat;
  /** Regular files written (hard links copied count as files). */
  files: number;
  /** Bytes written. */
  bytes: number;
  /** Entries not unpacked, with why in plain words. */
  skipped: { path: string; why: string }[];
  /** true when an earlier unpack of the same content was reused. */
  reused: boolean;
}

export interface UnpackLimits {
  /** Entries of any kind (files, folders, links, skipped ones); default 200 000. */
  maxFiles?: number;
  /** Bytes written; default 32 GiB. */
  maxBytes?: number;
}

export const DEFAULT_MAX_FILES = 200_000;
export const DEFAULT_MAX_BYTES = 32 * 1024 ** 3;

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const ZIP_LOCAL = Buffer.from('PK\x03\x04', 'latin1');
const ZIP_EMPTY = Buffer.from('PK\x05\x06', 'latin1');
const MAX_META = 1024 * 1024; // a GNU long name or a pax header larger than this is damage, not a name

function isUstar(block: Buffer): boolean {
  return block.length >= 263 && block.toString('latin1', 257, 262) === 'ustar';
}

/** By content (gzip magic then a ustar header inside, ustar at 257, PK\x03\x04 / PK\x05\x06), not by name; undefined when not an archive. */
export async function archiveFormat(path: string): Promise<ArchiveFormat | undefined> {
  let head: Buffer;
  const fh = await open(path, 'r');
  try {
    if (!(await fh.stat()).isFile()) return undefined;
    const buf = Buffer.alloc(512);
    const { bytesRead } = await fh.read(buf, 0, 512, 0);
    head = buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
  if (head.length >= 4 && (head.subarray(0, 4).equals(ZIP_LOCAL) || head.subarray(0, 4).equals(ZIP_EMPTY))) return 'zip';
  if (isUstar(head)) return 'tar';
  if (head.length >= 2 && head.subarray(0, 2).equals(GZIP_MAGIC)) {
    const inner = await gunzipHead(path, 512);
    if (inner && isUstar(inner)) return 'tar.gz';
  }
  return undefined;
}

/** The first `n` bytes of a gzip file's content, or undefined when it is not gzip. */
async function gunzipHead(path: string, n: number): Promise<Buffer | undefined> {
  const src = createReadStream(path);
  const gz = createGunzip();
  src.on('error', (e) => gz.destroy(e));
  const parts: Buffer[] = [];
  let got = 0;
  try {
    for await (const chunk of src.pipe(gz)) {
      parts.push(chunk as Buffer);
      got += (chunk as Buffer).length;
      if (got >= n) break;
    }
  } catch {
    // Damaged or not gzip: whatever came out is judged below.
  } finally {
    src.destroy();
    gz.destroy();
  }
  return got > 0 ? Buffer.concat(parts).subarray(0, n) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Paths

type Checked = { ok: true; parts: string[] } | { ok: false; why: string };

/** An entry's name as components inside the tree, or why it may not be written. */
export function entryPath(name: string, zip: boolean): Checked {
  if (name.includes('\0')) return { ok: false, why: 'a name with a NUL byte' };
  let n = zip ? name.replace(/\\/g, '/') : name;
  if (/^[A-Za-z]:/.test(n)) return { ok: false, why: 'absolute path (a drive letter)' };
  if (n.startsWith('/')) return { ok: false, why: 'absolute path' };
  n = n.replace(/\/+$/, '');
  const parts: string[] = [];
  for (const c of n.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (parts.length === 0) return { ok: false, why: `leaves the archive (${name})` };
      parts.pop();
      continue;
    }
    parts.push(c);
  }
  return { ok: true, parts };
}

// ---------------------------------------------------------------------------------------------
// The writer shared by the tar and zip readers: every safety rule and limit lives here.

interface Limits {
  maxFiles: number;
  maxBytes: number;
}

const fmtBytes = (n: number): string =>
  n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(1)} GiB` : n >= 1024 ** 2 ? `${(n / 1024 ** 2).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} bytes`;

function ioError(e: unknown, what: string): Error {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EFBIG')
    return new ArchiveError(`no space left to unpack the archive (${what}): free some space on the disk holding the data dir, or use another data dir`, 'no-space');
  if (e instanceof ArchiveError) return e;
  return new ArchiveError(`could not write ${what}: ${(e as Error)?.message ?? String(e)}`, 'io');
}

class TreeWriter {
  files = 0;
  bytes = 0;
  entries = 0;
  skipped: { path: string; why: string }[] = [];
  private links: { parts: string[]; target: string; name: string }[] = [];

  constructor(
    readonly root: string,
    readonly limits: Limits,
  ) {}

  /** Counts one entry of any kind against maxFiles. */
  count(): void {
    this.entries++;
    if (this.entries > this.limits.maxFiles)
      throw new ArchiveError(`too many files: the archive holds more than ${this.limits.maxFiles} entries, the limit for one archive`, 'too-many-files');
  }

  skip(path: string, why: string): void {
    this.skipped.push({ path, why });
  }

  /** Claims `n` more bytes to be written; throws when that passes maxBytes. */
  claim(n: number): void {
    if (this.bytes + n > this.limits.maxBytes)
      throw new ArchiveError(`too big: unpacking writes more than ${fmtBytes(this.limits.maxBytes)}, the limit for one archive`, 'too-big');
    this.bytes += n;
  }

  /**
   * Makes sure every parent of `parts` is a real folder inside the tree (created 0755 when missing):
   * lstat on each, so nothing is ever written through a symlink. Returns why not, or undefined.
   */
  private async parents(parts: string[]): Promise<string | undefined> {
    let p = this.root;
    for (let i = 0; i < parts.length - 1; i++) {
      p = join(p, parts[i]);
      const st = await lstat(p).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return undefined;
        throw e;
      });
      if (!st) {
        await mkdir(p, { mode: 0o755 });
        await chmod(p, 0o755);
      } else if (st.isSymbolicLink()) {
        return `written through a symlink (${parts.slice(0, i + 1).join('/')})`;
      } else if (!st.isDirectory()) {
        return `inside ${parts.slice(0, i + 1).join('/')}, which is not a folder`;
      }
    }
    return undefined;
  }

  /** Removes whatever the archive put at this path before (a later entry wins, as with tar), except a folder. */
  private async clear(path: string): Promise<'clear' | 'folder'> {
    const st = await lstat(path).catch(() => undefined);
    if (!st) return 'clear';
    if (st.isDirectory()) return 'folder';
    await rm(path, { force: true });
    return 'clear';
  }

  async dir(name: string, parts: string[]): Promise<void> {
    if (parts.length === 0) return;
    const why = await this.parents(parts);
    if (why) return this.skip(name, why);
    const p = join(this.root, ...parts);
    if ((await this.clear(p)) === 'folder') return;
    await mkdir(p, { mode: 0o755 });
    await chmod(p, 0o755);
  }

  /** Opens a new regular file for writing, or returns why not (then the data is skipped by the caller). */
  async openFile(parts: string[]): Promise<FileHandle | string> {
    if (parts.length === 0) return 'no name';
    const why = await this.parents(parts);
    if (why) return why;
    const p = join(this.root, ...parts);
    if ((await this.clear(p)) === 'folder') return 'a file named like a folder made before it';
    const fh = await open(p, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o644);
    await fh.chmod(0o644);
    this.files++;
    return fh;
  }

  async write(fh: FileHandle, chunk: Buffer): Promise<void> {
    this.claim(chunk.length);
    let off = 0;
    while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
  }

  /** A hard link: copied from a regular file already unpacked, reached without any symlink. */
  async hardlink(name: string, parts: string[], target: string, zip: boolean): Promise<void> {
    const t = entryPath(target, zip);
    if (!t.ok || t.parts.length === 0) return this.skip(name, `a hard link out of the tree (-> ${target})`);
    let p = this.root;
    for (let i = 0; i < t.parts.length; i++) {
      p = join(p, t.parts[i]);
      const st = await lstat(p).catch(() => undefined);
      const last = i === t.parts.length - 1;
      if (!st || st.isSymbolicLink() || (last ? !st.isFile() : !st.isDirectory()))
        return this.skip(name, `a hard link to something not unpacked (-> ${target})`);
    }
    const why = await this.parents(parts);
    if (why) return this.skip(name, why);
    const dest = join(this.root, ...parts);
    if (dest === p) return;
    if ((await this.clear(dest)) === 'folder') return this.skip(name, 'a file named like a folder made before it');
    const size = (await stat(p)).size;
    this.claim(size);
    await copyFile(p, dest, fsc.COPYFILE_EXCL);
    await chmod(dest, 0o644);
    this.files++;
  }

  /** A symlink: made now if its target stays inside by its own words; checked again in finish(). */
  async symlink(name: string, parts: string[], target: string): Promise<void> {
    if (parts.length === 0) return this.skip(name, 'no name');
    if (target === '' || target.includes('\0')) return this.skip(name, 'a symlink to nothing');
    if (target.startsWith('/') || /^[A-Za-z]:/.test(target)) return this.skip(name, `a symlink out of the tree (-> ${target})`);
    const lexical = posix.normalize(posix.join(parts.slice(0, -1).join('/') || '.', target));
    if (lexical === '..' || lexical.startsWith('../')) return this.skip(name, `a symlink out of the tree (-> ${target})`);
    const why = await this.parents(parts);
    if (why) return this.skip(name, why);
    const p = join(this.root, ...parts);
    if ((await this.clear(p)) === 'folder') return this.skip(name, 'a symlink named like a folder made before it');
    await symlink(target, p);
    this.links.push({ parts, target, name });
  }

  /**
   * Follows `parts` inside the tree as the OS would, every symlink resolved with the tree as the
   * whole world: 'out' when any step leaves it, 'loop' after 40 links, else 'in' (also when the
   * end does not exist: a dangling link inside is harmless).
   */
  private async resolve(parts: string[]): Promise<'in' | 'out' | 'loop'> {
    const todo = [...parts];
    const at: string[] = [];
    let hops = 0;
    while (todo.length > 0) {
      const c = todo.shift() as string;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        if (at.length === 0) return 'out';
        at.pop();
        continue;
      }
      const p = join(this.root, ...at, c);
      const st = await lstat(p).catch(() => undefined);
      if (st?.isSymbolicLink()) {
        if (++hops > 40) return 'loop';
        const t = await readlink(p);
        if (t.startsWith('/')) return 'out';
        todo.unshift(...t.split('/'));
        continue;
      }
      at.push(c);
    }
    return 'in';
  }

  /** Removes every symlink that does not resolve inside the tree, until none is left. */
  async finish(): Promise<void> {
    let kept = this.links;
    for (let changed = true; changed; ) {
      changed = false;
      const next: typeof kept = [];
      for (const l of kept) {
        const r = await this.resolve(l.parts);
        if (r === 'in') {
          next.push(l);
          continue;
        }
        await rm(join(this.root, ...l.parts), { force: true });
        this.skip(l.name, r === 'loop' ? `a symlink loop (-> ${l.target})` : `a symlink out of the tree (-> ${l.target})`);
        changed = true;
      }
      kept = next;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// tar

/** Reads exact byte counts from a stream of chunks. */
class ChunkReader {
  private chunks: Buffer[] = [];
  private have = 0;
  private done = false;
  constructor(private readonly it: AsyncIterator<Buffer>) {}

  private async fill(n: number): Promise<void> {
    while (this.have < n && !this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else if (r.value.length > 0) {
        this.chunks.push(r.value);
        this.have += r.value.length;
      }
    }
  }

  /** Exactly n bytes, or fewer only at the end of the stream. */
  async read(n: number): Promise<Buffer> {
    await this.fill(n);
    const take = Math.min(n, this.have);
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const out = all.subarray(0, take);
    const rest = all.subarray(take);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.have = rest.length;
    return out;
  }

  /** Up to `max` bytes (at least 1 unless the stream ended), without gathering more than one chunk. */
  async some(max: number): Promise<Buffer> {
    await this.fill(1);
    if (this.have === 0) return Buffer.alloc(0);
    const first = this.chunks[0];
    const take = Math.min(max, first.length);
    const out = first.subarray(0, take);
    if (take === first.length) this.chunks.shift();
    else this.chunks[0] = first.subarray(take);
    this.have -= take;
    return out;
  }
}

function tarNumber(field: Buffer): number {
  if (field[0] & 0x80) {
    // base-256 (GNU, for sizes of 8 GiB and more)
    let v = 0;
    for (let i = 1; i < field.length; i++) v = v * 256 + field[i];
    return v;
  }
  const s = field.toString('latin1').replace(/\0.*$/s, '').trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) return NaN;
  return parseInt(s, 8);
}

function tarString(b: Buffer): string {
  const z = b.indexOf(0);
  return b.toString('utf8', 0, z < 0 ? b.length : z);
}

function tarChecksumOk(h: Buffer): boolean {
  const want = tarNumber(h.subarray(148, 156));
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : h[i];
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return want === unsigned || want === signed;
}

function parsePax(data: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let off = 0;
  while (off < data.length) {
    const sp = data.indexOf(0x20, off);
    if (sp < 0) break;
    const len = parseInt(data.toString('latin1', off, sp), 10);
    if (!(len > 0) || off + len > data.length) throw new ArchiveError('damaged archive: a pax header cannot be read', 'damaged');
    const rec = data.toString('utf8', sp + 1, off + len - 1);
    const eq = rec.indexOf('=');
    if (eq > 0) out.set(rec.slice(0, eq), rec.slice(eq + 1));
    off += len;
  }
  return out;
}

const damaged = (what: string): ArchiveError => new ArchiveError(`damaged archive: ${what}; the download may be incomplete, fetch it again`, 'damaged');

async function unpackTar(path: string, gz: boolean, w: TreeWriter, progress: (n: number) => void): Promise<void> {
  const src = createReadStream(path, { highWaterMark: 1024 * 1024 });
  let stream: AsyncIterable<Buffer>;
  if (gz) {
    const g = createGunzip();
    src.on('data', (c) => progress(c.length));
    src.on('error', (e) => g.destroy(e));
    stream = src.pipe(g);
  } else {
    stream = (async function* () {
      for await (const c of src) {
        progress((c as Buffer).length);
        yield c as Buffer;
      }
    })();
  }
  const r = new ChunkReader(stream[Symbol.asyncIterator]());
  const readData = async (size: number, what: string): Promise<Buffer> => {
    if (size > MAX_META) throw damaged(`${what} of ${fmtBytes(size)}`);
    const d = await r.read(size);
    if (d.length < size) throw damaged(`it ends inside ${what}`);
    await r.read((512 - (size % 512)) % 512);
    return d;
  };
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax = new Map<string, string>();
  try {
    let sawHeader = false;
    while (true) {
      const h = await r.read(512);
      if (h.length === 0) {
        if (!sawHeader) throw damaged('it is empty');
        break; // some writers omit the two zero blocks
      }
      if (h.length < 512) throw damaged('it ends inside a header');
      if (h.every((b) => b === 0)) break;
      if (!tarChecksumOk(h)) throw damaged(sawHeader ? 'a header has a wrong checksum' : 'its first header has a wrong checksum');
      sawHeader = true;
      const type = String.fromCharCode(h[156] || 0x30);
      let size = tarNumber(h.subarray(124, 136));
      if (!Number.isFinite(size) || size < 0) throw damaged('a header has an unreadable size');
      if (type === 'L') {
        longName = tarString(await readData(size, 'a long name'));
        continue;
      }
      if (type === 'K') {
        longLink = tarString(await readData(size, 'a long link name'));
        continue;
      }
      if (type === 'x') {
        pax = parsePax(await readData(size, 'a pax header'));
        continue;
      }
      if (type === 'g') {
        await readData(size, 'a pax header');
        continue;
      }
      let name = tarString(h.subarray(0, 100));
      let link = tarString(h.subarray(157, 257));
      if (h.toString('latin1', 257, 263) === 'ustar\0') {
        const prefix = tarString(h.subarray(345, 500));
        if (prefix) name = `${prefix}/${name}`;
      }
      if (longName !== undefined) name = longName;
      if (longLink !== undefined) link = longLink;
      if (pax.has('path')) name = pax.get('path') as string;
      if (pax.has('linkpath')) link = pax.get('linkpath') as string;
      if (pax.has('size')) size = Number(pax.get('size'));
      if (!Number.isFinite(size) || size < 0) throw damaged('a pax header has an unreadable size');
      longName = longLink = undefined;
      pax = new Map();

      w.count();
      const hasData = type === '0' || type === '7' || type === 'S' || !'123456'.includes(type);
      const dataSize = hasData ? size : 0;
      const p = entryPath(name, false);
      let fh: FileHandle | string | undefined;
      if (!p.ok) fh = p.why;
      else if ((type === '0' || type === '7') && name.endsWith('/') && size === 0) await w.dir(name, p.parts);
      else if (type === '0' || type === '7') {
        if (w.bytes + size > w.limits.maxBytes) w.claim(size); // throws: fail early on the header's claim
        fh = await w.openFile(p.parts);
      } else if (type === '5') await w.dir(name, p.parts);
      else if (type === '2') await w.symlink(name, p.parts, link);
      else if (type === '1') await w.hardlink(name, p.parts, link, false);
      else if (type === '3' || type === '4') fh = 'a device file';
      else if (type === '6') fh = 'a fifo';
      else if (type === 'S') fh = 'a sparse file, which PXE Kit does not unpack';
      else fh = `an entry of unknown type "${type}"`;

      if (typeof fh === 'string') w.skip(name, fh);
      let left = dataSize;
      try {
        while (left > 0) {
          const c = await r.some(Math.min(left, 1024 * 1024));
          if (c.length === 0) throw damaged(`it ends inside ${name}`);
          left -= c.length;
          if (fh && typeof fh !== 'string') await w.write(fh, c);
        }
      } finally {
        if (fh && typeof fh !== 'string') await fh.close();
      }
      const pad = (512 - (dataSize % 512)) % 512;
      if ((await r.read(pad)).length < pad) throw damaged(`it ends after ${name}`);
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException)?.code;
    if (typeof code === 'string' && code.startsWith('Z_')) throw damaged(`the gzip stream is broken (${(e as Error).message})`);
    throw e;
  } finally {
    src.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// zip

interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  crc: number;
  compSize: number;
  size: number;
  offset: number;
  unixMode: number;
}

async function readAt(fh: FileHandle, pos: number, len: number): Promise<Buffer> {
  const b = Buffer.alloc(len);
  let got = 0;
  while (got < len) {
    const { bytesRead } = await fh.read(b, got, len - got, pos + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return b.subarray(0, got);
}

async function zipDirectory(fh: FileHandle, fileSize: number, maxFiles: number): Promise<ZipEntry[]> {
  const tailLen = Math.min(fileSize, 65557);
  const tail = await readAt(fh, fileSize - tailLen, tailLen);
  let e = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === 0x06054b50) {
      e = i;
      break;
    }
  }
  if (e < 0) throw damaged('the zip directory at its end is missing (a truncated download?)');
  let count = tail.readUInt16LE(e + 10);
  let cdSize = tail.readUInt32LE(e + 12);
  let cdOff = tail.readUInt32LE(e + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOff === 0xffffffff) {
    const loc = e - 20;
    if (loc < 0 || tail.readUInt32LE(loc) !== 0x07064b50) throw damaged('the zip64 directory locator is missing');
    const z64off = Number(tail.readBigUInt64LE(loc + 8));
    const z = await readAt(fh, z64off, 56);
    if (z.length < 56 || z.readUInt32LE(0) !== 0x06064b50) throw damaged('the zip64 directory end is missing');
    count = Number(z.readBigUInt64LE(32));
    cdSize = Number(z.readBigUInt64LE(40));
    cdOff = Number(z.readBigUInt64LE(48));
  }
  if (count > maxFiles)
    throw new ArchiveError(`too many files: the archive holds ${count} entries, more than ${maxFiles}, the limit for one archive`, 'too-many-files');
  if (cdOff + cdSize > fileSize) throw damaged('the zip directory points past the end of the file (a truncated download?)');
  const cd = await readAt(fh, cdOff, cdSize);
  const out: ZipEntry[] = [];
  let o = 0;
  for (let i = 0; i < count; i++) {
    if (o + 46 > cd.length || cd.readUInt32LE(o) !== 0x02014b50) throw damaged('the zip directory cannot be read');
    const madeBy = cd.readUInt16LE(o + 4);
    const flags = cd.readUInt16LE(o + 8);
    const method = cd.readUInt16LE(o + 10);
    const crc = cd.readUInt32LE(o + 16);
    let compSize = cd.readUInt32LE(o + 20);
    let size = cd.readUInt32LE(o + 24);
    const nameLen = cd.readUInt16LE(o + 28);
    const extraLen = cd.readUInt16LE(o + 30);
    const commentLen = cd.readUInt16LE(o + 32);
    const ext = cd.readUInt32LE(o + 38);
    let offset = cd.readUInt32LE(o + 42);
    if (o + 46 + nameLen + extraLen + commentLen > cd.length) throw damaged('the zip directory cannot be read');
    const rawName = cd.subarray(o + 46, o + 46 + nameLen);
    const name = rawName.toString(flags & 0x800 ? 'utf8' : 'latin1');
    const extra = cd.subarray(o + 46 + nameLen, o + 46 + nameLen + extraLen);
    for (let x = 0; x + 4 <= extra.length; ) {
      const id = extra.readUInt16LE(x);
      const len = extra.readUInt16LE(x + 2);
      if (id === 0x0001) {
        let y = x + 4;
        const next = (): number => {
          if (y + 8 > x + 4 + len) throw damaged('a zip64 field cannot be read');
          const v = Number(extra.readBigUInt64LE(y));
          y += 8;
          return v;
        };
        if (size === 0xffffffff) size = next();
        if (compSize === 0xffffffff) compSize = next();
        if (offset === 0xffffffff) offset = next();
      }
      x += 4 + len;
    }
    const unixMode = madeBy >> 8 === 3 ? ext >>> 16 : 0;
    out.push({ name, method, flags, crc, compSize, size, offset, unixMode });
    o += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

async function* zipData(path: string, fh: FileHandle, en: ZipEntry, fileSize: number): AsyncGenerator<{ out: Buffer; read: number }> {
  const lh = await readAt(fh, en.offset, 30);
  if (lh.length < 30 || lh.readUInt32LE(0) !== 0x04034b50) throw damaged(`the entry ${en.name} cannot be found where the zip directory says`);
  const start = en.offset + 30 + lh.readUInt16LE(26) + lh.readUInt16LE(28);
  if (start + en.compSize > fileSize) throw damaged(`${en.name} goes past the end of the file (a truncated download?)`);
  if (en.compSize === 0) return;
  const src = createReadStream(path, { start, end: start + en.compSize - 1, highWaterMark: 1024 * 1024 });
  if (en.method === 0) {
    try {
      for await (const c of src) yield { out: c as Buffer, read: (c as Buffer).length };
    } finally {
      src.destroy();
    }
    return;
  }
  const inf = createInflateRaw();
  let read = 0;
  src.on('data', (c) => (read += c.length));
  src.on('error', (e) => inf.destroy(e));
  try {
    for await (const c of src.pipe(inf)) {
      const r = read;
      read = 0;
      yield { out: c as Buffer, read: r };
    }
  } catch (e) {
    if (e instanceof ArchiveError) throw e;
    throw damaged(`${en.name} cannot be inflated (${(e as Error).message})`);
  } finally {
    src.destroy();
    inf.destroy();
  }
}

async function unpackZip(path: string, w: TreeWriter, progress: (n: number) => void): Promise<void> {
  const fh = await open(path, 'r');
  try {
    const fileSize = (await fh.stat()).size;
    const entries = await zipDirectory(fh, fileSize, w.limits.maxFiles);
    const declared = entries.reduce((s, e) => s + e.size, 0);
    if (declared > w.limits.maxBytes)
      throw new ArchiveError(`too big: the archive unpacks to ${fmtBytes(declared)}, more than ${fmtBytes(w.limits.maxBytes)}, the limit for one archive`, 'too-big');
    await enoughSpace(w.root, declared);
    for (const en of entries) {
      w.count();
      const p = entryPath(en.name, true);
      if (!p.ok) {
        w.skip(en.name, p.why);
        continue;
      }
      const type = en.unixMode & 0o170000;
      const isDir = en.name.endsWith('/') || en.name.endsWith('\\') || type === 0o040000;
      if (isDir) {
        await w.dir(en.name, p.parts);
        continue;
      }
      if (type !== 0 && type !== 0o100000 && type !== 0o120000) {
        w.skip(en.name, type === 0o010000 ? 'a fifo' : type === 0o020000 || type === 0o060000 ? 'a device file' : 'a special file');
        continue;
      }
      if (en.flags & 1) {
        w.skip(en.name, 'an encrypted file');
        continue;
      }
      if (en.method !== 0 && en.method !== 8) {
        w.skip(en.name, `compressed with method ${en.method}, which PXE Kit cannot unpack (only stored and deflate)`);
        continue;
      }
      if (type === 0o120000) {
        if (en.size > 4096) throw damaged(`the symlink ${en.name} is ${fmtBytes(en.size)} long`);
        const parts: Buffer[] = [];
        let n = 0;
        for await (const { out, read } of zipData(path, fh, en, fileSize)) {
          progress(read);
          n += out.length;
          if (n > 4096) throw damaged(`the symlink ${en.name} is longer than it says`);
          parts.push(out);
        }
        const t = Buffer.concat(parts);
        if (crc32(t) >>> 0 !== en.crc) throw damaged(`the symlink ${en.name} has a wrong checksum`);
        await w.symlink(en.name, p.parts, t.toString('utf8'));
        continue;
      }
      const out = await w.openFile(p.parts);
      if (typeof out === 'string') {
        w.skip(en.name, out);
        continue;
      }
      let crc = 0;
      let n = 0;
      try {
        for await (const { out: c, read } of zipData(path, fh, en, fileSize)) {
          progress(read);
          await w.write(out, c);
          n += c.length;
          if (n > en.size) throw damaged(`${en.name} inflates past its declared size`);
          crc = crc32(c, crc);
        }
      } finally {
        await out.close();
      }
      if (n !== en.size) throw damaged(`${en.name} is shorter than its declared size`);
      if (crc >>> 0 !== en.crc) throw damaged(`${en.name} has a wrong checksum`);
    }
  } finally {
    await fh.close();
  }
}

async function enoughSpace(dir: string, need: number): Promise<void> {
  const s = await statfs(dir).catch(() => undefined);
  if (!s) return;
  const free = Number(s.bavail) * Number(s.bsize);
  if (need > free)
    throw new ArchiveError(
      `no space left to unpack the archive: it needs ${fmtBytes(need)}, ${fmtBytes(free)} is free on the disk holding the data dir; free some space or use another data dir`,
      'no-space',
    );
}

// ---------------------------------------------------------------------------------------------
// The whole job

async function sha256Of(path: string, progress: (n: number) => void): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    h.update(c as Buffer);
    progress((c as Buffer).length);
  }
  return h.digest('hex');
}

interface Manifest {
  sha256: string;
  format: ArchiveFormat;
  files: number;
  bytes: number;
  skipped: { path: string; why: string }[];
}

async function readManifest(path: string): Promise<Manifest | undefined> {
  try {
    const m = JSON.parse(await readFile(path, 'utf8')) as Manifest;
    return typeof m.sha256 === 'string' && Array.isArray(m.skipped) ? m : undefined;
  } catch {
    return undefined;
  }
}

async function countTree(dir: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    files++;
    bytes += (await lstat(join(e.parentPath ?? e.path, e.name))).size;
  }
  return { files, bytes };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes temporary folders of this content left by processes that no longer run. */
async function sweepStale(netboot: string, sha16: string): Promise<void> {
  const prefix = `.${sha16}.partial-`;
  for (const n of await readdir(netboot).catch(() => [] as string[])) {
    if (!n.startsWith(prefix)) continue;
    const pid = Number(n.slice(prefix.length).split('-')[0]);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !pidAlive(pid)) await rm(join(netboot, n), { recursive: true, force: true });
  }
}

async function isDir(p: string): Promise<boolean> {
  return (await lstat(p).catch(() => undefined))?.isDirectory() ?? false;
}

/**
 * Unpacks into the data dir (to a temporary sibling folder then renamed, so an interrupted unpack
 * never looks complete); the same content is unpacked once. Throws ArchiveError (damaged archive,
 * too many files, too big for the limits, no space) and leaves nothing half-written.
 * onProgress covers the whole job: reading the archive to hash it, then reading it again to unpack
 * it, so `total` is twice its size (a reused archive jumps to the end after the hash).
 */
export async function unpackArchive(
  path: string,
  dataDir: string,
  limits: UnpackLimits = {},
  onProgress?: (bytesRead: number, total: number) => void,
): Promise<UnpackedArchive> {
  const lim: Limits = { maxFiles: limits.maxFiles ?? DEFAULT_MAX_FILES, maxBytes: limits.maxBytes ?? DEFAULT_MAX_BYTES };
  const before = await stat(path);
  if (!before.isFile()) throw new ArchiveError(`${path} is not a file`, 'not-archive');
  const format = await archiveFormat(path);
  if (!format) throw new ArchiveError(`${path} is not an archive PXE Kit can unpack (a .tar, .tar.gz/.tgz or .zip, judged by its content)`, 'not-archive');
  const total = before.size * 2;
  let done = 0;
  const progress = (n: number): void => {
    done += n;
    onProgress?.(Math.min(done, total), total);
  };

  const sha256 = await sha256Of(path, progress);
  const sha16 = sha256.slice(0, 16);
  const netboot = join(dataDir, 'netboot');
  const dir = join(netboot, sha16);
  const manifestPath = join(netboot, `${sha16}.json`);
  await mkdir(netboot, { recursive: true, mode: 0o755 });

  const reuse = async (): Promise<UnpackedArchive | undefined> => {
    if (!(await isDir(dir))) return undefined;
    const m = await readManifest(manifestPath);
    if (m && m.sha256 !== sha256)
      throw new ArchiveError(`${dir} holds another archive whose sha256 starts like this one's (${sha16}); remove it to unpack this one`, 'io');
    const counts = m ?? (await countTree(dir));
    onProgress?.(total, total);
    return { dir, sha256, format, files: counts.files, bytes: counts.bytes, skipped: m?.skipped ?? [], reused: true };
  };
  const earlier = await reuse();
  if (earlier) return earlier;

  await sweepStale(netboot, sha16);
  const tmp = join(netboot, `.${sha16}.partial-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(tmp, { mode: 0o755 });
  try {
    await chmod(tmp, 0o755);
    if (format === 'tar') await enoughSpace(netboot, before.size);
    const w = new TreeWriter(tmp, lim);
    try {
      if (format === 'zip') await unpackZip(path, w, progress);
      else await unpackTar(path, format === 'tar.gz', w, progress);
      await w.finish();
    } catch (e) {
      throw ioError(e, `into ${netboot}`);
    }
    const after = await stat(path);
    if (after.size !== before.size || after.mtimeMs !== before.mtimeMs)
      throw new ArchiveError(`${path} changed while it was unpacked (still being copied or downloaded?); try again when it is complete`, 'changed');
    const manifest: Manifest = { sha256, format, files: w.files, bytes: w.bytes, skipped: w.skipped };
    try {
      writeFileAtomic(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
    } catch (e) {
      throw ioError(e, manifestPath);
    }
    try {
      await rename(tmp, dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // Another unpack of the same content finished first: use its folder.
      if (code === 'ENOTEMPTY' || code === 'EEXIST') {
        await rm(tmp, { recursive: true, force: true });
        const other = await reuse();
        if (other) return other;
      }
      throw ioError(e, dir);
    }
    onProgress?.(total, total);
    return { dir, sha256, format, files: w.files, bytes: w.bytes, skipped: w.skipped, reused: false };
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}
