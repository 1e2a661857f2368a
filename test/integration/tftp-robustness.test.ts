// The TFTP server against a scripted raw client (a Node UDP client run inside the
// lab's client namespace) that misbehaves on purpose: duplicate ACKs, a wrong TID,
// silence, mid-window ACKs, tsize probes, packet storms, too many transfers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readlinkSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, requireRoot } from '../helpers/lab.js';
import { TftpServer, type TftpServerOptions } from '../../src/tftp/server.js';
import { PublishedFiles, diskFile } from '../../src/files/published.js';
import type { LogEvent, TransferEvent, WireEvent } from '../../src/sessions/events.js';

const skip = requireRoot();

/**
 * The raw client. argv[1] is a JSON config; prints one JSON result line.
 * It ACKs the last block of each window (RFC 7440 receiver), tracking absolute
 * block numbers across the 16-bit wrap, and can misbehave as configured.
 */
const RAW_CLIENT = String.raw`
import dgram from 'node:dgram';
import { createHash } from 'node:crypto';
const cfg = JSON.parse(process.argv[1]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const open = () => new Promise((res) => { const s = dgram.createSocket('udp4'); s.bind(0, () => res(s)); });
const a = await open();
const b = await open();
const res = { dataPackets: 0, blocks: 0, perBlock: {}, oack: null, errors: [], errorsB: [], done: false, bytes: 0, sha256: '' };
function garbage(i) {
  switch (i % 5) {
    case 0: return Buffer.from([0]).subarray(0, i % 2);                       // truncated (0 or 1 byte)
    case 1: return Buffer.from([0, 7 + (i % 200), 1, 2, 3]);                 // unknown opcode
    case 2: return Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(20, 0x41)]); // RRQ name without NUL
    case 3: return Buffer.from([0, 4, 9]);                                   // truncated ACK
    default: return Buffer.concat([Buffer.from([0x80 | (i & 0x7f), i & 0xff]), Buffer.alloc(i % 30, i & 0xff)]); // random high opcode
  }
}
if (cfg.storm) {
  for (let i = 0; i < cfg.storm; i++) {
    a.send(garbage(i), cfg.port, cfg.server);
    if (i % 20 === 19) await sleep(2);
  }
  await sleep(50);
}
const enc = (op, strs) => { const parts = [Buffer.from([0, op])]; for (const s of strs) parts.push(Buffer.from(s + '\0', 'latin1')); return Buffer.concat(parts); };
const ack = (n) => Buffer.from([0, 4, (n >> 8) & 0xff, n & 0xff]);
const opts = Object.entries(cfg.options ?? {}).flat();
let blksize = 512, windowsize = 1, tid = null, expected = 1, inWindow = 0;
const chunks = [];
let acks = 0;
let skip = 0;
const finished = new Promise((resolve) => {
  const idle = () => { clearTimeout(idle.t); idle.t = setTimeout(resolve, cfg.idleMs ?? 3000); };
  idle();
  const sendAck = (n) => {
    acks++;
    if (cfg.stopAfter !== undefined && n > cfg.stopAfter) return;
    for (let i = 0; i <= (cfg.dupAcks ?? 0); i++) a.send(ack(n), tid.port, tid.address);
  };
  b.on('message', (msg) => { if (msg.readUInt16BE(0) === 5) res.errorsB.push(msg.readUInt16BE(2)); });
  a.on('message', (msg, rinfo) => {
    idle();
    const op = msg.readUInt16BE(0);
    if (tid && (rinfo.port !== tid.port)) return;
    if (!tid) tid = { address: rinfo.address, port: rinfo.port };
    if (op === 5) { res.errors.push({ code: msg.readUInt16BE(2), message: msg.toString('latin1', 4, msg.length - 1) }); if (cfg.rrqOnly || !res.done) resolve(); return; }
    if (cfg.rrqOnly) { res.firstOp = op; resolve(); return; }
    if (op === 6) {
      res.oack = {};
      const parts = msg.toString('latin1', 2).split('\0');
      for (let i = 0; i + 1 < parts.length; i += 2) res.oack[parts[i]] = parts[i + 1];
      if (res.oack.blksize) blksize = Number(res.oack.blksize);
      if (res.oack.windowsize) windowsize = Number(res.oack.windowsize);
      if (cfg.errorAfterOack !== undefined) {
        a.send(Buffer.concat([Buffer.from([0, 5, 0, cfg.errorAfterOack]), Buffer.from('User aborted\0')]), tid.port, tid.address);
        setTimeout(resolve, 300);
        return;
      }
      sendAck(0);
      return;
    }
    if (op !== 3) return;
    res.dataPackets++;
    const wire = msg.readUInt16BE(2);
    res.perBlock[wire] = (res.perBlock[wire] ?? 0) + 1;
    if (res.dataPackets === 1) {
      if (cfg.wrongTid) b.send(ack(1), tid.port, tid.address);
      if (cfg.garbage) for (let i = 0; i < cfg.garbage; i++) { a.send(garbage(i), tid.port, tid.address); b.send(garbage(i), tid.port, tid.address); }
    }
    if (skip > 0) { skip--; return; }
    if (wire !== (expected & 0xffff)) return; // out of order / duplicate: wait for the server
    chunks.push(Buffer.from(msg.subarray(4)));
    res.blocks++;
    inWindow++;
    const last = msg.length - 4 < blksize;
    if (cfg.midWindowAck && !res.rolledBack && windowsize > 2 && inWindow === 2) {
      // Pretend block 3 was lost: ACK block 2 now and ignore the rest of this window,
      // which the server had already sent (it arrives before the resent window).
      res.rolledBack = true;
      inWindow = 0;
      skip = windowsize - 2;
      sendAck(expected);
      expected++;
      return;
    }
    expected++;
    if (last) { res.done = true; sendAck(expected - 1); setTimeout(resolve, cfg.lingerMs ?? 300); return; }
    if (cfg.closeAt !== undefined && expected - 1 === cfg.closeAt) {
      // Close the port instead of ACKing: the server's resend draws an ICMP port unreachable.
      res.closed = true;
      a.close();
      resolve();
      return;
    }
    if (inWindow >= windowsize) { inWindow = 0; sendAck(expected - 1); }
  });
  a.send(enc(1, [cfg.file, 'octet', ...opts]), cfg.port, cfg.server);
});
await finished;
const data = Buffer.concat(chunks);
res.bytes = data.length;
res.sha256 = createHash('sha256').update(data).digest('hex');
res.acks = acks;
console.log(JSON.stringify(res));
if (!res.closed) a.close();
b.close();
process.exit(0);
`;

