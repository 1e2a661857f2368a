import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionTracker, type SessionUpdate } from '../../src/sessions/tracker.js';
import { formatEvent } from '../../src/sessions/format.js';

test('the readable log prints a hand-off once, and a tsize probe is not called FAILED', () => {
  const updates: SessionUpdate[] = [];
  const tracker = new SessionTracker({ planFor: () => ({ payload: [{ path: 'image/vmlinuz', role: 'kernel' as const }], handoff: { kind: 'files' } }), onUpdate: (u) => updates.push(u) });
  const base = { type: 'transfer' as const, at: Date.now(), protocol: 'http' as const, clientIp: '10.0.0.9', clientPort: 1, mac: '52:54:00:00:00:01', file: 'image/vmlinuz', role: 'kernel' as const };
  tracker.handle({ ...base, phase: 'start', id: 'a', bytes: 0, size: 10 });
  tracker.handle({ ...base, phase: 'done', id: 'a', bytes: 10, size: 10 });
  tracker.handle({ ...base, phase: 'error', id: 'b', bytes: 0, errorCode: 'aborted', file: 'image/other' });
  const lines = updates.map((u) => formatEvent(u)).filter(Boolean);
  assert.equal(lines.length, 1, JSON.stringify(lines));
  assert.match(lines[0]!, /52:54:00:00:00:01 Handed off/);
  const probe = formatEvent({ ...base, phase: 'error', id: 'c', bytes: 0, errorCode: 'aborted', detail: 'tsize-probe', protocol: 'tftp', file: 'ipxe.efi' });
  assert.equal(probe, undefined);
  const missing = formatEvent({ ...base, phase: 'error', id: 'd', bytes: 0, errorCode: 'not-found', error: 'File not found', protocol: 'tftp', file: 'pxelinux.0' });
  assert.match(missing!, /FAILED pxelinux\.0/);
});
