// The pump's bounded polling for ACKs (src/tftp/offload/ack-spin.ts): when it polls,
// when it stops, and that an error the kernel reports once is not lost while it polls.
// The real socket paths run in test/integration/tftp-robustness.test.ts; the ordering of
// calls inside one wait is set up here with a scripted libc, which a real client cannot
// time (an ICMP error has to land during the few microseconds of polling).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AckSpin, spinBudgetMs } from '../../src/tftp/offload/ack-spin.js';
import type { LibcIo } from '../../src/net/libc-io.js';
import type { FromPump } from '../../src/tftp/offload/protocol.js';

test('PXK_TFTP_SPIN_US: unset or unreadable is the default, 0 turns polling off, the rest is taken in µs', () => {
  assert.equal(spinBudgetMs(undefined), 0.1);
  assert.equal(spinBudgetMs(''), 0.1);
  assert.equal(spinBudgetMs('fast'), 0.1);
  assert.equal(spinBudgetMs('-5'), 0.1);
  assert.equal(spinBudgetMs('0'), 0);
  assert.equal(spinBudgetMs('250'), 0.25);
  assert.equal(spinBudgetMs('99999999'), 10, 'capped at 10 ms');
});

test('a transfer starts polling, stops when the client answers slower than the budget, and starts again when it is fast', () => {
  const spin = new AckSpin(0.1);
  assert.equal(spin.pollMs, 0.1);
  for (let i = 0; i < 20; i++) spin.waited(0.03);
  assert.equal(spin.pollMs, 0.1, 'answers within the budget: keeps polling');
  // One stall of the client (a 2 ms sleep slice) turns it off only for a few packets.
  spin.waited(2);
  assert.equal(spin.pollMs, 0);
  let fast = 0;
  while (spin.pollMs === 0) {
    spin.waited(0.03);
    fast++;
  }
  assert.ok(fast > 3 && fast < 30, `back to polling after ${fast} fast answers`);
  // A client that is slow throughout (emulated firmware): off within a few packets, and stays off.
  const slow = new AckSpin(0.1);
  for (let i = 0; i < 3; i++) slow.waited(0.5);
  assert.equal(slow.pollMs, 0);
  for (let i = 0; i < 50; i++) slow.waited(0.5);
  assert.equal(slow.pollMs, 0);
  assert.equal(new AckSpin(0).pollMs, 0, 'a budget of 0 never polls');
});

/** A libc whose recv answers from a script; errno is whatever the last call left, as in C. */
function scriptedIo(recvScript: Array<number | 'ack1'>, recvBuf: () => Buffer) {
  let errno = 0;
  const calls: string[] = [];
  const io = {
    recv: () => {
      const next = recvScript.shift() ?? 11;
      calls.push(`recv:${next}`);
      if (next === 'ack1') {
        recvBuf().set([0, 4, 0, 1]);
        return 4;
      }
      errno = next;
      return -1;
    },
    recvWait: () => {
      calls.push('recvWait');
      errno = 11;
      return -1;
    },
    send: (_fd: number, _at: number, len: number) => {
      calls.push(`send:${len}`);
      return len;
    },
    setRecvTimeout: () => 0,
    errno: () => errno,
  };
  return { io: io as unknown as LibcIo, calls };
}

async function lonePump(recvScript: Array<number | 'ack1'>) {
  process.env.PXK_TFTP_SPIN_US = '100000'; // 10 ms (the cap): the script, not the clock, ends each wait
  const { DataPump } = await import('../../src/tftp/offload/pump.js');
  const { PumpMemory } = await import('../../src/tftp/offload/pump-memory.js');
  const mem = new PumpMemory();
  const posts: FromPump[] = [];
  const { io, calls } = scriptedIo(recvScript, () => mem.recv.buf);
  const job = { id: 1, fd: 99, source: { bytes: new Uint8Array(2000) }, size: 2000, blksize: 512, windowsize: 1, timeoutMs: 1000, retries: 3, oack: null };
  const pump = new DataPump(job, io, (m) => posts.push(m), mem);
  pump.start(performance.now());
  return { pump, posts, calls, done: () => (pump.release(), mem.free()) };
}

test('while polling, an ACK is handled at once and the next block goes out without sleeping in recv', async () => {
  const { pump, calls, posts, done } = await lonePump([11, 11, 'ack1']);
  try {
    pump.waitAndHandle();
    assert.deepEqual(calls, ['send:516', 'recv:11', 'recv:11', 'recv:ack1', 'send:516']);
    assert.deepEqual(posts, []);
  } finally {
    done();
  }
});

test('an error the kernel reports once (the client\'s ICMP port unreachable) ends the transfer even when it comes while polling', async () => {
  const ECONNREFUSED = 111;
  const { pump, calls, posts, done } = await lonePump([11, ECONNREFUSED, 11, 11]);
  try {
    pump.waitAndHandle();
    assert.deepEqual(calls, ['send:516', 'recv:11', `recv:${ECONNREFUSED}`, 'send:15'], 'stops polling, does not sleep, tells the client');
    assert.equal(posts.length, 1);
    const end = posts[0];
    assert.ok(end.t === 'end' && end.how === 'io', JSON.stringify(end));
    assert.match(end.message ?? '', /ECONNREFUSED/);
    assert.ok(pump.ended);
  } finally {
    done();
  }
});
