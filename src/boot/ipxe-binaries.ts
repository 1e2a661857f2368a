// Where the iPXE boot programs come from. PXE Kit never builds or ships them in git:
// a copy in <package>/resources/ipxe/ (made by build/fetch-ipxe.sh, bundled in releases)
// wins, then Debian's `ipxe` package in /usr/lib/ipxe/.
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The boot programs PXE Kit hands out, by the name it publishes them under. */
export const IPXE_NAMES = {
  /** BIOS PXE: uses the NIC's UNDI driver from the option ROM, works on any PXE NIC. */
  bios: 'undionly.kpxe',
  /** UEFI x64 with iPXE's own NIC drivers. */
  efiX64: 'ipxe.efi',
  /** UEFI x64 through the firmware's SNP driver: for NICs iPXE has no driver for. */
  efiX64Snp: 'snponly.efi',
  efiIa32: 'ipxe-ia32.efi',
  efiArm64: 'ipxe-arm64.efi',
  efiArm64Snp: 'snponly-arm64.efi',
} as const;

export type IpxeFlavour = keyof typeof IPXE_NAMES;

/** File names each flavour is known by in the places we look (build output and distro names). */
const CANDIDATES: Record<IpxeFlavour, string[]> = {
  bios: ['undionly.kpxe'],
  efiX64: ['ipxe.efi', 'ipxe-x86_64.efi', 'x86_64-efi/ipxe.efi'],
  efiX64Snp: ['snponly.efi', 'snponly-x86_64.efi', 'x86_64-efi/snponly.efi'],
  efiIa32: ['ipxe-ia32.efi', 'ipxe-i386.efi', 'i386-efi/ipxe.efi'],
  efiArm64: ['ipxe-arm64.efi', 'arm64-efi/ipxe.efi'],
  efiArm64Snp: ['snponly-arm64.efi', 'arm64-efi/snponly.efi'],
};

export interface IpxeBinaries {
  /** Absolute paths of the programs found, by flavour. */
  paths: Partial<Record<IpxeFlavour, string>>;
  /** The directories searched, in order. */
  searched: string[];
}

export const SYSTEM_IPXE_DIR = '/usr/lib/ipxe';
export const HOW_TO_GET_IPXE =
  'install Debian\'s "ipxe" package (sudo apt-get install ipxe), or reinstall PXE Kit (its installer carries them)';

/** The package root: the nearest directory above this module holding package.json. */
export function packageRoot(from: string = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  while (true) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find PXE Kit's package.json above ${from}`);
    dir = up;
  }
}

export function defaultIpxeDirs(): string[] {
  return [join(packageRoot(), 'resources', 'ipxe'), SYSTEM_IPXE_DIR];
}

/** Finds each flavour in the first directory that has it. */
export function locateIpxeBinaries(dirs: string[] = defaultIpxeDirs()): IpxeBinaries {
  const paths: IpxeBinaries['paths'] = {};
  for (const flavour of Object.keys(CANDIDATES) as IpxeFlavour[]) {
    search: for (const dir of dirs) {
      for (const name of CANDIDATES[flavour]) {
        const p = join(dir, name);
        if (isFile(p)) {
          paths[flavour] = p;
          break search;
        }
      }
    }
  }
  return { paths, searched: dirs };
}

/** Plain words for what is missing; undefined when the BIOS and UEFI x64 programs are there. */
export function describeMissing(b: IpxeBinaries): string | undefined {
  const missing = (['bios', 'efiX64'] as const).filter((f) => !b.paths[f]).map((f) => IPXE_NAMES[f]);
  if (missing.length === 0) return undefined;
  return `iPXE boot program${missing.length > 1 ? 's' : ''} ${missing.join(' and ')} not found: ${HOW_TO_GET_IPXE} (looked in ${b.searched.join(', ')})`;
}

/** Throws with plain words unless the BIOS and UEFI x64 programs are there. */
export function requireIpxeBinaries(b: IpxeBinaries = locateIpxeBinaries()): IpxeBinaries {
  const msg = describeMissing(b);
  if (msg) throw new Error(msg);
  return b;
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile(); // follows symlinks: Debian's ipxe.efi links to /boot/ipxe.efi
  } catch {
    return false;
  }
}
