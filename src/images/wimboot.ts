// wimboot, iPXE's Windows loader: told apart from other files by its content, and kept
// once in the data dir (<dataDir>/wimboot/wimboot + wimboot.json) so every later run,
// the CLI and the UI find it without a path.
//
// What a real wimboot (https://github.com/ipxe/wimboot) is: one binary that is both a
// PE32+ EFI application ("MZ", then "PE\0\0" where the DOS header points) and a Linux
// bzImage-style program (the setup header magic "HdrS" at 0x202), so iPXE's `kernel`
// loads it on UEFI and on BIOS; its text holds the banner it prints at start,
// "wimboot v2.8.0 -- Windows Imaging Format bootloader -- https://ipxe.org/wimboot".
// A file is accepted only with all three; the version is read from the banner.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../util/durable-file.js';

/** Where wimboot is downloaded from (the file named just "wimboot"). */
export const WIMBOOT_DOWNLOAD_URL = 'https://github.com/ipxe/wimboot/releases';

/**
 * Real wimboot is 50-100 KB. The bound only keeps ISOs and disk images out before they are
 * read; it is loose enough for the test stand-in, an 8 MB Debian kernel with the banner appended.
 */
export const WIMBOOT_MAX_BYTES = 16 * 1024 * 1024;

const BANNER = /wimboot (v[0-9A-Za-z][0-9A-Za-z._+-]{0,40}) -- Windows Imaging Format bootloader -- https:\/\/ipxe\.org\/wimboot/;

/** What the costs of serving a Windows image without wimboot are, in a technician's words. */
export const NO_WIMBOOT_COST =
  'sanboot of the whole ISO instead of wimboot: Windows setup may stop with "a media driver is missing", and every machine reads the whole ISO over HTTP';

/** How to fix it, for the CLI and the UI. */
export const WIMBOOT_FIX = `store wimboot once with "pxekit wimboot FILE" (or give --wimboot FILE); download the file named "wimboot" from ${WIMBOOT_DOWNLOAD_URL}`;

export type WimbootIdentity = { ok: true; version: string; size: number; sha256: string } | { ok: false; reason: string };

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

function looksLikeText(b: Buffer): boolean {
  const head = b.subarray(0, Math.min(b.length, 4096));
  let odd = 0;
  for (const c of head) if (c === 0 || (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d && c !== 0x0c && c !== 0x1b)) odd++;
  return odd === 0 || odd / head.length < 0.01;
}

/** The PE header's offset when the file is an EFI/Windows program ("MZ" ... "PE\0\0"), else undefined. */
function peOffset(b: Buffer): number | undefined {
  if (b.length < 0x40 || b.toString('latin1', 0, 2) !== 'MZ') return undefined;
  const off = b.readUInt32LE(0x3c);
  if (off + 24 > b.length || b.toString('latin1', off, off + 4) !== 'PE\0\0') return undefined;
  return off;
}

/** Where the PE sections' data ends: past the file's end means the file was cut short. */
function peDataEnd(b: Buffer, pe: number): number | undefined {
  const sections = b.readUInt16LE(pe + 6);
  const optSize = b.readUInt16LE(pe + 20);
  const table = pe + 24 + optSize;
  let end = 0;
  for (let i = 0; i < sections; i++) {
    const s = table + i * 40;
    if (s + 40 > b.length) return Number.MAX_SAFE_INTEGER; // the section table itself is cut
    const rawSize = b.readUInt32LE(s + 16);
    const rawPtr = b.readUInt32LE(s + 20);
    if (rawSize) end = Math.max(end, rawPtr + rawSize);
  }
  return end || undefined;
}

const hasSetupHeader = (b: Buffer) => b.length >= 0x206 && b.toString('latin1', 0x202, 0x206) === 'HdrS';

/** The kernel's version string from its setup header ("6.1.0-26-amd64 (debian-kernel@...) ..."), first word. */
function kernelVersion(b: Buffer): string | undefined {
  if (b.length < 0x210) return undefined;
  const ptr = b.readUInt16LE(0x20e);
  if (!ptr) return undefined;
  const at = ptr + 0x200;
  if (at >= b.length) return undefined;
  const end = b.indexOf(0, at);
  const s = b.toString('latin1', at, end < 0 ? Math.min(b.length, at + 128) : Math.min(end, at + 128));
  const first = s.split(' ')[0];
  return /^[0-9][\w.+~-]*$/.test(first) ? first : undefined;
}

