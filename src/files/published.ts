// The files the engine publishes, and the only files TFTP and HTTP can serve.
// A request names a path in this virtual tree; nothing maps it onto the disk
// by string concatenation, so no request can escape (no "..", no symlinks out).
import { createReadStream, promises as fsp } from 'node:fs';
import { Readable } from 'node:stream';
import type { FileRole } from './roles.js';

/** Random-access bytes: a file on disk, a generated script, or (later) a file inside an ISO. */
export interface ByteSource {
  readonly size: number;
  /** Reads up to `length` bytes at `position` into `buf[offset..]`; resolves to the count read (0 at the end). */
  read(buf: Buffer, offset: number, length: number, position: number): Promise<number>;
  /** A stream of bytes start..end inclusive, for HTTP bodies. */
  stream(start: number, end: number): Readable;
  close(): Promise<void>;
  /**
   * How another thread may read these bytes synchronously while the source stays open
   * (the TFTP pump threads, src/tftp/offload): bytes base..base+size of an open file
   * descriptor, or the bytes themselves. Absent for sources that are not one such window.
   */
  directRead?(): DirectRead;
}

export type DirectRead = { fd: number; base: number } | { bytes: Uint8Array };

export interface PublishedFile {
  /** The canonical virtual path, without a leading slash: "ipxe.efi", "boot/vmlinuz". */
  readonly path: string;
  /** What a person would call it in a log ("kernel", "boot program"). */
  readonly role: FileRole;
  /** Size when known without opening (used for TFTP tsize and HTTP Content-Length). */
  size(): Promise<number>;
  open(): Promise<ByteSource>;
}

export class BufferSource implements ByteSource {
  constructor(private readonly data: Buffer) {}
  get size(): number {
    return this.data.length;
  }
  async read(buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    if (position >= this.data.length) return 0;
    return this.data.copy(buf, offset, position, Math.min(position + length, this.data.length));
  }
  stream(start: number, end: number): Readable {
    return Readable.from([this.data.subarray(start, end + 1)]);
  }
  async close(): Promise<void> {}
  directRead(): DirectRead {
    return { bytes: this.data };
  }
}

export class DiskFileSource implements ByteSource {
  private constructor(
    private readonly handle: fsp.FileHandle,
    private readonly filePath: string,
    readonly size: number,
  ) {}
  static async open(filePath: string): Promise<DiskFileSource> {
    const handle = await fsp.open(filePath, 'r');
    const st = await handle.stat();
    return new DiskFileSource(handle, filePath, st.size);
  }
  async read(buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    const { bytesRead } = await this.handle.read(buf, offset, length, position);
    return bytesRead;
  }
  stream(start: number, end: number): Readable {
    // A fresh fd per stream: streams may outlive and run beside each other.
    return createReadStream(this.filePath, { start, end, highWaterMark: 256 * 1024 });
  }
  async close(): Promise<void> {
    await this.handle.close();
  }
  directRead(): DirectRead {
    return { fd: this.handle.fd, base: 0 };
  }
}

export function diskFile(path: string, filePath: string, role: FileRole): PublishedFile {
  return {
    path,
    role,
    size: async () => (await fsp.stat(filePath)).size,
    open: () => DiskFileSource.open(filePath),
  };
}

export function bufferFile(path: string, data: Buffer | string, role: FileRole): PublishedFile {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return { path, role, size: async () => buf.length, open: async () => new BufferSource(buf) };
}

/**
 * Normalises a path a client asked for into the virtual tree's form, or returns
 * undefined for anything that tries to leave it. Clients differ: TFTP names may
 * start with "/", use "\" (Windows loaders), or be percent-encoded (HTTP).
 */
export function normaliseRequestPath(raw: string, opts: { percentDecoded?: boolean } = {}): string | undefined {
  let p = raw;
  if (!opts.percentDecoded) {
    try {
      p = decodeURIComponent(p);
    } catch {
      return undefined;
    }
  }
  if (p.includes('\0')) return undefined;
  p = p.replace(/\\/g, '/');
  const parts: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') return undefined; // refuse rather than clamp: it is an attack or a misconfiguration
    parts.push(seg);
  }
  return parts.length ? parts.join('/') : undefined;
}

