// Random-access reading of the image itself, with bounds that turn short reads into
// clear IsoErrors ("truncated: ... lies past the end of the file") instead of garbage.
import type { Readable } from 'node:stream';
import { IsoError } from './errors.js';

/** What the reader needs from the image file; DiskFileSource (src/files/published.ts) fits. */
export interface RandomAccess {
  readonly size: number;
  read(buf: Buffer, offset: number, length: number, position: number): Promise<number>;
  /** Optional fast path for long sequential reads (HTTP bodies). */
  stream?(start: number, end: number): Readable;
}

export const SECTOR = 2048;

/** Reads exactly `length` bytes at `pos`, or throws a 'truncated' IsoError naming `what`. */
export async function readAt(src: RandomAccess, pos: number, length: number, what: string): Promise<Buffer> {
  checkRange(src, pos, length, what);
  const buf = Buffer.alloc(length);
  let done = 0;
  // Bounded: each pass either advances or throws.
  while (done < length) {
    const n = await src.read(buf, done, length - done, pos + done);
    if (n <= 0) throw truncated(src, pos, what);
    done += n;
  }
  return buf;
}

export function checkRange(src: RandomAccess, pos: number, length: number, what: string): void {
  if (!Number.isSafeInteger(pos) || !Number.isSafeInteger(length) || pos < 0 || length < 0) {
    throw new IsoError('corrupt', `corrupt: ${what} has an impossible position or length (${pos}, ${length})`);
  }
  if (pos + length > src.size) throw truncated(src, pos, what);
}

function truncated(src: RandomAccess, pos: number, what: string): IsoError {
  const where = pos % SECTOR === 0 ? `sector ${pos / SECTOR}` : `byte ${pos} (sector ${Math.floor(pos / SECTOR)})`;
  return new IsoError('truncated', `truncated: ${what} at ${where} lies past the end of the file (size ${src.size})`);
}
