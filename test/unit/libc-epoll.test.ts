// The epoll calls the I/O threads wait with (src/net/libc-io.ts, used by io-loop.ts), on
// real UDP sockets on loopback: events come back with the right tag (the struct
// layout is per-ABI), several at once, and a socket taken out before its fd is closed is
// not reported again even while a duplicate keeps it open, which is why the loop removes
// before it closes (an HTTP body's fd is a duplicate of Node's).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EpollEvents, libcIo, nativeBuffer, POLLIN, POLLOUT } from '../../src/net/libc-io.js';
import { openConnectedFd, openPortFd } from '../../src/net/sockopt-linux.js';

/** A UDP socket of the kind the TFTP transfers use, on loopback. */
const udpSocket = () => openPortFd('lo', '127.0.0.1');

test('epoll: events name their fd, several at once, and a removed socket stays silent though a duplicate keeps it open', () => {
  const io = libcIo();
  const ep = io.epollCreate();
  assert.ok(ep >= 0);
  const a = udpSocket();
  const b = udpSocket();
  // One sender connected to each, as a transfer's socket is to its client.
  const [toA, toB] = [a, b].map((s) => openConnectedFd({ device: 'lo', address: '127.0.0.1', peerAddress: '127.0.0.1', peerPort: s.port }).fd);
  const payload = nativeBuffer(8);
  const send = (sender: number) => assert.equal(io.send(sender, payload.addr, 8), 8);
  const events = new EpollEvents(8);
  // Each socket is added with its fd as its tag, so an event says which socket it is about.
  const wait = (): Array<[number, number]> => {
    const n = io.epollWait(ep, events.addr, events.capacity, 100);
    assert.ok(n >= 0, `epoll_wait: errno ${io.errno()}`);
    return Array.from({ length: n }, (_, i) => [events.tag(i), events.events(i)] as [number, number]).sort((x, y) => x[0] - y[0]);
  };
  try {
    assert.equal(io.epollAdd(ep, a.fd, POLLIN, a.fd), 0);
    assert.equal(io.epollAdd(ep, b.fd, POLLIN, b.fd), 0);
    assert.equal(io.epollWait(ep, events.addr, events.capacity, 0), 0, 'nothing waiting yet');

    send(toB);
    assert.deepEqual(wait(), [[b.fd, POLLIN]]);
    send(toA);
    // Level-triggered: b's datagram is still unread, so both are reported, each with its own fd.
    assert.deepEqual(wait(), [
      [a.fd, POLLIN],
      [b.fd, POLLIN],
    ].sort((x, y) => x[0] - y[0]));

    // Taken out, then closed, with a duplicate still open: never reported again.
    const aDup = io.dup(a.fd);
    assert.equal(io.epollDel(ep, a.fd), 0);
    io.close(a.fd);
    assert.deepEqual(wait(), [[b.fd, POLLIN]]);
    io.close(aDup);

    // What the removal prevents: closed without it, a duplicated socket goes on being reported under the old fd.
    const bDup = io.dup(b.fd);
    io.close(b.fd);
    assert.deepEqual(wait(), [[b.fd, POLLIN]]);
    io.close(bDup);
    assert.deepEqual(wait(), [], 'the last fd closed: the kernel drops it');

    // POLLOUT means what poll() means by it: a UDP socket has room.
    const c = udpSocket();
    assert.equal(io.epollAdd(ep, c.fd, POLLOUT, c.fd), 0);
    assert.deepEqual(wait(), [[c.fd, POLLOUT]]);
    io.close(c.fd);
  } finally {
    io.close(toA);
    io.close(toB);
    io.close(ep);
    events.free();
  }
});
