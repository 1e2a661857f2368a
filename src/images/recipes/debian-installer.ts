// Debian's installer ISOs (netinst, DVD): the installer's own kernel and initrd from
// install.amd/ (install.386/, install.a64/ on other architectures), as Debian's netboot tree
// boots them, instead of sanbooting the whole ISO. The installer then looks for its packages:
// not on a CD (there is none on a network-booted machine) but on a network mirror, so the
// machine needs a route to one (or a local mirror given with mirror/http/hostname=...).
import { firstFile, readText } from '../tree.js';
import { linuxBoot, parseDiskInfo } from './common.js';
import type { Recipe } from './types.js';

const ARCH_DIRS = ['install.amd', 'install.a64', 'install.386', 'install'];

export const debianInstallerRecipe: Recipe = {
  name: 'debian-installer',
  async match(tree) {
    for (const dir of ARCH_DIRS) {
      const kernel = await firstFile(tree, [`${dir}/vmlinuz`]);
      const initrd = await firstFile(tree, [`${dir}/initrd.gz`]);
      if (!kernel || !initrd) continue;
      const info = parseDiskInfo(await readText(tree, '.disk/info'));
      return {
        recipe: 'debian-installer',
        os: info.os ?? 'Debian installer',
        version: info.version,
        bootModes: ['bios', 'uefi'],
        method: `the installer's kernel + initrd from ${dir}/ (as Debian's netboot boots it)`,
        helpers: [],
        notes: [
          "the installer starts from RAM; it cannot read this ISO's packages over the network, so it installs from a network mirror: the machines need a route to one (or give a local mirror with --cmdline mirror/http/hostname=HOST)",
        ],
        ...linuxBoot(kernel.path, [initrd.path], () => []),
      };
    }
    return undefined;
  },
};
