// PXE Kit's boot policy: firmware PXE/HTTP clients get iPXE, iPXE gets its per-client
// script. Answering iPXE with the script (not with iPXE again) is what breaks the
// chainload loop: iPXE re-does DHCP and would otherwise load itself forever.
import { archFamily, type ArchFamily, type ClientInfo } from './client.js';
import type { BootAnswerContext, BootDecision, BootPolicy, BootRefusal } from './decision.js';
import { diskFile, type PublishedFiles } from '../files/published.js';
import { IPXE_NAMES, HOW_TO_GET_IPXE, type IpxeBinaries, type IpxeFlavour } from './ipxe-binaries.js';
import { clientScriptPath, httpUrl } from './ipxe-script.js';
import type { SecureBootChoice } from './signed-chain.js';
import type { BootPlan } from './boot-plan.js';

export interface BootPolicyOptions {
  serverIp: string;
  httpPort: number;
  binaries: IpxeBinaries;
  /** The per-client iPXE script's path in PublishedFiles. */
  scriptPathFor?: (mac: string) => string;
  /**
   * UEFI builds to prefer: 'ipxe' (iPXE's own NIC drivers, the default) or 'snponly'
   * (the firmware's network driver; for NICs iPXE has no driver for). Falls back to the other.
   */
  efiBuild?: 'ipxe' | 'snponly';
  /**
   * UEFI x64 PXE clients and Secure Boot (DHCP does not say whether it is on): 'signed' gives
   * them the signed chain (shim -> GRUB), 'ipxe' gives iPXE, 'auto' (the default) gives the
   * signed chain when it can boot what the machine is to boot (`signedChainCan`), else iPXE.
   * The signed chain is offered only when its binaries are published (`signedChain`).
   */
  secureBoot?: SecureBootChoice;
  /** PXE Kit's signed chain is published (its first stage under this name); undefined when its binaries are missing. */
  signedChain?: { shim: string };
  /**
   * The machine's boot plan (src/boot/boot-plan.ts): whether the signed chain can boot it, and
   * which shim (an image's own, or PXE Kit's). Without it: PXE Kit's shim, for anything.
   */
  planFor?: (mac: string) => Pick<BootPlan, 'signedChainCan' | 'signedLoaders' | 'firstStage' | 'runsOn'>;
}

type Family = ArchFamily;

/** An iPXE build by its usual names (undionly.kpxe, ipxe.efi, snponly.efi). */
const IPXE_FILE = /(^|\/)(undionly|ipxe|snponly|snp)[^/]*\.(kpxe|kkpxe|pxe|efi|lkrn)$/i;

const FAMILY_WORDS: Record<Family, string> = {
  bios: 'a BIOS',
  x64: 'a 64-bit x86 UEFI',
  ia32: 'a 32-bit x86 UEFI',
  arm64: 'an ARM64 UEFI',
  arm32: 'a 32-bit ARM UEFI',
  unknown: 'an unknown',
};

const MISSING_WORDS: Record<Family, string> = {
  bios: `no BIOS iPXE binary (${IPXE_NAMES.bios}) is available: ${HOW_TO_GET_IPXE}`,
  x64: `no x64 UEFI iPXE binary (${IPXE_NAMES.efiX64} or ${IPXE_NAMES.efiX64Snp}) is available: ${HOW_TO_GET_IPXE}`,
  ia32: `no 32-bit UEFI iPXE binary is available (Debian ships none): copy an i386-efi build of iPXE, named ${IPXE_NAMES.efiIa32}, into the ipxe folder of PXE Kit's installation, or boot this machine in BIOS (Legacy/CSM) mode`,
  arm64: `no ARM64 iPXE binary is available: copy an arm64-efi build of iPXE, named ${IPXE_NAMES.efiArm64}, into the ipxe folder of PXE Kit's installation (Debian's "ipxe" package has one on ARM64 computers)`,
  arm32: 'PXE Kit has no iPXE build for 32-bit ARM UEFI; boot this machine another way',
  unknown: 'PXE Kit does not know which iPXE build it can run',
};

