// The technician's name for each machine ("Desk 12", "Lab-3 left"), kept per MAC in the
// engine's data dir (labels.json, written atomically), so every UI and every run shows it.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadJson, writeFileAtomic } from '../util/durable-file.js';

export const LABELS_FILE = 'labels.json';
export const LABEL_MAX = 40;
/** Machines with a label at most (a DHCP starvation tool must not grow the file). */
export const LABELS_MAX = 4096;

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
/** No control, format, surrogate, private-use or unassigned characters; one line. */
const PRINTABLE = /^[^\p{C}\u2028\u2029]*$/u;

export class LabelError extends Error {}

/** The MAC lower-cased, or a LabelError saying what a MAC looks like. */
export function checkMac(mac: unknown): string {
  if (typeof mac !== 'string' || !MAC.test(mac.toLowerCase())) throw new LabelError(`"mac" must look like 52:54:00:12:34:56, not ${JSON.stringify(mac)}`);
  return mac.toLowerCase();
}

/** The label trimmed ('' removes it), or a LabelError: at most 40 printable characters. */
export function checkLabel(label: unknown): string {
  if (typeof label !== 'string') throw new LabelError('"label" must be a string');
  const t = label.trim();
  if ([...t].length > LABEL_MAX) throw new LabelError(`"label" must be at most ${LABEL_MAX} characters`);
  if (!PRINTABLE.test(t)) throw new LabelError('"label" must be printable characters on one line');
  return t;
}

interface LabelsFile {
  version: 1;
  labels: Record<string, string>;
}

function validateFile(v: unknown): LabelsFile {
  const o = v as Partial<LabelsFile> | null;
  if (!o || typeof o !== 'object' || o.version !== 1 || !o.labels || typeof o.labels !== 'object' || Array.isArray(o.labels)) throw new Error('not a labels file');
  const labels: Record<string, string> = {};
  for (const [mac, label] of Object.entries(o.labels)) {
    const l = checkLabel(label);
    if (l) labels[checkMac(mac)] = l;
  }
  return { version: 1, labels };
}

export class MachineLabels {
  readonly file: string;
  /** Set when labels.json was damaged: what happened and where the copy went. */
  readonly warning?: string;
  private labels: Record<string, string>;

  constructor(readonly dataDir: string) {
    this.file = join(dataDir, LABELS_FILE);
    const r = loadJson(this.file, validateFile, () => ({ version: 1 as const, labels: {} }));
    this.labels = r.value.labels;
    this.warning = r.warning?.replace('starting with an empty library', 'starting with no labels');
  }

  /** MAC (lower case) → label. A copy. */
  all(): Record<string, string> {
    return { ...this.labels };
  }

  get(mac: string): string | undefined {
    return this.labels[mac.toLowerCase()];
  }

  /** Sets (or with '' removes) one machine's label and saves; throws LabelError for a bad MAC or label. Returns all labels. */
  set(mac: string, label: string): Record<string, string> {
    const m = checkMac(mac);
    const l = checkLabel(label);
    if ((this.labels[m] ?? '') === l) return this.all();
    const next = { ...this.labels };
    if (l) next[m] = l;
    else delete next[m];
    if (Object.keys(next).length > LABELS_MAX) throw new LabelError(`at most ${LABELS_MAX} machines can have a label: remove some first`);
    mkdirSync(this.dataDir, { recursive: true });
    writeFileAtomic(this.file, JSON.stringify({ version: 1, labels: next } satisfies LabelsFile, null, 2) + '\n');
    this.labels = next;
    return this.all();
  }
}
