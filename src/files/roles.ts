// What a published file is for, as the log, the sessions and the diagnosis rules read it: the
// role a file is published with (PublishedFile.role) travels on its transfer events
// (TransferEvent.role), and the boot plan names its files by role (PlanFile.role). The sets take
// any string (a transfer of an unpublished file has no role) and hold only roles.

export type FileRole =
  | 'boot program' // the first stage (iPXE, a shim, GRUB, pxelinux) and what it loads beside it
  | 'boot script' // an iPXE script, a GRUB or pxelinux configuration
  | 'script' // a script, counted with the boot scripts
  | 'kernel'
  | 'initrd'
  | 'payload' // what the OS boots from (a squashfs, a WIM, a program handed off to)
  | 'iso' // the whole ISO, read over HTTP
  | 'efi-image' // an EFI boot image, counted as payload
  | 'image file' // any other file of a served image or netboot tree
  | 'hand-off signal' // the request that says GRUB handed the machine to the OS (src/boot/boot-plan.ts)
  | 'injected file'; // a file PXE Kit adds to what the OS reads (WinPE setup files)

/** What the OS boots from: fetching one means the boot program and script did their part. */
export const PAYLOAD_ROLES: ReadonlySet<string> = new Set<FileRole>(['kernel', 'initrd', 'payload', 'iso', 'efi-image']);
/** The first stage and its companions. */
export const BOOT_PROGRAM_ROLES: ReadonlySet<string> = new Set<FileRole>(['boot program']);
/** Scripts and configurations a boot program reads. */
export const SCRIPT_ROLES: ReadonlySet<string> = new Set<FileRole>(['script', 'boot script']);
/** The role of GRUB's hand-off request in PublishedFiles and transfer events. */
export const HANDOFF_ROLE: FileRole = 'hand-off signal';
