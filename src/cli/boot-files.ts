// `--boot-file bios=PATH,uefi=PATH`: the loaders of a netboot folder to hand out, when the
// technician knows better than the search (or the folder holds several).
import type { BootFileChoice } from '../images/netboot-tree.js';

const FIRMWARE_NAMES: Record<string, keyof BootFileChoice> = { bios: 'bios', uefi: 'x64', x64: 'x64', efi: 'x64', ia32: 'ia32', arm64: 'arm64', aa64: 'arm64' };

/** "bios=pxelinux.0,uefi=grub/grubx64.efi" -> { bios: 'pxelinux.0', x64: 'grub/grubx64.efi' }; throws with what is wrong. */
export function parseBootFiles(text: string): BootFileChoice {
  const out: BootFileChoice = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([a-z0-9]+)=(.+)$/i.exec(part);
    const fw = m && FIRMWARE_NAMES[m[1].toLowerCase()];
    if (!m || !fw) throw new Error(`--boot-file takes FIRMWARE=PATH pairs (bios, uefi, ia32, arm64), like bios=pxelinux.0,uefi=grubx64.efi; not "${part}"`);
    out[fw] = m[2];
  }
  if (!Object.keys(out).length) throw new Error('--boot-file is empty: give bios=PATH and/or uefi=PATH');
  return out;
}
