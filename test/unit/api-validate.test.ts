// Every request envelope is checked at run time: bad input gets a clear error, never a crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRequest, isWellFormedToken } from '../../src/api/validate.js';
import { EventRing } from '../../src/api/event-ring.js';

const req = (o: unknown) => parseRequest(JSON.stringify(o));
const code = (o: unknown) => {
  const r = typeof o === 'string' ? parseRequest(o) : req(o);
  return r.ok ? 'ok' : r.code;
};

test('envelopes: not JSON, not an object, bad id, wrong version, unknown command', () => {
  assert.equal(code('{'), 'bad-request');
  assert.equal(code('[]'), 'bad-request');
  assert.equal(code('null'), 'bad-request');
  assert.equal(code({ v: 1, cmd: 'engine.status', params: {} }), 'bad-request');
  assert.equal(code({ v: 1, id: -3, cmd: 'engine.status', params: {} }), 'bad-request');
  assert.equal(code({ v: 1, id: 1.5, cmd: 'engine.status', params: {} }), 'bad-request');
  assert.equal(code({ v: 2, id: 1, cmd: 'engine.status', params: {} }), 'unsupported-version');
  assert.equal(code({ v: 1, id: 1, cmd: 'rm -rf', params: {} }), 'unknown-command');
  assert.equal(code({ v: 1, id: 1, cmd: 'toString', params: {} }), 'unknown-command', 'no prototype keys as commands');
  assert.equal(code({ v: 1, id: 1, cmd: '__proto__', params: {} }), 'unknown-command');
  const r = req({ v: 1, id: 7, cmd: 'nope' });
  assert.ok(!r.ok && r.id === 7, 'the id is echoed when it is readable');
});

test('parameterless commands: {} or absent; anything else refused', () => {
  assert.equal(code({ v: 1, id: 1, cmd: 'interfaces.list' }), 'ok');
  assert.equal(code({ v: 1, id: 1, cmd: 'interfaces.list', params: {} }), 'ok');
  assert.equal(code({ v: 1, id: 1, cmd: 'interfaces.list', params: { x: 1 } }), 'invalid-params');
  assert.equal(code({ v: 1, id: 1, cmd: 'sessions.list', params: 'all' }), 'invalid-params');
});

test('serve.start: required fields, enums, ranges, at most one image source, no unknown fields', () => {
  const base = { iface: 'eth1', mode: 'auto', imagePath: '/srv/vmlinuz' };
  const ok = req({ v: 1, id: 1, cmd: 'serve.start', params: { ...base, initrds: ['/srv/initrd'], cmdline: 'quiet', httpPort: 8080, probeSeconds: 1, range: '10.0.0.100-10.0.0.200', force: true } });
  assert.ok(ok.ok);
  assert.deepEqual(ok.request.params, { ...base, initrds: ['/srv/initrd'], cmdline: 'quiet', httpPort: 8080, probeSeconds: 1, range: '10.0.0.100-10.0.0.200', force: true, imageId: undefined, bootOnce: undefined });
  const bad = (params: unknown) => code({ v: 1, id: 1, cmd: 'serve.start', params });
  assert.equal(bad({ ...base, mode: 'rogue' }), 'invalid-params');
  assert.equal(bad({ mode: 'auto', imagePath: '/x' }), 'invalid-params');
  assert.equal(bad({ ...base, iface: 'a b' }), 'invalid-params');
  assert.equal(bad({ ...base, httpPort: 70000 }), 'invalid-params');
  assert.equal(bad({ ...base, httpPort: '80' }), 'invalid-params');
  assert.equal(bad({ ...base, range: '10.0.0.1' }), 'invalid-params');
  assert.equal(bad({ ...base, initrds: '/srv/initrd' }), 'invalid-params');
  assert.equal(bad({ ...base, initrds: [1] }), 'invalid-params');
  assert.equal(bad({ ...base, imagePath: 'a\0b' }), 'invalid-params');
  assert.equal(bad({ ...base, imageId: 'abc' }), 'invalid-params', 'both image sources');
  assert.equal(bad({ iface: 'eth1', mode: 'auto' }), 'ok', 'no image: the library menu/assignments decide');
  assert.equal(bad({ ...base, bootOnce: 1 }), 'invalid-params');
  assert.equal(bad({ ...base, force: 'yes' }), 'invalid-params');
  assert.equal(bad({ ...base, extra: 1 }), 'invalid-params');
  assert.equal(bad({ ...base, cmdline: 'x'.repeat(5000) }), 'invalid-params');
});

test('library, assign, menu and logs parameters', () => {
  const c = (cmd: string, params: unknown) => code({ v: 1, id: 1, cmd, params });
  assert.equal(c('library.add', { path: '/isos/debian.iso' }), 'ok');
  assert.equal(c('library.add', {}), 'invalid-params');
  assert.equal(c('library.remove', { id: '' }), 'invalid-params');
  assert.equal(c('library.inspect', { id: 'abc' }), 'ok');
  const a = req({ v: 1, id: 1, cmd: 'assign.set', params: { mac: '52:54:00:AB:CD:EF', imageId: 'x', bootOnce: true } });
  assert.ok(a.ok && (a.request.params as { mac: string }).mac === '52:54:00:ab:cd:ef', 'MAC lower-cased');
  assert.equal(c('assign.set', { mac: '52-54-00-ab-cd-ef', imageId: 'x', bootOnce: true }), 'invalid-params');
  assert.equal(c('assign.set', { mac: '52:54:00:ab:cd:ef', imageId: 'x' }), 'invalid-params');
  assert.equal(c('assign.clear', { mac: 'nope' }), 'invalid-params');
  assert.equal(c('menu.set', { enabled: true, timeoutSeconds: 10, includeLocalBoot: false }), 'ok');
  assert.equal(c('menu.set', { enabled: true, timeoutSeconds: -1, includeLocalBoot: false }), 'invalid-params');
  assert.equal(c('logs.export', { format: 'jsonl' }), 'ok');
  assert.equal(c('logs.export', { format: 'xml' }), 'invalid-params');
});

test('tokens: 32-256 subprotocol-safe characters', () => {
  assert.ok(isWellFormedToken('a'.repeat(64)));
  assert.ok(!isWellFormedToken('short'));
  assert.ok(!isWellFormedToken('a'.repeat(40) + ' b'));
  assert.ok(!isWellFormedToken('a'.repeat(40) + ','));
});

test('event ring keeps the last N in order and counts what it dropped', () => {
  const r = new EventRing<number>(3);
  assert.deepEqual(r.toArray(), []);
  for (let i = 1; i <= 5; i++) r.push(i);
  assert.deepEqual(r.toArray(), [3, 4, 5]);
  assert.deepEqual(r.toArray(2), [4, 5]);
  assert.equal(r.dropped, 2);
  assert.throws(() => new EventRing(0));
});
