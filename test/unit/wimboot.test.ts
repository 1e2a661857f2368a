// wimboot is told apart by its content, and stored once in the data dir.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureFixtures } from '../../src/lab/fixtures.js';
import { currentWimboot, identifyWimboot, installWimboot, wimbootMenuNote, wimbootPath, wimbootStatus, WimbootRefused, WIMBOOT_MAX_BYTES } from '../../src/images/wimboot.js';
import { findHelpers } from '../../src/images/publish-iso.js';
import { tempDir } from '../helpers/iso-build.js';
import { STANDIN_VERSION, wimbootStandin } from '../helpers/wimboot-standin.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const refused = (r: ReturnType<typeof identifyWimboot>) => (r.ok ? assert.fail(`accepted: ${JSON.stringify(r)}`) : r.reason);

test('the stand-in is accepted, with the version from its banner', () => {
  const path = wimbootStandin();
  const r = identifyWimboot(path);
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(r.version, STANDIN_VERSION);
  assert.equal(r.size, readFileSync(path).length);
  assert.equal(r.sha256, sha256(readFileSync(path)));
  assert.deepEqual(identifyWimboot(readFileSync(path)), r, 'bytes and path give the same answer');
});

test('a Linux kernel is refused as a kernel, with its version', () => {
  const reason = refused(identifyWimboot(ensureFixtures().kernel));
  assert.match(reason, /^this is a Linux kernel \(\d+\.\d+\.\d+-\d+-amd64\), not wimboot$/);
});

test("iPXE's EFI program is refused as iPXE", () => {
  assert.equal(refused(identifyWimboot('/usr/lib/ipxe/ipxe.efi')), 'this is iPXE (an EFI program), not wimboot');
});

test('an EFI program without the banner is refused as such', () => {
  // iPXE's own header with its name rubbed out: an EFI program of no known kind.
  const b = Buffer.from(readFileSync('/usr/lib/ipxe/ipxe.efi').toString('latin1').replace(/iPXE/g, 'xxxx'), 'latin1');
  assert.equal(refused(identifyWimboot(b)), "an EFI program without wimboot's banner, not wimboot");
});

test('a text file, an empty file, a folder, a missing file, a huge file are refused in plain words', (t) => {
  const dir = tempDir(t, 'pxk-wb-');
  writeFileSync(join(dir, 'wimboot.txt'), 'wimboot v2.8.0 -- Windows Imaging Format bootloader -- https://ipxe.org/wimboot\n');
  assert.equal(refused(identifyWimboot(join(dir, 'wimboot.txt'))), 'not a boot program at all (a text file)', 'the banner alone is not enough');
  writeFileSync(join(dir, 'empty'), '');
  assert.match(refused(identifyWimboot(join(dir, 'empty'))), /^the file is empty/);
  assert.match(refused(identifyWimboot(dir)), /is a folder/);
  assert.match(refused(identifyWimboot(join(dir, 'nope'))), /^no such file/);
  assert.match(refused(identifyWimboot(Buffer.alloc(WIMBOOT_MAX_BYTES + 1))), /^it is 16\.8 MB; wimboot is about 50-100 KB$/);
});

test('a truncated stand-in is refused as cut short', () => {
  const b = readFileSync(wimbootStandin());
  const reason = refused(identifyWimboot(b.subarray(0, Math.floor(b.length / 2))));
  assert.match(reason, /^the file is cut short: it ends at \d+ bytes, its program needs \d+/);
});

test('the banner without the BIOS header is an EFI-only build; without the EFI header, damaged', () => {
  const b = Buffer.from(readFileSync(wimbootStandin()));
  const noHdrS = Buffer.from(b);
  noHdrS.write('XXXX', 0x202, 'latin1');
  assert.match(refused(identifyWimboot(noHdrS)), /^an EFI-only build of wimboot v0\.0-pxekit-standin .*use the file named just "wimboot"$/);
  const noPe = Buffer.from(b);
  noPe.write('ZZ', 0, 'latin1');
  assert.match(refused(identifyWimboot(noPe)), /banner but no EFI \(PE\) header/);
});

