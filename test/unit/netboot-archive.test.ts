// Netboot archives: a Debian-netboot-shaped tar.gz (GNU tar, its in-tree symlinks, a long name, a
// hard link) unpacks once into <dataDir>/netboot/<sha16>/ and its symlinks work; the same content
// renamed is reused, changed content gets a new folder; a pax tar and a zip unpack the same. Hostile
// archives made with Python's tarfile/zipfile (../, absolute names, drive letters, symlinks out, a
// symlink then a file written through it, a "." link climbed with "..", devices, setuid) never write
// outside the tree; limits, damage and non-archives are ArchiveErrors that leave no folder behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, statSync, symlinkSync, truncateSync, writeFileSync, linkSync } from 'node:fs';
import { join } from 'node:path';
import { ArchiveError, archiveFormat, unpackArchive } from '../../src/images/netboot-archive.js';
import { tempDir } from '../helpers/iso-build.js';

const py = (script: string, ...args: string[]): void => {
  execFileSync('python3', ['-c', script, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
};

const LONG = `debian-installer/amd64/boot-screens/${'a-very-long-folder-name-'.repeat(4)}/splash-${'x'.repeat(40)}.png`;

/** The shape of Debian's netboot.tar.gz, plus a long name and a hard link. */
function debianTree(root: string): void {
  const di = join(root, 'debian-installer/amd64');
  for (const d of ['grub', 'boot-screens', 'pxelinux.cfg']) mkdirSync(join(di, d), { recursive: true });
  writeFileSync(join(di, 'linux'), randomBytes(300_000));
  writeFileSync(join(di, 'initrd.gz'), randomBytes(200_000));
  writeFileSync(join(di, 'grubx64.efi'), 'MZ grub');
  writeFileSync(join(di, 'bootnetx64.efi'), 'MZ shim');
  writeFileSync(join(di, 'pxelinux.0'), 'pxelinux');
  writeFileSync(join(di, 'grub/grub.cfg'), 'menuentry "Install" { linux /debian-installer/amd64/linux }\n');
  writeFileSync(join(di, 'pxelinux.cfg/default'), 'include debian-installer/amd64/boot-screens/menu.cfg\n');
  writeFileSync(join(di, 'boot-screens/ldlinux.c32'), 'ldlinux');
  writeFileSync(join(di, 'boot-screens/vesamenu.c32'), 'vesamenu');
  chmodSync(join(di, 'boot-screens/vesamenu.c32'), 0o4755); // setuid in the archive: not on disk
  mkdirSync(join(root, LONG, '..'), { recursive: true });
  writeFileSync(join(root, LONG), 'png');
  linkSync(join(di, 'boot-screens/ldlinux.c32'), join(di, 'boot-screens/ldlinux-copy.c32'));
  writeFileSync(join(root, 'version.info'), 'Debian version:  12\n');
  symlinkSync('debian-installer/amd64/pxelinux.0', join(root, 'pxelinux.0'));
  symlinkSync('debian-installer/amd64/pxelinux.cfg', join(root, 'pxelinux.cfg'));
  symlinkSync('debian-installer/amd64/boot-screens/ldlinux.c32', join(root, 'ldlinux.c32'));
}

/** Bytes of the regular files under root (symlinks not followed). */
function treeBytes(root: string): number {
  let n = 0;
  for (const e of readdirSync(root, { withFileTypes: true, recursive: true })) if (e.isFile()) n += statSync(join(e.parentPath ?? e.path, e.name)).size;
  return n;
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Nothing but finished folders and their manifests in <dataDir>/netboot (no .partial- left). */
function assertNoPartial(dataDir: string): void {
  const left = existsSync(join(dataDir, 'netboot')) ? readdirSync(join(dataDir, 'netboot')) : [];
  assert.deepEqual(
    left.filter((n) => n.includes('.partial-')),
    [],
  );
}

async function rejects(p: Promise<unknown>, reason: string, message: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof ArchiveError, `an ArchiveError, got ${String(e)}`);
    assert.equal(e.reason, reason);
    assert.match(e.message, message);
    return true;
  });
}

