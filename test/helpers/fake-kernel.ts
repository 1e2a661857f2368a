// The smallest file PXE Kit takes for a Linux kernel: the x86 boot header "HdrS" at 0x202
// (src/images/identify.ts). For tests that serve a kernel without booting it.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
export function bzImageStub(size = 4096): Buffer {
  const b = Buffer.alloc(size);
  b.write('HdrS', 0x202, 'latin1');
  return b;
}

/** A kernel stub of random bytes (each one hashes differently) written as `<dir>/vmlinuz`. */
export function writeKernelStub(dir: string, size = 200_000): string {
  const k = randomBytes(size);
  k.write('HdrS', 0x202, 'latin1');
  const p = join(dir, 'vmlinuz');
  writeFileSync(p, k);
  return p;
}
