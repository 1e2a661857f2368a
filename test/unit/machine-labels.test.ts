// Labels per machine (issue 20 part 5): kept per MAC in the data dir (labels.json, written
// atomically), checked (a MAC, at most 40 printable characters), and over the API as
// machines.setLabel / machines.labels with a 'labels' event for every open UI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LabelError, MachineLabels } from '../../src/sessions/labels.js';
import { parseRequest } from '../../src/api/validate.js';
import { ApiError, Controller } from '../../src/api/controller.js';
import type { ApiEvent } from '../../src/api/contract.js';

function tempDataDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'pxk-labels-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'data');
}

test('a label is kept per MAC in the data dir and read back by a new store; empty removes it', (t) => {
  const dir = tempDataDir(t);
  const a = new MachineLabels(dir);
  assert.deepEqual(a.all(), {});
  assert.deepEqual(a.set('52:54:00:AA:BB:01', '  Desk 12 '), { '52:54:00:aa:bb:01': 'Desk 12' });
  a.set('52:54:00:aa:bb:02', 'Büro 3 · links');
  const file = JSON.parse(readFileSync(join(dir, 'labels.json'), 'utf8'));
  assert.deepEqual(file, { version: 1, labels: { '52:54:00:aa:bb:01': 'Desk 12', '52:54:00:aa:bb:02': 'Büro 3 · links' } });
  // No temp file left behind by the atomic write.
  assert.deepEqual(readdirSync(dir), ['labels.json']);

  const b = new MachineLabels(dir);
  assert.equal(b.get('52:54:00:AA:BB:01'), 'Desk 12');
  b.set('52:54:00:aa:bb:01', '');
  assert.deepEqual(new MachineLabels(dir).all(), { '52:54:00:aa:bb:02': 'Büro 3 · links' });
});

test('a bad MAC or label is refused and nothing is written', (t) => {
  const dir = tempDataDir(t);
  const s = new MachineLabels(dir);
  for (const mac of ['52:54:00:aa:bb', 'zz:54:00:aa:bb:01', '52-54-00-aa-bb-01', '']) assert.throws(() => s.set(mac, 'x'), LabelError, mac);
  assert.throws(() => s.set('52:54:00:aa:bb:01', 'x'.repeat(41)), /at most 40/);
  assert.throws(() => s.set('52:54:00:aa:bb:01', 'two\nlines'), /printable/);
  assert.throws(() => s.set('52:54:00:aa:bb:01', 'bell\u0007'), /printable/);
  assert.doesNotThrow(() => s.set('52:54:00:aa:bb:03', 'é'.repeat(40)), '40 characters, more bytes, is fine');
  assert.deepEqual(Object.keys(new MachineLabels(dir).all()), ['52:54:00:aa:bb:03']);
});

test('a damaged labels.json is kept aside and the store starts empty', (t) => {
  const dir = tempDataDir(t);
  new MachineLabels(dir).set('52:54:00:aa:bb:01', 'Desk 1');
  writeFileSync(join(dir, 'labels.json'), '{"version":1,"labels":{"not a mac":"x"}}');
  const s = new MachineLabels(dir);
  assert.deepEqual(s.all(), {});
  assert.match(s.warning ?? '', /damaged[\s\S]*starting with no labels/);
  assert.ok(readdirSync(dir).some((f) => f.startsWith('labels.json.corrupt-')));
});

test('the API: machines.setLabel is validated, saved, published; machines.labels answers', async (t) => {
  const bad = parseRequest(JSON.stringify({ v: 1, id: 1, cmd: 'machines.setLabel', params: { mac: 'nope', label: 'x' } }));
  assert.equal(bad.ok, false);
  assert.equal(!bad.ok && bad.code, 'invalid-params');
  const long = parseRequest(JSON.stringify({ v: 1, id: 2, cmd: 'machines.setLabel', params: { mac: '52:54:00:aa:bb:01', label: 'y'.repeat(41) } }));
  assert.equal(!long.ok && long.code, 'invalid-params');
  const extra = parseRequest(JSON.stringify({ v: 1, id: 3, cmd: 'machines.setLabel', params: { mac: '52:54:00:aa:bb:01', label: 'x', color: 'red' } }));
  assert.equal(!extra.ok && extra.code, 'invalid-params');
  const good = parseRequest(JSON.stringify({ v: 1, id: 4, cmd: 'machines.setLabel', params: { mac: '52:54:00:AA:BB:01', label: ' Desk 4 ' } }));
  assert.ok(good.ok);
  assert.deepEqual(good.ok && good.request.params, { mac: '52:54:00:aa:bb:01', label: 'Desk 4' });

  const dir = tempDataDir(t);
  const c = new Controller({ dataDir: dir, library: null });
  const events: ApiEvent[] = [];
  c.on('event', (e: ApiEvent) => events.push(e));
  assert.deepEqual(await c.call('machines.labels', {}), {});
  assert.deepEqual(await c.call('machines.setLabel', { mac: '52:54:00:aa:bb:01', label: 'Desk 4' }), { '52:54:00:aa:bb:01': 'Desk 4' });
  assert.deepEqual(events.map((e) => e.type === 'labels' && e.labels), [{ '52:54:00:aa:bb:01': 'Desk 4' }]);
  // Even unvalidated (another transport), the store refuses a bad MAC with the API's error code.
  await assert.rejects(c.call('machines.setLabel', { mac: 'bad', label: 'x' }), (e: unknown) => e instanceof ApiError && e.code === 'invalid-params');
  // A restarted engine (a new controller on the same data dir) still knows the label.
  assert.deepEqual(await new Controller({ dataDir: dir, library: null }).call('machines.labels', {}), { '52:54:00:aa:bb:01': 'Desk 4' });
  assert.ok(existsSync(join(dir, 'labels.json')));
});
