// The scripts PXE Kit hands out besides an image's own: the iPXE menu of the library,
// "boot from the local disk" (menu entry, and the second boot of a boot-once machine),
// and "nothing to boot". ${platform} is iPXE's own "pcbios" or "efi": one script fits both.
import { sanitise, failedBlock } from './recipes/common.js';

export interface MenuItem {
  /** Becomes the iPXE label suffix and the choice the menu returns. */
  id: string;
  title: string;
  /** The per-client script of that image. */
  url: string;
}

export interface MenuScriptOptions {
  items: MenuItem[];
  timeoutSeconds: number;
  /** An item id, or 'local'. */
  defaultId?: string;
  includeLocalBoot: boolean;
  title?: string;
}

/** Shortcut keys: 1-9, then letters (l is "local disk"). */
const KEYS = '123456789abcdefghijkmnopqrstuvwxyz';

export function menuScript(o: MenuScriptOptions): string {
  const title = o.title !== undefined ? sanitise(o.title) : 'PXE Kit: what should ${net0/mac} boot?';
  const lines = ['#!ipxe', ':menu', `menu ${title}`];
  const labels = new Map<string, string>();
  o.items.forEach((it, i) => {
    const label = `img${i}`;
    labels.set(it.id, label);
    const key = KEYS[i];
    lines.push(key ? `item --key ${key} ${label} ${key}) ${sanitise(it.title)}` : `item ${label} ${sanitise(it.title)}`);
  });
  if (o.includeLocalBoot) {
    if (o.items.length) lines.push('item --gap');
    lines.push('item --key l local l) Boot from the local disk');
  }
  const def = o.defaultId === 'local' && o.includeLocalBoot ? 'local' : (labels.get(o.defaultId ?? '') ?? (o.items.length ? 'img0' : 'local'));
  // --timeout is in milliseconds; 0 waits for a key. Esc (choose fails) goes to the local disk.
  const timeout = o.timeoutSeconds > 0 ? ` --timeout ${Math.round(o.timeoutSeconds * 1000)}` : '';
  lines.push(`choose${timeout} --default ${def} target || goto ${o.includeLocalBoot ? 'local' : 'cancelled'}`);
  lines.push('goto ${target}');
  o.items.forEach((it, i) => {
    lines.push(`:img${i}`, `chain ${it.url} || goto failed`, 'goto menu');
  });
  lines.push(':cancelled', 'echo PXE Kit: no choice made; returning to the firmware', 'exit 1');
  lines.push(...localBootLines());
  lines.push(...failedBlock('the chosen image'));
  return lines.join('\n');
}

/** BIOS: boot the first hard disk through INT 13h; UEFI: leave iPXE so the firmware boots its next option (the disk). */
function localBootLines(): string[] {
  return [
    ':local',
    'echo PXE Kit: booting from the local disk',
    'iseq ${platform} efi && goto local_efi || goto local_bios',
    ':local_bios',
    'sanboot --no-describe --drive 0x80 || goto failed',
    ':local_efi',
    'exit',
  ];
}

export function localBootScript(reason: string): string {
  return ['#!ipxe', `echo PXE Kit: ${sanitise(reason)}`, ...localBootLines(), ...failedBlock('the local disk')].join('\n');
}

export function messageScript(message: string): string {
  return ['#!ipxe', `echo PXE Kit: ${sanitise(message)}`, 'echo PXE Kit: returning to the firmware in 10 seconds', 'sleep 10', 'exit 1', ''].join('\n');
}

/** While an image is still being opened: wait and ask again. */
export function retryScript(message: string, selfUrl: string): string {
  return ['#!ipxe', `echo PXE Kit: ${sanitise(message)}; trying again in 5 seconds`, 'sleep 5', `chain ${selfUrl} || exit 1`, ''].join('\n');
}