function identifyBytes(b: Buffer): WimbootIdentity {
  if (b.length === 0) return { ok: false, reason: 'the file is empty (an interrupted download?)' };
  if (b.length > WIMBOOT_MAX_BYTES) return { ok: false, reason: `it is ${mb(b.length)}; wimboot is about 50-100 KB` };
  const pe = peOffset(b);
  const hdrs = hasSetupHeader(b);
  const banner = BANNER.exec(b.toString('latin1'));
  if (pe === undefined && !hdrs) {
    if (b.length > 0x8006 && ['CD001', 'BEA01'].includes(b.toString('latin1', 0x8001, 0x8006))) return { ok: false, reason: 'this is an ISO image, not wimboot' };
    if (b.toString('latin1', 0, 2) === 'MZ') return { ok: false, reason: 'a DOS program without a PE header, not wimboot' };
    if (looksLikeText(b)) return { ok: false, reason: 'not a boot program at all (a text file)' };
    return { ok: false, reason: 'not a boot program at all (neither an EFI program nor a Linux-style kernel)' };
  }
  if (pe !== undefined) {
    const end = peDataEnd(b, pe);
    if (end !== undefined && end > b.length) return { ok: false, reason: `the file is cut short: it ends at ${b.length} bytes, its program needs ${end} (an interrupted download?)` };
  }
  if (!banner) {
    const text = b.toString('latin1');
    if (/iPXE/.test(text) && /ipxe\.org/.test(text)) return { ok: false, reason: `this is iPXE (${pe !== undefined ? 'an EFI program' : 'in Linux kernel format'}), not wimboot` };
    if (hdrs) {
      const v = kernelVersion(b);
      return { ok: false, reason: `this is a Linux kernel${v ? ` (${v})` : ''}, not wimboot` };
    }
    return { ok: false, reason: "an EFI program without wimboot's banner, not wimboot" };
  }
  if (pe === undefined) return { ok: false, reason: `it carries wimboot's ${banner[1]} banner but no EFI (PE) header: damaged, or not the release file named "wimboot"` };
  if (!hdrs) return { ok: false, reason: `an EFI-only build of wimboot ${banner[1]} (like wimboot.x86_64.efi): it cannot start on BIOS machines; use the file named just "wimboot"` };
  return { ok: true, version: banner[1], size: b.length, sha256: createHash('sha256').update(b).digest('hex') };
}

/** Whether a file (its bytes or its path) is wimboot, with the version from its banner, or why not in plain words. */
export function identifyWimboot(input: Buffer | string): WimbootIdentity {
  if (Buffer.isBuffer(input)) return identifyBytes(input);
  return readCandidate(input).id;
}

/** Reads a candidate once (so the bytes checked are the bytes stored), refusing what is not a file or far too big. */
function readCandidate(path: string): { id: WimbootIdentity; bytes?: Buffer } {
  let st;
  try {
    st = statSync(path);
  } catch {
    return { id: { ok: false, reason: `no such file: ${path}` } };
  }
  if (st.isDirectory()) return { id: { ok: false, reason: `${path} is a folder; give the wimboot file itself` } };
  if (!st.isFile()) return { id: { ok: false, reason: `${path} is not a regular file` } };
  if (st.size > WIMBOOT_MAX_BYTES) return { id: { ok: false, reason: `it is ${mb(st.size)}; wimboot is about 50-100 KB` } };
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    return { id: { ok: false, reason: `cannot read ${path}: ${(err as Error).message}` } };
  }
  return { id: identifyBytes(bytes), bytes };
}

// ---------------------------------------------------------------- the store

/** What wimboot.json records about the stored wimboot. */
export interface WimbootRecord {
  sha256: string;
  version: string;
  size: number;
  /** ms since the epoch. */
  installedAt: number;
  /** The path it was copied from. */
  from: string;
}

/** The record plus where the stored file is. */
export interface StoredWimboot extends WimbootRecord {
  path: string;
}

