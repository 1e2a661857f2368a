// Arch Linux (archiso): kernel and initramfs from arch/boot/x86_64/, CPU microcode first
// when the ISO carries it, and archiso fetches airootfs.sfs over HTTP (archiso_http_srv).
import { firstFile, readText } from '../tree.js';
import { linuxBoot } from './common.js';
import type { Recipe } from './types.js';

export const archRecipe: Recipe = {
  name: 'arch',
  async match(tree) {
    const kernel = await firstFile(tree, ['arch/boot/x86_64/vmlinuz-linux']);
    const initramfs = await firstFile(tree, ['arch/boot/x86_64/initramfs-linux.img']);
    if (!kernel || !initramfs) return undefined;
    // Microcode must come before the initramfs: the kernel applies it from the first cpio.
    const ucode = [];
    for (const u of ['arch/boot/intel-ucode.img', 'arch/boot/amd-ucode.img']) {
      const f = await firstFile(tree, [u]);
      if (f) ucode.push(f.path);
    }
    const initrds = [...ucode, initramfs.path];
    const version = (await readText(tree, 'arch/version'))?.trim() || undefined;
    return {
      recipe: 'arch',
      os: 'Arch Linux',
      version,
      bootModes: ['bios', 'uefi'],
      method: 'kernel + initramfs from arch/boot/x86_64/, archiso fetches the root image over HTTP',
      helpers: [],
      notes: [],
      ...linuxBoot(kernel.path, initrds, (ctx) => ['archisobasedir=arch', `archiso_http_srv=${ctx.treeUrl}`, 'ip=dhcp']),
    };
  },
};