interface RawResult {
  dataPackets: number;
  blocks: number;
  perBlock: Record<string, number>;
  oack: Record<string, string> | null;
  errors: { code: number; message: string }[];
  errorsB: number[];
  done: boolean;
  bytes: number;
  sha256: string;
  firstOp?: number;
}

interface RawConfig {
  file: string;
  port?: number;
  options?: Record<string, string>;
  dupAcks?: number;
  wrongTid?: boolean;
  garbage?: number;
  storm?: number;
  stopAfter?: number;
  idleMs?: number;
  midWindowAck?: boolean;
  errorAfterOack?: number;
  rrqOnly?: boolean;
  /** Close the socket on receiving this block, without ACKing it. */
  closeAt?: number;
}

let lab: Lab;
let dir: string;
let files: PublishedFiles;
const hashes = new Map<string, string>();
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function raw(cfg: RawConfig): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const c = lab.spawn(lab.clientNs, process.execPath, ['--input-type=module', '-e', RAW_CLIENT, JSON.stringify({ server: lab.serverIp, port: 69, ...cfg })]);
    let out = '';
    let err = '';
    c.stdout?.on('data', (d) => (out += d));
    c.stderr?.on('data', (d) => (err += d));
    c.on('exit', () => {
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as RawResult);
      } catch {
        reject(new Error(`raw client failed: ${err || out}`));
      }
    });
  });
}

