// System Use Sharing Protocol (IEEE P1281) and the Rock Ridge entries we use (IEEE P1282):
// NM (POSIX name, possibly split with CONTINUE), PX (mode: is it a symlink?), SL (link
// target), CL/RE (deep directories relocated by the mastering tool), CE (continuation area
// elsewhere on the disc). CE chains are bounded and loop-checked: a crafted disc must not
// make us spin.
import { IsoError } from './errors.js';
import { type RandomAccess, readAt } from './source.js';

export interface SuspInfo {
  /** Signatures seen ("SP", "RR", "NM", "ER", ...): used to detect Rock Ridge on the root. */
  sigs: Set<string>;
  /** From SP: bytes to skip at the start of every System Use area. */
  skip?: number;
  name?: string;
  mode?: number;
  target?: string;
  /** RE: this directory record is a relocated directory's stand-in; hide it. */
  relocated: boolean;
  /** CL: this "file" is really a directory relocated to this block. */
  childLink?: number;
}

const MAX_CE = 32;
const MAX_CE_LENGTH = 64 * 1024;
const S_IFMT = 0o170000;
export const S_IFLNK = 0o120000;
export const S_IFDIR = 0o040000;

export async function parseSusp(src: RandomAccess, area: Buffer, blockSize: number, skip: number): Promise<SuspInfo> {
  const info: SuspInfo = { sigs: new Set(), relocated: false };
  const nameParts: Buffer[] = [];
  let nameDone = false;
  const link: string[] = [];
  let linkPart = '';
  let linkRoot = false;
  const seen = new Set<string>();
  let cur: Buffer | undefined = area;
  let p = skip;
  for (let hops = 0; cur; hops++) {
    let next: { block: number; offset: number; length: number } | undefined;
    while (p + 4 <= cur.length) {
      const sig = cur.toString('latin1', p, p + 2);
      const len = cur[p + 2];
      if (len < 4 || p + len > cur.length) break; // padding or a damaged tail: stop this area
      info.sigs.add(sig);
      const body = cur.subarray(p + 4, p + len);
      if (sig === 'ST') break;
      if (sig === 'SP' && body.length >= 3 && body[0] === 0xbe && body[1] === 0xef) info.skip = body[2];
      else if (sig === 'CE' && body.length >= 24) next = { block: body.readUInt32LE(0), offset: body.readUInt32LE(8), length: body.readUInt32LE(16) };
      else if (sig === 'NM' && body.length >= 1 && !nameDone) {
        const flags = body[0];
        if (!(flags & 0x06)) nameParts.push(body.subarray(1)); // CURRENT/PARENT: not a real name
        if (!(flags & 0x01)) nameDone = true;
      } else if (sig === 'PX' && body.length >= 4) info.mode = body.readUInt32LE(0);
      else if (sig === 'RE') info.relocated = true;
      else if (sig === 'CL' && body.length >= 4) info.childLink = body.readUInt32LE(0);
      else if (sig === 'SL' && body.length >= 1) {
        // Component records: flags, length, bytes. Flag 0x01 continues the component in the next record.
        let q = 1;
        while (q + 2 <= body.length) {
          const cf = body[q];
          const cl = body[q + 1];
          if (q + 2 + cl > body.length) break;
          const text = body.toString('utf8', q + 2, q + 2 + cl);
          q += 2 + cl;
          if (cf & 0x08) {
            linkRoot = true;
            continue;
          }
          linkPart += cf & 0x02 ? '.' : cf & 0x04 ? '..' : text;
          if (!(cf & 0x01)) {
            link.push(linkPart);
            linkPart = '';
          }
        }
      }
      p += len;
    }
    cur = undefined;
    if (next) {
      if (hops + 1 > MAX_CE) throw new IsoError('limit', `limit: more than ${MAX_CE} Rock Ridge continuation areas for one entry`);
      const key = `${next.block}:${next.offset}`;
      if (seen.has(key)) throw new IsoError('limit', `corrupt: Rock Ridge continuation areas form a loop (sector ${next.block} offset ${next.offset})`);
      seen.add(key);
      if (next.length > MAX_CE_LENGTH) throw new IsoError('corrupt', `corrupt: Rock Ridge continuation area at sector ${next.block} claims ${next.length} bytes`);
      cur = await readAt(src, next.block * blockSize + next.offset, next.length, 'Rock Ridge continuation area');
      p = 0;
    }
  }
  if (nameParts.length) info.name = Buffer.concat(nameParts).toString('utf8');
  if (link.length || linkRoot || linkPart) {
    if (linkPart) link.push(linkPart);
    info.target = (linkRoot ? '/' : '') + link.join('/');
  }
  return info;
}

export function isSymlinkMode(mode: number | undefined): boolean {
  return mode !== undefined && (mode & S_IFMT) === S_IFLNK;
}
