// The desktop app's build, checked where the Electron binary cannot run: main and
// preload type-check against electron's own types, the preload is loadable in a
// sandbox, and the installer configuration passes electron-builder's validation
// and our rules (dist:check), and a broken one does not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

type Check = (o: { root?: string; configPath?: string; built?: boolean }) => Promise<string[]>;
async function loadCheck(): Promise<Check> {
  const url = pathToFileURL(join(ROOT, 'build', 'dist-check.mjs')).href;
  return ((await import(url)) as { checkDistConfig: Check }).checkDistConfig;
}

test('electron main and preload type-check against electron’s own types', { timeout: 120_000 }, () => {
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.electron.json'), '--noEmit'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(readFileSync(join(ROOT, 'node_modules', 'electron', 'electron.d.ts'), 'utf8'), /contextBridge/, 'the real electron typings are installed');
});

test('the sandboxed preload is CommonJS and requires nothing but electron', () => {
  const src = readFileSync(join(ROOT, 'dist', 'electron', 'preload.cjs'), 'utf8');
  const required = [...src.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
  assert.deepEqual(required, ['electron']);
  assert.doesNotMatch(src, /^\s*(import|export)\s/m);
  assert.match(src, /exposeInMainWorld\('pxekit'/);
});

test('dist:check accepts build/electron-builder.yml and rejects broken configurations', { timeout: 60_000 }, async () => {
  const check = await loadCheck();
  assert.deepEqual(await check({ root: ROOT, built: false }), []);

  // A copy of the project's config with faults: schema errors and rule violations.
  const dir = mkdtempSync(join(tmpdir(), 'pxk-distcheck-'));
  mkdirSync(join(dir, 'build'));
  copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  symlinkNodeModules(dir);
  const good = readFileSync(join(ROOT, 'build', 'electron-builder.yml'), 'utf8');
  const write = (text: string) => writeFileSync(join(dir, 'build', 'electron-builder.yml'), text);

  write(good.replace('    - portable\n', ''));
  assert.deepEqual(await check({ root: dir, built: false }), ['win: target "portable" is missing (have: nsis)']);

  write(good.replace('requestedExecutionLevel: asInvoker', 'requestedExecutionLevel: requireAdministrator'));
  assert.match((await check({ root: dir, built: false })).join('\n'), /asInvoker/);

  write(good.replace('    to: engine/resources/ipxe\n', '    to: ipxe\n'));
  assert.match((await check({ root: dir, built: false })).join('\n'), /engine\/resources\/ipxe/);

  write(good + 'notAnOption: true\n');
  assert.match((await check({ root: dir, built: false })).join('\n'), /electron-builder rejects/);

  write(good);
  assert.match((await check({ root: dir, built: true })).join('\n'), /does not exist yet/, 'missing build outputs are named');
});

function symlinkNodeModules(dir: string): void {
  spawnSync('ln', ['-s', join(ROOT, 'node_modules'), join(dir, 'node_modules')]);
}
