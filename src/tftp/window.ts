// Block arithmetic shared by both data paths (transfer.ts on node:dgram, offload/pump.ts).

/**
 * The absolute block an ACK names: the first n >= acked with n & 0xffff == wire. Block
 * numbers wrap from 65535 to 0, so files over 32 MiB work at 512-byte blocks.
 */
export function absoluteBlock(acked: number, wire: number): number {
  return acked + ((wire - (acked & 0xffff)) & 0xffff);
}
