// Anything else with El Torito boot entries: memdisk for small BIOS-only ISOs (syslinux's
// memdisk loads the ISO into RAM and emulates a CD: works with old DOS/firmware tools
// that sanboot cannot run), else iPXE sanboot of the ISO over HTTP.
import { failedBlock, sanitise } from './common.js';
import type { BootMode, Recipe } from './types.js';
import { sanbootScript } from './winpe.js';

/** memdisk keeps the whole ISO in RAM below 4 GiB: only for small images. */
export const MEMDISK_MAX_BYTES = 256 * 1024 * 1024;
export const MEMDISK_PATHS = ['/usr/lib/syslinux/memdisk', '/usr/share/syslinux/memdisk', '/usr/lib/syslinux/bios/memdisk'];

export const memdiskRecipe: Recipe = {
  name: 'memdisk',
  async match(tree, env) {
    if (tree.kind !== 'iso' || !tree.boot?.bios || tree.boot.uefi || !env.memdisk) return undefined;
    if (env.isoSize === undefined || env.isoSize > MEMDISK_MAX_BYTES) return undefined;
    return {
      recipe: 'memdisk',
      os: tree.volumeId ? `bootable ISO "${tree.volumeId}"` : 'bootable ISO',
      bootModes: ['bios'],
      method: 'memdisk: the whole ISO is loaded into RAM and started as a CD (BIOS only)',
      files: [],
      payloadIso: true,
      helpers: ['memdisk'],
      notes: ['this ISO boots on BIOS only (no UEFI El Torito entry)'],
      script: (ctx) =>
        [
          '#!ipxe',
          `echo PXE Kit: booting ${sanitise(ctx.label)} with memdisk on \${net0/mac}`,
          'iseq ${platform} pcbios || goto no_uefi',
          `kernel ${ctx.helperUrl('memdisk')} iso raw || goto failed`,
          `initrd ${ctx.isoUrl} || goto failed`,
          ctx.handoff,
          'boot || goto failed',
          ':no_uefi',
          `echo PXE Kit: ${sanitise(ctx.label)} has no UEFI boot loader; boot this machine in BIOS (legacy/CSM) mode`,
          'goto failed',
          ...failedBlock(ctx.label),
        ].join('\n'),
    };
  },
};

export const sanbootRecipe: Recipe = {
  name: 'sanboot',
  async match(tree) {
    if (tree.kind !== 'iso') return undefined;
    const modes: BootMode[] = [];
    if (tree.boot?.bios) modes.push('bios');
    if (tree.boot?.uefi) modes.push('uefi');
    if (!modes.length) return undefined;
    return {
      recipe: 'sanboot',
      os: tree.volumeId ? `bootable ISO "${tree.volumeId}"` : 'bootable ISO',
      bootModes: modes,
      method: 'iPXE sanboot: the ISO is read over HTTP by ranges as a CD',
      files: [],
      payloadIso: true,
      readAsDisk: true,
      helpers: [],
      notes: modes.length === 1 ? [`this ISO boots on ${modes[0] === 'bios' ? 'BIOS' : 'UEFI'} only`] : [],
      script: (ctx) => sanbootScript(ctx.isoUrl!, ctx.label, ctx.handoff),
    };
  },
};

export const noRecipe: Recipe = {
  name: 'none',
  async match(tree) {
    return {
      recipe: 'none',
      os: 'unknown',
      bootModes: [],
      method: 'not bootable: no known OS layout and no El Torito boot entry',
      files: [],
      helpers: [],
      notes: [tree.kind === 'iso' ? 'this ISO has no boot loader PXE Kit knows (no El Torito entry): it is probably a data disc' : 'this folder has no layout PXE Kit knows'],
      script: (ctx) =>
        ['#!ipxe', `echo PXE Kit: ${sanitise(ctx.label)} is not a bootable image`, 'goto failed', ...failedBlock(ctx.label)].join('\n'),
    };
  },
};