test('archiveFormat judges by content: tar, tar.gz, zip, empty zip; not a gzip cpio, text or random data', async (t) => {
  const dir = tempDir(t, 'pxk-arc-');
  writeFileSync(join(dir, 'a.txt'), 'hello\n');
  execFileSync('tar', ['-cf', join(dir, 'plain.bin'), '-C', dir, 'a.txt']);
  execFileSync('tar', ['-czf', join(dir, 'packed.dat'), '-C', dir, 'a.txt']);
  py('import zipfile,sys; z=zipfile.ZipFile(sys.argv[1],"w"); z.writestr("a.txt","x"); z.close(); zipfile.ZipFile(sys.argv[2],"w").close()', join(dir, 'z.img'), join(dir, 'empty.zip'));
  execFileSync('sh', ['-c', `cd ${dir} && echo a.txt | cpio -o -H newc 2>/dev/null | gzip > initrd.gz || gzip -c a.txt > initrd.gz`]);
  writeFileSync(join(dir, 'random.tar.gz'), randomBytes(4096));
  assert.equal(await archiveFormat(join(dir, 'plain.bin')), 'tar');
  assert.equal(await archiveFormat(join(dir, 'packed.dat')), 'tar.gz');
  assert.equal(await archiveFormat(join(dir, 'z.img')), 'zip');
  assert.equal(await archiveFormat(join(dir, 'empty.zip')), 'zip');
  assert.equal(await archiveFormat(join(dir, 'initrd.gz')), undefined);
  assert.equal(await archiveFormat(join(dir, 'a.txt')), undefined);
  assert.equal(await archiveFormat(join(dir, 'random.tar.gz')), undefined);
});

