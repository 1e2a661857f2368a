// Fedora, RHEL, CentOS Stream, Rocky, Alma: images/pxeboot/vmlinuz + initrd.img, and
// Anaconda gets its stage2 (or the whole package repository, on DVDs) over HTTP from
// the ISO's tree, which PXE Kit serves as is. Fedora live media boot their squashfs
// with dracut's root=live:URL instead.
import { firstFile, readText, type ImageTree } from '../tree.js';
import { linuxBoot } from './common.js';
import type { Recipe } from './types.js';

/** [section] key = value, as in .treeinfo (an INI file). */
export function parseIni(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let sec = '';
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) {
      sec = s[1].trim().toLowerCase();
      out[sec] ??= {};
      continue;
    }
    const kv = /^([^=]+)=(.*)$/.exec(line);
    if (kv) (out[sec] ??= {})[kv[1].trim().toLowerCase()] = kv[2].trim();
  }
  return out;
}

async function isRepo(tree: ImageTree): Promise<boolean> {
  for (const p of ['BaseOS/repodata', 'repodata', 'Packages']) if ((await tree.stat(p))?.type === 'directory') return true;
  return false;
}

export const redhatRecipe: Recipe = {
  name: 'redhat',
  async match(tree) {
    const kernel = await firstFile(tree, ['images/pxeboot/vmlinuz']);
    const initrd = await firstFile(tree, ['images/pxeboot/initrd.img']);
    if (!kernel || !initrd) return undefined;
    const ti = parseIni((await readText(tree, '.treeinfo')) ?? (await readText(tree, 'treeinfo')) ?? '');
    const os = ti.release?.name ?? ti.general?.family ?? (tree.volumeId ? tree.volumeId.replace(/[-_]/g, ' ') : 'Red Hat family installer');
    const version = ti.release?.version ?? ti.general?.version;
    const live = await firstFile(tree, ['LiveOS/squashfs.img']);
    const repo = await isRepo(tree);
    // A live image without .treeinfo has no Anaconda stage2: dracut mounts the squashfs itself.
    const liveBoot = !!live && !ti.general && !ti.release && !ti.stage2;
    const method = liveBoot
      ? 'kernel + initrd from images/pxeboot/, dracut fetches LiveOS/squashfs.img over HTTP'
      : repo
        ? 'kernel + initrd from images/pxeboot/, installer and packages from the ISO tree over HTTP (inst.repo)'
        : 'kernel + initrd from images/pxeboot/, installer stage2 from the ISO tree over HTTP (inst.stage2)';
    return {
      recipe: 'redhat',
      os,
      version,
      bootModes: ['bios', 'uefi'],
      method,
      helpers: [],
      notes: repo || liveBoot ? [] : ['a boot/netinst ISO installs packages from the internet mirrors: the machine needs internet access'],
      ...linuxBoot(kernel.path, [initrd.path], (ctx) => [
        ...(liveBoot ? [`root=live:${ctx.fileUrl(live.path)}`, 'rd.live.image'] : [repo ? `inst.repo=${ctx.treeUrl}` : `inst.stage2=${ctx.treeUrl}`]),
        'ip=dhcp',
      ]),
    };
  },
};
