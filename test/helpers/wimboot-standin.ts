// A wimboot stand-in for tests: real wimboot is in no package registry here and no test may
// download it, yet the checks (src/images/wimboot.ts) and the QEMU runs need a file that is
// wimboot as far as PXE Kit and iPXE can tell.
//
// Why this is a fair stand-in: wimboot is one binary that is both a PE32+ EFI application
// ("MZ" + "PE\0\0") and a bzImage-style program ("HdrS" at 0x202); iPXE's `kernel` reads
// exactly those two headers to load it on UEFI and on BIOS. Debian's kernel (the lab's
// fixture, a signed bzImage with an EFI stub) has both. The third thing identifyWimboot
// reads, wimboot's banner, is appended at the end, where no loader looks. So the file passes
// identifyWimboot and iPXE loads and starts it as it would wimboot (it then boots Linux, not
// Windows: a test can run a wimboot script up to `boot`, not Windows itself).
import { appendFileSync, copyFileSync, existsSync, mkdirSync, renameSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ensureFixtures, labDir } from '../../src/lab/fixtures.js';

export const STANDIN_VERSION = 'v0.0-pxekit-standin';
export const STANDIN_BANNER = `wimboot ${STANDIN_VERSION} -- Windows Imaging Format bootloader -- https://ipxe.org/wimboot`;

/** Builds (once, cached beside the lab fixtures) the stand-in and returns its path; `dir` puts a fresh copy there instead. */
export function wimbootStandin(dir?: string): string {
  const kernel = ensureFixtures().kernel;
  const cacheDir = join(labDir(), 'fixtures');
  const cached = join(cacheDir, `wimboot-standin-${basename(kernel)}`);
  if (!existsSync(cached)) {
    mkdirSync(cacheDir, { recursive: true });
    const tmp = `${cached}.tmp-${process.pid}`;
    copyFileSync(kernel, tmp);
    appendFileSync(tmp, `\n${STANDIN_BANNER}\n`);
    renameSync(tmp, cached); // never a half-built file under the cached name
  }
  if (!dir) return cached;
  mkdirSync(dir, { recursive: true });
  const out = join(dir, 'wimboot');
  copyFileSync(cached, out);
  return out;
}
