// A casper-layout live ISO made from the lab's boot fixtures (Debian kernel + marker
// initramfs): what an Ubuntu ISO looks like to PXE Kit's recipe, small enough for CI.
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BootFixtures } from '../../src/lab/fixtures.js';
import { buildIso } from './iso-build.js';

/**
 * `ownChain`: the media carry their own signed shim and network GRUB in EFI/BOOT (as Fedora's
 * do), which PXE Kit then hands out instead of its own.
 */
export function buildLiveIso(srcDir: string, out: string, fx: BootFixtures, o: { ownChain?: { shim: string; grub: string } } = {}): string {
  if (o.ownChain) {
    mkdirSync(join(srcDir, 'EFI', 'BOOT'), { recursive: true });
    copyFileSync(o.ownChain.shim, join(srcDir, 'EFI', 'BOOT', 'BOOTX64.EFI'));
    copyFileSync(o.ownChain.grub, join(srcDir, 'EFI', 'BOOT', 'grubx64.efi'));
  }
  mkdirSync(join(srcDir, 'casper'), { recursive: true });
  mkdirSync(join(srcDir, '.disk'), { recursive: true });
  copyFileSync(fx.kernel, join(srcDir, 'casper', 'vmlinuz'));
  copyFileSync(fx.initrd, join(srcDir, 'casper', 'initrd'));
  writeFileSync(join(srcDir, 'casper', 'filesystem.squashfs'), Buffer.alloc(64 * 1024, 0x5a));
  writeFileSync(join(srcDir, '.disk', 'info'), 'Ubuntu 24.04 LTS "PXE Kit test" - Release amd64 (20240101)\n');
  return buildIso(srcDir, out, { rockRidge: true, joliet: true, volumeId: 'PXEKIT_LIVE' });
}

/** Events (wire or session) that concern one MAC. */
export const forMac =
  (mac: string) =>
  (e: { [k: string]: unknown }): boolean =>
    String(e.mac ?? (e.session as { mac?: string } | undefined)?.mac ?? '').toLowerCase() === mac;
