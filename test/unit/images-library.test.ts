// The library file: entries as the API shapes them, background checksums, `present`,
// persistence across instances, atomic writes under SIGKILL, damaged files backed up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildIso, patternBytes, tempDir, writeTree } from '../helpers/iso-build.js';
import { ImageLibrary, LIBRARY_FILE, normaliseMac } from '../../src/images/library.js';
import { writeFileAtomic } from '../../src/util/durable-file.js';
import { bzImageStub } from '../helpers/fake-kernel.js';


function casperIso(dir: string): string {
  writeTree(join(dir, 'iso-src'), { 'casper/vmlinuz': 'K', 'casper/initrd': 'I', '.disk/info': 'Ubuntu 24.04.1 LTS "Noble Numbat" - Release amd64' });
  return buildIso(join(dir, 'iso-src'), join(dir, 'ubuntu.iso'), { rockRidge: true });
}

test('add: kinds and detection, sha256 in the background with progress, persisted across instances', async (t) => {
  const dir = tempDir(t);
  const data = join(dir, 'data');
  const iso = casperIso(dir);
  const big = join(dir, 'vmlinuz');
  const bytes = patternBytes(6 * 1024 * 1024, 7);
  bytes.write('HdrS', 0x202, 'latin1'); // a kernel is recognised by its boot header, not its name
  writeFileSync(big, bytes);
  writeFileSync(join(dir, 'initrd.img'), 'initrd');
  writeFileSync(join(dir, 'boot.ipxe'), '#!ipxe\necho hi\n');
  const lib = new ImageLibrary(data);
  t.after(() => lib.close());
  const progress: number[] = [];
  lib.on('hash', (h: { progress: number }) => progress.push(h.progress));
  const changes: string[] = [];
  lib.onChange((ev) => changes.push(ev.type));

  const e1 = await lib.add({ path: iso });
  assert.equal(e1.kind, 'iso');
  assert.equal(e1.os, 'Ubuntu');
  assert.equal(e1.version, '24.04.1 LTS');
  assert.equal(e1.present, true);
  assert.match(e1.id, /^ubuntu-[0-9a-f]{4}$/);
  const e2 = await lib.add({ path: big, name: 'Test kernel', initrds: [join(dir, 'initrd.img')], cmdline: 'console=ttyS0' });
  assert.equal(e2.kind, 'kernel');
  assert.equal(e2.name, 'Test kernel');
  const e3 = await lib.add({ path: join(dir, 'boot.ipxe') });
  assert.equal(e3.kind, 'ipxe-script');
  const e4 = await lib.add({ path: join(dir, 'iso-src') });
  assert.equal(e4.kind, 'folder');
  await assert.rejects(lib.add({ path: join(dir, 'nope') }), /no such file or folder/);
  await assert.rejects(lib.add({ path: iso, initrds: [join(dir, 'initrd.img')] }), /initrds can only go with a kernel/);

  await lib.idle();
  const listed = await lib.list();
  const k = listed.find((e) => e.id === e2.id)!;
  assert.equal(k.sha256, createHash('sha256').update(bytes).digest('hex'));
  assert.equal(k.sha256Progress, undefined, 'no progress once done');
  assert.equal(listed.find((e) => e.id === e1.id)!.sha256, createHash('sha256').update(readFileSync(iso)).digest('hex'));
  assert.equal(listed.find((e) => e.id === e4.id)!.sha256, undefined, 'folders have no checksum');
  assert.ok(progress.includes(1), 'a final progress of 1');
  assert.ok(changes.includes('library'));

  // Another instance (a restart) reads the same entries, checksums included.
  const again = new ImageLibrary(data, { hashInBackground: false });
  assert.deepEqual(await again.list(), listed);
  assert.deepEqual((await again.imageSpecFor(e2.id)), { kind: 'kernel', kernel: big, initrds: [join(dir, 'initrd.img')], cmdline: 'console=ttyS0' });

  // A file that disappears is marked absent; one that changes gets a new checksum.
  rmSync(join(dir, 'boot.ipxe'));
  writeFileSync(big, Buffer.concat([bytes, Buffer.from('more')]));
  const after = await lib.list();
  assert.equal(after.find((e) => e.id === e3.id)!.present, false);
  await lib.idle();
  const k2 = (await lib.list()).find((e) => e.id === e2.id)!;
  assert.equal(k2.sha256, createHash('sha256').update(Buffer.concat([bytes, Buffer.from('more')])).digest('hex'));
  assert.equal(k2.size, bytes.length + 4);

  assert.equal(await lib.remove(e3.id), true);
  assert.equal(await lib.remove(e3.id), false);
  assert.equal((await new ImageLibrary(data, { hashInBackground: false }).list()).length, 3);
});

