// Reads a published file whole, as a client would get it (tests only).
import assert from 'node:assert/strict';
import type { PublishedFiles } from '../../src/files/published.js';

export async function readPublished(files: PublishedFiles, path: string): Promise<string> {
  const f = files.lookup(path);
  assert.ok(f, `${path} is published`);
  const src = await f.open();
  const buf = Buffer.alloc(src.size);
  await src.read(buf, 0, buf.length, 0);
  await src.close();
  return buf.toString();
}
