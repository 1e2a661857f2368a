// Paths as people type or paste them, the file browser's jail (roots only, no way out by
// ".." or a symlink), the watched images folder, and the API's files.list on top of them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { normaliseUserPath, invokingUser } from '../../src/files/user-paths.js';
import { checkInRoots, listFiles } from '../../src/api/file-browser.js';
import { ImagesFolder } from '../../src/images/images-folder.js';
import { ImageLibrary } from '../../src/images/library.js';
import { Controller } from '../../src/api/controller.js';
import { tempDir } from '../helpers/iso-build.js';

function passwd(dir: string): string {
  const f = join(dir, 'passwd');
  writeFileSync(f, `root:x:0:0:root:/root:/bin/bash\nana:x:1000:1000:Ana:${join(dir, 'home', 'ana')}:/bin/bash\nbo:x:1001:1001::/home/bo:/bin/sh\n`);
  return f;
}

const kernel = () => {
  const b = Buffer.alloc(4096, 1);
  b.write('HdrS', 0x202, 'latin1');
  return b;
};

test('typed paths: quotes stripped, ~ is the invoking user\'s home, file:// decoded, relative refused with why', (t) => {
  const dir = tempDir(t);
  const ctx = { env: { SUDO_USER: 'ana', HOME: '/root' }, passwdFile: passwd(dir) };
  const home = join(dir, 'home', 'ana');
  assert.equal(invokingUser(ctx).home, home);
  assert.equal(invokingUser({ env: { PKEXEC_UID: '1001' }, passwdFile: ctx.passwdFile }).home, '/home/bo');
  assert.equal(normaliseUserPath('"/home/ana/Downloads/debian 12.iso"', ctx), '/home/ana/Downloads/debian 12.iso');
  assert.equal(normaliseUserPath("  '/srv/x.iso'  ", ctx), '/srv/x.iso');
  assert.equal(normaliseUserPath('~/Downloads/x.iso', ctx), join(home, 'Downloads/x.iso'));
  assert.equal(normaliseUserPath('"~"', ctx), home);
  assert.equal(normaliseUserPath('~bo/x.iso', ctx), '/home/bo/x.iso');
  assert.equal(normaliseUserPath('file:///home/ana/My%20Images/a.iso', ctx), '/home/ana/My Images/a.iso');
  assert.equal(normaliseUserPath('/srv/images/../x/./a.iso', ctx), '/srv/x/a.iso');
  assert.throws(() => normaliseUserPath('Downloads/x.iso', ctx), /"Downloads\/x\.iso" is a relative path: PXE Kit runs as its own process and cannot tell which folder it is relative to\. Give the whole path, starting with \/ \(or ~ for your home folder\)/);
  assert.throws(() => normaliseUserPath('./x.iso', ctx), /relative path/);
  assert.throws(() => normaliseUserPath('""', ctx), /no path given/);
  assert.throws(() => normaliseUserPath('~nobody/x', ctx), /no user named "nobody"/);
});

