// Script pieces every recipe shares: the failure block and inert echo text,
// in the same words as the engine's own scripts (src/boot/ipxe-script.ts).
import { failedBlock, kernelScript, sanitise } from '../../boot/ipxe-script.js';

// Shared with the boot scripts: one way to keep echo text inert and one failure block.
export { failedBlock, sanitise };
import type { ImageTree, TreeEntry } from '../tree.js';
import type { RecipeFile, ScriptContext } from './types.js';

export function linuxScript(ctx: ScriptContext, kernel: string, initrds: string[], args: string[]): string {
  const cmdline = [...args, ctx.extraCmdline.trim()].filter(Boolean).join(' ');
  return kernelScript({
    kernelUrl: ctx.fileUrl(kernel),
    initrds: initrds.map((p, i) => ({ url: ctx.fileUrl(p), name: initrdName(p, i) })),
    cmdline,
    label: ctx.label,
  });
}

/** iPXE image names must be unique; the EFI stub finds each by the name given with initrd=. */
function initrdName(path: string, i: number): string {
  const base = path.split('/').pop() ?? `initrd${i}`;
  return `${i}-${base}`.replace(/[^A-Za-z0-9._-]/g, '_');
}

export function kernelFiles(kernel: string, initrds: string[]): RecipeFile[] {
  return [{ path: kernel, role: 'kernel' }, ...initrds.map((p) => ({ path: p, role: 'initrd' }))];
}

/** Files in `dir` whose names match `re`, shortest name first (vmlinuz before vmlinuz-6.1.0-13-amd64). */
export async function filesMatching(tree: ImageTree, dir: string, re: RegExp): Promise<TreeEntry[]> {
  const kids = await tree.list(dir);
  return kids.filter((k) => k.type === 'file' && re.test(k.name)).sort((a, b) => a.name.length - b.name.length || a.name.localeCompare(b.name));
}

/** "Ubuntu 22.04.3 LTS "Jammy Jellyfish" - Release amd64 (20230807.2)" -> os + version. */
export function parseDiskInfo(info: string | undefined): { os?: string; version?: string } {
  const line = info?.split(/\r?\n/)[0]?.trim();
  if (!line) return {};
  const m = /^(.*?)\s+(\d+(?:\.\d+)*(?:\s*LTS)?)\b/.exec(line);
  if (!m) return { os: line.split(' - ')[0].trim() };
  return { os: m[1].replace(/["']/g, '').trim(), version: m[2].trim() };
}
