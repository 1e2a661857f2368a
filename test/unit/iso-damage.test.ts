// Damaged, truncated and hostile images: every failure is an IsoError with a message that
// says what is wrong, never a crash, a hang or an unbounded allocation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { BufferSource } from '../../src/files/published.js';
import { IsoError, IsoImage, type TreeKind } from '../../src/images/iso/index.js';
import { SECTOR, buildIso, collect, fatImage, findRecord, makeUdfOnly, patternBytes, prng, rootRecords, setBoth32, tempDir, udfRootEntryPos, writeTree } from '../helpers/iso-build.js';

const TIMEOUT = { timeout: 60_000 };
const SPEC = {
  'README.txt': 'read me\n',
  'boot/vmlinuz': patternBytes(40_000, 1),
  'sub/dir/file.txt': 'x'.repeat(3000),
  'isolinux.bin': patternBytes(4096, 2),
  'efiboot.img': fatImage(64 * 1024),
};

/** Opens, walks, opens and reads every file; returns the file count. Any failure propagates. */
async function exercise(src: BufferSource | string, tree?: TreeKind): Promise<number> {
  const iso = typeof src === 'string' ? await IsoImage.open(src, { tree }) : await IsoImage.fromSource(src, { tree });
  let files = 0;
  try {
    for await (const e of iso.walk()) {
      await iso.stat(e.path);
      if (e.type !== 'file') continue;
      files++;
      const f = await iso.openFile(e.path);
      const b = Buffer.alloc(Math.min(f.size, 4096));
      await f.read(b, 0, b.length, 0);
      if (f.size > 0) await collect(f.stream(Math.floor(f.size / 2), f.size - 1));
    }
    if (iso.boot.uefi) await (await iso.openBootImage('uefi')).read(Buffer.alloc(512), 0, 512, 0);
  } finally {
    await iso.close();
  }
  return files;
}

function isIsoError(code?: string, message?: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof IsoError, `expected an IsoError, got ${(e as Error)?.stack ?? e}`);
    if (code) assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  };
}

function images(t: Parameters<typeof tempDir>[0]): { dir: string; rr: Buffer; udf: Buffer } {
  const dir = tempDir(t);
  writeTree(join(dir, 'src'), SPEC);
  const rr = buildIso(join(dir, 'src'), join(dir, 'rr.iso'), { rockRidge: true, joliet: true, bios: 'isolinux.bin', uefi: 'efiboot.img' });
  const udf = buildIso(join(dir, 'src'), join(dir, 'udf.iso'), { tool: 'genisoimage', udf: true, rockRidge: true, joliet: true });
  return { dir, rr: readFileSync(rr), udf: readFileSync(udf) };
}

test('the pristine images read fully (the baseline the damage tests break)', TIMEOUT, async (t) => {
  const { rr, udf } = images(t);
  assert.equal(await exercise(new BufferSource(rr)), 6); // + boot.catalog
  assert.equal(await exercise(new BufferSource(udf)), 5);
});

test('not an image: tiny file, random garbage, zeroed volume descriptors', TIMEOUT, async (t) => {
  const { dir, rr } = images(t);
  await assert.rejects(IsoImage.fromSource(new BufferSource(Buffer.alloc(100))), isIsoError('not-iso', /too small to hold a volume descriptor at sector 16/));
  await assert.rejects(IsoImage.fromSource(new BufferSource(patternBytes(1 << 20, 99))), isIsoError('not-iso', /^not an ISO 9660\/UDF image: no volume descriptor at sector 16$/));
  const zeroed = Buffer.from(rr);
  zeroed.fill(0, 16 * SECTOR, 20 * SECTOR);
  writeFileSync(join(dir, 'zeroed.iso'), zeroed);
  await assert.rejects(IsoImage.open(join(dir, 'zeroed.iso')), isIsoError('not-iso', /no volume descriptor at sector 16/));
  await assert.rejects(IsoImage.open(join(dir, 'missing.iso')), /ENOENT/); // not an image problem: the plain fs error
});

