// Runs the compiled tests with Node's own test runner, one file at a time
// (integration and e2e tests own network namespaces and CPU-hungry QEMU guests).
// Usage: node scripts/run-tests.mjs [unit|integration|e2e ...]
//
// Skips are judged after the run (scripts/skip-guard.mjs records them): under CI
// (CI set and not "false"/"0"), a skipped test or suite fails the run unless its
// reason starts with "decided:"; a missing root, QEMU, OVMF, Chromium, package or
// build output must never let a run go green. Todo tests are listed, never fatal.
//
// PXEKIT_TEST_ROOT: the folder that holds test/<suite>/ (default "dist"). Only
// test/unit/test-runner-guard.test.ts sets it, to run a tiny fixture suite.
import { readdirSync, statSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { isDecided, DECIDED } from './skip-guard.mjs';

const root = process.env.PXEKIT_TEST_ROOT || 'dist';
const ci = Boolean(process.env.CI) && !/^(0|false|no)$/i.test(process.env.CI);
const suites = process.argv.slice(2).length ? process.argv.slice(2) : ['unit', 'integration', 'e2e', 'ui'];
const files = [];
function walk(dir) {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js')) files.push(p);
  }
}
for (const s of suites) walk(join(root, 'test', s));
if (files.length === 0) {
  console.error(`no test files found under ${join(root, 'test')}: run "npm run build" first`);
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), 'pxk-skip-guard-'));
const report = join(work, 'skips.jsonl');
const guard = new URL('./skip-guard.mjs', import.meta.url).href;
// Under `sudo npm test` the engines the tests start would drop to the invoking user after
// binding (src/net/privilege.ts) and could not read the tests' root-owned files: the tests run
// as plain root, and the privilege drop is tested on its own (test/integration/privilege-drop.test.ts).
const env = { ...process.env };
for (const k of ['SUDO_UID', 'SUDO_GID', 'SUDO_USER', 'SUDO_COMMAND', 'PKEXEC_UID']) delete env[k];
const r = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=1', '--test-reporter=spec', '--test-reporter-destination=stdout', `--test-reporter=${guard}`, `--test-reporter-destination=${report}`, ...files],
  { stdio: 'inherit', env },
);
const recorded = existsSync(report) ? readFileSync(report, 'utf8') : undefined;
rmSync(work, { recursive: true, force: true });

const entries = (recorded ?? '').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const shortPath = (f) => (relative(process.cwd(), f).startsWith('..') ? f : relative(process.cwd(), f));
const show = (e) => `  ${e.file ? `${shortPath(e.file)}${e.line ? `:${e.line}` : ''} ` : ''}"${e.name}": ${e.reason || '(no reason given)'}`;
const accidents = entries.filter((e) => e.kind === 'skip' && !isDecided(e.reason));
const decided = entries.filter((e) => e.kind === 'skip' && isDecided(e.reason));
const todos = entries.filter((e) => e.kind === 'todo');
if (decided.length) console.log(`\nskipped by decision (${decided.length}):\n${decided.map(show).join('\n')}`);
if (todos.length) console.log(`\ntodo (${todos.length}, listed, never fatal):\n${todos.map(show).join('\n')}`);
if (accidents.length) {
  const head = ci
    ? `\nCI: ${accidents.length} test(s) skipped for a missing dependency or privilege; a skip must be a decision written in the test (reason "${DECIDED} ..."). This run fails:`
    : `\nskipped for a missing dependency or privilege (${accidents.length}; under CI this fails the run):`;
  (ci ? console.error : console.log)(`${head}\n${accidents.map(show).join('\n')}`);
}

let status = r.status ?? 1;
if (status === 0 && ci && recorded === undefined) {
  console.error('CI: the skip guard wrote no report, so skips could not be judged. This run fails.');
  status = 1;
}
if (status === 0 && ci && accidents.length) status = 1;
process.exit(status);
