// One fuzz run in a worker thread, so that the thread that started it can stop an input
// that never returns (a synchronous loop cannot be interrupted from its own thread).
import { parentPort, workerData } from 'node:worker_threads';
import { fuzz } from './engine.js';
import { TARGETS } from './targets.js';

const { target, iterations, seed, artifactDir } = workerData as { target: string; iterations: number; seed: number; artifactDir?: string };
const t = TARGETS.find((x) => x.name === target);
if (!t) throw new Error(`no fuzz target "${target}"`);
const report = await fuzz(t, { iterations, seed, artifactDir, onProgress: (i) => parentPort!.postMessage({ progress: i }) });
parentPort!.postMessage({ report });