test('assignments, menu and boot-once records persist; bad values are refused', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'k'), bzImageStub());
  const lib = new ImageLibrary(join(dir, 'data'), { hashInBackground: false });
  const e = await lib.add({ path: join(dir, 'k') });
  assert.deepEqual(await lib.setAssignment({ mac: '52-54-00-AB-CD-01', imageId: e.id, bootOnce: true }), [{ mac: '52:54:00:ab:cd:01', imageId: e.id, bootOnce: true }]);
  await assert.rejects(lib.setAssignment({ mac: 'not a mac', imageId: e.id, bootOnce: false }), /not a MAC address/);
  await assert.rejects(lib.setAssignment({ mac: '52:54:00:ab:cd:02', imageId: 'nope', bootOnce: false }), /no image "nope"/);
  assert.deepEqual(await lib.setMenu({ enabled: true, timeoutSeconds: 7, defaultEntryId: e.id, includeLocalBoot: false }), { enabled: true, timeoutSeconds: 7, defaultEntryId: e.id, includeLocalBoot: false });
  await assert.rejects(lib.setMenu({ enabled: true, timeoutSeconds: -1, includeLocalBoot: true }), /timeout/);
  lib.markBootedOnce('52:54:00:ab:cd:01', e.id, 1234);

  const b = new ImageLibrary(join(dir, 'data'), { hashInBackground: false });
  assert.deepEqual(await b.assignments(), [{ mac: '52:54:00:ab:cd:01', imageId: e.id, bootOnce: true }]);
  assert.equal(b.menu().timeoutSeconds, 7);
  assert.deepEqual(b.bootedOnce('52:54:00:AB:CD:01'), { imageId: e.id, at: 1234 });
  // Re-assigning a machine lets it boot its image again.
  await b.setAssignment({ mac: '52:54:00:ab:cd:01', imageId: e.id, bootOnce: true });
  assert.equal(b.bootedOnce('52:54:00:ab:cd:01'), undefined);
  // Removing an image drops its assignments and menu default.
  await b.remove(e.id);
  assert.deepEqual(await b.assignments(), []);
  assert.equal(b.menu().defaultEntryId, undefined);
  assert.equal(normaliseMac('525400ABCD01'), '52:54:00:ab:cd:01');
});

test('a damaged library file is kept as a backup and the library starts empty, with a message', async (t) => {
  const dir = tempDir(t);
  const data = join(dir, 'data');
  for (const bad of ['{"version":1,"entries":[{"id":', 'null', '{"version":99,"entries":[],"assignments":[],"menu":{}}', '\u0000\u0000\u0000']) {
    rmSync(data, { recursive: true, force: true });
    writeTree(data, { [LIBRARY_FILE]: bad });
    const lib = new ImageLibrary(data, { hashInBackground: false });
    assert.equal(lib.warnings.length, 1, bad);
    assert.match(lib.warnings[0], /is damaged .* starting with an empty library; the damaged file was kept as .*library\.json\.corrupt-/);
    const backup = readdirSync(data).find((f) => f.startsWith(`${LIBRARY_FILE}.corrupt-`));
    assert.ok(backup, 'backup made');
    assert.equal(readFileSync(join(data, backup), 'utf8'), bad, 'backup holds the damaged bytes');
    assert.deepEqual(await lib.list(), []);
    // And it works from there on.
    writeFileSync(join(dir, 'k'), bzImageStub());
    await lib.add({ path: join(dir, 'k') });
    assert.equal(new ImageLibrary(data, { hashInBackground: false }).warnings.length, 0);
  }
});

