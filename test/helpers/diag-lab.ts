// Shared by the diagnostics tests (test/*/diag-*.test.ts): a lab whose client
// namespace is a bridge ("switch") with hosts on it, PXE Kit's real CLI in the
// server namespace, and small helpers to wait for its diagnosis events.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab } from './lab.js';
import { EngineProcess, type AnyEvent } from './engine-process.js';

export interface DiagLab {
  lab: Lab;
  dir: string;
  kernel: string;
}

export function diagLab(t: { after: (fn: () => unknown) => void }, opts: { serverInRoot?: boolean } = {}): DiagLab {
  const lab = Lab.create(opts);
  const dir = mkdtempSync(join(tmpdir(), 'pxk-diag-'));
  t.after(() => {
    lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  });
  // A file the image detector takes for a Linux kernel (bzImage magic "HdrS" at 0x202).
  const kernel = join(dir, 'vmlinuz');
  const k = randomBytes(64 * 1024);
  k.write('HdrS', 0x202, 'latin1');
  writeFileSync(kernel, k);
  return { lab, dir, kernel };
}

/**
 * Runs `pxekit serve --json` in the lab's server namespace with short diagnosis
 * deadlines (PXEKIT_DIAG_TIMINGS), watcher interval (PXEKIT_WATCH_MS) and, when given,
 * a lower limit on machines tracked (PXEKIT_MAX_CLIENTS).
 */
export function startEngine(
  t: { after: (fn: () => unknown) => void },
  d: DiagLab,
  args: string[],
  env: { timings?: Record<string, number>; watchMs?: number; maxClients?: number } = {},
): EngineProcess {
  const saved = { timings: process.env.PXEKIT_DIAG_TIMINGS, watch: process.env.PXEKIT_WATCH_MS, max: process.env.PXEKIT_MAX_CLIENTS };
  if (env.timings) process.env.PXEKIT_DIAG_TIMINGS = JSON.stringify(env.timings);
  else delete process.env.PXEKIT_DIAG_TIMINGS;
  if (env.watchMs !== undefined) process.env.PXEKIT_WATCH_MS = String(env.watchMs);
  else delete process.env.PXEKIT_WATCH_MS;
  if (env.maxClients !== undefined) process.env.PXEKIT_MAX_CLIENTS = String(env.maxClients);
  else delete process.env.PXEKIT_MAX_CLIENTS;
  try {
    const engine = EngineProcess.start(d.lab, d.lab.serverNs, ['--iface', d.lab.serverIf, '--data-dir', join(d.dir, `data-${randomBytes(2).toString('hex')}`), ...args, d.kernel]);
    t.after(() => engine.stop());
    return engine;
  } finally {
    for (const [k, v] of [['PXEKIT_DIAG_TIMINGS', saved.timings], ['PXEKIT_WATCH_MS', saved.watch], ['PXEKIT_MAX_CLIENTS', saved.max]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

export type DiagnosisPayload = { code: string; title: string; pxeError?: string; causes: string[]; fix: string; evidence: string[]; mac?: string };

/** The first diagnosis event with this code (and MAC), as its payload. */
export async function waitDiagnosis(engine: EngineProcess, code: string, mac?: string, timeoutMs = 30_000): Promise<DiagnosisPayload> {
  const ev = await engine.waitFor(
    (e: AnyEvent) => e.type === 'diagnosis' && (e.diagnosis as DiagnosisPayload).code === code && (!mac || e.mac === mac),
    `diagnosis ${code}${mac ? ` for ${mac}` : ''}`,
    timeoutMs,
  );
  return ev.diagnosis as DiagnosisPayload;
}

export function diagnosesOf(engine: EngineProcess): DiagnosisPayload[] {
  return engine.events.filter((e) => e.type === 'diagnosis').map((e) => e.diagnosis as DiagnosisPayload);
}
