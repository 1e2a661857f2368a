// Every file is identified by its content before it can be served: real kernels, iPXE's own
// programs, a real ISO and a real WIM are taken; random data, text, an HTML page, a zip are
// refused with what they look like, also when named like an image.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { identifyFile } from '../../src/images/identify.js';
import { imageSpecFromPath } from '../../src/images/publish-image.js';
import { ImageLibrary } from '../../src/images/library.js';
import { ensureFixtures } from '../../src/lab/fixtures.js';
import { buildIso, tempDir, writeTree } from '../helpers/iso-build.js';

test('accepted by content: Debian kernel, ipxe.efi, undionly.kpxe, an iPXE script, a built ISO', async (t) => {
  const dir = tempDir(t);
  const { kernel } = ensureFixtures();
  assert.deepEqual(await identifyFile(kernel), { ok: true, kind: 'kernel', what: 'a Linux kernel (bzImage with EFI stub)' });
  // The same kernel renamed: the name does not matter, the content does.
  copyFileSync(kernel, join(dir, 'linux.bin'));
  assert.equal((await identifyFile(join(dir, 'linux.bin'))).ok && 'kernel', 'kernel');
  assert.deepEqual(await identifyFile('/usr/lib/ipxe/ipxe.efi'), { ok: true, kind: 'efi', what: 'an EFI program' });
  assert.deepEqual(await identifyFile('/usr/lib/ipxe/undionly.kpxe'), { ok: true, kind: 'pxe', what: 'a PXE program' });
  writeFileSync(join(dir, 'menu.txt'), '#!ipxe\nchain http://x/y\n');
  assert.deepEqual(await identifyFile(join(dir, 'menu.txt')), { ok: true, kind: 'ipxe-script', what: 'an iPXE script' });
  writeTree(join(dir, 'src'), { 'casper/vmlinuz': 'K', 'README.txt': 'hi' });
  const iso = buildIso(join(dir, 'src'), join(dir, 'ubuntu.img'), { rockRidge: true });
  assert.deepEqual(await identifyFile(iso), { ok: true, kind: 'iso', what: 'an ISO image (ISO 9660)' });
});

test('refused with what they look like: random data, a text file, an HTML page, a zip, a WIM, an ELF, a big .pxe', async (t) => {
  const dir = tempDir(t);
  const put = (name: string, data: Buffer | string) => {
    writeFileSync(join(dir, name), data);
    return join(dir, name);
  };
  const garbage = put('garbage.iso', randomBytes(6 * 1024 * 1024));
  const notes = put('notes.txt', 'hello\n');
  const page = put('debian-12.iso.html', '<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body>gone</body></html>\n');
  const zip = join(dir, 'images.zip');
  execFileSync('python3', ['-c', `import zipfile; z=zipfile.ZipFile(${JSON.stringify(zip)},'w'); z.writestr('a.txt','x'*1000); z.close()`]);
  mkdirSync(join(dir, 'wimsrc'));
  writeFileSync(join(dir, 'wimsrc', 'setup.txt'), 'windows\n');
  const wim = join(dir, 'boot.wim');
  execFileSync('wimlib-imagex', ['capture', join(dir, 'wimsrc'), wim, '--compress=none'], { stdio: 'ignore' });
  const elf = '/bin/true';
  const bigPxe = put('huge.kpxe', randomBytes(2 * 1024 * 1024));

  const cases: Array<[string, string, RegExp]> = [
    [garbage, 'random data', /^not an ISO 9660\/UDF image: it looks like random data: it is not an image/],
    [notes, 'a text file', /it looks like a text file, not a boot image: an iPXE script must start with "#!ipxe"/],
    [page, 'an HTML page', /it looks like an HTML page, not a boot image: a download that failed often saves the error page/],
    [zip, 'a zip archive', /it looks like a zip archive, not a boot image: unpack it/],
    [wim, 'a Windows image (WIM)', /it looks like a Windows image \(WIM\), not a boot image: a WIM boots only with the rest of Windows setup/],
    [elf, 'a Linux program (ELF)', /use the vmlinuz next to it/],
    [bigPxe, 'random data', /named like a PXE program \(\.kpxe\), but it is 2\.0 MB, more than a PXE ROM can load/],
  ];
  for (const [file, what, reason] of cases) {
    const id = await identifyFile(file);
    assert.equal(id.ok, false, file);
    if (id.ok) continue;
    assert.equal(id.what, what, file);
    assert.match(id.reason, reason, file);
    assert.match(id.reason, /PXE Kit serves ISO images, Linux kernels \(vmlinuz\), iPXE scripts, EFI programs and PXE programs\.$/);
  }
  // The same words where an image is served or added: nothing is a "Linux kernel" by default.
  await assert.rejects(imageSpecFromPath(garbage), /garbage\.iso is not a usable ISO: not an ISO 9660\/UDF image: it looks like random data/);
  await assert.rejects(imageSpecFromPath(notes), /notes\.txt cannot be served: it looks like a text file/);
  const lib = new ImageLibrary(join(dir, 'data'), { hashInBackground: false });
  await assert.rejects(lib.add({ path: notes }), /notes\.txt cannot be served: it looks like a text file/);
  await assert.rejects(lib.add({ path: garbage }), /garbage\.iso is not a usable ISO: .*random data/);
  await assert.rejects(lib.add({ path: page }), /an HTML page/);
  assert.deepEqual(await lib.list(), []);
});
