// The Secure Boot verdict of an image as PXE Kit serves it: "boots", "needs Secure Boot off"
// or "needs a key enrolled (MOK)", read from what the image really holds. A kernel (from a
// file, or from inside an ISO's Linux layout) goes through PXE Kit's signed chain: the
// firmware checks the shim against Microsoft's keys, the shim checks the kernel against its
// vendor certificate. Everything else is started by iPXE, which is not signed.
import type { PublishedFiles } from '../files/published.js';
import type { ImageTree } from './tree.js';
import type { RecipePlan } from './recipes/index.js';
import { readEfiProgram, readEfiSource, type EfiProgramInfo } from './efi-signature.js';
import { secureBootVerdict, type Verdict } from './secure-boot-verdict.js';
import { findOwnSignedChain } from './own-chain.js';
import { HOW_TO_GET_SIGNED_CHAIN, locateSignedChain } from '../boot/signed-chain.js';

export interface ImageSecureBoot {
  verdict: Verdict;
  /** Plain words: who signed what, and what to do. */
  reason: string;
  /** 'image': the image's own shim and GRUB start it (own-chain.ts); otherwise PXE Kit's chain or iPXE. */
  chain?: 'image';
}

export const VERDICT_WORDS: Record<Verdict, string> = {
  boots: 'boots',
  'needs-secure-boot-off': 'needs Secure Boot off',
  'needs-mok': 'needs a key enrolled (MOK)',
};

/** "Secure Boot: boots" and the like, for inspect, the library and menus. */
export function verdictLine(v: ImageSecureBoot): string {
  return `Secure Boot: ${VERDICT_WORDS[v.verdict]}`;
}

const THROUGH_IPXE = (what: string): ImageSecureBoot => ({
  verdict: 'needs-secure-boot-off',
  reason: `${what} is started by iPXE, which is not signed: machines with Secure Boot on refuse it. Switch Secure Boot off in the firmware setup for this boot.`,
});

/** Reads PXE Kit's own shim (its vendor certificate decides which kernels it trusts), or says it is missing. */
async function ourShim(shimPath?: string): Promise<EfiProgramInfo | ImageSecureBoot> {
  const path = shimPath ?? locateSignedChain().shim;
  const shim = path ? await readEfiProgram(path).catch(() => undefined) : undefined;
  if (!shim) return { verdict: 'needs-secure-boot-off', reason: `PXE Kit's signed chain is missing, so UEFI machines get iPXE, which is not signed: ${HOW_TO_GET_SIGNED_CHAIN}.` };
  return shim;
}

async function verdictForKernel(kernel: EfiProgramInfo | undefined, kernelName: string, shimPath?: string): Promise<ImageSecureBoot> {
  if (!kernel) return { verdict: 'needs-secure-boot-off', reason: `${kernelName} is not an EFI program (no EFI stub): UEFI machines with Secure Boot on cannot start it.` };
  const shim = await ourShim(shimPath);
  if (!('machine' in shim)) return shim;
  return secureBootVerdict({ firstStage: { ...shim, path: 'PXE Kit\'s shim' }, kernel: { ...kernel, path: kernelName } });
}

/** A kernel file given on its own (pxekit serve vmlinuz, a library kernel). */
async function kernelFileSecureBoot(path: string, shimPath?: string): Promise<ImageSecureBoot> {
  return verdictForKernel(await readEfiProgram(path).catch(() => undefined), path.split('/').pop() ?? path, shimPath);
}

/**
 * An ISO or folder: its Linux layout's kernel through the image's own shim and GRUB when they
 * can boot from the network (own-chain.ts), else through PXE Kit's signed chain; iPXE for everything else.
 */
export async function treeSecureBoot(tree: ImageTree, plan: RecipePlan, shimPath?: string): Promise<ImageSecureBoot> {
  if (!plan.linux) return THROUGH_IPXE(plan.recipe === 'winpe' ? 'Windows (wimboot or sanboot)' : plan.recipe === 'none' ? 'This image' : `This image (${plan.method.split(':')[0]})`);
  const entry = await tree.stat(plan.linux.kernel);
  if (!entry || entry.type !== 'file') return { verdict: 'needs-secure-boot-off', reason: `${plan.linux.kernel} is missing from the image.` };
  const src = await tree.openFile(entry.path);
  let kernel: EfiProgramInfo | undefined;
  try {
    kernel = await readEfiSource(src);
  } finally {
    await src.close();
  }
  const own = await findOwnSignedChain(tree);
  if (own.chain) {
    if (!kernel) return { verdict: 'needs-secure-boot-off', reason: `${entry.path} is not an EFI program (no EFI stub): UEFI machines with Secure Boot on cannot start it.`, chain: 'image' };
    const v = secureBootVerdict({ firstStage: { ...own.chain.shim, path: own.chain.shimPath }, kernel: { ...kernel, path: entry.path } });
    return { ...v, reason: `Served with its own shim and GRUB. ${v.reason}`, chain: 'image' };
  }
  const v = await verdictForKernel(kernel, entry.path, shimPath);
  return own.why ? { ...v, reason: `${v.reason} (PXE Kit's shim and GRUB are used: the image's own chain cannot boot from the network, ${own.why}.)` } : v;
}

/** An image that is one file: a kernel goes through the signed chain; scripts and programs through iPXE. */
export async function fileSecureBoot(kind: 'kernel' | 'ipxe-script' | 'efi' | 'pxe', path: string, shimPath?: string): Promise<ImageSecureBoot> {
  if (kind === 'kernel') return kernelFileSecureBoot(path, shimPath);
  return THROUGH_IPXE(kind === 'ipxe-script' ? 'An iPXE script' : kind === 'efi' ? 'An EFI program given as the image' : 'A PXE boot program');
}

/**
 * Names (lower case, without directories) of the published boot programs that are EFI programs
 * with no signature at all (Debian's iPXE): Secure Boot refuses them (the secure-boot-refused rule).
 */
export async function unsignedBootPrograms(files: PublishedFiles): Promise<Set<string>> {
  const names = new Set<string>();
  for (const f of files.list()) {
    if (f.role !== 'boot program' || !/\.efi$/i.test(f.path)) continue;
    const src = await f.open();
    try {
      const info = await readEfiSource(src);
      if (info && info.signatures.length === 0) names.add(baseName(f.path));
    } finally {
      await src.close();
    }
  }
  return names;
}

/** "/boot/IPXE.EFI" or "boot\\ipxe.efi" -> "ipxe.efi": how a request names a published program. */
export function baseName(file: string): string {
  return file.replace(/^.*[/\\]/, '').toLowerCase();
}
