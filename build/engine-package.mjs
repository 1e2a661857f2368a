// Writes dist/engine-package.json: the package.json of the engine shipped beside the
// app (resources/engine). The engine finds its root (iPXE binaries, version) by it,
// and "type": "module" makes Node load dist/src as ES modules.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export function writeEnginePackage(root = fileURLToPath(new URL('..', import.meta.url))) {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const engine = { name: 'pxekit-engine', version: pkg.version, private: true, type: 'module', license: pkg.license, dependencies: { ws: pkg.dependencies.ws, koffi: pkg.dependencies.koffi } };
  mkdirSync(join(root, 'dist'), { recursive: true });
  const out = join(root, 'dist', 'engine-package.json');
  writeFileSync(out, JSON.stringify(engine, null, 2) + '\n');
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(`engine-package: ${writeEnginePackage()}`);