test('a Debian-netboot-shaped tar.gz unpacks with its in-tree symlinks working; renamed it is reused; changed it gets a new folder', async (t) => {
  const dir = tempDir(t, 'pxk-arc-');
  const src = join(dir, 'src');
  debianTree(src);
  const archive = join(dir, 'netboot.tar.gz');
  execFileSync('tar', ['-czf', archive, '-C', src, '.']);
  const data = join(dir, 'data');
  const seen: Array<[number, number]> = [];
  const u = await unpackArchive(archive, data, {}, (n, total) => seen.push([n, total]));

  const sum = sha256(archive);
  assert.equal(u.sha256, sum);
  assert.equal(u.dir, join(data, 'netboot', sum.slice(0, 16)));
  assert.equal(u.format, 'tar.gz');
  assert.equal(u.reused, false);
  assert.deepEqual(u.skipped, []);
  assert.equal(u.files, 12); // 10 files in debian-installer (the hard link copied), the long name, version.info
  assert.equal(u.bytes, treeBytes(src)); // the hard link counts twice: it is a copy
  // The symlinks are links inside the tree and work through it.
  assert.equal(readlinkSync(join(u.dir, 'pxelinux.0')), 'debian-installer/amd64/pxelinux.0');
  assert.equal(readFileSync(join(u.dir, 'pxelinux.0'), 'utf8'), 'pxelinux');
  assert.ok(lstatSync(join(u.dir, 'pxelinux.cfg')).isSymbolicLink());
  assert.match(readFileSync(join(u.dir, 'pxelinux.cfg/default'), 'utf8'), /menu\.cfg/);
  assert.equal(readFileSync(join(u.dir, 'ldlinux.c32'), 'utf8'), 'ldlinux');
  assert.deepEqual(readFileSync(join(u.dir, 'debian-installer/amd64/linux')), readFileSync(join(src, 'debian-installer/amd64/linux')));
  assert.equal(readFileSync(join(u.dir, LONG), 'utf8'), 'png');
  // The hard link is a copy, not a link.
  const copy = statSync(join(u.dir, 'debian-installer/amd64/boot-screens/ldlinux-copy.c32'));
  assert.equal(copy.nlink, 1);
  assert.equal(readFileSync(join(u.dir, 'debian-installer/amd64/boot-screens/ldlinux-copy.c32'), 'utf8'), 'ldlinux');
  // Modes: files 0644 whatever the archive says (no setuid), folders 0755.
  assert.equal(statSync(join(u.dir, 'debian-installer/amd64/boot-screens/vesamenu.c32')).mode & 0o7777, 0o644);
  assert.equal(statSync(join(u.dir, 'debian-installer/amd64/grub')).mode & 0o7777, 0o755);
  assert.equal(statSync(u.dir).mode & 0o7777, 0o755);
  // Progress: the hash then the unpack, ending at the total (twice the archive's size).
  const size = statSync(archive).size;
  assert.ok(seen.length >= 2);
  assert.deepEqual(seen.at(-1), [2 * size, 2 * size]);
  assert.ok(seen.every(([n, total], i) => total === 2 * size && (i === 0 || n >= seen[i - 1][0])));
  assertNoPartial(data);

  // Renamed (and the name no longer says tar.gz): the same content is reused, nothing unpacked again.
  const renamed = join(dir, 'whatever.bin');
  copyFileSync(archive, renamed);
  writeFileSync(join(u.dir, 'marker'), 'kept');
  const again = await unpackArchive(renamed, data);
  assert.equal(again.reused, true);
  assert.equal(again.dir, u.dir);
  assert.equal(again.files, u.files);
  assert.equal(again.bytes, u.bytes);
  assert.equal(readFileSync(join(u.dir, 'marker'), 'utf8'), 'kept');

  // Changed content: a new folder next to the first.
  writeFileSync(join(src, 'version.info'), 'Debian version:  13\n');
  const changed = join(dir, 'netboot-13.tgz');
  execFileSync('tar', ['-czf', changed, '-C', src, '.']);
  const other = await unpackArchive(changed, data);
  assert.equal(other.reused, false);
  assert.notEqual(other.dir, u.dir);
  assert.equal(readFileSync(join(other.dir, 'version.info'), 'utf8'), 'Debian version:  13\n');
  assert.deepEqual(readdirSync(join(data, 'netboot')).sort(), [u.sha256.slice(0, 16), `${u.sha256.slice(0, 16)}.json`, other.sha256.slice(0, 16), `${other.sha256.slice(0, 16)}.json`].sort());
});

test('a pax tar (long names in pax headers) and a zip of the same tree unpack the same', async (t) => {
  const dir = tempDir(t, 'pxk-arc-');
  const src = join(dir, 'src');
  debianTree(src);
  const pax = join(dir, 'netboot.tar');
  execFileSync('tar', ['--format=pax', '-cf', pax, '-C', src, '.']);
  const zip = join(dir, 'netboot.zip');
  // zip keeps unix symlinks (create_system 3, S_IFLNK in the external attributes), like Info-ZIP's -y.
  py(
    `import os,sys,zipfile,stat
src,out=sys.argv[1],sys.argv[2]
z=zipfile.ZipFile(out,"w",zipfile.ZIP_DEFLATED)
for d,dirs,files in os.walk(src):
  for n in sorted(dirs+files):
    p=os.path.join(d,n); rel=os.path.relpath(p,src)
    if os.path.islink(p):
      zi=zipfile.ZipInfo(rel); zi.create_system=3; zi.external_attr=(stat.S_IFLNK|0o777)<<16
      z.writestr(zi,os.readlink(p))
    elif os.path.isdir(p): z.writestr(zipfile.ZipInfo(rel+"/"),"")
    else: z.write(p,rel)
z.close()`,
    src,
    zip,
  );
  const data = join(dir, 'data');
  const a = await unpackArchive(pax, data);
  const b = await unpackArchive(zip, data);
  assert.equal(a.format, 'tar');
  assert.equal(b.format, 'zip');
  for (const u of [a, b]) {
    assert.deepEqual(u.skipped, []);
    assert.equal(u.files, 12);
    assert.equal(readFileSync(join(u.dir, LONG), 'utf8'), 'png');
    assert.equal(readFileSync(join(u.dir, 'pxelinux.cfg/default'), 'utf8'), 'include debian-installer/amd64/boot-screens/menu.cfg\n');
    assert.equal(readlinkSync(join(u.dir, 'ldlinux.c32')), 'debian-installer/amd64/boot-screens/ldlinux.c32');
    assert.equal(statSync(join(u.dir, 'debian-installer/amd64/boot-screens/vesamenu.c32')).mode & 0o7777, 0o644);
  }
});

