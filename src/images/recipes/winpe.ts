// WinPE and Windows setup media. With wimboot (iPXE's Windows loader) the client loads
// bootmgr (BIOS) or the EFI boot manager (UEFI), the BCD, boot.sdi and boot.wim straight
// from the ISO into a RAM disk; without it, iPXE sanboots the whole ISO over HTTP,
// which boots but Windows setup then often cannot find its media again.
import { firstFile, readText } from '../tree.js';
import { failedBlock, sanitise } from './common.js';
import type { Recipe, RecipeFile } from './types.js';
import { SETUP_SCRIPT, WINPESHL_INI } from '../winpe-setup.js';

const SETUP_FILES = [WINPESHL_INI, SETUP_SCRIPT];

export const WIMBOOT_URL = 'https://github.com/ipxe/wimboot/releases';
export const WIMBOOT_HINT = `wimboot was not found: store it once with "pxekit wimboot FILE" (or give --wimboot FILE); download the file named "wimboot" from ${WIMBOOT_URL}`;

export const winpeRecipe: Recipe = {
  name: 'winpe',
  async match(tree, env) {
    const bootmgr = await firstFile(tree, ['bootmgr']);
    const bcd = await firstFile(tree, ['Boot/BCD']);
    const sdi = await firstFile(tree, ['Boot/boot.sdi']);
    const wim = await firstFile(tree, ['sources/boot.wim']);
    if (!bcd || !sdi || !wim || !bootmgr) return undefined;
    const efiLoader = await firstFile(tree, ['efi/boot/bootx64.efi', 'efi/microsoft/boot/bootmgfw.efi']);
    const setup = await firstFile(tree, ['sources/install.wim', 'sources/install.esd', 'sources/install.swm']);
    const info = await readText(tree, 'sources/idwbinfo.txt');
    const branch = info && /BuildBranch=(\S+)/i.exec(info)?.[1];
    const arch = info && /BuildArch=(\S+)/i.exec(info)?.[1];
    const version = [branch, arch].filter(Boolean).join(' ') || undefined;
    const os = setup ? 'Windows setup' : 'Windows PE';
    // A BIOS machine fetches bootmgr, a UEFI one the EFI boot manager: never both.
    const files: RecipeFile[] = [{ path: bootmgr.path, role: 'payload', firmware: 'bios' }];
    if (efiLoader) files.push({ path: efiLoader.path, role: 'payload', firmware: 'uefi' });
    files.push({ path: bcd.path, role: 'payload' }, { path: sdi.path, role: 'payload' }, { path: wim.path, role: 'payload' });
    if (!env.wimboot) {
      return {
        recipe: 'winpe',
        os,
        version,
        bootModes: tree.boot?.uefi ? ['bios', 'uefi'] : ['bios'],
        method: 'iPXE sanboot of the whole ISO over HTTP (no wimboot)',
        files: [],
        payloadIso: true,
        readAsDisk: true,
        helpers: [],
        notes: [WIMBOOT_HINT, 'without wimboot Windows setup may stop with "a media driver is missing" once it has started'],
        script: (ctx) => sanbootScript(ctx.isoUrl ?? ctx.treeUrl, ctx.label, ctx.handoff),
      };
    }
    return {
      recipe: 'winpe',
      os,
      version,
      bootModes: ['bios', 'uefi'],
      method: `wimboot: bootmgr, BCD, boot.sdi and boot.wim loaded from the ISO into a RAM disk${setup ? '; setup reads the rest from PXE Kit\'s SMB share' : ''}`,
      files,
      setupMedia: !!setup,
      helpers: ['wimboot'],
      notes: [],
      script: (ctx) => {
        const wimboot = ctx.helperUrl('wimboot');
        const l = (name: string, path: string) => `initrd --name ${name} ${ctx.fileUrl(path)} || goto failed`;
        return [
          '#!ipxe',
          `echo PXE Kit: booting ${sanitise(ctx.label)} with wimboot on \${net0/mac}`,
          `kernel ${wimboot} gui || goto failed`,
          // BIOS boots bootmgr; UEFI boots the EFI boot manager (wimboot extracts it from boot.wim when the ISO has none).
          'iseq ${platform} efi && goto efi_loader || goto bios_loader',
          ':bios_loader',
          l('bootmgr', bootmgr.path),
          'goto common',
          ':efi_loader',
          efiLoader ? l('bootx64.efi', efiLoader.path) : 'echo PXE Kit: no EFI boot manager on the ISO, wimboot takes it from boot.wim',
          ':common',
          l('BCD', bcd.path),
          l('boot.sdi', sdi.path),
          l('boot.wim', wim.path),
          // Setup media: files wimboot puts in WinPE's System32 that connect PXE Kit's share of the media and start setup.
          ...(setup ? SETUP_FILES.map((name) => `initrd --name ${name} ${ctx.setupFileUrl(name)} || goto failed`) : []),
          ctx.handoff,
          'boot || goto failed',
          ...failedBlock(ctx.label),
        ].join('\n');
      },
    };
  },
};

/** Maps the ISO as a SAN disk over HTTP (iPXE reads it by Range requests) and boots it. */
export function sanbootScript(isoUrl: string, label: string, handoff: string): string {
  return ['#!ipxe', `echo PXE Kit: booting ${sanitise(label)} (ISO over HTTP) on \${net0/mac}`, handoff, `sanboot ${isoUrl} || goto failed`, ...failedBlock(label)].join('\n');
}
