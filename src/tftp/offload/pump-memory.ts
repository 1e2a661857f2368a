// The native memory of one pump thread, kept from one transfer to the next. A segment
// of framed DATA packets is over 128 KiB: malloc maps such a block fresh each time, the
// first touch of every page faults, and unmapping it interrupts the process's other
// threads (a TLB shootdown), which on a VM costs tens of microseconds, all between a
// client's RRQ and its first DATA. Kept segments are already framed and paged in.
import { MessageBatch, nativeBuffer, writeU64, type NativeBuffer } from '../../net/libc-io.js';
import { OP_DATA } from '../packet.js';
import { MAX_WINDOWSIZE } from '../options.js';

/** Segments kept per thread beyond the ones in use (about 30 at the default sizes). */
const KEPT_BYTES_MAX = 4 * 1024 * 1024;
const IOV_SIZE = 16;

/**
 * `blocks` DATA packets of `blksize` bytes laid out back to back (4-byte header, then the
 * block), with one iovec per block's payload so one preadv fills them all from the file.
 */
export class Segment {
  /** The segment of the file these packets hold now (-1: none yet). */
  k = -1;
  readonly mem: NativeBuffer;
  private readonly iov: NativeBuffer;
  /** The iovec whose length was cut for a file's last, short block (-1: none). */
  private shortIov = -1;

  constructor(
    readonly blksize: number,
    readonly blocks: number,
  ) {
    const frame = blksize + 4;
    this.mem = nativeBuffer(blocks * frame);
    this.iov = nativeBuffer(blocks * IOV_SIZE);
    for (let i = 0; i < blocks; i++) {
      this.mem.buf[i * frame] = 0;
      this.mem.buf[i * frame + 1] = OP_DATA;
      writeU64(this.iov.buf, i * IOV_SIZE, this.mem.addr + i * frame + 4);
      writeU64(this.iov.buf, i * IOV_SIZE + 8, blksize);
    }
  }

  get bytes(): number {
    return this.mem.buf.length + this.iov.buf.length;
  }

  /**
   * The iovecs for `want` payload bytes (their address and count): full blocks, then
   * the rest in the last one.
   */
  vectorsFor(want: number): { at: number; count: number } {
    const count = Math.ceil(want / this.blksize);
    if (this.shortIov >= 0) {
      writeU64(this.iov.buf, this.shortIov * IOV_SIZE + 8, this.blksize);
      this.shortIov = -1;
    }
    const tail = want - (count - 1) * this.blksize;
    if (count > 0 && tail !== this.blksize) {
      this.shortIov = count - 1;
      writeU64(this.iov.buf, this.shortIov * IOV_SIZE + 8, tail);
    }
    return { at: this.iov.addr, count };
  }

  free(): void {
    this.mem.free();
    this.iov.free();
  }
}

export class PumpMemory {
  /** Where packets are received: one packet is handled at a time on a thread. */
  readonly recv = nativeBuffer(65536);
  /** Where an OACK or ERROR is copied to be sent. */
  readonly control = nativeBuffer(1024);
  /** sendmmsg vectors: a window is filled and sent in one go, so the thread's pumps share them. */
  readonly batch = new MessageBatch(MAX_WINDOWSIZE);
  private readonly kept = new Map<string, Segment[]>();
  private keptBytes = 0;

  takeSegment(blksize: number, blocks: number): Segment {
    const seg = this.kept.get(`${blksize}/${blocks}`)?.pop();
    if (!seg) return new Segment(blksize, blocks);
    this.keptBytes -= seg.bytes;
    seg.k = -1;
    return seg;
  }

  giveBack(seg: Segment): void {
    if (this.keptBytes + seg.bytes > KEPT_BYTES_MAX) return seg.free();
    const key = `${seg.blksize}/${seg.blocks}`;
    const list = this.kept.get(key);
    if (list) list.push(seg);
    else this.kept.set(key, [seg]);
    this.keptBytes += seg.bytes;
  }

  /** The thread is stopping. */
  free(): void {
    for (const list of this.kept.values()) for (const seg of list) seg.free();
    this.kept.clear();
    this.keptBytes = 0;
    this.recv.free();
    this.control.free();
    this.batch.free();
  }
}
