// What the setup share's root helper refuses (src/share/share-helper-main.ts): requests are
// checked as if the user the engine runs as had written them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { refusal } from '../../src/share/share-helper-main.js';

const ok = { iface: 'eth1', address: '10.0.0.1', prefix: 24, source: '/home/tech/win11.iso' };
const env = { canRead: (p: string) => p.startsWith('/home/tech/'), addressesOf: (i: string) => (i === 'eth1' ? ['10.0.0.1'] : []) };

test('a well-formed request for a file the user can read, on an address of the NIC, is done', () => {
  assert.equal(refusal(ok, env), undefined);
});

test('refused: a file the user cannot read, a relative path, an address of another NIC, a bad prefix, a malformed request', () => {
  assert.match(refusal({ ...ok, source: '/etc/shadow' }, env)!, /cannot be read by the user PXE Kit runs as/);
  assert.match(refusal({ ...ok, source: 'win11.iso' }, env)!, /absolute path/);
  assert.match(refusal({ ...ok, address: '192.168.1.5' }, env)!, /192\.168\.1\.5 is not an address of eth1/);
  assert.match(refusal({ ...ok, iface: 'wlan0' }, env)!, /not an address of wlan0/);
  assert.match(refusal({ ...ok, prefix: 40 }, env)!, /out of range/);
  assert.equal(refusal({ ...ok, prefix: '24' } as never, env), 'a malformed request');
  assert.equal(refusal(undefined as never, env), 'a malformed request');
});
