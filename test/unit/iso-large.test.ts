// Files over 4 GiB, built for real: ISO 9660 level 3 multi-extent (xorriso) and UDF
// (genisoimage -udf, which splits the file into 1 GiB allocation extents). The source
// file is sparse but the images are not: each test writes ~4.3 GB and deletes it when
// done (about 20-30 s each here). Skipped, with a note, when the disk lacks room.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, openSync, rmSync, writeSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IsoImage, type TreeKind } from '../../src/images/iso/index.js';
import { buildIso, collect, freeBytes, patternBytes, tempDir } from '../helpers/iso-build.js';

const SIZE = 4 * 1024 ** 3 + 3 * 1024 * 1024; // just past 4 GiB
const ISO_EXTENT = 0xfffff800; // mkisofs/libisofs split a file every 4 GiB - 2 KiB
const UDF_EXTENT = 1024 ** 3 - 2048; // genisoimage's UDF allocation extents
// Patterned windows across the places where extents change, the rest is a hole (zeros).
const MARKS = [0, UDF_EXTENT - 40_000, ISO_EXTENT - 100_000, 3 * UDF_EXTENT - 7, SIZE - 200_000].map((pos, i) => ({ pos, data: patternBytes(150_000, 31 + i) }));
const NEEDED = 4.6 * 1024 ** 3 + 1024 ** 3; // the image plus headroom

function expected(pos: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  for (const m of MARKS) {
    const from = Math.max(pos, m.pos);
    const to = Math.min(pos + len, m.pos + m.data.length);
    if (from < to) m.data.copy(b, from - pos, from - m.pos, to - m.pos);
  }
  return b;
}

function makeSource(dir: string): string {
  const src = join(dir, 'src');
  mkdirSync(src);
  const fd = openSync(join(src, 'install.wim'), 'w');
  try {
    ftruncateSync(fd, SIZE);
    for (const m of MARKS) writeSync(fd, m.data, 0, m.data.length, m.pos);
  } finally {
    closeSync(fd);
  }
  return src;
}

async function check(out: string, tree: TreeKind, minExtents: number): Promise<void> {
  const iso = await IsoImage.open(out, { tree });
  try {
    const e = await iso.stat('install.wim');
    assert.equal(e?.size, SIZE);
    assert.ok(e.extents.length >= minExtents, `${e.extents.length} extents`);
    const f = await iso.openFile('INSTALL.WIM');
    assert.equal(f.size, SIZE);
    for (const m of MARKS) {
      for (const [pos, len] of [[m.pos - 5000, 160_000], [m.pos + 1, 70_001]]) {
        const p = Math.max(0, Math.min(pos, SIZE - len));
        const b = Buffer.alloc(len);
        assert.equal(await f.read(b, 0, len, p), len);
        assert.ok(b.equals(expected(p, len)), `${tree}: read at ${p} differs`);
      }
    }
    // A ranged stream across the ISO extent boundary, and the tail of the file.
    for (const [start, end] of [[ISO_EXTENT - 3 * 1024 * 1024, ISO_EXTENT + 2 * 1024 * 1024], [SIZE - 1_000_000, SIZE - 1]]) {
      assert.ok((await collect(f.stream(start, end))).equals(expected(start, end - start + 1)), `${tree}: stream ${start}-${end} differs`);
    }
    const tail = Buffer.alloc(10);
    assert.equal(await f.read(tail, 0, 10, SIZE - 4), 4);
  } finally {
    await iso.close();
  }
}

function roomy(t: { skip: (m: string) => void }): boolean {
  const free = freeBytes(tmpdir());
  if (free >= NEEDED) return true;
  t.skip(`needs ${(NEEDED / 1024 ** 3).toFixed(1)} GiB free in ${tmpdir()}, has ${(free / 1024 ** 3).toFixed(1)}`);
  return false;
}

test('ISO 9660 level 3 multi-extent file over 4 GiB (xorriso): Rock Ridge and Joliet trees', { timeout: 240_000 }, async (t) => {
  if (!roomy(t)) return;
  const dir = tempDir(t, 'pxk-iso-large-');
  const out = buildIso(makeSource(dir), join(dir, 'big.iso'), { rockRidge: true, joliet: true, isoLevel: 3 });
  try {
    await check(out, 'rockridge', 2);
    await check(out, 'joliet', 2);
  } finally {
    rmSync(out, { force: true });
  }
});

test('UDF file over 4 GiB (genisoimage -udf): several allocation extents, whole file', { timeout: 240_000 }, async (t) => {
  if (!roomy(t)) return;
  const dir = tempDir(t, 'pxk-iso-large-');
  const out = buildIso(makeSource(dir), join(dir, 'big.iso'), { tool: 'genisoimage', udf: true, isoLevel: 3 });
  try {
    const iso = await IsoImage.open(out);
    assert.equal(iso.tree, 'udf', 'UDF is preferred: the ISO 9660 side only has the size modulo 4 GiB');
    assert.equal((await iso.stat('install.wim'))?.size, SIZE);
    await iso.close();
    await check(out, 'udf', 5);
  } finally {
    rmSync(out, { force: true });
  }
});