test('writes are atomic: a writer killed at random moments never leaves a torn file', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'state.json');
  const storeJs = fileURLToPath(new URL('../../src/util/durable-file.js', import.meta.url));
  // Each write is ~2 MB of JSON so a kill lands mid-write often.
  const script = `
    import { writeFileAtomic } from ${JSON.stringify(storeJs)};
    let n = 0;
    const pad = 'x'.repeat(2_000_000);
    for (;;) writeFileAtomic(${JSON.stringify(file)}, JSON.stringify({ n: n++, pad }));
  `;
  writeFileAtomic(file, JSON.stringify({ n: -1, pad: '' }));
  let lastN = -1;
  for (let round = 0; round < 8; round++) {
    const before = statSync(file).mtimeMs;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'ignore' });
    t.after(() => child.kill('SIGKILL'));
    // Kill only once the writer is writing (a loaded machine starts node slowly), then at a varying moment.
    for (let waited = 0; statSync(file).mtimeMs === before && waited < 30_000; waited += 10) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 5 + round * 13));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { n: number; pad: string };
    assert.ok(parsed.pad.length === 0 || parsed.pad.length === 2_000_000);
    lastN = parsed.n;
  }
  assert.ok(lastN >= 0, 'the writer did write');
  assert.ok(existsSync(file));
});

test('add: a netboot folder, its .tar.gz and its lone pxelinux.0 are "netboot" entries with their loaders and problems; an unpacked ISO stays a folder; a folder with nothing bootable is refused, as serve refuses it', async (t) => {
  const dir = tempDir(t);
  const data = join(dir, 'data');
  const tree = join(dir, 'netboot');
  mkdirSync(join(tree, 'pxelinux.cfg'), { recursive: true });
  copyFileSync('/usr/lib/PXELINUX/pxelinux.0', join(tree, 'pxelinux.0'));
  copyFileSync('/usr/lib/syslinux/modules/bios/ldlinux.c32', join(tree, 'ldlinux.c32'));
  writeFileSync(join(tree, 'vmlinuz'), bzImageStub());
  writeFileSync(join(tree, 'pxelinux.cfg', 'default'), 'DEFAULT rescue\nLABEL rescue\n  KERNEL vmlinuz\n  APPEND initrd=rescue.img\n');
  const archive = join(dir, 'netboot.tar.gz');
  execFileSync('tar', ['-czf', archive, '-C', tree, '.']);
  writeTree(join(dir, 'plain'), { 'casper/vmlinuz': 'K', 'casper/initrd': 'I' });
  const lib = new ImageLibrary(data, { hashInBackground: false });
  t.after(() => lib.close());

  const folder = await lib.add({ path: tree });
  assert.equal(folder.kind, 'netboot');
  assert.deepEqual(folder.netboot?.loaders.map((l) => [l.firmware, l.path]), [['bios', 'pxelinux.0']]);
  assert.ok(folder.netboot?.notes.some((n) => /names the initrd rescue\.img, which is not in the folder/.test(n)), JSON.stringify(folder.netboot?.notes));
  assert.equal(folder.secureBoot?.verdict, 'needs-secure-boot-off');
  assert.deepEqual(await lib.imageSpecFor(folder.id), { kind: 'netboot', path: folder.path, id: folder.id });

  const packed = await lib.add({ path: archive });
  assert.equal(packed.kind, 'netboot');
  assert.deepEqual(packed.netboot?.loaders.map((l) => l.path), ['pxelinux.0']);
  assert.ok(readdirSync(join(data, 'netboot')).length >= 1, 'the archive was unpacked into the data dir');

  // A lone loader is its folder, that loader first (as `pxekit serve pxelinux.0`): never the bare program.
  const lone = await lib.add({ path: join(tree, 'pxelinux.0') });
  assert.equal(lone.kind, 'netboot');
  assert.equal(lone.path, tree);
  assert.deepEqual(await lib.imageSpecFor(lone.id), { kind: 'netboot', path: tree, id: lone.id, bootFiles: { bios: 'pxelinux.0' } });

  assert.equal((await lib.add({ path: join(dir, 'plain') })).kind, 'folder');
  const empty = join(dir, 'empty');
  mkdirSync(join(empty, 'sub'), { recursive: true });
  writeFileSync(join(empty, 'sub', 'notes.txt'), 'nothing to boot');
  await assert.rejects(lib.add({ path: empty }), /holds no network boot loader .* and no OS layout PXE Kit knows/);
  assert.equal((await lib.list()).length, 4, 'nothing added for the refused folder');
});
