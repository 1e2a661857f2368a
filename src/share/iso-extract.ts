// Copies an ISO's files into a folder with the engine's own ISO reader (UDF, Joliet, Rock
// Ridge): the share's fallback when the kernel cannot mount the image (no udf/iso9660
// filesystem, as in some VMs and containers). Costs the image's size on disk while shared.
import { createWriteStream, statfsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { IsoImage } from '../images/iso/index.js';
import { isoTree } from '../images/tree.js';

export class ExtractError extends Error {}

/** Extracts `iso` into the existing empty folder `dest`; files 0444, folders 0555. */
export async function extractIso(iso: string, dest: string): Promise<void> {
  let image: IsoImage;
  try {
    image = await IsoImage.open(iso);
  } catch (err) {
    throw new ExtractError(`${iso} could not be read as an ISO image (${(err as Error).message})`);
  }
  const tree = isoTree(image);
  try {
    const entries = [];
    let total = 0;
    for await (const e of tree.walk()) {
      entries.push(e);
      if (e.type === 'file') total += e.size;
    }
    const fsStat = statfsSync(dest);
    const free = fsStat.bavail * fsStat.bsize;
    if (total > free) throw new ExtractError(`the kernel cannot mount ${iso}, and copying its files needs ${gib(total)} where ${gib(free)} is free (${dest})`);
    const dirs: string[] = [];
    for (const e of entries) {
      // The reader yields "/"-separated relative paths; refuse anything that would leave dest.
      const target = path.resolve(dest, ...e.path.split('/'));
      if (!target.startsWith(dest + path.sep)) continue;
      if (e.type === 'directory') {
        await fs.mkdir(target, { recursive: true });
        dirs.push(target);
      } else if (e.type === 'file') {
        await fs.mkdir(path.dirname(target), { recursive: true });
        const src = await tree.openFile(e.path);
        try {
          if (src.size > 0) await pipeline(src.stream(0, src.size - 1), createWriteStream(target, { mode: 0o444 }));
          else await fs.writeFile(target, '', { mode: 0o444 });
        } finally {
          await src.close();
        }
      }
    }
    for (const d of dirs.reverse()) await fs.chmod(d, 0o555);
  } finally {
    await tree.close();
  }
}

const gib = (n: number) => `${(n / 2 ** 30).toFixed(1)} GiB`;
