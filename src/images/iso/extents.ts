// Reading bytes that are spread over extents (a file's pieces in the image, zero runs,
// inline data). Used for UDF directories and for the ByteSource handed to TFTP/HTTP.
import { Readable } from 'node:stream';
import { IsoError } from './errors.js';
import { type RandomAccess, checkRange } from './source.js';
import { type Extent, extentsLength } from './types.js';

/** Copies bytes [pos, pos+length) of the extents into buf[offset..]; returns the count (short only at the end). */
export async function readExtents(src: RandomAccess, extents: readonly Extent[], buf: Buffer, offset: number, length: number, pos: number): Promise<number> {
  let done = 0;
  let base = 0;
  for (const e of extents) {
    if (done >= length) break;
    const elen = e.kind === 'inline' ? e.data.length : e.length;
    const want = pos + done;
    if (want >= base + elen) {
      base += elen;
      continue;
    }
    const inner = want - base;
    const n = Math.min(elen - inner, length - done);
    if (e.kind === 'inline') e.data.copy(buf, offset + done, inner, inner + n);
    else if (e.kind === 'zero') buf.fill(0, offset + done, offset + done + n);
    else {
      let got = 0;
      // Bounded: each pass reads at least one byte or throws.
      while (got < n) {
        const r = await src.read(buf, offset + done + got, n - got, e.pos + inner + got);
        if (r <= 0) {
          throw new IsoError('truncated', `truncated: file data at sector ${Math.floor((e.pos + inner + got) / 2048)} lies past the end of the file (size ${src.size})`);
        }
        got += r;
      }
    }
    done += n;
    base += elen;
  }
  return done;
}

export async function readAllExtents(src: RandomAccess, extents: readonly Extent[], limit: number, what: string): Promise<Buffer> {
  const total = extentsLength(extents);
  if (total > limit) throw new IsoError('limit', `limit: ${what} claims ${total} bytes (more than ${limit})`);
  for (const e of extents) if (e.kind === 'image') checkRange(src, e.pos, e.length, what);
  const buf = Buffer.alloc(total);
  await readExtents(src, extents, buf, 0, total, 0);
  return buf;
}

const CHUNK = 1024 * 1024;

/** Bytes start..end inclusive as a stream: long runs come straight from the image file (its own stream when it has one). */
export function streamExtents(src: RandomAccess, extents: readonly Extent[], start: number, end: number): Readable {
  async function* gen(): AsyncGenerator<Buffer> {
    let base = 0;
    for (const e of extents) {
      const elen = e.kind === 'inline' ? e.data.length : e.length;
      const from = Math.max(start, base);
      const to = Math.min(end + 1, base + elen); // exclusive
      base += elen;
      if (from >= to) continue;
      const inner = from - (base - elen);
      const n = to - from;
      if (e.kind === 'inline') yield e.data.subarray(inner, inner + n);
      else if (e.kind === 'zero') {
        for (let left = n; left > 0; left -= CHUNK) yield Buffer.alloc(Math.min(CHUNK, left));
      } else if (src.stream) {
        yield* src.stream(e.pos + inner, e.pos + inner + n - 1);
      } else {
        for (let done = 0; done < n; ) {
          const b = Buffer.allocUnsafe(Math.min(CHUNK, n - done));
          const r = await readExtents(src, [e], b, 0, b.length, inner + done);
          if (r === 0) throw new IsoError('truncated', `truncated: file data lies past the end of the file (size ${src.size})`);
          yield r === b.length ? b : b.subarray(0, r);
          done += r;
        }
      }
      if (to > end) break;
    }
  }
  return Readable.from(gen(), { objectMode: false });
}