/** Which data path the test in progress runs on: a pump thread (src/tftp/offload) or node:dgram. */
let offload = true;

/** Each protocol test runs on both data paths: they must behave the same on the wire. */
function bothPaths(name: string, fn: () => Promise<void>): void {
  for (const [label, on] of [['pump thread', true], ['node:dgram', false]] as const) {
    test(`${name} [${label}]`, { skip: skip || (on && process.platform !== 'linux' ? 'decided: pump threads are Linux only' : undefined) }, async () => {
      offload = on;
      await fn();
    });
  }
}

/** The sockets this process holds open ("socket:[inode]"). */
function openSockets(): Set<string> {
  const out = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith('socket:')) out.add(target);
    } catch {
      /* the directory's own fd, closed by now */
    }
  }
  return out;
}

async function withServer(opts: Partial<TftpServerOptions>, fn: (s: TftpServer, events: WireEvent[]) => Promise<void>): Promise<void> {
  const before = openSockets();
  const events: WireEvent[] = [];
  const s = new TftpServer({ iface: lab.serverIf, ifaceAddress: lab.serverIp, files, emit: (e) => events.push(e), offload, ...opts });
  await s.start();
  try {
    await fn(s, events);
    const st = s.stats();
    assert.ok(st.transfersStarted > 0);
    assert.equal(st.transfersOffloaded, offload ? st.transfersStarted : 0, 'every transfer ran on the path under test');
  } finally {
    await s.stop();
  }
  // Every socket the server opened is closed once stop() is done: transfer sockets, the
  // wrong-TID ones, the ready ports (dgram closes on the next turn: a bounded wait).
  const left = () => [...openSockets()].filter((x) => !before.has(x));
  for (let i = 0; i < 50 && left().length > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(left(), [], 'sockets left open after stop()');
}

const transferEvents = (events: WireEvent[], file: string) => events.filter((e): e is TransferEvent => e.type === 'transfer' && e.file === file);

async function waitFor<T>(what: string, fn: () => T | undefined, ms = 15000): Promise<T> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const v = fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

before(() => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pxk-tftp-raw-'));
  files = new PublishedFiles();
  for (const [name, size] of Object.entries({ 'f10k.bin': 10_000, 'f100k.bin': 100_000, 'f25k.bin': 25_600 })) {
    const data = randomBytes(size);
    writeFileSync(join(dir, name), data);
    hashes.set(name, sha(data));
    files.add(diskFile(name, join(dir, name), 'image file'));
  }
  lab = Lab.create({ serverInRoot: true });
  lab.ip(lab.clientNs, ['addr', 'add', `${lab.subnet}.2/24`, 'dev', lab.clientIf]);
});

