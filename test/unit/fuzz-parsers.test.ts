// The DHCP, TFTP, ISO and HTTP request-head parsers and the lease files on corrupted inputs (test/fuzz/): a fixed, seeded budget
// in CI; `npm run fuzz -- --iterations N` runs longer. No input may crash a parser (only
// its own error class is a clean refusal) or hang it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fuzzInWorker } from '../fuzz/engine.js';

const hasXorriso = (() => {
  try {
    execFileSync('xorriso', ['-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

for (const [target, iterations] of [['dhcp', 20_000], ['tftp', 20_000], ['iso', 1_500], ['http', 20_000], ['leases', 20_000]] as const) {
  test(`fuzz ${target}: ${iterations} corrupted inputs, no crash, no hang`, { skip: target === 'iso' && !hasXorriso ? 'xorriso not installed' : false }, async () => {
    const r = await fuzzInWorker(target, { iterations, seed: 20251123, stallMs: 20_000 });
    const detail = r.findings.map((f) => `${f.kind} at iteration ${f.iteration}: ${f.message} [${f.inputHex.slice(0, 200)}]`).join('\n');
    assert.equal(r.findings.length, 0, detail);
    assert.equal(r.iterations, iterations);
    // The mutations reach past the first check: some inputs parse, some are refused.
    assert.ok(r.accepted > 0 && r.refused > 0, JSON.stringify({ accepted: r.accepted, refused: r.refused }));
  });
}
