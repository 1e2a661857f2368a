import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectImageKind, detectKindFromBytes, imageSpecFromPath, publishImage } from '../../src/images/publish-image.js';
import { describeMissing, locateIpxeBinaries, packageRoot } from '../../src/boot/ipxe-binaries.js';
import { PublishedFiles } from '../../src/files/published.js';

function bzImage(): Buffer {
  const b = Buffer.alloc(8192);
  b.write('MZ', 0, 'latin1'); // EFI-stub kernels are PE files too
  b.writeUInt32LE(0x40, 0x3c);
  b.write('PE\0\0', 0x40, 'latin1');
  b.write('HdrS', 0x202, 'latin1');
  return b;
}
function peFile(): Buffer {
  const b = Buffer.alloc(1024);
  b.write('MZ', 0, 'latin1');
  b.writeUInt32LE(0x80, 0x3c);
  b.write('PE\0\0', 0x80, 'latin1');
  b.writeUInt16LE(10, 0x80 + 24 + 0x44); // subsystem: EFI application
  return b;
}

test('kind detection: iPXE script, bzImage (even with an EFI stub), arm64 Image, EFI, PXE by extension', () => {
  assert.equal(detectKindFromBytes(Buffer.from('#!ipxe\nchain x\n')), 'ipxe-script');
  assert.equal(detectKindFromBytes(Buffer.from('\uFEFF  #!ipxe\n')), 'ipxe-script');
  assert.equal(detectKindFromBytes(bzImage()), 'kernel');
  const arm = Buffer.alloc(128);
  arm.write('MZ', 0, 'latin1');
  arm.write('ARMd', 0x38, 'latin1');
  assert.equal(detectKindFromBytes(arm), 'kernel');
  assert.equal(detectKindFromBytes(peFile()), 'efi');
  // Nothing is a kernel by default: an MZ without a PE header, or without a Linux header, is refused.
  const mz = Buffer.alloc(512);
  mz.write('MZ junk without PE header', 0, 'latin1');
  assert.throws(() => detectKindFromBytes(mz), /looks like a DOS program, not a boot image/);
  const prog = Buffer.alloc(40_000);
  for (let i = 0; i < prog.length; i++) prog[i] = (i * 7919 + (i >> 3)) & 0xff;
  assert.equal(detectKindFromBytes(prog, 'undionly.kpxe'), 'pxe');
  assert.equal(detectKindFromBytes(prog, 'pxelinux.0'), 'pxe');
  // A PXE program has no magic: its extension, a size a PXE ROM can load, and not text.
  assert.throws(() => detectKindFromBytes(Buffer.alloc(100), 'undionly.kpxe'), /only 100 bytes/);
  assert.throws(() => detectKindFromBytes(Buffer.from('hello\n'.repeat(400)), 'x.0'), /it is a text file/);
});

test('kind detection on the real iPXE programs when installed', { skip: !existsSync('/usr/lib/ipxe/ipxe.efi') && 'ipxe not installed' }, async () => {
  assert.equal(await detectImageKind('/usr/lib/ipxe/ipxe.efi'), 'efi');
  assert.equal(await detectImageKind('/usr/lib/ipxe/undionly.kpxe'), 'pxe');
});

function withDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pxk-img-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test(
  'a kernel with initrds is published under stable names with roles, and per-MAC scripts are served',
  withDir(async (dir) => {
    writeFileSync(join(dir, 'vmlinuz-6.1'), bzImage());
    writeFileSync(join(dir, 'a.img'), 'A');
    writeFileSync(join(dir, 'b.img'), 'B');
    const spec = await imageSpecFromPath(join(dir, 'vmlinuz-6.1'), { initrds: [join(dir, 'a.img'), join(dir, 'b.img')], cmdline: 'console=ttyS0' });
    assert.equal(spec.kind, 'kernel');
    const files = new PublishedFiles();
    const img = await publishImage(files, spec, { serverIp: '10.9.0.1', httpPort: 8080 });
    assert.deepEqual(img.paths, ['image/vmlinuz', 'image/initrd-0.img', 'image/initrd-1.img']);
    assert.equal(files.lookup('image/vmlinuz')?.role, 'kernel');
    assert.equal(files.lookup('image/initrd-1.img')?.role, 'initrd');
    assert.match(img.description, /vmlinuz-6\.1 with 2 initrds/);

    const script = files.lookup('/ipxe/52-54-00-12-34-56.ipxe');
    assert.ok(script);
    const src = await script.open();
    const buf = Buffer.alloc(src.size);
    await src.read(buf, 0, buf.length, 0);
    await src.close();
    assert.equal(buf.toString(), img.scriptFor('52:54:00:12:34:56'));
    assert.match(buf.toString(), /kernel http:\/\/10\.9\.0\.1:8080\/image\/vmlinuz initrd=initrd-0\.img initrd=initrd-1\.img console=ttyS0/);
    // Only MAC-shaped names exist; no listing of the prefix.
    assert.equal(files.lookup('/ipxe/'), undefined);
    assert.equal(files.lookup('/ipxe/default.ipxe'), undefined);
    assert.equal(files.lookup('/ipxe/../image/vmlinuz'), undefined);

    img.unpublish();
    assert.equal(files.lookup('image/vmlinuz'), undefined);
    assert.equal(files.lookup('/ipxe/52-54-00-12-34-56.ipxe'), undefined);
  }),
);

test(
  'an iPXE script is served as is and chained; an EFI program is chained',
  withDir(async (dir) => {
    writeFileSync(join(dir, 'menu.ipxe'), '#!ipxe\necho hello\n');
    writeFileSync(join(dir, 'shell.efi'), peFile());
    const files = new PublishedFiles();
    const s = await publishImage(files, await imageSpecFromPath(join(dir, 'menu.ipxe')), { serverIp: '10.9.0.1', httpPort: 80 });
    assert.deepEqual(s.paths, ['image/boot.ipxe']);
    assert.match(s.scriptFor('aa:bb:cc:dd:ee:ff'), /^chain http:\/\/10\.9\.0\.1:80\/image\/boot\.ipxe \|\| goto failed$/m);
    s.unpublish();
    const e = await publishImage(files, await imageSpecFromPath(join(dir, 'shell.efi')), { serverIp: '10.9.0.1', httpPort: 80 });
    assert.deepEqual(e.paths, ['image/boot.efi']);
    assert.equal(files.lookup('image/boot.efi')?.role, 'payload'); // the tracker's name for the user's own program
    assert.match(e.scriptFor('aa:bb:cc:dd:ee:ff'), /chain http:\/\/10\.9\.0\.1:80\/image\/boot\.efi/);
  }),
);

