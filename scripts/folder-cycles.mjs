#!/usr/bin/env node
// Folder-level import cycles in src/: which top-level folders import each other, directly or
// around a loop (boot/ -> images/ -> boot/). Type-only imports count too: they tie the folders'
// designs together as much as values do. Exits 1 when there is a cycle, naming one import per edge.
// Usage: node scripts/folder-cycles.mjs [root=src]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const root = resolve(process.argv[2] ?? 'src');
const folderOf = (file) => {
  const rel = relative(root, file).split(sep);
  return rel.length > 1 ? rel[0] : '(top)';
};

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else if (/\.(ts|tsx|mts|cts)$/.test(name) && !name.endsWith('.d.ts')) yield p;
  }
}

/** folder -> folder -> one example "file imports spec". */
const edges = new Map();
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;
for (const f of files(root)) {
  const text = readFileSync(f, 'utf8');
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2];
    const target = resolve(dirname(f), spec);
    if (!target.startsWith(root + sep)) continue;
    const a = folderOf(f);
    const b = folderOf(target);
    if (a === b || a === '(top)' || b === '(top)') continue;
    if (!edges.has(a)) edges.set(a, new Map());
    if (!edges.get(a).has(b)) edges.get(a).set(b, `${relative(root, f)} imports ${spec}`);
  }
}

// Strongly connected components (Tarjan): every component of more than one folder is a cycle.
let index = 0;
const idx = new Map();
const low = new Map();
const stack = [];
const on = new Set();
const comps = [];
function visit(v) {
  idx.set(v, index);
  low.set(v, index++);
  stack.push(v);
  on.add(v);
  for (const w of edges.get(v)?.keys() ?? []) {
    if (!idx.has(w)) {
      visit(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
  }
  if (low.get(v) === idx.get(v)) {
    const c = [];
    let w;
    do {
      w = stack.pop();
      on.delete(w);
      c.push(w);
    } while (w !== v);
    if (c.length > 1) comps.push(c.sort());
  }
}
for (const v of edges.keys()) if (!idx.has(v)) visit(v);

if (!comps.length) {
  console.log(`folder-cycles: no import cycles between the folders of ${relative(process.cwd(), root) || root}`);
  process.exit(0);
}
for (const c of comps) {
  console.log(`cycle: ${c.join(', ')}`);
  for (const a of c) for (const [b, why] of edges.get(a) ?? []) if (c.includes(b)) console.log(`  ${a} -> ${b}: ${why}`);
}
process.exit(1);
