// El Torito: BIOS and UEFI boot entries as xorriso writes them, the UEFI image sized from
// its FAT boot sector even when the catalog's count is wrong, and a damaged catalog.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IsoImage, PLATFORM_BIOS, PLATFORM_EFI } from '../../src/images/iso/index.js';
import { SECTOR, assertSameBytes, buildIso, fatImage, patternBytes, tempDir, writeTree } from '../helpers/iso-build.js';

const ISOLINUX = patternBytes(24_576, 21);
const ESP = fatImage(2 * 1024 * 1024);

function build(t: Parameters<typeof tempDir>[0], o: { bios: boolean; uefi: boolean }): string {
  const dir = tempDir(t);
  writeTree(join(dir, 'src'), { 'isolinux/isolinux.bin': ISOLINUX, 'EFI/BOOT/efiboot.img': ESP, 'README.txt': 'x' });
  return buildIso(join(dir, 'src'), join(dir, 'boot.iso'), {
    rockRidge: true,
    joliet: true,
    bios: o.bios ? 'isolinux/isolinux.bin' : undefined,
    uefi: o.uefi ? 'EFI/BOOT/efiboot.img' : undefined,
  });
}

test('El Torito BIOS + UEFI (xorriso -b ... -eltorito-alt-boot -e ...): both images found, UEFI sized from FAT', async (t) => {
  const out = build(t, { bios: true, uefi: true });
  const iso = await IsoImage.open(out);
  t.after(() => iso.close());
  const { bios, uefi, entries, catalogSector } = iso.boot;
  assert.ok(catalogSector !== undefined && catalogSector > 16);
  assert.deepEqual(entries.map((e) => e.platform), [PLATFORM_BIOS, PLATFORM_EFI]);
  assert.ok(bios && uefi);
  assert.equal(bios.mediaType, 0);
  assert.equal(bios.sectorCount, 4); // -boot-load-size 4
  assert.equal(bios.size, 2048);
  // The catalog's load RBA is where the file's data is in the tree.
  const isolinux = await iso.stat('isolinux/isolinux.bin');
  assert.deepEqual(isolinux?.extents[0], { kind: 'image', pos: bios.loadRba * SECTOR, length: ISOLINUX.length });
  const esp = await iso.stat('EFI/BOOT/efiboot.img');
  assert.equal(esp?.extents[0].kind === 'image' && esp.extents[0].pos, uefi.loadRba * SECTOR);
  assert.equal(uefi.sizeSource, 'fat');
  assert.equal(uefi.size, ESP.length);
  await assertSameBytes(await iso.openBootImage('uefi'), ESP);
  await assertSameBytes(await iso.openBootImage('bios'), ISOLINUX.subarray(0, 2048));
});

test('UEFI-only image; a wrong catalog sector count (1) does not matter: the FAT boot sector gives the size', async (t) => {
  const out = build(t, { bios: false, uefi: true });
  const img = readFileSync(out);
  const cat = img.readUInt32LE(17 * SECTOR + 0x47);
  assert.equal(img[cat * SECTOR + 32], 0x88, 'the default entry is bootable');
  assert.equal(img[cat * SECTOR + 1], PLATFORM_EFI, 'xorriso puts the only (UEFI) entry in the validation entry');
  img.writeUInt16LE(1, cat * SECTOR + 32 + 6);
  writeFileSync(out, img);
  const iso = await IsoImage.open(out);
  t.after(() => iso.close());
  assert.equal(iso.boot.bios, undefined);
  assert.equal(iso.boot.uefi?.sectorCount, 1);
  assert.equal(iso.boot.uefi?.size, ESP.length);
  await assertSameBytes(await iso.openBootImage('uefi'), ESP);
  await assert.rejects(iso.openBootImage('bios'), /no BIOS El Torito boot entry/);
});

test('a damaged boot catalog is a warning, not a failure; no boot record means no boot info', async (t) => {
  const out = build(t, { bios: true, uefi: true });
  const img = readFileSync(out);
  const cat = img.readUInt32LE(17 * SECTOR + 0x47);
  img[cat * SECTOR + 28] ^= 0xff; // break the validation checksum
  writeFileSync(out, img);
  const iso = await IsoImage.open(out);
  t.after(() => iso.close());
  assert.equal(iso.boot.bios, undefined);
  assert.equal(iso.boot.uefi, undefined);
  assert.match(iso.warnings.join('\n'), /El Torito ignored: corrupt: El Torito validation entry at sector \d+ has a bad checksum/);
  assert.deepEqual((await iso.list()).map((e) => e.name).sort(), ['EFI', 'README.txt', 'boot.catalog', 'isolinux'], 'the tree still reads');

  const dir = tempDir(t);
  writeTree(join(dir, 'src'), { a: 'b' });
  const plain = await IsoImage.open(buildIso(join(dir, 'src'), join(dir, 'p.iso')));
  t.after(() => plain.close());
  assert.deepEqual(plain.boot, { entries: [] });
});