test('the store: install records sha256 and version, a refused file keeps the previous one, a changed file is reported', (t) => {
  const dataDir = tempDir(t, 'pxk-wb-data-');
  assert.equal(currentWimboot(dataDir), undefined);
  assert.deepEqual(wimbootStatus(dataDir), {});
  const src = wimbootStandin(join(dataDir, 'downloads'));
  const rec = installWimboot(dataDir, src);
  const bytes = readFileSync(src);
  assert.equal(rec.sha256, sha256(bytes));
  assert.equal(rec.version, STANDIN_VERSION);
  assert.equal(rec.size, bytes.length);
  assert.equal(rec.from, src);
  assert.equal(rec.path, join(dataDir, 'wimboot', 'wimboot'));
  assert.ok(Math.abs(rec.installedAt - Date.now()) < 60_000);
  assert.deepEqual(readFileSync(rec.path), bytes);
  const json = JSON.parse(readFileSync(join(dataDir, 'wimboot', 'wimboot.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(Object.keys(json).sort(), ['from', 'installedAt', 'sha256', 'size', 'version']);
  assert.equal(json.sha256, rec.sha256);
  assert.deepEqual(currentWimboot(dataDir), rec);

  // A kernel given by mistake: refused with the reason, the stored wimboot untouched.
  assert.throws(
    () => installWimboot(dataDir, ensureFixtures().kernel),
    (e: unknown) => e instanceof WimbootRefused && /is not wimboot: this is a Linux kernel/.test(e.message),
  );
  assert.deepEqual(currentWimboot(dataDir), rec);
  assert.deepEqual(readFileSync(wimbootPath(dataDir)), bytes);

  // The stored file changed behind PXE Kit's back: not used, and said why.
  const changed = Buffer.from(bytes);
  changed[changed.length - 3] ^= 0xff;
  writeFileSync(wimbootPath(dataDir), changed);
  assert.equal(currentWimboot(dataDir), undefined);
  assert.match(wimbootStatus(dataDir).problem ?? '', /changed since it was stored .*pxekit wimboot FILE/);
  assert.equal(findHelpers({ dataDir, noSearch: true }).wimboot, undefined, 'a changed store is not served');
  // Stored again: back.
  installWimboot(dataDir, src);
  assert.equal(findHelpers({ dataDir, noSearch: true }).wimboot, wimbootPath(dataDir));
  assert.deepEqual(readdirSync(join(dataDir, 'wimboot')).sort(), ['wimboot', 'wimboot.json'], 'no temp file left');
});

test('findHelpers: a given --wimboot that is not wimboot is refused with the reason; a given one wins over the store', (t) => {
  const dataDir = tempDir(t, 'pxk-wb-find-');
  const txt = join(dataDir, 'notes.txt');
  writeFileSync(txt, 'hello\n');
  assert.throws(() => findHelpers({ wimboot: txt, noSearch: true }), new Error(`${txt} is not wimboot: not a boot program at all (a text file)`));
  assert.throws(() => findHelpers({ wimboot: join(dataDir, 'missing'), noSearch: true }), /is not wimboot: no such file/);
  installWimboot(dataDir, wimbootStandin());
  const given = wimbootStandin(join(dataDir, 'elsewhere'));
  assert.equal(findHelpers({ wimboot: given, dataDir, noSearch: true }).wimboot, given);
  assert.equal(findHelpers({ dataDir, noSearch: true }).wimboot, wimbootPath(dataDir));
  assert.equal(findHelpers({ noSearch: true }).wimboot, undefined, 'noSearch without a data dir looks nowhere');
});

test('the menu note: only a Windows image without wimboot gets one', () => {
  assert.equal(wimbootMenuNote({ wimboot: 'missing' }), ' (sanboot, no wimboot)');
  assert.equal(wimbootMenuNote({ wimboot: 'present' }), '');
  assert.equal(wimbootMenuNote({}), '');
  assert.equal(wimbootMenuNote(undefined), '');
});