export class WimbootRefused extends Error {
  constructor(readonly reason: string, readonly source: string) {
    super(`${source} is not wimboot: ${reason}`);
    this.name = 'WimbootRefused';
  }
}

export const wimbootDir = (dataDir: string) => join(dataDir, 'wimboot');
export const wimbootPath = (dataDir: string) => join(wimbootDir(dataDir), 'wimboot');
const recordPath = (dataDir: string) => join(wimbootDir(dataDir), 'wimboot.json');

/** Checks wimboot, then stores it (the file first, then its record, each written to a temp file and renamed). A refused file leaves the stored one as it was. */
export function installWimboot(dataDir: string, sourcePath: string): StoredWimboot {
  const from = resolve(sourcePath);
  const { id, bytes } = readCandidate(from);
  if (!id.ok || !bytes) throw new WimbootRefused(id.ok ? 'unreadable' : id.reason, from);
  mkdirSync(wimbootDir(dataDir), { recursive: true });
  const record: WimbootRecord = { sha256: id.sha256, version: id.version, size: id.size, installedAt: Date.now(), from };
  writeFileAtomic(wimbootPath(dataDir), bytes);
  writeFileAtomic(recordPath(dataDir), JSON.stringify(record, null, 2) + '\n');
  return { ...record, path: wimbootPath(dataDir) };
}

function validRecord(v: unknown): WimbootRecord {
  const o = v as Partial<WimbootRecord> | null;
  if (!o || typeof o !== 'object') throw new Error('not a JSON object');
  if (typeof o.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(o.sha256) || typeof o.version !== 'string' || typeof o.size !== 'number') throw new Error('sha256, version or size missing');
  return { sha256: o.sha256, version: o.version, size: o.size, installedAt: typeof o.installedAt === 'number' ? o.installedAt : 0, from: typeof o.from === 'string' ? o.from : '' };
}

/** The stored wimboot, or why there is none usable (nothing stored, the file changed since it was stored...). */
export function wimbootStatus(dataDir: string): { installed?: StoredWimboot; problem?: string } {
  const rec = recordPath(dataDir);
  let st;
  try {
    st = statSync(rec);
  } catch {
    return {};
  }
  if (!st.isFile()) return { problem: `${rec} is not a file` };
  let record: WimbootRecord;
  try {
    record = validRecord(JSON.parse(readFileSync(rec, 'utf8')));
  } catch (err) {
    return { problem: `the stored wimboot's record ${rec} cannot be read (${(err as Error).message}): store it again with "pxekit wimboot FILE"` };
  }
  const path = wimbootPath(dataDir);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    return { problem: `the stored wimboot ${path} is gone: store it again with "pxekit wimboot FILE"` };
  }
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== record.sha256) return { problem: `the stored wimboot ${path} changed since it was stored (SHA-256 ${sha.slice(0, 12)}…, recorded ${record.sha256.slice(0, 12)}…): store it again with "pxekit wimboot FILE"` };
  return { installed: { ...record, path } };
}

/** The stored wimboot when its file still matches its record, else undefined. */
export function currentWimboot(dataDir: string): StoredWimboot | undefined {
  return wimbootStatus(dataDir).installed;
}

/** The words a boot-menu title gets for a Windows image served without wimboot ('' otherwise). */
export function wimbootMenuNote(entry: { wimboot?: 'present' | 'missing' } | undefined): string {
  return entry?.wimboot === 'missing' ? ' (sanboot, no wimboot)' : '';
}

/** The line `pxekit serve` prints when it serves a Windows image without wimboot: what instead, what it costs, the fix. */
export function noWimbootWarning(imageName: string, isoBytes?: number): string {
  const size = isoBytes ? ` (${isoBytes >= 1e9 ? `${(isoBytes / 1e9).toFixed(1)} GB` : `${Math.max(1, Math.round(isoBytes / 1e6))} MB`})` : '';
  return (
    `${imageName} is Windows, served WITHOUT wimboot: machines get iPXE sanboot of the whole ISO instead. ` +
    `Windows setup may then stop with "a media driver is missing", and every machine reads the whole ISO${size} over HTTP. ` +
    `Fix: ${WIMBOOT_FIX}.`
  );
}
