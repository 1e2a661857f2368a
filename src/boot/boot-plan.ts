// What one machine boots, decided in one place (src/images/boot-chooser.ts makes it, as
// pixiecore's Booter does): which first stage DHCP hands it on its firmware, which
// configuration its loader reads, which payload files it fetches (and on which firmware: a
// BIOS machine fetches bootmgr, a UEFI one bootx64.efi, never both), and how PXE Kit knows it
// handed over. The DHCP policy, the iPXE and GRUB writers, the published files and the
// session tracker all read it; none decides on its own.
import type { ArchFamily } from './client.js';
import { httpUrl } from './ipxe-script.js';
import type { SignedLoaders } from './signed-chain.js';
import type { FileRole } from '../files/roles.js';

export type PlanFirmware = 'bios' | 'uefi';

export interface PlanFile {
  /** Published path. */
  path: string;
  role: FileRole;
  /** Only machines on this firmware fetch it; undefined: every machine does. */
  firmware?: PlanFirmware;
}

/**
 * How PXE Kit learns the machine handed over to its OS.
 * - 'signal': the generated script or configuration asks for `handoff/<mac>` just before `boot`,
 *   `sanboot` or `chain` (iPXE over HTTP, GRUB over TFTP): hand-off is that request, once.
 * - 'files': no loader of PXE Kit's runs last (nothing can report), so delivering every payload
 *   file for the machine's firmware stands for it.
 */
export type Handoff = { kind: 'signal' } | { kind: 'files'; entries?: HandoffEntry[] };

/** A menu entry of a tree's own loader: delivering all its files is the hand-off (any entry: the technician may pick another). */
export interface HandoffEntry {
  firmware?: PlanFirmware;
  files: string[];
}

/** Firmware a netboot tree carries its own first stage for. */
export type FirstStageFirmware = 'bios' | 'x64' | 'ia32' | 'arm64';

export interface BootPlan {
  mac: string;
  /** What the machine is to boot: an image, the library menu, its local disk, or a message on its screen. */
  choice: 'image' | 'menu' | 'local' | 'message';
  imageId?: string;
  /** The machine boots the image once, then its local disk (recorded at hand-off). */
  bootOnce: boolean;
  /** UEFI x64 with the signed chain: these loaders (the image's own, or PXE Kit's). */
  signedLoaders: SignedLoaders;
  /** Can the signed chain (shim -> GRUB -> kernel) boot it? Otherwise only iPXE can. */
  signedChainCan: boolean;
  /** The image's files the loader fetches, with the firmware that fetches each. */
  payload: PlanFile[];
  /** A file the machine reads as a disk by ranges (sanboot): its reads are one download. */
  readAsDisk?: string;
  handoff: Handoff;
  /**
   * A netboot tree's own first stage per firmware (tree-relative; the tree is the machine's
   * TFTP/HTTP root): DHCP hands these instead of iPXE. Undefined for every other image.
   */
  firstStage?: Partial<Record<FirstStageFirmware, string>>;
  /** A program that runs on these firmware only (memtest86+'s BIOS image, an EFI tool): others are refused at DHCP with why. */
  runsOn?: { firmware: FirstStageFirmware[]; what: string };
}

/** The payload paths a machine on this firmware fetches (all of them when the firmware is not known yet). */
export function payloadFor(plan: Pick<BootPlan, 'payload'>, firmware: PlanFirmware | undefined): string[] {
  return plan.payload.filter((f) => !firmware || !f.firmware || f.firmware === firmware).map((f) => f.path);
}

export function planFirmware(family: ArchFamily | undefined): PlanFirmware | undefined {
  if (!family || family === 'unknown') return undefined;
  return family === 'bios' ? 'bios' : 'uefi';
}

/** Where loaders report the hand-off: "handoff/52-54-00-12-34-56". */
export const HANDOFF_PREFIX = 'handoff/';

/** The MAC a hand-off request names ("52-54-00-12-34-56"), or undefined. */
export function macFromHandoffName(name: string): string | undefined {
  const m = /^([0-9a-f]{2})-([0-9a-f]{2})-([0-9a-f]{2})-([0-9a-f]{2})-([0-9a-f]{2})-([0-9a-f]{2})$/i.exec(name);
  return m ? m.slice(1).join(':').toLowerCase() : undefined;
}

/**
 * The iPXE line that reports the hand-off, placed just before `boot`, `sanboot` or `chain`.
 * The MAC comes from iPXE itself (the NIC it booted from, netX), so one script serves every
 * machine. The small answer is freed at once: wimboot would otherwise put every image iPXE
 * holds into Windows' RAM disk. A failed report never stops the boot.
 */
export function ipxeHandoffLine(serverIp: string, httpPort: number): string {
  const base = httpUrl(serverIp, httpPort, HANDOFF_PREFIX);
  return `imgfetch --name pxekit-handoff ${base}\${netX/mac:hexhyp} && imgfree pxekit-handoff || echo PXE Kit: could not report the hand-off`;
}

/** GRUB's report, over TFTP from its prefix (src/boot/grub-config.ts): a configuration with nothing in it. */
export const GRUB_HANDOFF_DIR = 'handoff/';
export function grubHandoffLine(): string {
  return `source $prefix/pxekit/${GRUB_HANDOFF_DIR}\${net_default_mac}.cfg`;
}
export const HANDOFF_ANSWER_IPXE = '#!ipxe\n# PXE Kit: hand-off noted\n';
export const HANDOFF_ANSWER_GRUB = '# PXE Kit: hand-off noted\n';