test(
  'bad image paths say what to give',
  withDir(async (dir) => {
    const files = new PublishedFiles();
    await assert.rejects(imageSpecFromPath(join(dir, 'nope')), /^Error: no such file: .*nope — give the path to a kernel \(vmlinuz\), an iPXE script or an EFI binary$/);
    mkdirSync(join(dir, 'd'));
    // A folder with no network loader and no OS layout is refused with what to give.
    await assert.rejects(imageSpecFromPath(join(dir, 'd')), /holds no network boot loader .* and no OS layout PXE Kit knows/);
    // --boot-file makes it a netboot folder; the loader it names must then be there.
    const given = await imageSpecFromPath(join(dir, 'd'), { bootFiles: { bios: 'x.0' } });
    assert.equal(given.kind, 'netboot');
    await assert.rejects(publishImage(files, given, { serverIp: '10.9.0.1', httpPort: 80 }), /--boot-file bios=x\.0: there is no such file in/);
    writeFileSync(join(dir, 'empty'), '');
    await assert.rejects(imageSpecFromPath(join(dir, 'empty')), /is empty/);
    writeFileSync(join(dir, 'k'), bzImage());
    await assert.rejects(
      publishImage(files, { kind: 'kernel', kernel: join(dir, 'k'), initrds: [join(dir, 'missing.img')], cmdline: '' }, { serverIp: '1.1.1.1', httpPort: 1 }),
      /no such file: .*missing\.img \(initrd\)/,
    );
    assert.equal(files.list().length, 0, 'nothing published when the image is bad');
    writeFileSync(join(dir, 's.ipxe'), '#!ipxe\n');
    await assert.rejects(imageSpecFromPath(join(dir, 's.ipxe'), { initrds: ['x'] }), /not a kernel/);
    // A kernel and an initrd given the wrong way round: said so, before any machine stalls on it.
    writeFileSync(join(dir, 'initrd.img'), gzipSync(Buffer.alloc(4096, 7)));
    await assert.rejects(imageSpecFromPath(join(dir, 'initrd.img'), { initrds: [join(dir, 'k')] }), /initrd\.img is not a Linux kernel \(it looks like a gzip-compressed file\) and .*k is one: they are given the wrong way round/);
    await assert.rejects(
      publishImage(files, { kind: 'kernel', kernel: join(dir, 'initrd.img'), initrds: [join(dir, 'k')], cmdline: '' }, { serverIp: '1.1.1.1', httpPort: 1 }),
      /initrd\.img is not a Linux kernel: it looks like a gzip-compressed file: k is the kernel, so the two are given the wrong way round/,
    );
    await assert.rejects(
      publishImage(files, { kind: 'kernel', kernel: join(dir, 'k'), initrds: [join(dir, 'k')], cmdline: '' }, { serverIp: '1.1.1.1', httpPort: 1 }),
      /k is a Linux kernel, not an initrd/,
    );
    assert.equal(files.list().length, 0);
  }),
);

test(
  'iPXE binaries: resources/ipxe first, then the system dir; missing ones are named with how to get them',
  withDir(async (dir) => {
    const res = join(dir, 'res');
    const sys = join(dir, 'sys');
    mkdirSync(res);
    mkdirSync(sys);
    writeFileSync(join(sys, 'undionly.kpxe'), 'sys');
    writeFileSync(join(sys, 'ipxe.efi'), 'sys');
    writeFileSync(join(res, 'ipxe.efi'), 'res');
    const b = locateIpxeBinaries([res, sys]);
    assert.equal(b.paths.efiX64, join(res, 'ipxe.efi'));
    assert.equal(b.paths.bios, join(sys, 'undionly.kpxe'));
    assert.equal(b.paths.efiArm64, undefined);
    assert.equal(describeMissing(b), undefined);
    const none = locateIpxeBinaries([join(dir, 'nothing')]);
    assert.match(describeMissing(none) ?? '', /undionly\.kpxe and ipxe\.efi not found: install Debian's "ipxe" package \(sudo apt-get install ipxe\), or reinstall PXE Kit/);
  }),
);

test('packageRoot finds the repository from the compiled module', () => {
  const root = packageRoot();
  assert.equal(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).name, 'pxekit');
});

test(
  'an image given by path alone is detected, and the engine-facing names are consistent',
  withDir(async (dir) => {
    writeFileSync(join(dir, 'vmlinuz'), bzImage());
    writeFileSync(join(dir, 'i.img'), 'I');
    const files = new PublishedFiles();
    const img = await publishImage(files, { path: join(dir, 'vmlinuz'), initrds: [join(dir, 'i.img')], cmdline: 'quiet' }, { serverIp: '10.9.0.1', httpPort: 8080 });
    assert.equal(img.spec.kind, 'kernel');
    assert.deepEqual(img.payload.map((f) => f.path), ['image/vmlinuz', 'image/initrd-0.img']);
    const p = img.scriptPathFor('52:54:00:AA:BB:CC');
    assert.equal(p, 'ipxe/52-54-00-aa-bb-cc.ipxe');
    assert.equal(files.lookup(p)?.path, p);
    await assert.rejects(publishImage(files, { path: join(dir, 'missing') }, { serverIp: '1.1.1.1', httpPort: 1 }), /no such file/);
  }),
);
