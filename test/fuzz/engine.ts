// Runs one fuzz target for a number of iterations from a seed: mutates a seed input,
// runs the target with a time limit, and collects findings (an unexpected exception or
// a hang) with everything needed to reproduce them.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { mutate, rng } from './mutator.js';
import type { FuzzTarget } from './targets.js';

export interface Finding {
  target: string;
  seed: number;
  iteration: number;
  kind: 'crash' | 'hang';
  message: string;
  /** Where the input was written (if an artifact dir was given). */
  file?: string;
  inputHex: string;
}

export interface FuzzReport {
  target: string;
  seed: number;
  iterations: number;
  /** Inputs the parser accepted (ran to the end) vs refused with its own error. */
  accepted: number;
  refused: number;
  findings: Finding[];
  ms: number;
}

export async function fuzz(target: FuzzTarget, opts: { iterations: number; seed: number; artifactDir?: string; stopAfter?: number; onProgress?: (iteration: number) => void }): Promise<FuzzReport> {
  const t0 = Date.now();
  const seeds = await target.seeds();
  const r = rng(opts.seed);
  const report: FuzzReport = { target: target.name, seed: opts.seed, iterations: 0, accepted: 0, refused: 0, findings: [], ms: 0 };
  for (let i = 0; i < opts.iterations; i++) {
    const base = seeds[Math.floor(r() * seeds.length)];
    // Now and then mutate a previous mutation's output further (deeper corruption).
    const input = mutate(base, r, target.mutateOptions?.(base));
    report.iterations++;
    if (i % 200 === 0) opts.onProgress?.(i);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.resolve().then(() => target.run(input)),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new HangError(target.hangMs)), target.hangMs))),
      ]);
      report.accepted++;
    } catch (err) {
      if (target.allowed(err)) {
        report.refused++;
      } else {
        const f: Finding = {
          target: target.name,
          seed: opts.seed,
          iteration: i,
          kind: err instanceof HangError ? 'hang' : 'crash',
          message: err instanceof Error ? `${err.name}: ${err.message}\n${err.stack?.split('\n').slice(1, 6).join('\n')}` : String(err),
          inputHex: input.subarray(0, 512).toString('hex'),
        };
        if (opts.artifactDir) {
          mkdirSync(opts.artifactDir, { recursive: true });
          f.file = join(opts.artifactDir, `${target.name}-seed${opts.seed}-iter${i}.bin`);
          writeFileSync(f.file, input);
        }
        report.findings.push(f);
        if (report.findings.length >= (opts.stopAfter ?? 20)) break;
      }
    } finally {
      clearTimeout(timer);
    }
  }
  report.ms = Date.now() - t0;
  return report;
}

export class HangError extends Error {
  constructor(ms: number) {
    super(`no result within ${ms} ms`);
    this.name = 'HangError';
  }
}

/**
 * fuzz() in a worker thread, watched from this one: if the worker reports no progress for
 * `stallMs` (an input stuck in a synchronous loop), it is terminated and a 'hang' finding
 * names the last iteration reached (rerun from there with the same seed to reproduce).
 */
export function fuzzInWorker(target: string, opts: { iterations: number; seed: number; artifactDir?: string; stallMs?: number }): Promise<FuzzReport> {
  const stallMs = opts.stallMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./worker.js', import.meta.url), { workerData: { target, iterations: opts.iterations, seed: opts.seed, artifactDir: opts.artifactDir } });
    let last = 0;
    let beat = Date.now();
    let done = false;
    const watch = setInterval(() => {
      if (Date.now() - beat < stallMs) return;
      clearInterval(watch);
      done = true;
      void w.terminate();
      resolve({
        target, seed: opts.seed, iterations: last, accepted: 0, refused: 0, ms: 0,
        findings: [{ target, seed: opts.seed, iteration: last, kind: 'hang', message: `no progress for ${stallMs} ms after iteration ${last} (synchronous loop?)`, inputHex: '' }],
      });
    }, 250);
    w.on('message', (m: { progress?: number; report?: FuzzReport }) => {
      beat = Date.now();
      if (m.progress !== undefined) last = m.progress;
      if (m.report) {
        done = true;
        clearInterval(watch);
        resolve(m.report);
        void w.terminate();
      }
    });
    w.on('error', (err) => {
      clearInterval(watch);
      if (!done) reject(err);
    });
  });
}
