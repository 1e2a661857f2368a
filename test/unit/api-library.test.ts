// Library, assignment and menu commands through the API, delegated to the real
// image library (src/images) in a private data dir; its changes stream as events.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Controller } from '../../src/api/controller.js';
import { ApiCallError, connectApi } from '../helpers/api-client.js';
import { writeKernelStub } from '../helpers/fake-kernel.js';

test('library.add/list/inspect/remove, assign.set/clear, menu.set round-trip; changes stream as events', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pxk-apilib-'));
  const kernel = writeKernelStub(dir, 100_000);
  const controller = new Controller({ dataDir: join(dir, 'data') });
  const c = await connectApi(t, controller);

  assert.deepEqual(await c.call('library.list', {}), []);
  const entry = await c.call('library.add', { path: kernel, name: 'Test kernel', cmdline: 'console=ttyS0' });
  assert.equal(entry.kind, 'kernel');
  assert.equal(entry.name, 'Test kernel');
  assert.equal(entry.present, true);
  assert.deepEqual((await c.call('library.list', {})).map((e) => e.id), [entry.id]);
  await c.waitFor((e) => e.type === 'library' && e.entries.some((x) => x.id === entry.id), 'library event');

  const inspected = await c.call('library.inspect', { id: entry.id });
  assert.equal(inspected.entry.id, entry.id);
  assert.match(inspected.script, /^#!ipxe/);

  const assigned = await c.call('assign.set', { mac: '52:54:00:AA:BB:CC', imageId: entry.id, bootOnce: true });
  assert.deepEqual(assigned, [{ mac: '52:54:00:aa:bb:cc', imageId: entry.id, bootOnce: true }]);
  await c.waitFor((e) => e.type === 'assignments' && e.assignments.length === 1, 'assignments event');
  assert.deepEqual(await c.call('assign.clear', { mac: '52:54:00:aa:bb:cc' }), []);

  const menu = await c.call('menu.set', { enabled: true, timeoutSeconds: 15, defaultEntryId: entry.id, includeLocalBoot: true });
  assert.equal(menu.timeoutSeconds, 15);
  await c.waitFor((e) => e.type === 'menu' && e.menu.enabled, 'menu event');
  // A UI that connects now sees the saved settings without waiting for a change.
  await c.call('assign.set', { mac: '52:54:00:aa:bb:01', imageId: entry.id, bootOnce: false });
  const settings = await c.call('settings.get', {});
  assert.deepEqual(settings.assignments, [{ mac: '52:54:00:aa:bb:01', imageId: entry.id, bootOnce: false }]);
  assert.equal(settings.menu.timeoutSeconds, 15);
  await c.call('assign.clear', { mac: '52:54:00:aa:bb:01' });

  await assert.rejects(c.call('library.add', { path: join(dir, 'missing.iso') }), (e: ApiCallError) => e.code === 'library-error' && /missing\.iso/.test(e.message));
  await assert.rejects(c.call('library.inspect', { id: 'no-such-id' }), (e: ApiCallError) => e.code === 'library-error');
  assert.deepEqual(await c.call('library.remove', { id: entry.id }), { removed: true });
  assert.deepEqual(await c.call('library.list', {}), []);
});
