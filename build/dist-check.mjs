// `npm run dist:check`: checks the installer configuration where the Electron
// binary cannot be downloaded (CI runs with ELECTRON_SKIP_BINARY_DOWNLOAD=1):
//   1. electron-builder's own loader and JSON-schema validation of build/electron-builder.yml;
//   2. PXE Kit's rules: every required target per OS, the engine and iPXE binaries
//      outside app.asar, the window never elevated, every bundled path present;
//   3. when node_modules/electron/dist exists, a real unpacked Linux build (--dir).
// Exit 0 when all pass; each problem is printed on its own line.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { writeEnginePackage } from './engine-package.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const REQUIRED_TARGETS = { linux: ['AppImage', 'deb'], win: ['portable', 'nsis'], mac: ['dmg'] };
const REQUIRED_RESOURCES = {
  'engine/dist/src': 'the engine (npm run build)',
  'engine/package.json': 'the engine package file (build/engine-package.mjs)',
  'engine/node_modules/ws': 'the engine dependency ws (npm ci)',
  'engine/node_modules/koffi': 'the engine dependency koffi (npm ci)',
  'engine/resources/ipxe': 'the iPXE boot programs (npm run fetch-ipxe)',
  renderer: 'the built renderer (npm run build:renderer)',
};

function targetNames(t) {
  return (Array.isArray(t) ? t : [t]).filter(Boolean).map((x) => (typeof x === 'string' ? x : x.target));
}

/** Returns the list of problems (empty = valid). `built: false` skips checks of build outputs. */
export async function checkDistConfig({ root = ROOT, configPath = 'build/electron-builder.yml', built = true } = {}) {
  const problems = [];
  const require = createRequire(join(root, 'package.json'));
  const { getConfig, validateConfiguration } = require('app-builder-lib/out/util/config/config.js');
  const { DebugLogger } = require('builder-util');
  let config;
  try {
    config = await getConfig(root, configPath, null);
    await validateConfiguration(config, new DebugLogger(false));
  } catch (err) {
    return [`electron-builder rejects ${configPath}: ${err.message.split('\n').slice(0, 6).join(' ')}`];
  }
  for (const k of ['appId', 'productName']) if (!config[k]) problems.push(`"${k}" is missing`);
  for (const [os, need] of Object.entries(REQUIRED_TARGETS)) {
    const have = targetNames(config[os]?.target);
    for (const t of need) if (!have.includes(t)) problems.push(`${os}: target "${t}" is missing (have: ${have.join(', ') || 'none'})`);
  }
  if (config.win?.requestedExecutionLevel && config.win.requestedExecutionLevel !== 'asInvoker') problems.push('win.requestedExecutionLevel must be asInvoker: only the engine is elevated');
  if (config.asar === false) problems.push('asar must stay on: the engine is shipped beside it, in extraResources');
  if (config.extraMetadata?.main !== 'dist/electron/main.js') problems.push('extraMetadata.main must be dist/electron/main.js');
  const resources = (config.extraResources ?? []).map((r) => (typeof r === 'string' ? { from: r, to: r } : r));
  for (const [to, what] of Object.entries(REQUIRED_RESOURCES)) {
    const entry = resources.find((r) => r.to === to);
    if (!entry) problems.push(`extraResources: nothing goes to "${to}" (${what})`);
    else if (built && !existsSync(join(root, entry.from))) problems.push(`extraResources: ${entry.from} does not exist yet: ${what}`);
  }
  if (built) {
    for (const f of ['dist/electron/main.js', 'dist/electron/preload.cjs']) if (!existsSync(join(root, f))) problems.push(`${f} is missing: npm run build`);
    for (const f of ['undionly.kpxe', 'ipxe.efi']) if (!existsSync(join(root, 'resources/ipxe', f))) problems.push(`resources/ipxe/${f} is missing: npm run fetch-ipxe`);
  }
  return problems;
}

async function main() {
  const built = !process.argv.includes('--config-only');
  if (built) writeEnginePackage(ROOT);
  const problems = await checkDistConfig({ built });
  for (const p of problems) console.error(`dist:check: ${p}`);
  if (problems.length) process.exit(1);
  console.log('dist:check: build/electron-builder.yml is valid (schema and PXE Kit rules)');
  if (!existsSync(join(ROOT, 'node_modules/electron/dist'))) {
    console.log('dist:check: the Electron binary is not downloaded here (ELECTRON_SKIP_BINARY_DOWNLOAD): packaging itself skipped; see docs/desktop.md');
    return;
  }
  const r = spawnSync('npx', ['electron-builder', '--linux', 'dir', '--config', 'build/electron-builder.yml', '--publish', 'never'], { cwd: ROOT, stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main().catch((err) => {
  console.error(`dist:check: ${err.stack ?? err}`);
  process.exit(1);
});
