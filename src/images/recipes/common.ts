// Script pieces every recipe shares: the failure block and inert echo text,
// in the same words as the engine's own scripts (src/boot/ipxe-script.ts).
import { failedBlock, kernelScript, sanitise } from '../../boot/ipxe-script.js';

// Shared with the boot scripts: one way to keep echo text inert and one failure block.
export { failedBlock, sanitise };
import type { ImageTree, TreeEntry } from '../tree.js';
import type { LinuxBootRecipe, RecipeFile, RecipePlan, ScriptContext } from './types.js';

/** The recipe's arguments, then the user's. */
export function linuxCmdline(ctx: ScriptContext, linux: LinuxBootRecipe): string {
  return [...linux.args(ctx), ctx.extraCmdline.trim()].filter(Boolean).join(' ');
}

function linuxScript(ctx: ScriptContext, linux: LinuxBootRecipe): string {
  return kernelScript({
    kernelUrl: ctx.fileUrl(linux.kernel),
    initrds: linux.initrds.map((p, i) => ({ url: ctx.fileUrl(p), name: initrdName(p, i) })),
    cmdline: linuxCmdline(ctx, linux),
    label: ctx.label,
    handoff: ctx.handoff,
  });
}

/** A Linux layout's plan parts: what it loads, the structured boot (for GRUB), and the iPXE script made from it. */
export function linuxBoot(kernel: string, initrds: string[], args: (ctx: ScriptContext) => string[]): Pick<RecipePlan, 'files' | 'linux' | 'script'> {
  const linux: LinuxBootRecipe = { kernel, initrds, args };
  return { files: kernelFiles(kernel, initrds), linux, script: (ctx) => linuxScript(ctx, linux) };
}

/** iPXE image names must be unique; the EFI stub finds each by the name given with initrd=. */
function initrdName(path: string, i: number): string {
  const base = path.split('/').pop() ?? `initrd${i}`;
  return `${i}-${base}`.replace(/[^A-Za-z0-9._-]/g, '_');
}

export function kernelFiles(kernel: string, initrds: string[]): RecipeFile[] {
  return [{ path: kernel, role: 'kernel' }, ...initrds.map((p): RecipeFile => ({ path: p, role: 'initrd' }))];
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
