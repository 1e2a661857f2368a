// GRUB configurations PXE Kit writes for machines on the signed chain (shim -> GRUB -> kernel).
//
// Debian's signed network GRUB (grubnetx64.efi) sets its prefix to (tftp,<next-server>)/grub,
// reads grub/grub.cfg from there, and can load nothing it does not carry built in: no http
// module, so every file it loads comes over TFTP from the same published tree; no insmod under
// Secure Boot. GRUB knows its own MAC as $net_default_mac, so one static grub/grub.cfg sends
// each machine to its own configuration, written when it asks (grub/pxekit/<mac>.cfg), from
// the same per-machine decision as the iPXE scripts (assignment, menu, boot-once).

import { grubHandoffLine } from './boot-plan.js';

/** The per-machine configuration's path in PublishedFiles: "grub/pxekit/52:54:00:12:34:56.cfg". */
export const GRUB_DIR = 'grub/';
export const GRUB_MACHINE_PREFIX = 'grub/pxekit/';

export function grubMachineConfigPath(mac: string): string {
  return `${GRUB_MACHINE_PREFIX}${mac.toLowerCase()}.cfg`;
}

/** The MAC a per-machine configuration name is for ("52:54:00:12:34:56.cfg"), or undefined. */
export function macFromGrubConfigName(name: string): string | undefined {
  const m = /^((?:[0-9a-f]{2}:){5}[0-9a-f]{2})\.cfg$/i.exec(name);
  return m ? m[1].toLowerCase() : undefined;
}

/** grub/grub.cfg: the same for everyone, it only hands over to the machine's own file. */
export function grubDispatchConfig(): string {
  return [
    '# PXE Kit: every machine reads its own configuration, chosen by its MAC address.',
    `configfile $prefix/pxekit/\${net_default_mac}.cfg`,
    // Reached only when that file could not be read.
    'echo "PXE Kit: no configuration for ${net_default_mac}: check the PXE Kit window for this machine"',
    'sleep 10',
    'exit 1',
    '',
  ].join('\n');
}

export interface GrubKernelOptions {
  /** Published paths (TFTP): "image/vmlinuz". */
  kernelPath: string;
  initrdPaths: string[];
  cmdline: string;
  label: string;
}

/**
 * Kernel + initrds over TFTP. Under Secure Boot GRUB asks shim to verify the kernel (the
 * signature must chain to a key shim trusts); initrds are not verified. On failure the
 * machine says so and returns to the firmware, as the iPXE scripts do.
 */
export function grubKernelConfig(o: GrubKernelOptions): string {
  checkLine(o.cmdline, 'kernel command line');
  const args = o.cmdline.trim().split(/\s+/).filter(Boolean).map(grubWord);
  return [
    `echo ${grubWord(`PXE Kit: booting ${o.label} on`)} "$net_default_mac"`,
    `linux ${grubPath(o.kernelPath)}${args.length ? ' ' + args.join(' ') : ''}`,
    ...(o.initrdPaths.length ? [`initrd ${o.initrdPaths.map(grubPath).join(' ')}`] : []),
    // Everything is loaded: report the hand-off (src/boot/boot-plan.ts), then start the kernel.
    grubHandoffLine(),
    'boot',
    ...grubFailed(o.label),
  ].join('\n');
}

/** Boot from the local disk: leaving GRUB makes the firmware try its next boot option. */
export function grubLocalBootConfig(reason: string): string {
  return [`echo ${grubWord(`PXE Kit: ${reason}; booting from the local disk`)}`, 'exit 0', ''].join('\n');
}

export function grubMessageConfig(message: string): string {
  return [`echo ${grubWord(`PXE Kit: ${message}`)}`, "echo 'PXE Kit: returning to the firmware in 10 seconds'", 'sleep 10', 'exit 1', ''].join('\n');
}

export interface GrubMenuItem {
  title: string;
  /** The entry's body: another machine configuration to read, "configfile <path>". */
  configPath: string;
}

export function grubMenuConfig(o: { items: GrubMenuItem[]; timeoutSeconds: number; defaultIndex: number; includeLocalBoot: boolean }): string {
  // timeout=-1 waits for a key (the iPXE menu's 0).
  const lines = [`set timeout=${o.timeoutSeconds > 0 ? Math.round(o.timeoutSeconds) : -1}`, `set default=${Math.max(0, o.defaultIndex)}`];
  for (const it of o.items) lines.push(`menuentry ${grubWord(it.title)} {`, `  configfile ${grubPath(it.configPath)}`, '}');
  if (o.includeLocalBoot) lines.push(`menuentry 'Boot from the local disk' {`, '  exit 0', '}');
  lines.push('');
  return lines.join('\n');
}

function grubFailed(what: string): string[] {
  return [
    `echo ${grubWord(`PXE Kit: could not boot ${what}: check the PXE Kit window for this machine; returning to the firmware in 10 seconds`)}`,
    'sleep 10',
    'exit 1',
    '',
  ];
}

/** An absolute path on GRUB's $root, the TFTP server it booted from. */
function grubPath(published: string): string {
  return grubWord('/' + published.replace(/^\/+/, ''));
}

/**
 * One word of GRUB script, quoted when it holds anything GRUB would read as syntax: inside
 * single quotes nothing is special, and a single quote itself is closed, escaped, reopened.
 */
export function grubWord(s: string): string {
  if (/^[A-Za-z0-9_.,:/=+@%-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A line break would start a new GRUB command. */
function checkLine(s: string, what: string): void {
  if (/[\r\n]/.test(s)) throw new Error(`the ${what} contains a line break; give it on one line`);
}