test('a hostile tar never writes outside the tree: ../, absolute, symlinks out, write-through, "." climbed, devices', async (t) => {
  const dir = tempDir(t, 'pxk-arc-');
  const outside = join(dir, 'outside');
  mkdirSync(outside);
  const archive = join(dir, 'evil.tar.gz');
  py(
    `import io,sys,tarfile
out,outside=sys.argv[1],sys.argv[2]
t=tarfile.open(out,"w:gz",format=tarfile.GNU_FORMAT)
def f(name,data=b"x",mode=0o644):
  i=tarfile.TarInfo(name); i.size=len(data); i.mode=mode; t.addfile(i,io.BytesIO(data))
def l(name,target,kind=tarfile.SYMTYPE):
  i=tarfile.TarInfo(name); i.type=kind; i.linkname=target; t.addfile(i)
f("ok.txt",b"fine")
f("../escape.txt")
f("sub/../../escape2.txt")
f(outside+"/abs.txt")
l("etc",outside)
f("etc/passwd",b"root::0:0")
l("up","../outside")
f("up/up.txt")
l("dot",".")
l("climb","dot/..")
f("climb/outside/climb.txt")
l("deep/inside","../ok.txt")
l("loop1","loop2"); l("loop2","loop1")
l("hard-out","../outside/secret",tarfile.LNKTYPE)
l("hard-in","ok.txt",tarfile.LNKTYPE)
d=tarfile.TarInfo("dev/sda"); d.type=tarfile.BLKTYPE; d.devmajor=8; t.addfile(d)
d=tarfile.TarInfo("fifo"); d.type=tarfile.FIFOTYPE; t.addfile(d)
f("suid",b"#!/bin/sh",0o4755)
l("ok.txt","/etc/passwd")
t.close()`,
    archive,
    outside,
  );
  writeFileSync(join(outside, 'secret'), 'secret');
  const data = join(dir, 'data');
  const u = await unpackArchive(archive, data);

  assert.deepEqual(readdirSync(outside), ['secret']);
  assert.equal(existsSync(join(dir, 'escape.txt')), false);
  assert.equal(existsSync(join(data, 'escape.txt')), false);
  assert.equal(existsSync(join(data, 'netboot', 'escape.txt')), false);
  assert.equal(existsSync(join(data, 'netboot', 'escape2.txt')), false);
  const why = new Map(u.skipped.map((s) => [s.path, s.why]));
  assert.equal(why.get('../escape.txt'), 'leaves the archive (../escape.txt)');
  assert.equal(why.get('sub/../../escape2.txt'), 'leaves the archive (sub/../../escape2.txt)');
  assert.equal(why.get(`${outside}/abs.txt`), 'absolute path');
  assert.equal(why.get('etc'), `a symlink out of the tree (-> ${outside})`);
  assert.equal(why.get('up'), 'a symlink out of the tree (-> ../outside)');
  assert.equal(why.get('climb'), 'a symlink out of the tree (-> dot/..)');
  assert.equal(why.get('climb/outside/climb.txt'), 'written through a symlink (climb)');
  assert.equal(why.get('loop1'), 'a symlink loop (-> loop2)');
  assert.equal(why.get('hard-out'), 'a hard link out of the tree (-> ../outside/secret)');
  assert.equal(why.get('dev/sda'), 'a device file');
  assert.equal(why.get('fifo'), 'a fifo');
  assert.equal(why.get('ok.txt'), 'a symlink out of the tree (-> /etc/passwd)');
  // The file "under" the refused symlink went into a real folder of the tree, never through a link.
  assert.equal(readFileSync(join(u.dir, 'etc/passwd'), 'utf8'), 'root::0:0');
  assert.ok(lstatSync(join(u.dir, 'etc')).isDirectory());
  assert.ok(lstatSync(join(u.dir, 'up')).isDirectory());
  // In-tree links are kept; the one out-link made last did not replace ok.txt.
  assert.equal(readlinkSync(join(u.dir, 'dot')), '.');
  assert.equal(readFileSync(join(u.dir, 'deep/inside'), 'utf8'), 'fine');
  assert.equal(readFileSync(join(u.dir, 'hard-in'), 'utf8'), 'fine');
  assert.equal(readFileSync(join(u.dir, 'ok.txt'), 'utf8'), 'fine');
  assert.equal(existsSync(join(u.dir, 'climb')), false);
  assert.equal(existsSync(join(u.dir, 'dev/sda')), false);
  assert.equal(statSync(join(u.dir, 'suid')).mode & 0o7777, 0o644);
  assertNoPartial(data);
});

