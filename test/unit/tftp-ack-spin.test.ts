// The pump's bounded polling for ACKs (src/tftp/offload/ack-spin.ts): when it polls,
// when it sleeps, and that an error the kernel reports once is not lost while it polls.
// The real socket paths run in test/integration/tftp-robustness.test.ts, where a real
// client closes its port while the pump polls. Here a scripted libc pins the order of
// calls inside one wait (no sleep after an error, the client told), which the wire does
// not show.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AckSpin, spinBudgetMs } from '../../src/tftp/offload/ack-spin.js';
import type { LibcIo } from '../../src/net/libc-io.js';
import type { FromPump } from '../../src/tftp/offload/protocol.js';

test('PXEKIT_TFTP_SPIN_US: unset or unreadable is the default, 0 turns polling off, the rest is taken in µs', () => {
  assert.equal(spinBudgetMs(undefined), 0.1);
  assert.equal(spinBudgetMs(''), 0.1);
  assert.equal(spinBudgetMs('fast'), 0.1);
  assert.equal(spinBudgetMs('-5'), 0.1);
  assert.equal(spinBudgetMs('0'), 0);
  assert.equal(spinBudgetMs('250'), 0.25);
  assert.equal(spinBudgetMs('99999999'), 10, 'capped at 10 ms');
});

/** Where each policy's simulated clock stands: a policy's rounds are the time between its waits. */
const clocks = new WeakMap<AckSpin, number>();

/** Runs `rounds` rounds against a client whose whole round is `rtt(polling)` ms, on a simulated clock; the share of them polled. */
function simulate(spin: AckSpin, rounds: number, rtt: (polling: boolean) => number): number {
  let polled = 0;
  let t = clocks.get(spin) ?? 0;
  for (let i = 0; i < rounds; i++) {
    const polling = spin.begin(t) > 0;
    if (polling) polled++;
    t += rtt(polling);
  }
  clocks.set(spin, t);
  return polled / rounds;
}

test('polling is chosen while it makes round trips shorter, and sleeping is tried now and then', () => {
  const spin = new AckSpin(0.1);
  assert.equal(new AckSpin(0.1).begin(0), 0.1, 'a transfer starts polling');
  const share = simulate(spin, 2000, (polling) => (polling ? 0.03 : 0.045));
  assert.ok(share > 0.6 && share < 1, `polled ${share}`);
});

test('when polling makes round trips longer (cores are short), the pump sleeps, and tries polling now and then', () => {
  const spin = new AckSpin(0.1);
  assert.ok(simulate(spin, 2000, (polling) => (polling ? 0.06 : 0.04)) < 0.35);
  assert.ok(simulate(spin, 2000, (polling) => (polling ? 0.06 : 0.04)) > 0, 'polling is still tried');
  // The usual way contention shows: most polled answers come quickly, but the client loses
  // its core for a whole scheduler slice now and then. The mean sees it; a median would not.
  let i = 0;
  const stalls = new AckSpin(0.1);
  assert.ok(simulate(stalls, 2000, (polling) => (polling ? (++i % 20 === 0 ? 3 : 0.03) : 0.045)) < 0.35);
});

test('a client slower than twice the budget is not polled for after the first trial', () => {
  const spin = new AckSpin(0.1);
  simulate(spin, 256, () => 0.5);
  assert.equal(simulate(spin, 2000, () => 0.5), 0);
  // Polling a little faster but past twice the budget: not worth a core.
  const late = new AckSpin(0.1);
  simulate(late, 256, (polling) => (polling ? 0.25 : 0.26));
  assert.equal(simulate(late, 2000, (polling) => (polling ? 0.25 : 0.26)), 0);
});

test('stalls that hit both ways alike do not turn polling off', () => {
  const spin = new AckSpin(0.1);
  let i = 0;
  const share = simulate(spin, 2000, (polling) => (++i % 50 === 0 ? 3 : polling ? 0.03 : 0.045));
  assert.ok(share > 0.6, `polled ${share}`);
});

test('a windowed transfer starts asleep: its rounds are long, so it never polls; short ones still earn polling', () => {
  const spin = new AckSpin(0.1, 16);
  assert.equal(spin.begin(0), 0, 'the first wait sleeps');
  assert.equal(simulate(spin, 2000, () => 0.6), 0);
  const quick = new AckSpin(0.1, 16);
  assert.ok(simulate(quick, 2000, (polling) => (polling ? 0.03 : 0.045)) > 0.5, 'polling is tried and kept where it pays');
});

test('a budget of 0 never polls', () => {
  assert.equal(simulate(new AckSpin(0), 500, (polling) => (polling ? 0.01 : 0.05)), 0);
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
    sendmmsg: (_fd: number, _at: number, count: number) => {
      calls.push(`sendmmsg:${count}`);
      return count;
    },
    setRecvTimeout: () => 0,
    errno: () => errno,
  };
  return { io: io as unknown as LibcIo, calls };
}

async function lonePump(recvScript: Array<number | 'ack1'>, windowsize = 1) {
  process.env.PXEKIT_TFTP_SPIN_US = '100000'; // 10 ms (the cap): the script, not the clock, ends each wait
  const { DataPump } = await import('../../src/tftp/offload/pump.js');
  const { PumpMemory } = await import('../../src/tftp/offload/pump-memory.js');
  const mem = new PumpMemory();
  const posts: FromPump[] = [];
  const { io, calls } = scriptedIo(recvScript, () => mem.recv.buf);
  const job = { id: 1, fd: 99, source: { bytes: new Uint8Array(2000) }, size: 2000, blksize: 512, windowsize, timeoutMs: 1000, retries: 3, oack: null };
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

test('a windowed transfer\'s first wait sleeps in recv at once, without polling', async () => {
  const { pump, calls, done } = await lonePump([], 4);
  try {
    pump.waitAndHandle();
    assert.deepEqual(calls, ['sendmmsg:4', 'recvWait']);
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
