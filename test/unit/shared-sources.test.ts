// SharedSources: transfers of one file share one open source, closed after the last lets go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedSources } from '../../src/files/shared-sources.js';
import { BufferSource, type PublishedFile } from '../../src/files/published.js';

function countingFile(data = Buffer.from('hello')) {
  const counts = { opened: 0, closed: 0 };
  const file: PublishedFile = {
    path: 'f',
    role: 'image file',
    size: async () => data.length,
    open: async () => {
      counts.opened++;
      const s = new BufferSource(data);
      return Object.assign(s, { close: async () => void counts.closed++ });
    },
  };
  return { file, counts };
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('one open for many transfers at once; closed only after the last lets go, and idle', async () => {
  const shared = new SharedSources(30);
  const { file, counts } = countingFile();
  const views = await Promise.all([shared.acquire(file), shared.acquire(file), shared.acquire(file)]);
  assert.equal(counts.opened, 1);
  const buf = Buffer.alloc(5);
  assert.equal(await views[1].read(buf, 0, 5, 0), 5);
  assert.equal(buf.toString(), 'hello');
  assert.deepEqual(views[2].directRead?.(), { bytes: Buffer.from('hello') });
  await views[0].close();
  await views[0].close(); // twice: still one share let go
  await views[1].close();
  await tick(60);
  assert.equal(counts.closed, 0, 'one transfer still reads');
  await views[2].close();
  const again = await shared.acquire(file); // within the idle time: the same source
  assert.equal(counts.opened, 1);
  await again.close();
  await tick(60);
  assert.equal(counts.closed, 1, 'closed once idle');
  await (await shared.acquire(file)).close();
  assert.equal(counts.opened, 2, 'opened again after it closed');
  await shared.closeAll();
  assert.equal(counts.closed, 2);
});

test('a failed open is reported to every waiter and not cached', async () => {
  const shared = new SharedSources(30);
  let fail = true;
  const file: PublishedFile = {
    path: 'g',
    role: 'image file',
    size: async () => 1,
    open: async () => {
      if (fail) throw new Error('no such file');
      return new BufferSource(Buffer.from('x'));
    },
  };
  await assert.rejects(shared.acquire(file), /no such file/);
  fail = false;
  const v = await shared.acquire(file);
  assert.equal(v.size, 1);
  await v.close();
  await shared.closeAll();
});
