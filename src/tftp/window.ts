// Block arithmetic shared by both data paths (transfer.ts on node:dgram, offload/pump.ts).

/**
 * The absolute block an ACK names: the first n >= acked with n & 0xffff == wire. Block
 * numbers wrap from 65535 to 0, so files over 32 MiB work at 512-byte blocks.
 */
export function absoluteBlock(acked: number, wire: number): number {
  return acked + ((wire - (acked & 0xffff)) & 0xffff);
}

/** Minimum bytes read from disk at once (a segment is also at least one window). */
const MIN_SEGMENT_BYTES = 128 * 1024;

/**
 * How a file is cut up: its last block (the first one shorter than blksize, possibly
 * empty: a size that is an exact multiple of blksize, or 0, ends with a 0-byte DATA) and
 * the blocks per segment read from disk at once.
 */
export function blockLayout(size: number, blksize: number, windowsize: number): { lastBlock: number; blocksPerSegment: number } {
  return { lastBlock: Math.floor(size / blksize) + 1, blocksPerSegment: Math.max(windowsize, Math.ceil(MIN_SEGMENT_BYTES / blksize)) };
}