test('truncated images: a clear "truncated: ... lies past the end of the file (size N)"', TIMEOUT, async (t) => {
  const { dir, rr, udf } = images(t);
  for (const [name, img] of [['rr', rr], ['udf', udf]] as const) {
    // Cut inside the directories, inside the file data, and one byte short.
    for (const cut of [18 * SECTOR, 40 * SECTOR, Math.floor(img.length / 2), img.length - 1]) {
      const p = join(dir, `${name}-${cut}.iso`);
      writeFileSync(p, img);
      truncateSync(p, cut);
      let err: unknown;
      try {
        await exercise(p);
      } catch (e) {
        err = e;
      }
      // The primary volume says how big the image is: a cut is refused at open, with both sizes. A UDF-only
      // image has no such size: the first structure past the end says "truncated".
      const cutShort = new RegExp(`^the image is cut short: its volume is [\\d.]+ MB but the file holds ${(cut / 1048576).toFixed(1)} MB`);
      const pastEnd = new RegExp(`^truncated: .+ at (sector|byte) \\d+.* lies past the end of the file \\(size ${cut}\\)$`);
      if (err !== undefined) isIsoError('truncated', name === 'rr' ? cutShort : new RegExp(`${cutShort.source}|${pastEnd.source}`))(err);
      else assert.ok(name === 'udf' && cut > img.length - 160 * SECTOR, `${name} cut at ${cut} read without error`);
    }
  }
  // The file with its data at the end of the image must fail when the end is cut.
  const p = join(dir, 'short.iso');
  writeFileSync(p, rr);
  const iso = await IsoImage.open(p);
  const k = (await iso.stat('boot/vmlinuz'))!;
  await iso.close();
  const e0 = k.extents[0];
  assert.equal(e0.kind, 'image');
  const cutAt = (e0.kind === 'image' ? e0.pos : 0) + 100;
  truncateSync(p, cutAt);
  await assert.rejects(IsoImage.open(p), isIsoError('truncated', /^the image is cut short/));
  // A volume that lies about its size (says the cut size) still cannot read past the end.
  const fd = openSync(p, 'r+');
  const size = Buffer.alloc(8);
  size.writeUInt32LE(Math.floor(cutAt / SECTOR), 0);
  size.writeUInt32BE(Math.floor(cutAt / SECTOR), 4);
  writeSync(fd, size, 0, 8, 16 * SECTOR + 80);
  closeSync(fd);
  const iso2 = await IsoImage.open(p);
  t.after(() => iso2.close());
  await assert.rejects(iso2.openFile('boot/vmlinuz'), isIsoError('truncated', /data of \/boot\/vmlinuz at sector \d+ lies past the end/));
});

test('corrupted directory records: overlong, too short, name overflowing the record', TIMEOUT, async (t) => {
  const { rr } = images(t);
  const recs = rootRecords(rr);
  const readme = findRecord(rr, 'README.TXT;1');
  const cases: Array<[string, (b: Buffer) => void, RegExp]> = [
    ['record length 5', (b) => (b[recs[0].at] = 5), /directory record at sector \d+ offset 0 has length 5/],
    ['"." with an empty name', (b) => (b[recs[0].at + 32] = 0), /has a name of 0 bytes/],
    ['name longer than the record', (b) => (b[readme.at + 32] = 200), /has a name of 200 bytes/],
    ['sub-directory past the end', (b) => setBoth32(b, findRecord(b, 'SUB').at + 2, 0x7fffff), /truncated: directory at sector 8388607 lies past the end/],
    ['directory claiming 1 GiB', (b) => setBoth32(b, findRecord(b, 'SUB').at + 10, 1 << 30), /limit: directory at sector \d+ claims 1073741824 bytes/],
  ];
  for (const [what, damage, message] of cases) {
    const b = Buffer.from(rr);
    damage(b);
    await assert.rejects(exercise(new BufferSource(b)), isIsoError(undefined, message), what);
  }
});

test('Rock Ridge CE loops (on the root "." and on a file) are caught', TIMEOUT, async (t) => {
  const { rr } = images(t);
  // The root's "." record already has a CE (to its ER entry): point it at itself.
  const b = Buffer.from(rr);
  const dot = rootRecords(b)[0];
  const ce = b.indexOf('CE', dot.sua, 'latin1');
  assert.ok(ce > 0 && ce < dot.at + dot.len);
  setBoth32(b, ce + 4, Math.floor(ce / SECTOR));
  setBoth32(b, ce + 12, ce % SECTOR);
  setBoth32(b, ce + 20, 28);
  await assert.rejects(IsoImage.fromSource(new BufferSource(b)), isIsoError('limit', /Rock Ridge continuation areas form a loop/));
  // A file's PX entry (36 bytes) rewritten as a self-referencing CE (28) + an 8-byte pad.
  const c = Buffer.from(rr);
  const rec = findRecord(c, 'README.TXT;1');
  const px = c.indexOf('PX', rec.sua, 'latin1');
  assert.equal(c[px + 2], 36);
  c.write('CE', px, 'latin1');
  c[px + 2] = 28;
  c[px + 3] = 1;
  setBoth32(c, px + 4, Math.floor(px / SECTOR));
  setBoth32(c, px + 12, px % SECTOR);
  setBoth32(c, px + 20, 28);
  c.write('PD', px + 28, 'latin1');
  c[px + 30] = 8;
  c[px + 31] = 1;
  await assert.rejects(exercise(new BufferSource(c)), isIsoError('limit', /loop/));
});

