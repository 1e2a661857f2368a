// scripts/run-tests.mjs on a tiny fixture suite (never the repo's own suites):
// under CI a test or suite skipped for a missing dependency or privilege turns
// the run red and is named; a skip whose reason starts with "decided:" never
// does; todos are listed, never fatal; without CI the same run is green.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

/** dist/test/unit -> the repository root (scripts/ is not compiled). */
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const RUNNER = join(REPO, 'scripts', 'run-tests.mjs');

const PLAIN = `import { test } from 'node:test';
test('passes', () => {});
test('needs a privilege it lacks', { skip: 'needs root (network namespaces)' }, () => {});
test('skipped on purpose', { skip: 'decided: pump threads are Linux only' }, () => {});
test('known bug, written down', { todo: 'the parser reads 256 KiB only' }, () => { throw new Error('still broken'); });
`;

/** A whole suite gated on a dependency (a file), as the UI and e2e suites gate on Chromium, QEMU and OVMF. */
const GATED = `import { describe, test } from 'node:test';
import { existsSync } from 'node:fs';
const dep = process.env.FIXTURE_DEPENDENCY ?? '';
const skip = existsSync(dep) ? undefined : dep + ' missing (fixture-browser package)';
describe('the gated suite', { skip }, () => {
  test('uses the dependency', () => {});
});
`;

const DECIDED_ONLY = `import { test } from 'node:test';
test('passes', () => {});
test('skipped on purpose', { skip: 'decided: Windows only' }, () => {});
test('written down', { todo: 'decided later' }, () => { throw new Error('x'); });
`;

function fixture(t: { after: (fn: () => void) => void }, files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'pxk-runner-guard-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  writeFileSync(join(root, 'package.json'), '{"type":"module"}\n');
  mkdirSync(join(root, 'test', 'fixture'), { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(root, 'test', 'fixture', name), text);
  return root;
}

function run(root: string, env: Record<string, string | undefined>) {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, PXEKIT_TEST_ROOT: root };
  // This test may itself run under CI, and inside node --test: the child's runner must not think it is a test subprocess.
  delete childEnv.CI;
  delete childEnv.NODE_TEST_CONTEXT;
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete childEnv[k];
    else childEnv[k] = v;
  }
  const r = spawnSync(process.execPath, [RUNNER, 'fixture'], { cwd: REPO, env: childEnv, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}`, stderr: r.stderr };
}

test('under CI, a test skipped for a missing privilege fails the run and is named; the decided skip and the todo do not', { timeout: 90_000 }, (t) => {
  const root = fixture(t, { 'plain.test.js': PLAIN });
  const r = run(root, { CI: 'true' });
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /✔ passes/, 'the spec reporter still prints the run');
  assert.match(r.stderr, /CI: 1 test\(s\) skipped for a missing dependency or privilege/);
  assert.match(r.stderr, /plain\.test\.js:3 "needs a privilege it lacks": needs root \(network namespaces\)/);
  assert.doesNotMatch(r.stderr, /skipped on purpose/);
  assert.match(r.out, /skipped by decision \(1\):\n.*"skipped on purpose": decided: pump threads are Linux only/);
  assert.match(r.out, /todo \(1, listed, never fatal\):\n.*"known bug, written down": the parser reads 256 KiB only/);
});

test('without CI the same run is green, and the accidental skip is still listed', { timeout: 90_000 }, (t) => {
  const root = fixture(t, { 'plain.test.js': PLAIN });
  for (const CI of [undefined, 'false']) {
    const r = run(root, { CI });
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /under CI this fails the run/);
    assert.match(r.out, /"needs a privilege it lacks": needs root/);
  }
});

test('a suite whose dependency is hidden turns the CI run red; with the dependency present it is green', { timeout: 90_000 }, (t) => {
  const root = fixture(t, { 'gated.test.js': GATED, 'plain-decided.test.js': DECIDED_ONLY });
  const present = join(root, 'package.json');
  const green = run(root, { CI: 'true', FIXTURE_DEPENDENCY: present });
  assert.equal(green.status, 0, green.out);
  assert.match(green.out, /✔ uses the dependency/);
  const hidden = join(root, 'no-such-browser');
  const red = run(root, { CI: 'true', FIXTURE_DEPENDENCY: hidden });
  assert.equal(red.status, 1, red.out);
  assert.match(red.stderr, new RegExp(`gated\\.test\\.js:5 "the gated suite": ${hidden.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} missing \\(fixture-browser package\\)`));
  assert.doesNotMatch(red.stderr, /skipped on purpose|written down/);
});

test('a run with only decided skips and todos is green under CI; a failing test still fails without CI', { timeout: 90_000 }, (t) => {
  const root = fixture(t, { 'decided.test.js': DECIDED_ONLY });
  const r = run(root, { CI: 'true' });
  assert.equal(r.status, 0, r.out);
  assert.doesNotMatch(r.out, /missing dependency or privilege/);
  const failing = fixture(t, { 'failing.test.js': `import { test } from 'node:test';\ntest('fails', () => { throw new Error('boom'); });\n` });
  assert.equal(run(failing, { CI: undefined }).status, 1);
});
