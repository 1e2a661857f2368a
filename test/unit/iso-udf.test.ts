// UDF forms genisoimage does not write but other masters do (mkudffs, Windows, Nero):
// embedded data, long_ad, Allocation Extent Descriptor chains, sparse extents, Extended
// File Entries. Made by rewriting genisoimage's File Entries (with valid tags and CRCs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BufferSource } from '../../src/files/published.js';
import { IsoError, IsoImage } from '../../src/images/iso/index.js';
import { SECTOR, assertSameBytes, sealTag, buildIso, patternBytes, tempDir, udfEmbed, udfEntryForData, udfLongAdsWithAed, udfToExtended, udfToMetadataPartition, writeTree } from '../helpers/iso-build.js';

const SMALL = Buffer.from('hello from inside the file entry\n');
const BIG = patternBytes(300_000, 41);
const OTHER = patternBytes(100_000, 42);

async function base(t: Parameters<typeof tempDir>[0]): Promise<{ img: Buffer; sector: (p: string) => Promise<number> }> {
  const dir = tempDir(t);
  writeTree(join(dir, 'src'), { 'small.txt': SMALL, 'big.bin': BIG, 'dir/other.bin': OTHER });
  const img = readFileSync(buildIso(join(dir, 'src'), join(dir, 'u.iso'), { tool: 'genisoimage', udf: true }));
  const iso = await IsoImage.fromSource(new BufferSource(img), { tree: 'udf' });
  const sectors = new Map<string, number>();
  for await (const e of iso.walk()) {
    const x = e.extents[0];
    if (e.type === 'file' && x?.kind === 'image') sectors.set(e.path, x.pos / SECTOR);
  }
  await iso.close();
  return { img, sector: async (p) => sectors.get(p)! };
}

test('UDF embedded data, long_ad with an allocation extent chain, extended file entries', async (t) => {
  const { img, sector } = await base(t);
  const small = udfEntryForData(img, await sector('small.txt'));
  udfEmbed(img, small, SMALL);
  img.fill(0x58, (await sector('small.txt')) * SECTOR, (await sector('small.txt')) * SECTOR + SECTOR); // the old data block is now free: prove it is not read
  const freeLbn = (await sector('small.txt')) - small.partStart;
  udfLongAdsWithAed(img, udfEntryForData(img, await sector('big.bin')), 10, freeLbn);
  udfToExtended(img, udfEntryForData(img, await sector('dir/other.bin')));
  const iso = await IsoImage.fromSource(new BufferSource(img));
  t.after(() => iso.close());
  assert.equal(iso.tree, 'udf');
  assert.deepEqual(iso.warnings, []);
  const s = await iso.stat('small.txt');
  assert.equal(s?.extents[0].kind, 'inline');
  await assertSameBytes(await iso.openFile('small.txt'), SMALL);
  const b = await iso.stat('big.bin');
  assert.equal(b?.extents.length, 2);
  await assertSameBytes(await iso.openFile('big.bin'), BIG, 3);
  await assertSameBytes(await iso.openFile('dir/other.bin'), OTHER, 4);
});

test('UDF sparse (allocated, not recorded) extents read as zeros; an AED chain that loops is refused', async (t) => {
  const { img, sector } = await base(t);
  const small = udfEntryForData(img, await sector('small.txt'));
  const freeLbn = (await sector('small.txt')) - small.partStart;
  const sparse = Buffer.from(img);
  udfLongAdsWithAed(sparse, udfEntryForData(sparse, await sector('big.bin')), 10, freeLbn, { sparseFirst: true });
  const iso = await IsoImage.fromSource(new BufferSource(sparse));
  t.after(() => iso.close());
  assert.deepEqual((await iso.stat('big.bin'))?.extents.map((e) => e.kind), ['zero', 'image']);
  await assertSameBytes(await iso.openFile('big.bin'), Buffer.concat([Buffer.alloc(10 * SECTOR), BIG.subarray(10 * SECTOR)]), 6);

  const loop = Buffer.from(img);
  udfLongAdsWithAed(loop, udfEntryForData(loop, await sector('big.bin')), 10, freeLbn, { aedPointsToItself: true });
  await assert.rejects(
    (async () => {
      const l = await IsoImage.fromSource(new BufferSource(loop), { tree: 'udf' });
      await l.list();
    })(),
    (e: unknown) => e instanceof IsoError && e.code === 'limit' && /allocation extents of block \d+ loop/.test(e.message),
  );
});

test('UDF 2.50 metadata partition (type 2 map): file entries found through the metadata file', async (t) => {
  const { img, sector } = await base(t);
  const pristine = await IsoImage.fromSource(new BufferSource(img), { tree: 'udf' });
  const dirs = [(await pristine.stat(''))!, (await pristine.stat('dir'))!].map((d) => {
    const x = d.extents[0];
    assert.equal(x.kind, 'image');
    return x.kind === 'image' ? { pos: x.pos, length: x.length } : { pos: 0, length: 0 };
  });
  const rootFeLbn = udfEntryForData(img, dirs[0].pos / SECTOR).lbn;
  await pristine.close();
  const small = udfEntryForData(img, await sector('small.txt'));
  udfEmbed(img, small, SMALL);
  // The metadata file takes small.txt's old block; split its mapping just below the root's entry.
  udfToMetadataPartition(img, dirs, (await sector('small.txt')) - small.partStart, rootFeLbn - 1);
  const iso = await IsoImage.fromSource(new BufferSource(img), { tree: 'udf' });
  t.after(() => iso.close());
  assert.deepEqual(iso.warnings, []);
  await assertSameBytes(await iso.openFile('small.txt'), SMALL);
  await assertSameBytes(await iso.openFile('big.bin'), BIG, 8);
  await assertSameBytes(await iso.openFile('DIR/OTHER.BIN'), OTHER, 9);
  // A metadata file that does not cover the entries is a clear error, not a wild read.
  const lvd = img.indexOf(Buffer.from('*UDF Metadata Partition', 'latin1'));
  const broken = Buffer.from(img);
  broken.writeUInt32LE(0x7ff, lvd - 5 + 40);
  const lvdAt = Math.floor(lvd / SECTOR) * SECTOR;
  sealTag(broken, lvdAt, broken.readUInt16LE(lvdAt + 10));
  await assert.rejects(IsoImage.fromSource(new BufferSource(broken), { tree: 'udf' }), (e: unknown) => e instanceof IsoError && /truncated: UDF metadata file entry at sector \d+ lies past the end/.test(e.message));
});