test('the file browser shows only the roots: files said for what they are, ".." and symlinks cannot escape', async (t) => {
  const dir = tempDir(t);
  const root = join(dir, 'home');
  const outside = join(dir, 'secret');
  mkdirSync(join(root, 'isos'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(outside, 'shadow'), 'root:*:1:0:::\n');
  writeFileSync(join(root, 'isos', 'vmlinuz'), kernel());
  writeFileSync(join(root, 'isos', 'notes.txt'), 'hello\n');
  writeFileSync(join(root, '.hidden'), 'x');
  symlinkSync(outside, join(root, 'escape'));
  symlinkSync(join(outside, 'shadow'), join(root, 'isos', 'shadow-link'));
  symlinkSync(join(root, 'isos', 'vmlinuz'), join(root, 'kernel-link'));
  const roots = [{ path: root, label: 'Home' }];
  const o = { dataDir: join(dir, 'data'), roots };

  const top = await listFiles(undefined, o);
  assert.equal(top.dir, null);
  assert.deepEqual(top.entries.map((e) => [e.name, e.kind]), [['Home', 'dir']]);

  const home = await listFiles(root, o);
  assert.equal(home.parent, undefined, 'a root has no parent to go up to');
  assert.deepEqual(home.entries.map((e) => e.name), ['isos', 'kernel-link'], 'dirs first; hidden files and links out of the roots are not listed');
  const isos = await listFiles(`"${join(root, 'isos')}"`, o);
  assert.equal(isos.parent, root);
  const byName = Object.fromEntries(isos.entries.map((e) => [e.name, e]));
  assert.deepEqual(Object.keys(byName), ['notes.txt', 'vmlinuz']);
  assert.deepEqual(byName.vmlinuz.image, { ok: true, kind: 'kernel', what: 'a Linux kernel (bzImage)' });
  assert.equal(byName['notes.txt'].image?.ok, false);
  assert.match(byName['notes.txt'].image && !byName['notes.txt'].image.ok ? byName['notes.txt'].image.reason : '', /looks like a text file/);

  await assert.rejects(listFiles(outside, o), /is outside the folders PXE Kit may browse/);
  await assert.rejects(listFiles(join(root, '..', 'secret'), o), /secret is outside the folders/);
  await assert.rejects(listFiles(join(root, 'isos', '..', '..', 'secret'), o), /outside the folders/);
  await assert.rejects(listFiles(join(root, 'escape'), o), /escape \(which is .*secret\) is outside the folders/);
  await assert.rejects(listFiles('isos', o), /relative path/);
  await assert.rejects(listFiles(join(root, 'isos', 'vmlinuz'), o), /is a file, not a folder/);
  assert.throws(() => checkInRoots(join(root, 'isos', 'shadow-link'), roots), /outside the folders/);
  // A root's prefix is not the root: /x/home-other is not under /x/home.
  mkdirSync(join(dir, 'home-other'));
  await assert.rejects(listFiles(join(dir, 'home-other'), o), /outside the folders/);
});

test('files.list through the API: default roots are the invoking user\'s home and the images folder; refusals are path-refused', async (t) => {
  const dir = tempDir(t);
  const home = join(dir, 'home', 'ana');
  mkdirSync(home, { recursive: true });
  const c2 = new Controller({ dataDir: join(dir, 'data'), env: { HOME: home } as NodeJS.ProcessEnv, library: null });
  const top = await c2.call('files.list', {});
  assert.deepEqual(
    top.roots.filter((r) => r.path.startsWith(dir)).map((r) => [r.label, r.path]),
    [
      ['Home', home],
      ['PXE Kit images folder', join(dir, 'data', 'images')],
    ],
  );
  await assert.rejects(c2.call('files.list', { dir: '/etc' }), (err: Error & { code?: string }) => err.code === 'path-refused' && /outside the folders/.test(err.message));
  await assert.rejects(c2.call('files.list', { dir: 'relative/dir' }), (err: Error & { code?: string }) => err.code === 'path-refused' && /relative path/.test(err.message));
  writeFileSync(join(home, 'vmlinuz'), kernel());
  const listed = await c2.call('files.list', { dir: '~' });
  assert.deepEqual(listed.entries.map((e) => [e.name, e.image?.ok]), [['vmlinuz', true]]);
  await c2.close();
});

test('the images folder: images dropped in join the library (checked, checksummed), others are refused, removed ones leave', async (t) => {
  const dir = tempDir(t);
  const data = join(dir, 'data');
  const lib = new ImageLibrary(data);
  t.after(() => lib.close());
  const refused: string[] = [];
  const folder = new ImagesFolder(join(data, 'images'), lib, { rescanMs: 200, settleMs: 100, onRefused: (f, why) => refused.push(`${f}: ${why}`) });
  t.after(() => folder.close());
  await folder.start();
  writeFileSync(join(data, 'images', 'vmlinuz'), kernel());
  writeFileSync(join(data, 'images', 'garbage.iso'), Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 2654435761) >>> 24)));
  const until = async (cond: () => Promise<boolean>, what: string) => {
    const end = Date.now() + 10_000;
    while (!(await cond())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await until(async () => (await lib.list()).some((e) => e.name === 'vmlinuz' && !!e.sha256), 'vmlinuz in the library with its checksum');
  const e = (await lib.list()).find((x) => x.name === 'vmlinuz')!;
  assert.equal(e.kind, 'kernel');
  assert.equal(e.path, join(data, 'images', 'vmlinuz'));
  await until(async () => refused.length > 0, 'garbage.iso refused');
  assert.match(refused[0], /garbage\.iso.*not an ISO 9660\/UDF image: it looks like/);
  assert.equal((await lib.list()).length, 1, 'only the image joined');
  rmSync(join(data, 'images', 'vmlinuz'));
  await until(async () => (await lib.list()).length === 0, 'vmlinuz gone from the library');
});