test('a symlink made by the archive is never written through: symlink to a folder inside, then a file under it', async (t) => {
  const dir = tempDir(t, 'pxk-arc-');
  const archive = join(dir, 'through.tar');
  py(
    `import io,sys,tarfile
t=tarfile.open(sys.argv[1],"w")
i=tarfile.TarInfo("real/"); i.type=tarfile.DIRTYPE; t.addfile(i)
i=tarfile.TarInfo("alias"); i.type=tarfile.SYMTYPE; i.linkname="real"; t.addfile(i)
i=tarfile.TarInfo("alias/x"); i.size=1; t.addfile(i,io.BytesIO(b"x"))
t.close()`,
    archive,
  );
  const u = await unpackArchive(archive, join(dir, 'data'));
  assert.deepEqual(u.skipped, [{ path: 'alias/x', why: 'written through a symlink (alias)' }]);
  assert.deepEqual(readdirSync(join(u.dir, 'real')), []);
});

test('a hostile zip: ../, absolute, drive letters, symlink out never leave the tree; backslashes are folders', async (t) => {
  const dir = tempDir(t, 'pxk-arc-');
  const outside = join(dir, 'outside');
  mkdirSync(outside);
  const archive = join(dir, 'rescue.zip');
  py(
    `import sys,zipfile,stat
out,outside=sys.argv[1],sys.argv[2]
z=zipfile.ZipFile(out,"w",zipfile.ZIP_DEFLATED)
def raw(name,data):
  zi=zipfile.ZipInfo("placeholder"); zi.filename=name; zi.orig_filename=name; z.writestr(zi,data)
raw("../zipescape.txt","x")
raw(outside+"/abs.txt","x")
raw("C:\\\\Windows\\\\evil.txt","x")
raw("tools\\\\memtest\\\\memtest.efi","memtest")
zi=zipfile.ZipInfo("link-out"); zi.create_system=3; zi.external_attr=(stat.S_IFLNK|0o777)<<16; z.writestr(zi,outside)
zi=zipfile.ZipInfo("link-up"); zi.create_system=3; zi.external_attr=(stat.S_IFLNK|0o777)<<16; z.writestr(zi,"../../..")
zi=zipfile.ZipInfo("dev"); zi.create_system=3; zi.external_attr=(stat.S_IFCHR|0o666)<<16; z.writestr(zi,"")
raw("ok.txt","fine")
z.close()`,
    archive,
    outside,
  );
  const data = join(dir, 'data');
  const u = await unpackArchive(archive, data);
  assert.deepEqual(readdirSync(outside), []);
  assert.equal(existsSync(join(dir, 'zipescape.txt')), false);
  assert.equal(existsSync(join(data, 'netboot', 'zipescape.txt')), false);
  const why = new Map(u.skipped.map((s) => [s.path, s.why]));
  assert.equal(why.get('../zipescape.txt'), 'leaves the archive (../zipescape.txt)');
  assert.equal(why.get(`${outside}/abs.txt`), 'absolute path');
  assert.equal(why.get('C:\\Windows\\evil.txt'), 'absolute path (a drive letter)');
  assert.equal(why.get('link-out'), `a symlink out of the tree (-> ${outside})`);
  assert.equal(why.get('link-up'), 'a symlink out of the tree (-> ../../..)');
  assert.equal(why.get('dev'), 'a device file');
  assert.equal(readFileSync(join(u.dir, 'tools/memtest/memtest.efi'), 'utf8'), 'memtest');
  assert.equal(readFileSync(join(u.dir, 'ok.txt'), 'utf8'), 'fine');
  assert.deepEqual(readdirSync(u.dir).sort(), ['ok.txt', 'tools']);
});