export function createBootPolicy(opts: BootPolicyOptions): BootPolicy {
  const scriptPathFor = opts.scriptPathFor ?? clientScriptPath;
  const prefer = opts.efiBuild ?? 'ipxe';
  const paths = opts.binaries.paths;

  function pick(fam: Family): IpxeFlavour | undefined {
    const order: Partial<Record<Family, IpxeFlavour[]>> = {
      bios: ['bios'],
      x64: prefer === 'ipxe' ? ['efiX64', 'efiX64Snp'] : ['efiX64Snp', 'efiX64'],
      ia32: ['efiIa32'],
      arm64: prefer === 'ipxe' ? ['efiArm64', 'efiArm64Snp'] : ['efiArm64Snp', 'efiArm64'],
    };
    return (order[fam] ?? []).find((f) => paths[f]);
  }

  /** The signed chain's first stage for this machine (its image's own shim, or PXE Kit's), or undefined for iPXE. */
  function signedFirstStage(mac: string): string | undefined {
    const choice = opts.secureBoot ?? 'auto';
    if (choice === 'ipxe' || !opts.signedChain) return undefined;
    const plan = opts.planFor?.(mac);
    if (choice !== 'signed' && !plan?.signedChainCan) return undefined;
    return plan?.signedLoaders.shim ?? opts.signedChain.shim;
  }

  /**
   * A netboot tree's own loader for this machine (the tree is its TFTP root), or a refusal when
   * the tree has none for its firmware; undefined when the machine is not booting a tree.
   */
  function treeDecision(client: ClientInfo, fam: Family, viaHttp: boolean): BootDecision | undefined {
    const stages = opts.planFor?.(client.mac)?.firstStage;
    if (!stages) return undefined;
    if (fam === 'arm32' || fam === 'unknown') return undefined; // said below, as for any image
    const path = stages[fam];
    const firmware = fam === 'bios' ? 'BIOS' : `UEFI ${fam}`;
    if (!path) {
      const has = Object.keys(stages).map((f) => (f === 'bios' ? 'BIOS' : `UEFI ${f}`));
      return { kind: 'refuse', reason: `the netboot folder has no boot loader for ${FAMILY_WORDS[fam]} machine (it has one for ${has.join(' and ')}): boot this machine in ${has.join(' or ')} mode, or give the folder's loader with --boot-file` };
    }
    if (viaHttp) return { kind: 'offer', bootFile: httpUrl(opts.serverIp, opts.httpPort, path), nextServer: opts.serverIp, httpClient: true, description: `the folder's ${path} for ${firmware} HTTP Boot` };
    return { kind: 'offer', bootFile: path, nextServer: opts.serverIp, httpClient: false, description: `the folder's ${path} for ${firmware}` };
  }

  /** A program for other firmware than this machine's: refused here, not by the machine's "Exec format error". */
  function firmwareMismatch(mac: string, fam: Family): BootRefusal | undefined {
    const runsOn = opts.planFor?.(mac)?.runsOn;
    if (!runsOn || fam === 'unknown' || fam === 'arm32' || runsOn.firmware.includes(fam)) return undefined;
    const words = runsOn.firmware.map((f) => (f === 'bios' ? 'BIOS' : `UEFI ${f}`)).join(' or ');
    const legacy = runsOn.firmware.includes('bios') ? ' (Legacy/CSM)' : '';
    return {
      kind: 'refuse',
      reason: `${runsOn.what} runs on ${words} machines only, and this is ${FAMILY_WORDS[fam]} machine: switch its boot mode to ${words}${legacy} in the firmware setup, or serve the build of the program for its firmware`,
    };
  }

  return {
    decide(client: ClientInfo, how?: BootAnswerContext): BootDecision {
      const fam = archFamily(client.arch);
      const viaHttp = client.isHttpBoot || client.arch.endsWith('-http');
      // A tree's loader goes to firmware iPXE too (QEMU's and many NICs' ROMs are iPXE): PXE Kit
      // chains no iPXE of its own there, so there is no loop to break. A tree whose loader is
      // iPXE itself would load itself forever: that iPXE gets PXE Kit's script instead.
      const wrongFirmware = client.isPxe || viaHttp ? firmwareMismatch(client.mac, fam) : undefined;
      if (wrongFirmware) return wrongFirmware;
      const tree = client.isPxe || viaHttp ? treeDecision(client, fam, viaHttp) : undefined;
      if (tree && !(client.isIpxe && tree.kind === 'offer' && IPXE_FILE.test(tree.bootFile))) return tree;
      if (client.isIpxe) {
        return {
          kind: 'offer',
          bootFile: httpUrl(opts.serverIp, opts.httpPort, scriptPathFor(client.mac)),
          nextServer: opts.serverIp,
          httpClient: false,
          description: 'boot script',
        };
      }
      if (!client.isPxe && !viaHttp) {
        return {
          kind: 'refuse',
          reason: 'this machine did not ask to boot from the network (no PXEClient or HTTPClient vendor class), so it gets an address only',
        };
      }
      if (fam === 'unknown') {
        const code = client.archCode === undefined ? 'no architecture' : `architecture code ${client.archCode}`;
        return {
          kind: 'refuse',
          reason: `a client with ${code} asked to boot; PXE Kit does not know which iPXE build it can run, so it gets no boot file`,
        };
      }
      // Debian's signed GRUB cannot load files over HTTP, so UEFI HTTP Boot keeps iPXE; and it takes its
      // TFTP server from the DHCP ACK the firmware kept, which in proxy mode is the site server's.
      const shim = fam === 'x64' && !viaHttp && !how?.proxy ? signedFirstStage(client.mac) : undefined;
      if (shim) {
        const whose = shim === opts.signedChain!.shim ? '' : "the image's own ";
        return {
          kind: 'offer',
          bootFile: shim,
          nextServer: opts.serverIp,
          httpClient: false,
          description: `${whose}signed shim + GRUB for UEFI x64, boots with Secure Boot on (${shim})`,
        };
      }
      const flavour = pick(fam);
      if (!flavour) return { kind: 'refuse', reason: `${FAMILY_WORDS[fam]} client asked to boot; ${MISSING_WORDS[fam]}` };
      const name = IPXE_NAMES[flavour];
      const firmware = fam === 'bios' ? 'BIOS' : `UEFI ${fam}`;
      if (viaHttp) {
        return {
          kind: 'offer',
          bootFile: httpUrl(opts.serverIp, opts.httpPort, name),
          nextServer: opts.serverIp,
          httpClient: true,
          description: `iPXE for ${firmware} HTTP Boot (${name})`,
        };
      }
      return { kind: 'offer', bootFile: name, nextServer: opts.serverIp, httpClient: false, description: `iPXE for ${firmware} (${name})` };
    },
  };
}

/** Publishes every iPXE program found under its IPXE_NAMES name: one registration serves TFTP and HTTP. */
export function publishIpxeBinaries(files: PublishedFiles, binaries: IpxeBinaries): string[] {
  const names: string[] = [];
  for (const [flavour, path] of Object.entries(binaries.paths) as [IpxeFlavour, string][]) {
    files.add(diskFile(IPXE_NAMES[flavour], path, 'boot program'));
    names.push(IPXE_NAMES[flavour]);
  }
  return names;
}

/** Alias of publishIpxeBinaries (the engine's name for it). */
export const publishBootPrograms = publishIpxeBinaries;
