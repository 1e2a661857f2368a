// iPXE scripts PXE Kit generates for each client.
//
// Every URL is absolute (http://server:port/...): iPXE resolves relative URLs against the
// script's own URL, which is fine, but a URL in a log or a bug report should work as is.
// Each step ends in `|| goto failed` so a failure prints plain words, waits, and returns
// to the firmware (which then tries its next boot device) instead of a bare iPXE prompt.

/** http://ip:port/path with each path segment percent-encoded. */
export function httpUrl(serverIp: string, port: number, path: string): string {
  const enc = path
    .replace(/^\/+/, '')
    .split('/')
    .map((s) => encodeURIComponent(s))
    .join('/');
  return `http://${serverIp}:${port}/${enc}`;
}

/** The per-client script path: "ipxe/52-54-00-12-34-56.ipxe". */
export function clientScriptPath(mac: string): string {
  return `ipxe/${macToHyphens(mac)}.ipxe`;
}

export function macToHyphens(mac: string): string {
  return mac.toLowerCase().replace(/[:.-]/g, '').replace(/(..)(?!$)/g, '$1-');
}

/** The MAC (colon form) a per-client script name is for, or undefined if it names none. */
export function macFromScriptName(name: string): string | undefined {
  const m = /^([0-9a-f]{2})-([0-9a-f]{2})-([0-9a-f]{2})-([0-9a-f]{2})-([0-9a-f]{2})-([0-9a-f]{2})\.ipxe$/i.exec(name);
  return m ? m.slice(1).join(':').toLowerCase() : undefined;
}

export interface KernelScriptOptions {
  kernelUrl: string;
  /** Each initrd's URL and the name iPXE registers it under (the EFI stub looks it up by that name). */
  initrds: { url: string; name: string }[];
  cmdline: string;
  /** What is booting, for the messages on the client's screen. */
  label?: string;
  /** The line that reports the hand-off just before `boot` (src/boot/boot-plan.ts ipxeHandoffLine). */
  handoff?: string;
}

/**
 * Kernel + initrds. `initrd --name N URL` registers each initrd under N, and `initrd=N` on
 * the kernel command line is how the Linux EFI stub (UEFI) finds it in iPXE's virtual file
 * system; on BIOS iPXE's bzImage loader passes every registered initrd itself and the
 * kernel ignores `initrd=`, so one script works on both.
 */
export function kernelScript(o: KernelScriptOptions): string {
  checkLine(o.cmdline, 'kernel command line');
  const args = [...o.initrds.map((i) => `initrd=${i.name}`), o.cmdline.trim()].filter(Boolean).join(' ');
  const label = o.label ?? 'Linux';
  return [
    '#!ipxe',
    `echo PXE Kit: booting ${sanitise(label)} on \${net0/mac}`,
    `kernel ${o.kernelUrl}${args ? ' ' + args : ''} || goto failed`,
    ...o.initrds.map((i) => `initrd --name ${i.name} ${i.url} || goto failed`),
    ...(o.handoff ? [o.handoff] : []),
    'boot || goto failed',
    ...failedBlock(label),
  ].join('\n');
}

/** Hands over to another program or script: an EFI binary, a PXE NBP, or the user's own iPXE script. */
export function chainScript(url: string, label?: string, handoff?: string): string {
  const what = label ?? url;
  return ['#!ipxe', `echo PXE Kit: starting ${sanitise(what)}`, ...(handoff ? [handoff] : []), `chain ${url} || goto failed`, ...failedBlock(what)].join('\n');
}

export function failedBlock(what: string): string[] {
  // ${errno} is iPXE's last error number; https://ipxe.org/err/<errno> explains it.
  return [
    'exit 0',
    ':failed',
    `echo PXE Kit: could not boot ${sanitise(what)} (error \${errno}, see https://ipxe.org/err/\${errno})`,
    'echo PXE Kit: check the PXE Kit window for this machine; returning to the firmware in 10 seconds',
    'sleep 10',
    'exit 1',
    '',
  ];
}

/** Script lines cannot hold newlines; a newline would start a new (unintended) command. */
function checkLine(s: string, what: string): void {
  if (/[\r\n]/.test(s)) throw new Error(`the ${what} contains a line break; give it on one line`);
}

export function sanitise(s: string): string {
  // Keep echo text inert: no settings expansion, no line breaks.
  return s.replace(/[\r\n]/g, ' ').replace(/\$\{/g, '$ {');
}
