// netascii mode (RFC 1350 / RFC 764): LF becomes CR LF and a bare CR becomes CR NUL.
// PXE firmware always asks for "octet"; netascii is for people testing with the
// tftp-hpa client's default mode. The converted size is only known after reading,
// so small files are converted in memory and larger ones refused.
import { BufferSource, type ByteSource } from '../files/published.js';

export const NETASCII_MAX_BYTES = 16 * 1024 * 1024;

export function toNetascii(data: Buffer): Buffer {
  let extra = 0;
  for (let i = 0; i < data.length; i++) if (data[i] === 0x0a || data[i] === 0x0d) extra++;
  if (extra === 0) return data;
  const out = Buffer.allocUnsafe(data.length + extra);
  let o = 0;
  for (let i = 0; i < data.length; i++) {
    const c = data[i];
    if (c === 0x0a) {
      out[o++] = 0x0d;
      out[o++] = 0x0a;
    } else if (c === 0x0d) {
      out[o++] = 0x0d;
      out[o++] = 0x00;
    } else out[o++] = c;
  }
  return out;
}

/** Reads `src` whole and returns its netascii form (closing `src`). */
export async function netasciiSource(src: ByteSource): Promise<ByteSource> {
  try {
    const buf = Buffer.allocUnsafe(src.size);
    let got = 0;
    while (got < src.size) {
      const n = await src.read(buf, got, src.size - got, got);
      if (n <= 0) break;
      got += n;
    }
    return new BufferSource(toNetascii(buf.subarray(0, got)));
  } finally {
    await src.close();
  }
}
