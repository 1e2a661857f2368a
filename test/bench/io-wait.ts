// What an I/O thread's wait costs as its sockets grow: poll() against epoll, the two ways
// src/net/io-loop.ts could wait. A waiter holds N UDP sockets on loopback and blocks
// until one is readable, then answers it; a pinger process sends to them in turn and
// waits for each answer, so every wake finds one ready socket (lockstep TFTP with many
// clients, the worst case). Reported: the waiter's CPU time per round (user + system,
// from process.cpuUsage) and the round trip. Loopback only.
// Run alone: node dist/test/bench/io-wait.js [--sockets 1,10,30] [--rounds 100000]
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import koffi from 'koffi';
import { EpollEvents, libcIo, nativeBuffer, POLLIN } from '../../src/net/libc-io.js';
import { connectFd, openConnectedFd, openPortFd } from '../../src/net/sockopt-linux.js';

/** poll(2), which the I/O threads waited with before epoll (decisions §17): only this bench calls it now. */
const poll = koffi.load('libc.so.6').func('poll', 'int', ['intptr_t', 'unsigned long', 'int']) as (fds: number, count: number, timeoutMs: number) => number;

export interface IoWaitRow {
  sockets: number;
  way: 'poll' | 'epoll';
  cpuUsPerRound: number;
  roundTripUs: number;
}

/**
 * The pinger (a child process): a socket connected to each of the waiter's, whose ports it
 * reports; on each "go", `rounds` rounds of send and wait for the answer, over them in turn.
 */
function pinger(ports: number[], rounds: number): void {
  const io = libcIo();
  const mine = ports.map((peerPort) => openConnectedFd({ device: 'lo', address: '127.0.0.1', peerAddress: '127.0.0.1', peerPort }));
  const out = nativeBuffer(16);
  const back = nativeBuffer(64);
  process.on('message', () => {
    for (let r = 0; r < rounds; r++) {
      const fd = mine[r % mine.length].fd;
      io.send(fd, out.addr, 16);
      io.recvWait(fd, back.addr, 64); // blocking socket, no receive timeout: waits for the answer
    }
    process.send!('done');
  });
  process.send!(mine.map((m) => m.port));
}

export async function benchIoWait(opts: { sockets?: number[]; rounds?: number; log?: (l: string) => void } = {}): Promise<{ rows: IoWaitRow[]; summary: string[] }> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const rounds = opts.rounds ?? 100_000;
  const io = libcIo();
  const rows: IoWaitRow[] = [];
  for (const n of opts.sockets ?? [1, 10, 30]) {
    const socks = Array.from({ length: n }, () => openPortFd('lo', '127.0.0.1'));
    const pollfds = nativeBuffer(8 * n);
    socks.forEach((s, i) => {
      pollfds.buf.writeInt32LE(s.fd, i * 8);
      pollfds.buf.writeInt16LE(POLLIN, i * 8 + 4);
      pollfds.buf.writeInt16LE(0, i * 8 + 6);
    });
    const ep = io.epollCreate();
    socks.forEach((s, i) => io.epollAdd(ep, s.fd, POLLIN, i));
    const events = new EpollEvents(64);
    const buf = nativeBuffer(64);
    // Each of our sockets is connected to its own of the pinger's: an answer is recv, then send.
    const answer = (i: number): void => void io.send(socks[i].fd, buf.addr, io.recv(socks[i].fd, buf.addr, 64));
    const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--pinger', JSON.stringify(socks.map((s) => s.port)), String(rounds)]);
    const theirs = await new Promise<number[]>((r) => child.once('message', (m) => r(m as number[])));
    socks.forEach((s, i) => connectFd(s.fd, '127.0.0.1', theirs[i]));
    try {
      // Interleaved, three of each: the machine's state drifts less between neighbours.
      for (const way of ['poll', 'epoll', 'poll', 'epoll', 'poll', 'epoll'] as const) {
        const done = new Promise((r) => child.once('message', r));
        const c0 = process.cpuUsage();
        const t0 = process.hrtime.bigint();
        child.send('go');
        for (let answered = 0; answered < rounds; ) {
          if (way === 'poll') {
            const ready = poll(pollfds.addr, n, -1);
            for (let i = 0; i < n && ready > 0; i++) {
              if (pollfds.buf.readInt16LE(i * 8 + 6) === 0) continue;
              answer(i);
              answered++;
            }
          } else {
            const ready = io.epollWait(ep, events.addr, events.capacity, -1);
            for (let k = 0; k < ready; k++) {
              answer(events.tag(k));
              answered++;
            }
          }
        }
        await done;
        const c = process.cpuUsage(c0);
        rows.push({ sockets: n, way, cpuUsPerRound: (c.user + c.system) / rounds, roundTripUs: Number(process.hrtime.bigint() - t0) / rounds / 1000 });
      }
    } finally {
      child.kill();
      for (const s of socks) io.close(s.fd);
      io.close(ep);
      events.free();
    }
  }
  const summary: string[] = [];
  for (const n of [...new Set(rows.map((r) => r.sockets))]) {
    const med = (way: 'poll' | 'epoll', k: 'cpuUsPerRound' | 'roundTripUs') => rows.filter((r) => r.sockets === n && r.way === way).map((r) => r[k]).sort((a, b) => a - b)[1];
    const line = `I/O wait, ${String(n).padStart(2)} sockets, one ready per wake: waiter CPU per round poll ${med('poll', 'cpuUsPerRound').toFixed(1)} µs, epoll ${med('epoll', 'cpuUsPerRound').toFixed(1)} µs (epoll/poll ${(med('epoll', 'cpuUsPerRound') / med('poll', 'cpuUsPerRound')).toFixed(2)}); round trip ${med('poll', 'roundTripUs').toFixed(1)} / ${med('epoll', 'roundTripUs').toFixed(1)} µs`;
    log(line);
    summary.push(line);
  }
  return { rows, summary };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  if (arg('pinger')) pinger(JSON.parse(arg('pinger')!) as number[], Number(process.argv[process.argv.indexOf('--pinger') + 2]));
  else
    benchIoWait({ sockets: arg('sockets')?.split(',').map(Number), rounds: arg('rounds') ? Number(arg('rounds')) : undefined }).catch((err: Error) => {
      console.error(err.message);
      process.exit(1);
    });
}
