// Plain-words help for a failed boot, keyed on the engine's stable failure codes,
// and a vendor name from the MAC's OUI for machines a technician meets in the field.
import type { SessionFailure } from './api/types.js';

const ADVICE: Record<SessionFailure['code'], string> = {
  'not-found':
    'The machine asked for a file PXE Kit does not publish. If the image file was moved or deleted, add it again under Images; if the name looks wrong, the firmware or boot script asked for a different file.',
  timeout: 'The transfer stalled: the machine stopped answering. Check the cable and the switch port (enable PortFast / disable spanning-tree delay), then power-cycle the machine.',
  silent:
    'The machine went quiet after DHCP: its firmware may refuse the boot program (BIOS vs UEFI, Secure Boot on), or something on the switch blocks TFTP (UDP 69).',
  'no-boot-file': 'No boot file was offered to this machine: its architecture is not served, or the boot policy refused it. The log says why.',
  aborted: 'The machine gave up the download. Firmware does this on purpose when probing sizes; if it repeats, the image may be too large for it.',
  io: 'PXE Kit could not read the file from disk: check the drive that holds the image.',
  'boot-loop':
    "The machine came back to network boot right after its hand-off: what it was given did not start. Read what its screen says before it restarts; check the image's firmware (BIOS or UEFI) with Inspect, and that the image is whole.",
};

export function diagnosis(f: SessionFailure): string {
  return ADVICE[f.code] ?? f.message;
}

// A few OUIs seen on lab and field machines; unknown ones show the vendor class only.
const OUI: Record<string, string> = {
  '52:54:00': 'QEMU/KVM',
  '08:00:27': 'VirtualBox',
  '00:50:56': 'VMware',
  '00:0c:29': 'VMware',
  '00:15:5d': 'Hyper-V',
  '00:1c:42': 'Parallels',
  'b8:27:eb': 'Raspberry Pi',
  'dc:a6:32': 'Raspberry Pi',
  '3c:ec:ef': 'Supermicro',
  '00:25:90': 'Supermicro',
  'f4:8e:38': 'Dell',
  '18:66:da': 'Dell',
  '3c:d9:2b': 'HP',
  '9c:8e:99': 'HP',
  '54:ee:75': 'Lenovo',
  '8c:16:45': 'Lenovo',
  '00:1b:21': 'Intel',
  'a0:36:9f': 'Intel',
};

export function vendorOf(mac: string): string | undefined {
  return OUI[mac.toLowerCase().slice(0, 8)];
}

/** "PXEClient:Arch:00007:UNDI:003016" -> "PXE (UNDI 3.16)"; others as sent. */
export function firmwareOf(vendorClass: string | undefined): string | undefined {
  if (!vendorClass) return undefined;
  const m = /^(PXEClient|HTTPClient)(?::Arch:\d+)?(?::UNDI:(\d{3})(\d{3}))?/.exec(vendorClass);
  if (!m) return vendorClass;
  const kind = m[1] === 'HTTPClient' ? 'HTTP Boot' : 'PXE';
  return m[2] ? `${kind} (UNDI ${Number(m[2])}.${m[3].replace(/^0+(?=\d)/, '')})` : kind;
}

export const ARCH_LABELS: Record<string, string> = {
  bios: 'BIOS',
  'efi-ia32': 'UEFI 32-bit',
  'efi-x64': 'UEFI x64',
  'efi-arm32': 'UEFI ARM32',
  'efi-arm64': 'UEFI ARM64',
  'efi-x64-http': 'UEFI x64 HTTP',
  'efi-ia32-http': 'UEFI 32-bit HTTP',
  'efi-arm64-http': 'UEFI ARM64 HTTP',
  unknown: 'Unknown',
};
