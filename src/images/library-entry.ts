// The image library's data as it leaves the library: entries, the boot menu, per-MAC assignments,
// and the change events. Plain data: src/api/contract.ts carries these over the API.

/** One entry of the image library, as the library lists it (and the API carries it, src/api/contract.ts). */
export interface LibraryEntry {
  id: string;
  name: string;
  kind: 'iso' | 'folder' | 'kernel' | 'ipxe-script' | 'efi' | 'pxe' | 'netboot';
  path: string;
  size: number;
  os?: string;
  version?: string;
  sha256?: string;
  /** 0..1 while the checksum is computed in the background. */
  sha256Progress?: number;
  present: boolean;
  addedAt: number;
  /** Will it boot on a machine with Secure Boot on, as PXE Kit serves it, and why (src/images/secure-boot-image.ts); chain 'image': through the image's own shim and GRUB. */
  secureBoot?: { verdict: 'boots' | 'needs-secure-boot-off' | 'needs-mok'; reason: string; chain?: 'image' };
  /** Windows images only: whether wimboot goes with it ('missing': sanboot of the whole ISO), and when missing what that costs and the fix (src/images/wimboot.ts). */
  wimboot?: 'present' | 'missing';
  wimbootNote?: string;
  /** Netboot folders and archives: the loader each firmware gets, and what is wrong with the tree (src/images/netboot-tree.ts). */
  netboot?: { loaders: { firmware: string; path: string; what: string }[]; notes: string[] };
}

export interface MenuSettings {
  enabled: boolean;
  timeoutSeconds: number;
  defaultEntryId?: string;
  includeLocalBoot: boolean;
}

export interface Assignment {
  mac: string;
  imageId: string;
  bootOnce: boolean;
}

/** Library changes (the API adds its label changes to these: StateEvent in src/api/contract.ts). */
export type LibraryEvent =
  | { type: 'library'; at: number; entries: LibraryEntry[] }
  | { type: 'assignments'; at: number; assignments: Assignment[] }
  | { type: 'menu'; at: number; menu: MenuSettings };
