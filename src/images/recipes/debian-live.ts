// Debian live images (live-boot): kernel and initrd from live/, and live-boot's fetch=
// downloads the squashfs root over HTTP into RAM.
import { firstFile, readText } from '../tree.js';
import { filesMatching, linuxBoot, parseDiskInfo } from './common.js';
import type { Recipe } from './types.js';

export const debianLiveRecipe: Recipe = {
  name: 'debian-live',
  async match(tree) {
    if ((await tree.stat('live'))?.type !== 'directory') return undefined;
    const kernel = (await filesMatching(tree, 'live', /^vmlinuz/i))[0];
    const initrd = (await filesMatching(tree, 'live', /^initrd/i))[0];
    const squash = await firstFile(tree, ['live/filesystem.squashfs']);
    if (!kernel || !initrd || !squash) return undefined;
    const info = parseDiskInfo(await readText(tree, '.disk/info'));
    return {
      recipe: 'debian-live',
      os: info.os ?? 'Debian live',
      version: info.version,
      bootModes: ['bios', 'uefi'],
      method: 'kernel + initrd from live/, live-boot fetches live/filesystem.squashfs over HTTP',
      helpers: [],
      notes: [`the live system downloads ${squash.path} (${Math.round(squash.size / 1048576)} MiB) into RAM`],
      ...linuxBoot(kernel.path, [initrd.path], (ctx) => ['boot=live', `fetch=${ctx.fileUrl(squash.path)}`, 'ip=dhcp']),
    };
  },
};
