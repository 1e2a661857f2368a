// "What is this image and what would a machine get?": the words `pxekit inspect` prints
// and the library's inspect command returns.
import { PublishedFiles } from '../files/published.js';
import { publishImage, imageSpecFromPath, type ImageSpec, type ResolvedImageSpec } from './publish-image.js';
import { openImage, publishOpened, type HelperPaths } from './publish-iso.js';
import type { RecipePlan } from './recipes/index.js';
import type { TreeEntry } from './tree.js';
import { promises as fsp } from 'node:fs';
import { RUNS_ON_WORDS } from './program.js';
import { identifyFile } from './identify.js';
import { entryFiles, loaderLines, netbootDescription, netbootSecureBoot, openNetboot, type OpenedNetboot } from './netboot-tree.js';
import { fileSecureBoot, treeSecureBoot, VERDICT_WORDS, type ImageSecureBoot } from './secure-boot-image.js';

export interface InspectOptions {
  serverIp: string;
  httpPort: number;
  helpers?: HelperPaths;
  /** The iso/<id>/ segment. */
  id?: string;
  /** The MAC the sample script is for. */
  mac?: string;
  /** Where a netboot archive is unpacked (the data dir). */
  dataDir?: string;
}

export interface InspectResult {
  spec: ResolvedImageSpec;
  plan?: RecipePlan;
  /** Every file of an ISO/folder tree. */
  files?: TreeEntry[];
  detected: string;
  script: string;
  /** Will it boot with Secure Boot on, as PXE Kit serves it. */
  secureBoot: ImageSecureBoot;
  /** A netboot folder or archive: its loaders, menus and notes (its machines get no iPXE script). */
  netboot?: OpenedNetboot;
}

/** Which firmware a Linux kernel starts on: UEFI loaders (GRUB's linux, iPXE on UEFI) need its EFI stub. */
async function kernelModes(path: string): Promise<string> {
  const id = await identifyFile(path);
  if (!id.ok) return 'none';
  if (/\(Image/.test(id.what)) return /EFI stub/.test(id.what) ? 'UEFI (ARM64/RISC-V) only' : 'none PXE Kit can start (an ARM64/RISC-V Image without EFI stub)';
  return /EFI stub|zboot/.test(id.what) ? 'BIOS, UEFI' : 'BIOS only (no EFI stub: UEFI machines cannot start this kernel)';
}

const SAMPLE_MAC = '52:54:00:00:00:01';

function secureBootLine(v: ImageSecureBoot): string {
  return `secure boot: ${VERDICT_WORDS[v.verdict]} (${v.reason})`;
}

function size(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1 << 30) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  return `${(n / (1 << 30)).toFixed(2)} GiB`;
}

