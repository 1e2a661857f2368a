// A node:test reporter that records every skipped and every todo test, one JSON
// line each, for scripts/run-tests.mjs to judge after the run (the spec reporter
// still prints the run itself). A skip is a decision written in the test only
// when its reason starts with DECIDED ("decided: pump threads are Linux only");
// any other reason (needs root, QEMU, OVMF, Chromium, a package, a build output)
// is an accident of the machine, and under CI it fails the run.
export const DECIDED = 'decided:';

/** True when a skip reason is a written decision, not a missing dependency or privilege. */
export function isDecided(reason) {
  return typeof reason === 'string' && reason.trimStart().toLowerCase().startsWith(DECIDED);
}

function reasonOf(value) {
  return typeof value === 'string' ? value : '';
}

export default async function* skipGuard(source) {
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const d = event.data;
    const where = { name: d.name, file: d.file ?? null, line: d.line ?? null };
    if (d.skip !== undefined && d.skip !== false) yield `${JSON.stringify({ kind: 'skip', reason: reasonOf(d.skip), ...where })}\n`;
    else if (d.todo !== undefined && d.todo !== false) yield `${JSON.stringify({ kind: 'todo', reason: reasonOf(d.todo), passed: event.type === 'test:pass', ...where })}\n`;
  }
}