test('limits: a zip bomb-ish entry (also one whose header lies about its size) and too many files fail cleanly', async (t) => {
  const dir = tempDir(t, 'pxk-arc-');
  const data = join(dir, 'data');
  const bomb = join(dir, 'bomb.zip');
  const liar = join(dir, 'liar.zip');
  py(
    `import sys,zipfile,struct
z=zipfile.ZipFile(sys.argv[1],"w",zipfile.ZIP_DEFLATED); z.writestr("zeros.img",b"\\0"*(8<<20)); z.close()
b=bytearray(open(sys.argv[1],"rb").read())
# The same bomb whose local and central headers claim 1000 bytes.
b[22:26]=struct.pack("<I",1000)
cd=b.rfind(b"PK\\x01\\x02"); b[cd+24:cd+28]=struct.pack("<I",1000)
open(sys.argv[2],"wb").write(b)`,
    bomb,
    liar,
  );
  await rejects(unpackArchive(bomb, data, { maxBytes: 1 << 20 }), 'too-big', /^too big: the archive unpacks to 8\.0 MiB, more than 1\.0 MiB/);
  // The liar passes the check of the declared sizes; the bytes actually inflated stop it at once.
  await rejects(unpackArchive(liar, data, { maxBytes: 1 << 20 }), 'damaged', /zeros\.img inflates past its declared size/);
  await rejects(unpackArchive(liar, data), 'damaged', /zeros\.img inflates past its declared size/);

  const big = join(dir, 'big.tar.gz');
  writeFileSync(join(dir, 'zeros'), Buffer.alloc(3 << 20));
  execFileSync('tar', ['-czf', big, '-C', dir, 'zeros']);
  await rejects(unpackArchive(big, data, { maxBytes: 1 << 20 }), 'too-big', /^too big: unpacking writes more than 1\.0 MiB, the limit/);
  // Many files each under the limit: the bytes written so far count.
  const parts = join(dir, 'parts');
  mkdirSync(parts);
  for (let i = 0; i < 3; i++) writeFileSync(join(parts, `p${i}`), Buffer.alloc(400 << 10, i));
  execFileSync('tar', ['-cf', join(dir, 'parts.tar'), '-C', parts, '.']);
  await rejects(unpackArchive(join(dir, 'parts.tar'), data, { maxBytes: 1 << 20 }), 'too-big', /^too big/);

  const many = join(dir, 'many');
  mkdirSync(many);
  for (let i = 0; i < 50; i++) writeFileSync(join(many, `f${i}`), 'x');
  execFileSync('tar', ['-cf', join(dir, 'many.tar'), '-C', many, '.']);
  py('import sys,zipfile\nz=zipfile.ZipFile(sys.argv[1],"w")\nfor i in range(50): z.writestr(f"f{i}","x")\nz.close()', join(dir, 'many.zip'));
  await rejects(unpackArchive(join(dir, 'many.tar'), data, { maxFiles: 10 }), 'too-many-files', /^too many files: the archive holds more than 10 entries/);
  await rejects(unpackArchive(join(dir, 'many.zip'), data, { maxFiles: 10 }), 'too-many-files', /^too many files: the archive holds 50 entries, more than 10/);
  // Within the limits the same archives unpack.
  assert.equal((await unpackArchive(join(dir, 'many.zip'), data, { maxFiles: 50 })).files, 50);
  assert.equal((await unpackArchive(big, data, { maxBytes: 3 << 20 })).bytes, 3 << 20);

  // The failures left nothing: only the two finished folders and their manifests.
  assert.equal(readdirSync(join(data, 'netboot')).length, 4);
  assertNoPartial(data);
});

