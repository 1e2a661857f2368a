// Ubuntu and other casper live ISOs (Kubuntu, Xubuntu, Mint, Pop!_OS, Ubuntu Server's
// live installer): kernel and initrd from casper/, and casper's netboot=url mode fetches
// the whole ISO over HTTP into RAM (it then mounts it like the optical disc).
import { readText } from '../tree.js';
import { filesMatching, linuxBoot, parseDiskInfo } from './common.js';
import type { Recipe } from './types.js';

export const casperRecipe: Recipe = {
  name: 'casper',
  async match(tree) {
    if ((await tree.stat('casper'))?.type !== 'directory') return undefined;
    const kernels = await filesMatching(tree, 'casper', /^(vmlinuz|vmlinuz\.efi|hwe-vmlinuz)$/i);
    const initrds = await filesMatching(tree, 'casper', /^(initrd|initrd\.lz|initrd\.gz|initrd\.img|hwe-initrd)$/i);
    // Prefer the generic kernel over hwe-: it is what the ISO's own menu boots first.
    const kernel = kernels.find((k) => !/^hwe-/i.test(k.name)) ?? kernels[0];
    const initrd = initrds.find((k) => !/^hwe-/i.test(k.name)) ?? initrds[0];
    if (!kernel || !initrd) return undefined;
    const { os, version } = parseDiskInfo(await readText(tree, '.disk/info'));
    const fromIso = tree.kind === 'iso';
    return {
      recipe: 'casper',
      os: os ?? 'Ubuntu (casper live)',
      version,
      bootModes: ['bios', 'uefi'],
      method: fromIso ? `kernel + initrd from casper/, the live system fetches the ISO over HTTP (netboot=url)` : 'kernel + initrd from casper/ (folder: casper needs the ISO itself to boot further)',
      helpers: [],
      notes: fromIso ? ['the live system downloads the whole ISO into RAM: give the machine RAM for it (ISO size + about 1 GiB)'] : ['casper boots from an ISO: add the .iso itself rather than an unpacked folder'],
      ...linuxBoot(kernel.path, [initrd.path], (ctx) => ['boot=casper', 'netboot=url', ...(ctx.isoUrl ? [`url=${ctx.isoUrl}`] : []), 'ip=dhcp']),
    };
  },
};
