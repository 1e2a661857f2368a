// Who is asking: the ClientInfo the boot policy decides on, read from a request.
import type { ClientArch, ClientInfo } from '../boot/client.js';
import { Opt, macOf, type DhcpPacket } from './packet.js';
import { clientArch, clientUuid, getString, userClasses } from './options.js';

/** IANA "Processor Architecture Types" (RFC 4578 2.1 and later registrations). */
const ARCH: Record<number, ClientArch> = {
  0: 'bios',
  6: 'efi-ia32',
  7: 'efi-x64', // EFI BC
  9: 'efi-x64', // EFI x86-64; some firmware (old HP, VMware) use 9 instead of 7
  10: 'efi-arm32',
  11: 'efi-arm64',
  15: 'efi-ia32-http',
  16: 'efi-x64-http',
  19: 'efi-arm64-http',
};

export function archFromCode(code: number | undefined): ClientArch {
  return code === undefined ? 'unknown' : (ARCH[code] ?? 'unknown');
}

/** "PXEClient:Arch:00007:UNDI:003016" -> 7, for clients that omit option 93. */
export function archCodeFromVendorClass(vc: string | undefined): number | undefined {
  const m = /^(?:PXEClient|HTTPClient):Arch:(\d{5})/.exec(vc ?? '');
  return m ? Number(m[1]) : undefined;
}

export function classifyClient(p: DhcpPacket): ClientInfo {
  const vendorClass = getString(p, Opt.VENDOR_CLASS);
  const archCode = clientArch(p) ?? archCodeFromVendorClass(vendorClass);
  const classes = userClasses(p);
  const userClass = classes?.join(',');
  const isPxe = vendorClass?.startsWith('PXEClient') ?? false;
  const isHttpBoot = vendorClass?.startsWith('HTTPClient') ?? false;
  const isIpxe = (classes?.includes('iPXE') ?? false) || p.options.has(Opt.ETHERBOOT);
  const info: ClientInfo = { mac: macOf(p), arch: archFromCode(archCode), isIpxe, isHttpBoot, isPxe };
  if (archCode !== undefined) info.archCode = archCode;
  if (vendorClass !== undefined) info.vendorClass = vendorClass;
  if (userClass !== undefined) info.userClass = userClass;
  const uuid = clientUuid(p);
  if (uuid !== undefined) info.uuid = uuid;
  return info;
}

/** Boot firmware or iPXE: the clients a boot server answers (and the only ones proxyDHCP answers). */
export function isBootClient(c: ClientInfo): boolean {
  return c.isPxe || c.isHttpBoot || c.isIpxe;
}
