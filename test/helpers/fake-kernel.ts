// The smallest file PXE Kit takes for a Linux kernel: the x86 boot header "HdrS" at 0x202
// (src/images/identify.ts). For tests that serve a kernel without booting it.
export function bzImageStub(size = 4096): Buffer {
  const b = Buffer.alloc(size);
  b.write('HdrS', 0x202, 'latin1');
  return b;
}
