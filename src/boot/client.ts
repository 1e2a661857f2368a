// Who is asking to boot: what the client told us in its DHCP request.

/** Option 93 (RFC 4578, IANA "Processor Architecture Types"), folded to what decides the boot file. */
export type ClientArch =
  | 'bios'
  | 'efi-ia32'
  | 'efi-x64'
  | 'efi-arm32'
  | 'efi-arm64'
  | 'efi-x64-http'
  | 'efi-ia32-http'
  | 'efi-arm64-http'
  | 'unknown';

export interface ClientInfo {
  mac: string; // lower-case, colon separated
  arch: ClientArch;
  /** The raw option 93 value, when sent. */
  archCode?: number;
  /** Option 60, e.g. "PXEClient:Arch:00007:UNDI:003016" or "HTTPClient:Arch:00016". */
  vendorClass?: string;
  /** Option 77 user class, e.g. "iPXE". */
  userClass?: string;
  /** True when the client is already iPXE (option 77 "iPXE" or option 175 present). */
  isIpxe: boolean;
  /** True for UEFI HTTP Boot clients (vendor class HTTPClient). */
  isHttpBoot: boolean;
  /** True for PXE firmware (vendor class PXEClient). */
  isPxe: boolean;
  /** Option 97 client machine identifier (UUID/GUID), hex. */
  uuid?: string;
}

export function isUefi(arch: ClientArch): boolean {
  return arch.startsWith('efi-');
}

/** The firmware family that decides which boot program a client can run. */
export type ArchFamily = 'bios' | 'x64' | 'ia32' | 'arm64' | 'arm32' | 'unknown';

export function archFamily(arch: ClientArch | undefined): ArchFamily {
  switch (arch) {
    case 'bios':
      return 'bios';
    case 'efi-x64':
    case 'efi-x64-http':
      return 'x64';
    case 'efi-ia32':
    case 'efi-ia32-http':
      return 'ia32';
    case 'efi-arm64':
    case 'efi-arm64-http':
      return 'arm64';
    case 'efi-arm32':
      return 'arm32';
    default:
      return 'unknown';
  }
}
