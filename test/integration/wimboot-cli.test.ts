// `pxekit wimboot`, and --wimboot / the stored wimboot in inspect and serve, as a technician runs them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildIso, tempDir, writeTree } from '../helpers/iso-build.js';
import { STANDIN_VERSION, wimbootStandin } from '../helpers/wimboot-standin.js';
import { ensureFixtures } from '../../src/lab/fixtures.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const runIn = (dataDir: string) => (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, PXEKIT_WIMBOOT: '', PXEKIT_DATA_DIR: dataDir } });

function winpeIso(dir: string): string {
  writeTree(join(dir, 'src'), { bootmgr: 'B', 'Boot/BCD': 'C', 'Boot/boot.sdi': 'S', 'sources/boot.wim': 'W' });
  return buildIso(join(dir, 'src'), join(dir, 'winpe.iso'), { tool: 'genisoimage', udf: true, joliet: true });
}

test('pxekit wimboot: none stored, a kernel refused with why, the stand-in stored with version and SHA-256, then used by inspect', (t) => {
  const dir = tempDir(t, 'pxk-wbcli-');
  const data = join(dir, 'data');
  const run = runIn(data);
  const none = run(['wimboot']);
  assert.equal(none.status, 0, none.stderr);
  assert.match(none.stdout, /no wimboot stored/);
  assert.match(none.stdout, /a media driver is missing/);
  assert.match(none.stdout, /https:\/\/github\.com\/ipxe\/wimboot\/releases, then: pxekit wimboot FILE/);

  const kernel = run(['wimboot', ensureFixtures().kernel]);
  assert.equal(kernel.status, 1);
  assert.match(kernel.stderr, /is not wimboot: this is a Linux kernel \([^)]+\), not wimboot\. Nothing was changed/);

  const standin = wimbootStandin(join(dir, 'dl'));
  const ok = run(['wimboot', standin]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, new RegExp(`^wimboot ${STANDIN_VERSION} stored: ${data}/wimboot/wimboot$`, 'm'));
  const sha = /SHA-256 ([0-9a-f]{64})/.exec(ok.stdout)?.[1];
  assert.equal(sha, JSON.parse(readFileSync(join(data, 'wimboot', 'wimboot.json'), 'utf8')).sha256);
  const shown = run(['wimboot']);
  assert.equal(shown.status, 0);
  assert.match(shown.stdout, new RegExp(`^wimboot ${STANDIN_VERSION}: .*\\nSHA-256 ${sha} `, 'm'));

  // inspect finds the stored wimboot without --wimboot.
  const iso = winpeIso(dir);
  const r = run(['inspect', iso]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^kernel http:\/\/<server>:8080\/helpers\/winpe\/wimboot gui/m);
});

test('inspect and serve refuse a --wimboot that is not wimboot, with the reason', (t) => {
  const dir = tempDir(t, 'pxk-wbcli-');
  const run = runIn(join(dir, 'data'));
  const iso = winpeIso(dir);
  writeFileSync(join(dir, 'wimboot'), 'wimboot v2.8.0 -- Windows Imaging Format bootloader -- https://ipxe.org/wimboot\n');
  const i = run(['inspect', '--wimboot', join(dir, 'wimboot'), iso]);
  assert.equal(i.status, 1);
  assert.match(i.stderr, /wimboot is not wimboot: not a boot program at all \(a text file\)/);
  const s = run(['serve', '--iface', 'pxk-none0', '--wimboot', '/usr/lib/ipxe/ipxe.efi', iso]);
  assert.equal(s.status, 1);
  assert.match(s.stderr, /ipxe\.efi is not wimboot: this is iPXE \(an EFI program\), not wimboot/);
});

test('serve warns at start when a Windows ISO goes out without wimboot: what instead, the cost, the fix', (t) => {
  const dir = tempDir(t, 'pxk-wbcli-');
  const run = runIn(join(dir, 'data'));
  const iso = winpeIso(dir);
  // No such NIC: the engine stops at start, after the start lines.
  const s = run(['serve', '--iface', 'pxk-none0', '--mode', 'proxy', iso]);
  assert.equal(s.status, 1, s.stdout);
  const line = s.stdout.split('\n').find((l) => l.includes('WITHOUT wimboot')) ?? assert.fail(`no warning in:\n${s.stdout}\n${s.stderr}`);
  assert.match(line, /winpe\.iso is Windows, served WITHOUT wimboot: machines get iPXE sanboot of the whole ISO instead/);
  assert.match(line, /"a media driver is missing"/);
  assert.match(line, /every machine reads the whole ISO \(\d+ MB\) over HTTP/);
  assert.match(line, /pxekit wimboot FILE.*--wimboot FILE.*https:\/\/github\.com\/ipxe\/wimboot\/releases/);
  // With wimboot stored, no warning.
  assert.equal(run(['wimboot', wimbootStandin()]).status, 0);
  const w = run(['serve', '--iface', 'pxk-none0', '--mode', 'proxy', iso]);
  assert.doesNotMatch(w.stdout + w.stderr, /WITHOUT wimboot/);
});
