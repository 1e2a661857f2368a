// The ISO reader against images made by the real mastering tools: every tree kind,
// name resolution, and file bytes read in place (random reads and ranged streams).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IsoImage, IsoError } from '../../src/images/iso/index.js';
import { assertSameBytes, buildIso, joinAsMultiExtent, makeUdfOnly, patternBytes, tempDir, writeTree, findRecord, type TreeSpec } from '../helpers/iso-build.js';

const BIG = patternBytes(300_000, 7);
const LONG = 'a file name well past the sixty-four characters Joliet allows.txt';
const DEEP = 'd1/d2/d3/d4/d5/d6/d7/d8/d9/d10/deep.txt'; // deeper than ISO 9660's 8 levels
const SPEC: TreeSpec = {
  'README.txt': 'read me\n',
  'boot/vmlinuz': BIG,
  'boot/Initrd.IMG': patternBytes(5000, 3),
  [LONG]: 'long\n',
  [DEEP]: 'deep\n',
  'Mixed Case Dir/ünïcode ☃.txt': 'snow\n',
  'empty.bin': '',
  'link-to-kernel': { symlink: 'boot/vmlinuz' },
};

async function checkTree(iso: IsoImage, names: { long: boolean; deep: boolean; unicode: boolean }): Promise<void> {
  const paths = new Set<string>();
  for await (const e of iso.walk()) paths.add(e.path);
  assert.ok(paths.has('README.txt'), [...paths].join(', '));
  assert.ok(paths.has('boot/vmlinuz'));
  if (names.long) assert.ok(paths.has(LONG));
  if (names.deep) assert.ok(paths.has(DEEP), [...paths].join(', '));
  if (names.unicode) assert.ok(paths.has('Mixed Case Dir/ünïcode ☃.txt'));
  const k = await iso.stat('boot/vmlinuz');
  assert.equal(k?.type, 'file');
  assert.equal(k?.size, BIG.length);
  await assertSameBytes(await iso.openFile('/boot/vmlinuz'), BIG);
  await assertSameBytes(await iso.openFile('boot\\initrd.img'), patternBytes(5000, 3)); // case-insensitive fallback, Windows slashes
  assert.equal((await iso.openFile('empty.bin')).size, 0);
  assert.equal((await iso.stat('README.TXT'))?.name, 'README.txt');
  assert.equal(await iso.stat('nope/README.txt'), undefined);
  assert.equal(await iso.stat('README.txt/x'), undefined);
  await assert.rejects(iso.openFile('boot'), (e: unknown) => e instanceof IsoError && e.code === 'not-a-file');
  await assert.rejects(iso.openFile('missing'), (e: unknown) => e instanceof IsoError && e.code === 'not-found');
  await assert.rejects(iso.list('README.txt'), (e: unknown) => e instanceof IsoError && e.code === 'not-a-directory');
  const boot = await iso.list('/boot/');
  assert.deepEqual(boot.map((e) => e.name).sort(), ['Initrd.IMG', 'vmlinuz']);
  assert.equal(boot[0].path.startsWith('boot/'), true);
}

test('Rock Ridge (xorriso -R -J): long and unicode names, deep dirs, symlinks; preferred over Joliet', async (t) => {
  const dir = tempDir(t);
  writeTree(join(dir, 'src'), SPEC);
  const out = buildIso(join(dir, 'src'), join(dir, 'rr.iso'), { rockRidge: true, joliet: true, volumeId: 'PXK_RR' });
  const iso = await IsoImage.open(out);
  t.after(() => iso.close());
  assert.equal(iso.tree, 'rockridge');
  assert.equal(iso.volumeId, 'PXK_RR');
  assert.ok(iso.hasRockRidge && iso.hasJoliet && !iso.hasUdf);
  await checkTree(iso, { long: true, deep: true, unicode: true });
  const link = await iso.stat('link-to-kernel');
  assert.equal(link?.type, 'symlink');
  assert.equal(link?.target, 'boot/vmlinuz');
  await assertSameBytes(await iso.openFile('link-to-kernel'), BIG); // followed inside the image
  assert.ok((await iso.stat('README.txt'))?.mtime instanceof Date);
});

test('Rock Ridge with deep-directory relocation (genisoimage -R: CL/RE/rr_moved)', async (t) => {
  const dir = tempDir(t);
  writeTree(join(dir, 'src'), SPEC);
  const out = buildIso(join(dir, 'src'), join(dir, 'g.iso'), { tool: 'genisoimage', rockRidge: true });
  const iso = await IsoImage.open(out);
  t.after(() => iso.close());
  assert.equal(iso.tree, 'rockridge');
  await checkTree(iso, { long: true, deep: true, unicode: true });
  assert.equal((await iso.openFile(DEEP)).size, 5);
  assert.ok(findRecord(readFileSync(out), 'RR_MOVED'), 'genisoimage relocated the deep directory');
  assert.equal(await iso.stat('rr_moved'), undefined, 'the relocation directory is hidden');
});