after(() => {
  if (skip) return;
  lab?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

bothPaths('duplicate ACKs never cause a resend (no Sorcerer\'s Apprentice), lockstep and windowed', async () => {
  await withServer({}, async (s) => {
    // 10000 bytes at 512 = 20 blocks; every ACK is sent three times.
    const r = await raw({ file: 'f10k.bin', dupAcks: 2 });
    assert.equal(r.sha256, hashes.get('f10k.bin'));
    assert.equal(r.blocks, 20);
    assert.equal(r.dataPackets, 20, `DATA per block: ${JSON.stringify(r.perBlock)}`);
    // windowsize 4, blksize 1024: 98 blocks, ACK of each window tripled.
    const w = await raw({ file: 'f100k.bin', dupAcks: 2, options: { blksize: '1024', windowsize: '4' } });
    assert.deepEqual(w.oack, { blksize: '1024', windowsize: '4' });
    assert.equal(w.sha256, hashes.get('f100k.bin'));
    assert.equal(w.dataPackets, w.blocks, `DATA per block: ${JSON.stringify(w.perBlock)}`);
    assert.equal(s.stats().retransmits, 0);
    assert.ok(s.stats().ignoredAcks >= 40, `ignored ${s.stats().ignoredAcks}`);
  });
});

bothPaths('a packet from a wrong TID gets error 5 and the transfer still completes', async () => {
  await withServer({}, async (s) => {
    const r = await raw({ file: 'f100k.bin', wrongTid: true, options: { blksize: '1468' } });
    assert.deepEqual(r.errorsB, [5]);
    assert.equal(r.sha256, hashes.get('f100k.bin'));
    assert.equal(s.stats().wrongTid, 1);
    // The client is done once it sent the last ACK; the server counts the transfer when that ACK lands.
    await waitFor('the transfer counted done', () => (s.stats().transfersDone >= 1 ? true : undefined));
    assert.equal(s.stats().transfersDone, 1);
  });
});

bothPaths('a client that stops ACKing: bounded retransmissions, then a timeout error event', async () => {
  await withServer({ retries: 3, timeoutMs: 200 }, async (s, events) => {
    // ACKs blocks 1 and 2, then goes silent: block 3 is sent once plus 3 retries.
    const r = await raw({ file: 'f10k.bin', stopAfter: 2, idleMs: 2500 });
    assert.equal(r.perBlock['3'], 4, JSON.stringify(r.perBlock));
    assert.equal(r.perBlock['4'], undefined);
    const err = await waitFor('the timeout event', () => transferEvents(events, 'f10k.bin').find((e) => e.phase === 'error'));
    assert.equal(err.errorCode, 'timeout');
    assert.match(err.error ?? '', /stopped acknowledging at block 3/);
    assert.equal(err.bytes, 1024);
    assert.equal(s.stats().transfersFailed, 1);
    assert.equal(s.stats().activeTransfers, 0);
  });
});

bothPaths('a client that closes its port mid-transfer: the ICMP error ends the transfer, no timeout', async () => {
  // Block 5 is resent once on the timer and draws the client's ICMP port unreachable.
  // Only that socket error (ECONNREFUSED) ends the transfer as 'io' after one resend;
  // missed, it would end as 'timeout' after three. On the pump thread the kernel reports
  // the error once, to whichever recv comes first, and a transfer's first 128 rounds poll
  // (ack-spin.ts): this fails when the polling loop drops the error (checked).
  await withServer({ retries: 3, timeoutMs: 400 }, async (s, events) => {
    await raw({ file: 'f100k.bin', closeAt: 5 });
    const err = await waitFor('the error event', () => transferEvents(events, 'f100k.bin').find((e) => e.phase === 'error'));
    assert.equal(err.errorCode, 'io', err.error);
    assert.match(err.error ?? '', /ECONNREFUSED/);
    assert.equal(s.stats().retransmits, 1);
    assert.equal(s.stats().transfersFailed, 1);
  });
});

bothPaths('an ACK in the middle of a window rolls back to the block after it (RFC 7440)', async () => {
  await withServer({}, async () => {
    // 25600 bytes at 512 = 51 blocks (50 full + an empty last one), windowsize 8.
    const r = await raw({ file: 'f25k.bin', midWindowAck: true, options: { windowsize: '8' } });
    assert.equal(r.sha256, hashes.get('f25k.bin'));
    assert.equal(r.blocks, 51);
    // Blocks 3..8 of the first window arrived once before the rollback and once after.
    assert.equal(r.perBlock['3'], 2, JSON.stringify(r.perBlock));
    assert.equal(r.dataPackets, 51 + 6);
  });
});

bothPaths('a tsize probe (OACK, then the client aborts) is reported as aborted/tsize-probe, not a failure', async () => {
  await withServer({}, async (s, events) => {
    const r = await raw({ file: 'f100k.bin', options: { tsize: '0', blksize: '1468' }, errorAfterOack: 8 });
    assert.equal(r.oack?.tsize, '100000');
    const err = await waitFor('the probe event', () => transferEvents(events, 'f100k.bin').find((e) => e.phase === 'error'));
    assert.equal(err.errorCode, 'aborted');
    assert.equal(err.detail, 'tsize-probe');
    assert.equal(s.stats().transfersFailed, 0);
    assert.equal(s.stats().activeTransfers, 0);
  });
});

bothPaths('too many transfers: error 3 (busy) and a log event saying why', async () => {
  await withServer({ maxTransfers: 1, timeoutMs: 300, retries: 2 }, async (s, events) => {
    const hold = raw({ file: 'f10k.bin', stopAfter: 0, idleMs: 1500 });
    await waitFor('the first transfer', () => (s.stats().activeTransfers === 1 ? true : undefined));
    const r = await raw({ file: 'f10k.bin', rrqOnly: true });
    assert.equal(r.errors[0]?.code, 3);
    assert.ok(events.some((e): e is LogEvent => e.type === 'log' && e.level === 'warn' && /busy/.test(e.message)));
    assert.equal(s.stats().refused, 1);
    await hold;
  });
});

bothPaths('a malformed-packet storm to port 69 and to a transfer port is dropped and counted; service continues', async () => {
  await withServer({}, async (s, events) => {
    const storm = await raw({ file: 'f100k.bin', storm: 300, garbage: 50, options: { blksize: '1468' } });
    assert.equal(storm.sha256, hashes.get('f100k.bin'), 'the transfer under fire completed');
    assert.equal(storm.errorsB.length, 50, 'every wrong-TID packet got error 5');
    const st = s.stats();
    // 300 to port 69, 50 from the right TID to the transfer port.
    assert.ok(st.dropped >= 350, JSON.stringify(st));
    assert.ok((st.droppedByReason['truncated'] ?? 0) > 0);
    assert.ok((st.droppedByReason['unknown-opcode'] ?? 0) > 0);
    assert.ok((st.droppedByReason['unterminated-string'] ?? 0) > 0);
    assert.ok(events.some((e) => e.type === 'drop'));
    const after = await raw({ file: 'f10k.bin' });
    assert.equal(after.sha256, hashes.get('f10k.bin'));
    await waitFor('both transfers counted done', () => (s.stats().transfersDone >= 2 ? true : undefined));
    assert.equal(s.stats().transfersDone, 2);
  });
});

test('a transfer socket opened ahead keeps nothing a stranger sent before it was connected to its client', { skip: skip || (process.platform !== 'linux' ? 'decided: the socket calls under test are Linux only' : undefined) }, async () => {
  const { openPortFd, connectFd, closeFd } = await import('../../src/net/sockopt-linux.js');
  const { libcIo, nativeBuffer, EAGAIN } = await import('../../src/net/libc-io.js');
  const io = libcIo();
  const buf = nativeBuffer(64);
  // From the client namespace: one datagram from a stranger port, then (once we are connected) one from the client's.
  const send = (fromPort: number, port: number, text: string) =>
    new Promise<void>((resolve, reject) => {
      const py = `import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('', ${fromPort})); s.sendto(b'${text}', ('${lab.serverIp}', ${port}))`;
      const c = lab.spawn(lab.clientNs, 'python3', ['-c', py]);
      c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`python3 exited ${code}`))));
    });
  const recvText = async (): Promise<string | undefined> => {
    for (let i = 0; i < 100; i++) {
      const n = io.recv(fd, buf.addr, 64);
      if (n >= 0) return buf.buf.subarray(0, n).toString();
      assert.equal(io.errno(), EAGAIN);
      await new Promise((r) => setTimeout(r, 10));
    }
    return undefined;
  };
  const { fd, port } = openPortFd(lab.serverIf, lab.serverIp);
  try {
    await send(40001, port, 'stranger');
    await new Promise((r) => setTimeout(r, 100)); // queued by now (veth delivery is immediate)
    connectFd(fd, `${lab.subnet}.2`, 40002);
    assert.equal(io.recv(fd, buf.addr, 64), -1, 'the stranger datagram was still queued after connect');
    await send(40002, port, 'client');
    assert.equal(await recvText(), 'client');
  } finally {
    closeFd(fd);
    buf.free();
  }
});
