// A kernel + initrds boot, said once so that each loader writes it in its own language:
// iPXE's script (src/boot/ipxe-script.ts) and the signed GRUB's configuration
// (src/boot/grub-config.ts) load the same published files with the same command line.

export interface LinuxBoot {
  /** Published paths (served over TFTP and HTTP alike): "image/vmlinuz", "iso/<id>/casper/vmlinuz". */
  kernelPath: string;
  initrdPaths: string[];
  /** The whole kernel command line (the recipe's arguments, then the user's). */
  cmdline: string;
  /** What is booting, for the messages on the machine's screen. */
  label: string;
}
