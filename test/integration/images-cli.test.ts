// `pxekit inspect` as a technician runs it: the real CLI on ISOs built here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildIso, patternBytes, tempDir, writeTree } from '../helpers/iso-build.js';
import { wimbootStandin } from '../helpers/wimboot-standin.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const run = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, PXEKIT_WIMBOOT: '' } });

test('pxekit inspect prints the detection and the script it would serve', (t) => {
  const dir = tempDir(t);
  writeTree(join(dir, 'src'), { 'live/vmlinuz': 'K', 'live/initrd.img': 'I', 'live/filesystem.squashfs': patternBytes(5000), '.disk/info': 'Debian GNU/Linux 12.5.0 "Bookworm" - Official Live amd64' });
  const iso = buildIso(join(dir, 'src'), join(dir, 'debian-live.iso'), { rockRidge: true });
  const r = run(['inspect', '--server', '192.0.2.1', '--cmdline', 'console=ttyS0', '--files', iso]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^detected: +Debian GNU\/Linux 12\.5\.0 \[debian-live\]$/m);
  assert.match(r.stdout, /^boot modes: BIOS, UEFI$/m);
  assert.match(r.stdout, /^loads: +live\/vmlinuz \(kernel, 1 B\), live\/initrd\.img \(initrd, 1 B\)$/m);
  assert.match(r.stdout, /live\/filesystem\.squashfs$/m, '--files lists the tree');
  assert.match(r.stdout, /^kernel http:\/\/192\.0\.2\.1:8080\/iso\/debian-live\/live\/vmlinuz initrd=0-initrd\.img boot=live fetch=http:\/\/192\.0\.2\.1:8080\/iso\/debian-live\/live\/filesystem\.squashfs ip=dhcp console=ttyS0 \|\| goto failed$/m);
  const j = run(['inspect', '--json', iso]);
  assert.equal(j.status, 0, j.stderr);
  const parsed = JSON.parse(j.stdout) as { recipe: string; os: string; bootModes: string[]; script: string };
  assert.equal(parsed.recipe, 'debian-live');
  assert.deepEqual(parsed.bootModes, ['bios', 'uefi']);
  assert.match(parsed.script, /^#!ipxe/);
});

test('pxekit inspect on a damaged or fake ISO says so and exits 1, without a stack trace', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'fake.iso'), patternBytes(100_000));
  const r = run(['inspect', join(dir, 'fake.iso')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /fake\.iso is not a usable ISO: not an ISO 9660\/UDF image/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  // A real ISO cut short.
  writeTree(join(dir, 'src'), { 'casper/vmlinuz': patternBytes(300_000), 'casper/initrd': 'I' });
  const iso = buildIso(join(dir, 'src'), join(dir, 'cut.iso'), { rockRidge: true });
  truncateSync(iso, 18 * 2048);
  const c = run(['inspect', iso]);
  assert.equal(c.status, 1, c.stdout);
  // Told by identify (src/images/identify.ts) before the ISO is opened, in the words the API and the library use.
  assert.match(c.stderr, /cut\.iso is not a usable ISO: the image is cut short/);
  const missing = run(['inspect', join(dir, 'nope.iso')]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /no such file/);
});

test('pxekit inspect on a WinPE ISO without wimboot says where to get it', (t) => {
  const dir = tempDir(t);
  writeTree(join(dir, 'src'), { bootmgr: 'B', 'Boot/BCD': 'C', 'Boot/boot.sdi': 'S', 'sources/boot.wim': 'W' });
  const iso = buildIso(join(dir, 'src'), join(dir, 'winpe.iso'), { tool: 'genisoimage', udf: true, joliet: true });
  const r = run(['inspect', iso]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Windows PE \[winpe\]/);
  assert.match(r.stdout, /https:\/\/github\.com\/ipxe\/wimboot\/releases/);
  assert.match(r.stdout, /^sanboot http:\/\/<server>:8080\/iso\/winpe\.iso \|\| goto failed$/m);
  const w = run(['inspect', '--wimboot', wimbootStandin(dir), iso]);
  assert.match(w.stdout, /^kernel http:\/\/<server>:8080\/helpers\/winpe\/wimboot gui/m);
});

