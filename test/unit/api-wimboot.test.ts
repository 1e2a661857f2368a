// wimboot.status / wimboot.install over the real API, and the Windows library entry's
// wimboot field following the store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Controller } from '../../src/api/controller.js';
import { parseRequest } from '../../src/api/validate.js';
import { ApiCallError, connectApi } from '../helpers/api-client.js';
import { buildIso, tempDir, writeTree } from '../helpers/iso-build.js';
import { STANDIN_VERSION, wimbootStandin } from '../helpers/wimboot-standin.js';
import { ensureFixtures } from '../../src/lab/fixtures.js';
import { wimbootMenuNote } from '../../src/images/wimboot.js';

test('wimboot.status and wimboot.install; a refused file is an error and keeps the stored one; the Windows entry follows', { timeout: 60_000 }, async (t) => {
  const saved = process.env.PXEKIT_WIMBOOT;
  process.env.PXEKIT_WIMBOOT = ''; // only the data dir's store counts here
  t.after(() => (saved === undefined ? delete process.env.PXEKIT_WIMBOOT : (process.env.PXEKIT_WIMBOOT = saved)));
  const dir = tempDir(t, 'pxk-apiwb-');
  writeTree(join(dir, 'src'), { bootmgr: 'B', 'Boot/BCD': 'C', 'Boot/boot.sdi': 'S', 'sources/boot.wim': 'W' });
  const iso = buildIso(join(dir, 'src'), join(dir, 'winpe.iso'), { tool: 'genisoimage', udf: true, joliet: true });
  const controller = new Controller({ dataDir: join(dir, 'data') });
  const c = await connectApi(t, controller);

  assert.deepEqual(await c.call('wimboot.status', {}), { downloadUrl: 'https://github.com/ipxe/wimboot/releases' });
  const win = await c.call('library.add', { path: iso, name: 'Windows PE' });
  assert.equal(win.os, 'Windows PE');
  assert.equal(win.wimboot, 'missing');
  assert.match(win.wimbootNote ?? '', /^Served as sanboot of the whole ISO instead of wimboot: Windows setup may stop with "a media driver is missing", and every machine reads the whole ISO over HTTP\. Fix: .*pxekit wimboot FILE/);
  assert.equal(wimbootMenuNote(win), ' (sanboot, no wimboot)');

  // A kernel: refused, with the reason; nothing stored.
  await assert.rejects(c.call('wimboot.install', { path: ensureFixtures().kernel }), (e: unknown) => {
    assert.ok(e instanceof ApiCallError);
    assert.equal(e.code, 'wimboot-refused');
    assert.match(e.message, /is not wimboot: this is a Linux kernel \([^)]+\), not wimboot\. Nothing was changed/);
    return true;
  });
  assert.equal((await c.call('wimboot.status', {})).installed, undefined);

  const standin = wimbootStandin(join(dir, 'dl'));
  const st = await c.call('wimboot.install', { path: standin });
  assert.equal(st.installed?.version, STANDIN_VERSION);
  assert.equal(st.installed?.path, join(dir, 'data', 'wimboot', 'wimboot'));
  // Every UI hears that the Windows entry now has wimboot.
  await c.waitFor((e) => e.type === 'library' && e.entries.some((x) => x.id === win.id && x.wimboot === 'present'), 'library event with wimboot present');
  const listed = (await c.call('library.list', {})).find((e) => e.id === win.id);
  assert.equal(listed?.wimboot, 'present');
  assert.equal(listed?.wimbootNote, undefined);
  const inspected = await c.call('library.inspect', { id: win.id });
  assert.match(inspected.script, /^kernel http:\/\/<server>:8080\/helpers\/[^/]+\/wimboot gui/m, 'served with the stored wimboot');

  // A refused file later keeps the stored one.
  const text = join(dir, 'notes.txt');
  writeFileSync(text, 'not wimboot\n');
  await assert.rejects(c.call('wimboot.install', { path: text }), /not a boot program at all \(a text file\)/);
  const after = await c.call('wimboot.status', {});
  assert.deepEqual(after.installed, st.installed);
  assert.deepEqual(readFileSync(join(dir, 'data', 'wimboot', 'wimboot')), readFileSync(standin));
});

test('wimboot.install needs a path', () => {
  const bad = parseRequest(JSON.stringify({ v: 1, id: 1, cmd: 'wimboot.install', params: {} }));
  assert.equal(bad.ok, false);
  assert.match(bad.ok ? '' : bad.message, /"path" must be a string/);
  const extra = parseRequest(JSON.stringify({ v: 1, id: 2, cmd: 'wimboot.install', params: { path: '/x', force: true } }));
  assert.match(extra.ok ? '' : extra.message, /unknown field "force"/);
  assert.equal(parseRequest(JSON.stringify({ v: 1, id: 3, cmd: 'wimboot.status', params: {} })).ok, true);
});