test('damaged archives and non-archives are ArchiveErrors that leave no folder', async (t) => {
  const dir = tempDir(t, 'pxk-arc-');
  const data = join(dir, 'data');
  const src = join(dir, 'src');
  debianTree(src);
  const tgz = join(dir, 'netboot.tar.gz');
  execFileSync('tar', ['-czf', tgz, '-C', src, '.']);
  truncateSync(tgz, Math.floor(statSync(tgz).size / 2));
  await rejects(unpackArchive(tgz, data), 'damaged', /^damaged archive: .*fetch it again/);

  const tar = join(dir, 'netboot.tar');
  execFileSync('tar', ['-cf', tar, '-C', src, '.']);
  const t2 = join(dir, 'cut.tar');
  writeFileSync(t2, readFileSync(tar).subarray(0, 512 * 40 + 100));
  await rejects(unpackArchive(t2, data), 'damaged', /^damaged archive: it ends inside/);
  const bad = readFileSync(tar);
  bad[10] ^= 0xff; // the first header's name: its checksum no longer matches
  const t3 = join(dir, 'bad.tar');
  writeFileSync(t3, bad);
  await rejects(unpackArchive(t3, data), 'damaged', /^damaged archive: its first header has a wrong checksum/);

  const zip = join(dir, 'rescue.zip');
  py('import sys,zipfile\nz=zipfile.ZipFile(sys.argv[1],"w")\nz.writestr("memtest.efi",b"M"*5000)\nz.close()', zip);
  const zb = readFileSync(zip);
  const cut = join(dir, 'cut.zip');
  writeFileSync(cut, zb.subarray(0, zb.length - 40));
  await rejects(unpackArchive(cut, data), 'damaged', /the zip directory at its end is missing/);
  const flipped = Buffer.from(zb);
  flipped[30 + 'memtest.efi'.length + 100] ^= 0x01; // a stored byte changed: the CRC catches it
  const crcBad = join(dir, 'crc.zip');
  writeFileSync(crcBad, flipped);
  await rejects(unpackArchive(crcBad, data), 'damaged', /memtest\.efi has a wrong checksum/);

  writeFileSync(join(dir, 'notes.tar.gz'), 'hello\n');
  await rejects(unpackArchive(join(dir, 'notes.tar.gz'), data), 'not-archive', /is not an archive PXE Kit can unpack/);
  writeFileSync(join(dir, 'random.zip'), randomBytes(10_000));
  await rejects(unpackArchive(join(dir, 'random.zip'), data), 'not-archive', /judged by its content/);

  assert.deepEqual(existsSync(join(data, 'netboot')) ? readdirSync(join(data, 'netboot')) : [], []);
});

test('a temporary folder left by a dead process is swept; a half-made folder is never taken as done', async (t) => {
  const dir = tempDir(t, 'pxk-arc-');
  const data = join(dir, 'data');
  writeFileSync(join(dir, 'a.txt'), 'a');
  const tar = join(dir, 'a.tar');
  execFileSync('tar', ['-cf', tar, '-C', dir, 'a.txt']);
  const sha16 = sha256(tar).slice(0, 16);
  const stale = join(data, 'netboot', `.${sha16}.partial-4194999-dead`);
  mkdirSync(stale, { recursive: true });
  writeFileSync(join(stale, 'half'), 'h');
  const u = await unpackArchive(tar, data);
  assert.equal(u.reused, false);
  assert.equal(existsSync(stale), false);
  assert.deepEqual(readdirSync(u.dir), ['a.txt']);
});