export async function inspectImage(given: ImageSpec, o: InspectOptions): Promise<InspectResult> {
  const spec: ResolvedImageSpec = given.kind === undefined ? await imageSpecFromPath(given.path, given) : given;
  if (spec.kind === 'netboot') return inspectNetboot(spec, o);
  if (spec.kind === 'iso' || spec.kind === 'folder') {
    const opened = await openImage(spec.path, spec.helpers ?? o.helpers);
    try {
      const files: TreeEntry[] = [];
      for await (const e of opened.tree.walk()) files.push(e);
      const pub = await publishOpened(new PublishedFiles(), opened, { id: spec.id ?? o.id, serverIp: o.serverIp, httpPort: o.httpPort, cmdline: spec.cmdline });
      const p = opened.plan;
      const fileCount = files.filter((f) => f.type === 'file').length;
      const total = files.reduce((a, f) => a + (f.type === 'file' ? f.size : 0), 0);
      const lines = [
        `image:      ${spec.path} (${opened.kind === 'iso' ? `ISO, ${size(opened.size)}` : 'folder'})`,
        `detected:   ${[p.os, p.version].filter(Boolean).join(' ')} [${p.recipe}]`,
        `boot modes: ${p.bootModes.length ? p.bootModes.map((m) => m.toUpperCase()).join(', ') : 'none'}`,
        `how:        ${p.method}`,
      ];
      if (opened.kind === 'iso') {
        const boot = opened.tree.boot;
        const eltorito = [boot?.bios ? 'BIOS' : '', boot?.uefi ? `UEFI (${size(boot.uefi.size)} ESP image)` : ''].filter(Boolean).join(', ');
        lines.push(`El Torito:  ${eltorito || 'none'}`);
        if (opened.tree.volumeId) lines.push(`volume:     ${opened.tree.volumeId}`);
      }
      lines.push(`loads:      ${p.files.length ? p.files.map((f) => `${f.path} (${f.role}, ${size(files.find((x) => x.path.toLowerCase() === f.path.toLowerCase())?.size ?? 0)})`).join(', ') : p.payloadIso ? 'the whole ISO' : 'nothing'}`);
      if (p.helpers.length) lines.push(`helpers:    ${p.helpers.map((h) => `${h} (${opened.helpers[h] ?? 'missing'})`).join(', ')}`);
      lines.push(`files:      ${fileCount} files, ${size(total)}`);
      const secureBoot = await treeSecureBoot(opened.tree, p);
      lines.push(secureBootLine(secureBoot));
      for (const n of p.notes) lines.push(`note:       ${n}`);
      const result = { spec, plan: p, files, detected: lines.join('\n'), script: pub.script(), secureBoot };
      return result;
    } finally {
      await opened.tree.close();
    }
  }
  const files = new PublishedFiles();
  const img = await publishImage(files, spec, { serverIp: o.serverIp, httpPort: o.httpPort, filePrefix: 'image/' });
  try {
    const what = spec.kind === 'kernel' ? spec.kernel : spec.path;
    const secureBoot = await fileSecureBoot(spec.kind as 'kernel' | 'ipxe-script' | 'efi' | 'pxe', what);
    const runsOn = img.program?.runsOn;
    const modes = runsOn
      ? `${runsOn.map((f) => RUNS_ON_WORDS[f]).join(', ')} only (other machines are refused, with why)`
      : spec.kind === 'kernel' && !img.program
        ? await kernelModes(spec.kernel)
        : 'BIOS, UEFI (whatever the program supports)';
    const lines = [`image:      ${what}`, `detected:   ${img.description}`, `boot modes: ${modes}`, `serves:     ${img.paths.join(', ')}`];
    if (img.program) lines.push(`on screen:  ${img.program.onScreen}`);
    lines.push(secureBootLine(secureBoot));
    return { spec, detected: lines.join('\n'), script: img.scriptFor(o.mac ?? SAMPLE_MAC), secureBoot };
  } finally {
    img.unpublish();
  }
}


/** A netboot folder or archive: the loader each firmware gets, what its menus boot, what is wrong. */
async function inspectNetboot(spec: Extract<ResolvedImageSpec, { kind: 'netboot' }>, o: InspectOptions): Promise<InspectResult> {
  const nb = await openNetboot(spec.path, { bootFiles: spec.bootFiles, dataDir: o.dataDir });
  const files: TreeEntry[] = [];
  for (const f of nb.index.byPath.values()) files.push({ name: f.path.split('/').pop()!, path: f.path, type: 'file', size: (await fsp.stat(f.real).catch(() => undefined))?.size ?? 0 });
  const total = files.reduce((a, f) => a + f.size, 0);
  const secureBoot = netbootSecureBoot(nb);
  const lines = [
    `image:      ${spec.path} (${nb.archive ? `archive, unpacked into ${nb.root}` : 'netboot folder'})`,
    `detected:   ${netbootDescription(nb)}`,
    ...loaderLines(nb).map((l, i) => `${i === 0 ? 'gets:' : ''}`.padEnd(12) + l),
  ];
  const entries = Object.entries(nb.readings).flatMap(([fw, r]) => r!.common.entries.map((e) => ({ fw, e })));
  if (entries.length) {
    lines.push(`menus:      ${[...new Set(Object.values(nb.readings).flatMap((r) => r!.common.configs))].join(', ')}`);
    for (const { fw, e } of entries.slice(0, 40)) lines.push(`  ${fw.padEnd(6)} "${e.label}"${e.isDefault ? ' (default)' : ''}: ${entryFiles(e).join(' + ') || 'nothing to load'}`);
    if (entries.length > 40) lines.push(`  ... ${entries.length - 40} more entries`);
  }
  lines.push(`files:      ${files.length} files, ${size(total)}`);
  lines.push(secureBootLine(secureBoot));
  for (const n of nb.notes) lines.push(`note:       ${n}`);
  return { spec, files, detected: lines.join('\n'), script: '', secureBoot, netboot: nb };
}
