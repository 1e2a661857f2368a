// An image's own Secure Boot chain: install media carry a Microsoft-signed shim as
// EFI/BOOT/BOOTX64.EFI and their signed GRUB beside it, and that shim trusts the key its
// distribution signs its kernels with (a Canonical-signed kernel is refused by Debian's shim,
// and the other way round). PXE Kit hands a machine booting such an image that image's own
// shim and GRUB, when the GRUB can read files from the network; many cannot (Debian's and
// Ubuntu's media carry gcdx64.efi, built without the tftp module), and then PXE Kit's own
// chain is the only one that can boot them.
import type { ImageTree } from './tree.js';
import { parseEfiProgram, sourceReader, type EfiProgramInfo } from './efi-signature.js';
import { parseGrubImage, type GrubImageInfo } from './grub-image.js';
import { programSignerKind } from './secure-boot-verdict.js';

export interface OwnSignedChain {
  /** Paths inside the image, as it spells them: "EFI/BOOT/BOOTX64.EFI", "EFI/BOOT/grubx64.efi". */
  shimPath: string;
  grubPath: string;
  /** Where this GRUB reads grub.cfg from, without slashes at either end: "grub", "EFI/fedora". */
  grubPrefix: string;
  shim: EfiProgramInfo;
  grub: GrubImageInfo;
}

export type OwnChainFinding =
  | { chain: OwnSignedChain; why?: undefined }
  /** `why`: the image has a shim but its chain cannot boot from the network (plain words); undefined when it has none. */
  | { chain?: undefined; why?: string };

const SHIM_DIR = 'EFI/BOOT';

async function readProgram(tree: ImageTree, path: string): Promise<{ path: string; info?: EfiProgramInfo; grub?: GrubImageInfo } | undefined> {
  const entry = await tree.stat(path);
  if (!entry || entry.type !== 'file') return undefined;
  const src = await tree.openFile(entry.path);
  try {
    const readAt = sourceReader(src);
    return { path: entry.path, info: await parseEfiProgram(readAt, src.size), grub: await parseGrubImage(readAt, src.size) };
  } finally {
    await src.close();
  }
}

/** Looks for EFI/BOOT/BOOTX64.EFI (a shim) and EFI/BOOT/grubx64.efi, and says whether they can boot from the network. */
export async function findOwnSignedChain(tree: ImageTree): Promise<OwnChainFinding> {
  const shim = await readProgram(tree, `${SHIM_DIR}/BOOTX64.EFI`);
  if (!shim?.info || shim.info.machine !== 'x64' || shim.info.vendorCerts.length === 0) return {};
  if (programSignerKind(shim.info) !== 'microsoft-uefi-ca') return { why: `its shim (${shim.path}) is not signed by Microsoft's UEFI CA, so firmware with Secure Boot on refuses it` };
  const grub = await readProgram(tree, `${SHIM_DIR}/grubx64.efi`);
  if (!grub?.info) return { why: `it has a shim but no GRUB beside it (${SHIM_DIR}/grubx64.efi)` };
  if (!grub.grub) return { why: `${grub.path} is not a GRUB image PXE Kit can read` };
  if (programSignerKind(grub.info) === 'unsigned') return { why: `its GRUB (${grub.path}) is not signed` };
  if (!grub.grub.netBoot)
    return { why: `its GRUB (${grub.path}) cannot read files from the network (no ${grub.grub.modules.includes('efinet') ? 'tftp' : 'network'} module built in)` };
  const prefix = (grub.grub.prefix ?? '').replace(/^\(.*?\)/, '').replace(/^\/+|\/+$/g, '');
  if (!prefix) return { why: `its GRUB (${grub.path}) has no prefix built in, so where it looks for its configuration is unknown` };
  return { chain: { shimPath: shim.path, grubPath: grub.path, grubPrefix: prefix, shim: shim.info, grub: grub.grub } };
}
