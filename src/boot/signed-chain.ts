// The Secure Boot chain for UEFI x64 machines: Microsoft-signed shim -> Debian-signed network
// GRUB -> a kernel signed by a key shim trusts (Debian's). The firmware runs only the shim;
// the shim runs only what its built-in vendor certificate or Microsoft's keys signed.
//
// What the chain asks for over TFTP (seen from Debian's shim 16.1 and GRUB 2.06 in OVMF):
// shim loads "grubx64.efi" from the directory of the BOOTP header's file field (the TFTP root
// for "shimx64.efi"; the root too when only option 67 carries the name, as with dnsmasq), after
// probing for revocations_sku.efi, revocations_sbat.efi and shim_certificate_0.efi; GRUB probes
// <prefix>/x86_64-efi/*.lst, then reads <prefix>/grub.cfg, its prefix built in ("/grub"). Binaries come from build/fetch-secureboot.sh
// (resources/secureboot) or Debian's installed packages; they are never committed.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { bufferFile, diskFile, type PublishedFile, type PublishedFiles } from '../files/published.js';
import { packageRoot } from './ipxe-binaries.js';
import { GRUB_DIR, GRUB_MACHINE_PREFIX, grubDispatchConfig } from './grub-config.js';
import { GRUB_HANDOFF_DIR } from './boot-plan.js';
import { HANDOFF_ROLE, type FileRole } from '../files/roles.js';

/** The names the chain is published (and asked for) under. */
export const SIGNED_NAMES = { shim: 'shimx64.efi', grub: 'grubx64.efi' } as const;

/**
 * The signed loaders one machine is handed, as published paths: PXE Kit's own (SIGNED_NAMES,
 * GRUB prefix "grub"), or those an image carries (src/images/own-chain.ts). shim always asks
 * for its GRUB as "grubx64.efi", and that GRUB for "<grubPrefix>/grub.cfg".
 */
export interface SignedLoaders {
  shim: string;
  grub: string;
  grubPrefix: string;
}
export const PXEKIT_SIGNED_LOADERS: SignedLoaders = { shim: SIGNED_NAMES.shim, grub: SIGNED_NAMES.grub, grubPrefix: 'grub' };

export interface SignedChainBinaries {
  shim?: string;
  grub?: string;
  searched: string[];
}

export type SecureBootChoice = 'auto' | 'signed' | 'ipxe';
export const SECURE_BOOT_CHOICES: readonly SecureBootChoice[] = ['auto', 'signed', 'ipxe'];

export const HOW_TO_GET_SIGNED_CHAIN =
  'fetch Debian\'s signed shim and GRUB with "sudo bash build/fetch-secureboot.sh" (into resources/secureboot), or install the shim-signed and grub-efi-amd64-signed packages';

const CANDIDATES = {
  shim: ['shimx64.efi', 'shimx64.efi.signed', 'shim/shimx64.efi.signed'],
  grub: ['grubnetx64.efi', 'grubnetx64.efi.signed', 'grub/x86_64-efi-signed/grubnetx64.efi.signed'],
};

export function defaultSignedChainDirs(): string[] {
  return [join(packageRoot(), 'resources', 'secureboot'), '/usr/lib'];
}

export function locateSignedChain(dirs: string[] = defaultSignedChainDirs()): SignedChainBinaries {
  const found: SignedChainBinaries = { searched: dirs };
  for (const part of ['shim', 'grub'] as const) {
    found[part] = dirs.flatMap((d) => CANDIDATES[part].map((n) => join(d, n))).find(isFile);
  }
  return found;
}

export function signedChainComplete(b: SignedChainBinaries): b is SignedChainBinaries & { shim: string; grub: string } {
  return !!b.shim && !!b.grub;
}

/** Patterns of the chain's normal probes (PublishedFiles.expectMisses). */
export const SIGNED_CHAIN_PROBES: { key: string; pattern: RegExp; why: string }[] = [
  { key: 'shim', pattern: /^(revocations_sku|revocations_sbat|shim_certificate_\d+)\.efi$/i, why: "shim looks for optional revocation lists and extra certificates first; it needs none of them" },
  { key: 'grub', pattern: /(^|\/)x86_64-efi\/[^/]+\.(lst|mod)$/i, why: 'GRUB looks for its module lists; the signed GRUB has its modules built in' },
];

/**
 * Publishes shim, GRUB, the dispatching grub/grub.cfg and each machine's own configuration
 * (written by `configFor` when the machine asks). Returns what to call to take it all down.
 */
export function publishSignedChain(
  files: PublishedFiles,
  bins: SignedChainBinaries & { shim: string; grub: string },
  /** The configuration under grub/pxekit/ (a machine's "<mac>.cfg", or a menu choice), or undefined. */
  configFor: (rest: string) => string | undefined,
): () => void {
  const added: PublishedFile[] = [
    diskFile(SIGNED_NAMES.shim, bins.shim, 'boot program'),
    diskFile(SIGNED_NAMES.grub, bins.grub, 'boot program'),
    bufferFile(`${GRUB_DIR}grub.cfg`, grubDispatchConfig(), 'boot script'),
  ];
  for (const f of added) files.add(f);
  files.addDynamic(GRUB_MACHINE_PREFIX, (rest) => {
    const text = configFor(rest);
    return text === undefined ? undefined : bufferFile(`${GRUB_MACHINE_PREFIX}${rest}`, text, grubConfigRole(rest));
  });
  for (const p of SIGNED_CHAIN_PROBES) files.expectMisses(`signed-chain-${p.key}`, p.pattern, p.why);
  return () => {
    for (const f of added) files.remove(f.path);
    files.removeDynamic(GRUB_MACHINE_PREFIX);
    for (const p of SIGNED_CHAIN_PROBES) files.forgetMisses(`signed-chain-${p.key}`);
  };
}

/** A configuration under pxekit/ is a boot script, except GRUB's hand-off report. */
export function grubConfigRole(rest: string): FileRole {
  return rest.startsWith(GRUB_HANDOFF_DIR) ? HANDOFF_ROLE : 'boot script';
}

function isFile(p: string): boolean {
  try {
    return existsSync(p) && statSync(p).isFile();
  } catch {
    return false;
  }
}
