// A Windows setup ISO for tests: the layout of Microsoft's media (boot manager, BCD, boot.sdi,
// boot.wim and install.wim made by wimtools, setup.exe), small, in UDF + Joliet as Windows media are.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildIso, patternBytes } from './iso-build.js';

/** A WIM image of a small folder, made by wimtools as Windows media carry them. */
export function wim(dir: string, out: string, files: Record<string, Buffer | string>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data);
  execFileSync('wimlib-imagex', ['capture', dir, out, '--compress=none'], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Builds `<work>/<name>.iso` from a tree under `<work>/<name>-src`; returns the ISO's path. */
export function windowsSetupIso(work: string, name = 'win'): string {
  const src = join(work, `${name}-src`);
  for (const d of ['boot', 'sources', 'efi/boot']) mkdirSync(join(src, d), { recursive: true });
  writeFileSync(join(src, 'bootmgr'), patternBytes(409_601, 1));
  writeFileSync(join(src, 'boot', 'bcd'), patternBytes(262_144, 2));
  writeFileSync(join(src, 'boot', 'boot.sdi'), patternBytes(3_170_304, 3));
  writeFileSync(join(src, 'efi', 'boot', 'bootx64.efi'), patternBytes(1_500_000, 4));
  wim(join(work, `${name}-wim-boot`), join(src, 'sources', 'boot.wim'), { 'winpeshl.ini': '[LaunchApps]\r\n', 'system.dat': patternBytes(2_000_000, 5) });
  wim(join(work, `${name}-wim-install`), join(src, 'sources', 'install.wim'), { 'install.dat': patternBytes(3_000_000, 6) });
  writeFileSync(join(src, 'setup.exe'), patternBytes(70_000, 7));
  writeFileSync(join(src, 'sources', 'idwbinfo.txt'), '[BUILDINFO]\r\nBuildArch=amd64\r\nBuildBranch=ge_release\r\n');
  return buildIso(src, join(work, `${name}.iso`), { tool: 'genisoimage', udf: true, joliet: true, volumeId: 'PXEKIT_WIN' });
}