/** The registry. Paths match case-sensitively first, then case-insensitively (Windows loaders ask for "Boot/BCD" as "\boot\bcd"). */
export class PublishedFiles {
  private readonly files = new Map<string, PublishedFile>();
  private readonly lower = new Map<string, PublishedFile>();
  /** Files made on request (per-client iPXE scripts): prefix "ipxe/" -> resolver of the rest. */
  private readonly dynamic = new Map<string, (rest: string) => PublishedFile | undefined>();
  /** Paths loaders look for as part of a normal search, whose absence is no failure: pattern -> why. */
  private readonly probes = new Map<string, { pattern: RegExp; why: string }>();
  /** A machine's own root (the netboot tree it boots), by its address; it comes before everything else. */
  private clientRoot?: (clientIp: string) => ((path: string) => PublishedFile | undefined) | undefined;

  /**
   * Serves a per-machine root: a machine booting a netboot tree asks for "pxelinux.cfg/default"
   * and "/grub/grub.cfg" as if the tree were the server's root (as dnsmasq's --tftp-root is).
   * PXE Kit's own files stay reachable beneath it. undefined removes it.
   */
  setClientRoot(root?: (clientIp: string) => ((path: string) => PublishedFile | undefined) | undefined): void {
    this.clientRoot = root;
  }

  /**
   * Declares requests for missing files matching `pattern` (on the normalised path) as a
   * loader's normal probe: shim asks for optional revocation lists, GRUB for module lists it
   * has built in. The servers still answer "not found"; the sessions and diagnoses do not call it a failure.
   */
  expectMisses(key: string, pattern: RegExp, why: string): void {
    this.probes.set(key, { pattern, why });
  }
  forgetMisses(key: string): void {
    this.probes.delete(key);
  }
  /** Why a request for this (missing) path is a normal probe, or undefined when its absence is a real failure. */
  expectedMiss(raw: string, opts: { percentDecoded?: boolean } = {}): string | undefined {
    const p = normaliseRequestPath(raw, opts);
    if (p === undefined) return undefined;
    for (const { pattern, why } of this.probes.values()) if (pattern.test(p)) return why;
    return undefined;
  }

  /**
   * Publishes files generated on request under `prefix` (e.g. "ipxe/"): the resolver
   * gets the rest of the already-normalised path and returns a file or undefined.
   * Static files win over dynamic ones.
   */
  addDynamic(prefix: string, resolve: (rest: string) => PublishedFile | undefined): void {
    this.dynamic.set(prefix.replace(/^\/+/, '').replace(/\/*$/, '/'), resolve);
  }
  removeDynamic(prefix: string): void {
    this.dynamic.delete(prefix.replace(/^\/+/, '').replace(/\/*$/, '/'));
  }

  add(file: PublishedFile): void {
    this.files.set(file.path, file);
    this.lower.set(file.path.toLowerCase(), file);
  }
  remove(path: string): void {
    const f = this.files.get(path);
    if (!f) return;
    this.files.delete(path);
    this.lower.delete(path.toLowerCase());
  }
  /** Looks up a raw request path (from `clientIp`: its own root first); undefined when it is not published or tries to escape. */
  lookup(raw: string, opts: { percentDecoded?: boolean; clientIp?: string } = {}): PublishedFile | undefined {
    const p = normaliseRequestPath(raw, opts);
    if (p === undefined) return undefined;
    const own = opts.clientIp && this.clientRoot?.(opts.clientIp)?.(p);
    if (own) return own;
    const found = this.files.get(p) ?? this.lower.get(p.toLowerCase());
    if (found) return found;
    for (const [prefix, resolve] of this.dynamic) {
      if (p.length > prefix.length && p.toLowerCase().startsWith(prefix.toLowerCase())) {
        const f = resolve(p.slice(prefix.length));
        if (f) return f;
      }
    }
    return undefined;
  }
  list(): PublishedFile[] {
    return [...this.files.values()];
  }
}