test('a directory that contains its own ancestor: walk ends, lookups stay bounded', TIMEOUT, async (t) => {
  const { rr } = images(t);
  const b = Buffer.from(rr);
  const root = rootRecords(b)[0];
  const sub = findRecord(b, 'SUB');
  setBoth32(b, sub.at + 2, root.lba);
  setBoth32(b, sub.at + 10, root.size);
  const iso = await IsoImage.fromSource(new BufferSource(b));
  t.after(() => iso.close());
  const paths: string[] = [];
  for await (const e of iso.walk()) paths.push(e.path);
  assert.ok(paths.includes('sub') && !paths.includes('sub/README.txt'), paths.join(','));
  assert.deepEqual((await iso.list('sub')).map((e) => e.name), (await iso.list('')).map((e) => e.name));
  assert.equal((await iso.stat('sub/sub/sub/sub/sub/README.txt'))?.size, 8);
});

test('UDF damage: a bad root file entry falls back to the ISO tree with a warning; UDF-only fails clearly', TIMEOUT, async (t) => {
  const { udf } = images(t);
  const b = Buffer.from(udf);
  const rootPos = udfRootEntryPos(b);
  assert.equal(b.readUInt16LE(rootPos), 261, 'a File Entry');
  b[rootPos + 4] ^= 0x5a; // tag checksum
  const iso = await IsoImage.fromSource(new BufferSource(b));
  t.after(() => iso.close());
  assert.equal(iso.tree, 'rockridge');
  assert.match(iso.warnings.join('\n'), /UDF ignored: corrupt: UDF file entry at block \d+ has no valid descriptor tag/);
  makeUdfOnly(b);
  await assert.rejects(exercise(new BufferSource(b)), isIsoError('corrupt', /UDF file entry/));
});

test('seeded mutation fuzz: only IsoError may escape, and nothing hangs', { timeout: 120_000 }, async (t) => {
  const { rr, udf } = images(t);
  const rnd = prng(0x150f00d);
  let ok = 0;
  let failed = 0;
  for (const [base, trees] of [[rr, ['rockridge', 'joliet']], [udf, ['udf', 'rockridge', 'joliet']]] as const) {
    // Mutate where the structures are: sectors (>= 16) that are not all zero.
    const data = new Set<number>();
    const pristine = await IsoImage.fromSource(new BufferSource(base));
    for await (const e of pristine.walk()) {
      for (const x of e.type === 'file' ? e.extents : []) if (x.kind === 'image') for (let s = x.pos / SECTOR; s < (x.pos + x.length) / SECTOR; s++) data.add(s);
    }
    await pristine.close();
    const live: number[] = [];
    for (let s = 16; s < base.length / SECTOR; s++) if (!data.has(s) && base.subarray(s * SECTOR, (s + 1) * SECTOR).some((x) => x !== 0)) live.push(s);
    for (let i = 0; i < 300; i++) {
      const b = Buffer.from(base);
      const n = 1 + Math.floor(rnd() * 12);
      for (let k = 0; k < n; k++) {
        const s = live[Math.floor(rnd() * live.length)];
        const pos = s * SECTOR + Math.floor(rnd() * SECTOR);
        const r = rnd();
        if (r < 0.5) b[pos] = Math.floor(rnd() * 256);
        else if (r < 0.8) b[pos] ^= 1 << Math.floor(rnd() * 8);
        else b.writeUInt32LE(Math.floor(rnd() * 2 ** 32), Math.min(pos, b.length - 4));
      }
      const img = rnd() < 0.1 ? b.subarray(0, Math.floor(rnd() * b.length)) : b;
      try {
        // Each tree in turn, so damage to any of them is read (forcing a tree the damage hid is an IsoError too).
        await exercise(new BufferSource(img), trees[i % trees.length]);
        ok++;
      } catch (e) {
        isIsoError()(e);
        failed++;
      }
    }
  }
  t.diagnostic(`fuzz: ${ok} read fully, ${failed} refused with IsoError`);
  assert.ok(failed > 20 && ok > 20);
});