test('Joliet only (-J without Rock Ridge): UCS-2 names, long names', async (t) => {
  const dir = tempDir(t);
  writeTree(join(dir, 'src'), SPEC);
  for (const tool of ['xorriso', 'genisoimage'] as const) {
    const out = buildIso(join(dir, 'src'), join(dir, `${tool}-j.iso`), { tool, joliet: true });
    const iso = await IsoImage.open(out);
    try {
      assert.equal(iso.tree, 'joliet');
      assert.ok(iso.hasJoliet && !iso.hasRockRidge);
      await checkTree(iso, { long: true, deep: tool === 'xorriso', unicode: true });
    } finally {
      await iso.close();
    }
  }
});

test('plain ISO 9660: ";1" stripped, 8.3 upper-case names, case-insensitive lookup', async (t) => {
  const dir = tempDir(t);
  writeTree(join(dir, 'src'), { 'README.txt': 'x', 'boot/vmlinuz': BIG, noext: 'y' });
  const out = buildIso(join(dir, 'src'), join(dir, 'p.iso'));
  const iso = await IsoImage.open(out);
  t.after(() => iso.close());
  assert.equal(iso.tree, 'iso9660');
  assert.ok(!iso.hasJoliet && !iso.hasRockRidge && !iso.hasUdf);
  const names = (await iso.list()).map((e) => e.name).sort();
  assert.deepEqual(names, ['BOOT', 'NOEXT', 'README.TXT']);
  await assertSameBytes(await iso.openFile('boot/vmlinuz'), BIG);
  assert.equal((await iso.stat('readme.txt'))?.path, 'README.TXT');
  await assert.rejects(IsoImage.open(out, { tree: 'udf' }), (e: unknown) => e instanceof IsoError && /no udf tree/.test(e.message));
});

test('UDF (genisoimage -udf): preferred tree, names as on disk, the other trees still readable', async (t) => {
  const dir = tempDir(t);
  const spec = { ...SPEC };
  delete spec['link-to-kernel']; // genisoimage's UDF writer skips symlinks
  writeTree(join(dir, 'src'), spec);
  const out = buildIso(join(dir, 'src'), join(dir, 'u.iso'), { tool: 'genisoimage', udf: true, joliet: true, rockRidge: true, volumeId: 'PXK_UDF' }); // -R: without it genisoimage drops dirs deeper than 6
  const iso = await IsoImage.open(out);
  t.after(() => iso.close());
  assert.equal(iso.tree, 'udf');
  assert.ok(iso.hasUdf && iso.hasJoliet && iso.hasRockRidge);
  assert.deepEqual(iso.warnings, []);
  await checkTree(iso, { long: true, deep: true, unicode: true });
  const joliet = await IsoImage.open(out, { tree: 'joliet' });
  t.after(() => joliet.close());
  assert.equal(joliet.tree, 'joliet');
  await assertSameBytes(await joliet.openFile('boot/vmlinuz'), BIG);
  const rr = await IsoImage.open(out, { tree: 'rockridge' });
  t.after(() => rr.close());
  await assertSameBytes(await rr.openFile(DEEP), Buffer.from('deep\n'));
});

test('UDF-only image (no ISO 9660 descriptors, only BEA01/NSR02/TEA01)', async (t) => {
  const dir = tempDir(t);
  writeTree(join(dir, 'src'), { 'sources/install.wim': BIG, 'setup.exe': 'MZ' });
  const out = buildIso(join(dir, 'src'), join(dir, 'u.iso'), { tool: 'genisoimage', udf: true, volumeId: 'CCCOMA_X64' });
  const img = readFileSync(out);
  makeUdfOnly(img);
  writeFileSync(out, img);
  const iso = await IsoImage.open(out);
  t.after(() => iso.close());
  assert.equal(iso.tree, 'udf');
  assert.ok(iso.hasUdf && !iso.hasJoliet && !iso.hasRockRidge);
  assert.equal(iso.volumeId, 'CCCOMA_X64');
  await assertSameBytes(await iso.openFile('Sources/Install.wim'), BIG);
  assert.deepEqual((await iso.list()).map((e) => e.name).sort(), ['setup.exe', 'sources']);
});

test('multi-extent files: records with the multi-extent flag join into one file (plain, Rock Ridge, Joliet untouched)', async (t) => {
  const dir = tempDir(t);
  const a = patternBytes(6144, 11); // three whole sectors: extents other than the last are sector multiples
  const b = patternBytes(3001, 12);
  writeTree(join(dir, 'src'), { 'a.bin': a, 'b.bin': b });
  for (const rockRidge of [false, true]) {
    const out = buildIso(join(dir, 'src'), join(dir, `m${rockRidge}.iso`), { rockRidge });
    const img = readFileSync(out);
    joinAsMultiExtent(img, 'A.BIN;1', 'B.BIN;1');
    assert.equal(findRecord(img, 'A.BIN;1').flags & 0x80, 0x80);
    writeFileSync(out, img);
    const iso = await IsoImage.open(out);
    try {
      const name = rockRidge ? 'a.bin' : 'A.BIN';
      const e = await iso.stat(name);
      assert.equal(e?.extents.length, 2);
      assert.equal(e?.size, a.length + b.length);
      assert.deepEqual((await iso.list()).map((x) => x.name.toLowerCase()).sort(), ['a.bin', 'b.bin']);
      await assertSameBytes(await iso.openFile(name), Buffer.concat([a, b]), 5);
    } finally {
      await iso.close();
    }
  }
});
