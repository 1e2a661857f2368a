// A file inside an ISO that lies in one contiguous run of the image, served as a window
// of the ISO file: reads and streams go straight to the file at an offset, no copying.
import { createReadStream, promises as fsp } from 'node:fs';
import type { Readable } from 'node:stream';
import type { ByteSource, DirectRead } from '../files/published.js';
import { IsoError } from './iso/index.js';

export class IsoSliceSource implements ByteSource {
  private constructor(
    private readonly handle: fsp.FileHandle,
    private readonly isoPath: string,
    private readonly base: number,
    readonly size: number,
  ) {}

  /** `isoSize`: the ISO's size when it was indexed; a shorter file now (truncated since) is refused clearly. */
  static async open(isoPath: string, base: number, size: number, isoSize: number): Promise<IsoSliceSource> {
    const handle = await fsp.open(isoPath, 'r');
    const st = await handle.stat();
    if (st.size < base + size) {
      await handle.close();
      throw new IsoError('truncated', `truncated: ${isoPath} is now ${st.size} bytes (was ${isoSize}); the file's data lies past its end`);
    }
    return new IsoSliceSource(handle, isoPath, base, size);
  }

  async read(buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    if (position >= this.size || length <= 0) return 0;
    const n = Math.min(length, this.size - position);
    const { bytesRead } = await this.handle.read(buf, offset, n, this.base + position);
    return bytesRead;
  }

  stream(start: number, end: number): Readable {
    const last = Math.min(end, this.size - 1);
    return createReadStream(this.isoPath, { start: this.base + start, end: this.base + last, highWaterMark: 256 * 1024 });
  }

  async close(): Promise<void> {
    await this.handle.close();
  }

  directRead(): DirectRead {
    return { fd: this.handle.fd, base: this.base };
  }
}
