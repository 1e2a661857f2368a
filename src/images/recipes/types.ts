// What a recipe is: it looks at an image's tree and, when it recognises the OS,
// says what it is, how it boots on BIOS and UEFI, which files the script loads,
// and writes that iPXE script.
import type { ImageTree } from '../tree.js';
import type { FileRole } from '../../files/roles.js';

export type BootMode = 'bios' | 'uefi';
export type Helper = 'wimboot' | 'memdisk';

export interface RecipeFile {
  /** Path inside the image tree (as the image spells it). */
  path: string;
  /** Role for the sessions view: 'kernel', 'initrd', 'payload'. */
  role: FileRole;
  /** Only machines on this firmware load it (bootmgr: BIOS; bootx64.efi: UEFI); undefined: all. */
  firmware?: 'bios' | 'uefi';
}

export interface ScriptContext {
  /** Absolute URL of a file inside the image tree. */
  fileUrl(path: string): string;
  /** URL of the tree's root, ending in "/": live systems fetch the rest themselves. */
  treeUrl: string;
  /** URL of the whole ISO (ISOs only), served with Range support. */
  isoUrl?: string;
  /** URL of a helper PXE Kit publishes (wimboot, memdisk), when it has one. */
  helperUrl(name: Helper): string | undefined;
  /** The user's extra kernel arguments (console=ttyS0, ...). */
  extraCmdline: string;
  /** What is booting, for the messages on the client's screen. */
  label: string;
  /** The line reporting the hand-off, to put just before `boot`/`sanboot` (src/boot/boot-plan.ts). */
  handoff: string;
  /** URL of a file PXE Kit writes for Windows PE to find its setup media (src/images/winpe-setup.ts). */
  setupFileUrl(name: string): string;
}

export interface RecipePlan {
  recipe: 'winpe' | 'casper' | 'debian-live' | 'debian-installer' | 'redhat' | 'arch' | 'memdisk' | 'sanboot' | 'none';
  os: string;
  version?: string;
  bootModes: BootMode[];
  /** One line: how a client boots it ("kernel + initrd from casper/, ISO fetched over HTTP"). */
  method: string;
  /** The files inside the image the script loads. */
  files: RecipeFile[];
  /** The whole ISO is the payload (sanboot, memdisk). */
  payloadIso?: boolean;
  /** The machine reads the ISO as a disk, by ranges (sanboot), rather than in one download (memdisk). */
  readAsDisk?: boolean;
  /** Windows setup media booted through wimboot: WinPE gets the files that connect PXE Kit's share of them (src/share/). */
  setupMedia?: boolean;
  helpers: Helper[];
  /**
   * For Linux layouts: the kernel, initrds and arguments, so that other loaders than iPXE
   * (the signed GRUB of the Secure Boot chain) can boot the same thing the script boots.
   */
  linux?: LinuxBootRecipe;
  /** Things the technician should know (wimboot missing, BIOS only, ...). */
  notes: string[];
  script(ctx: ScriptContext): string;
}

export interface LinuxBootRecipe {
  /** Paths inside the image tree. */
  kernel: string;
  initrds: string[];
  /** The kernel arguments the recipe needs (the user's extra arguments are added after them). */
  args(ctx: ScriptContext): string[];
}

export interface RecipeEnv {
  /** wimboot binary on this machine, if any. */
  wimboot?: string;
  /** syslinux's memdisk, if any. */
  memdisk?: string;
  /** Byte size of the ISO (memdisk loads all of it into RAM). */
  isoSize?: number;
}

export interface Recipe {
  name: RecipePlan['recipe'];
  match(tree: ImageTree, env: RecipeEnv): Promise<RecipePlan | undefined>;
}
