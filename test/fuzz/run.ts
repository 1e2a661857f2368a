// npm run fuzz -- [--iterations N] [--seed S] [--target dhcp|tftp|iso|http]...
// Longer fuzzing on demand (CI runs a fixed, short budget: test/unit/fuzz-parsers.test.ts).
// Findings are printed and their inputs written to test-artifacts/fuzz/; the exit code is 1
// if there were any. Each target runs in a worker thread: an input stuck in a loop is
// stopped after 30 s without progress and reported as a hang with its iteration.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fuzzInWorker } from './engine.js';
import { TARGETS } from './targets.js';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const iterations = Number(arg('iterations') ?? 100_000);
const seed = Number(arg('seed') ?? Date.now() % 1_000_000);
const only = process.argv.flatMap((a, i) => (process.argv[i - 1] === '--target' ? [a] : []));
const artifactDir = join(fileURLToPath(new URL('../../../', import.meta.url)), 'test-artifacts', 'fuzz');

let failed = false;
for (const t of TARGETS.filter((t) => only.length === 0 || only.includes(t.name))) {
  // ISO iterations are a few ms each: give them a tenth of the count.
  const n = t.name === 'iso' ? Math.max(1, Math.floor(iterations / 10)) : iterations;
  const r = await fuzzInWorker(t.name, { iterations: n, seed, artifactDir, stallMs: 30_000 });
  console.log(`${t.name}: ${r.iterations} inputs (seed ${seed}) in ${(r.ms / 1000).toFixed(1)} s: ${r.accepted} parsed, ${r.refused} refused cleanly, ${r.findings.length} findings`);
  for (const f of r.findings) {
    failed = true;
    console.log(`  ${f.kind.toUpperCase()} at iteration ${f.iteration}: ${f.message}\n  input: ${f.file ?? f.inputHex}`);
  }
}
process.exit(failed ? 1 : 0);
