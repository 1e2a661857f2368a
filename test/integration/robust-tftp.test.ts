// TFTP under hostile conditions, in a private lab: 5% loss plus reordering (netem on the
// lab's own veth, both directions) with real clients; 1,000 bogus requests and a flood
// of requests that are never acknowledged. Assertions are on bytes, caps and counters,
// never on wall-clock time.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, requireRoot } from '../helpers/lab.js';
import { TftpServer } from '../../src/tftp/server.js';
import { PublishedFiles, diskFile } from '../../src/files/published.js';
import type { LogEvent, WireEvent } from '../../src/sessions/events.js';

const skip = requireRoot();
let lab: Lab;
let dir: string;
let files: PublishedFiles;
const data = new Map<string, Buffer>();
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function run(cmd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const c = lab.spawn(lab.clientNs, cmd, args);
    let out = '';
    c.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    c.on('error', reject);
    c.on('close', (code) => resolve({ code, out }));
  });
}

before(() => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pxk-robust-tftp-'));
  files = new PublishedFiles();
  for (const [name, size] of [['lossy-64k.bin', 64 * 1024 + 7], ['lossy-300k.bin', 300 * 1024 + 11], ['flood.bin', 2 * 1024 * 1024]] as const) {
    const b = randomBytes(size);
    writeFileSync(join(dir, name), b);
    data.set(name, b);
    files.add(diskFile(name, join(dir, name), 'image file'));
  }
  lab = Lab.create({ serverInRoot: true });
  lab.ip(lab.clientNs, ['addr', 'add', `${lab.subnet}.2/24`, 'dev', lab.clientIf]);
});

after(() => {
  lab?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function withServer(opts: Partial<ConstructorParameters<typeof TftpServer>[0]>, fn: (s: TftpServer, events: WireEvent[]) => Promise<void>): Promise<void> {
  const events: WireEvent[] = [];
  const s = new TftpServer({ iface: lab.serverIf, ifaceAddress: lab.serverIp, files, emit: (e) => events.push(e), ...opts });
  await s.start();
  try {
    await fn(s, events);
  } finally {
    await s.stop();
  }
}

/**
 * Loss and reordering between a real client and the server. This machine's kernel has no
 * netem (sch_netem), so a relay in the client namespace does it: the client talks to
 * 127.0.0.1:69 there, the relay forwards to the server and back (keeping the server's
 * transfer port as the TID the client sees, on loopback), drops 5% of packets each way and
 * holds back 15% until the next packet has passed (reordering). Seeded: the run is repeatable.
 */
const RELAY = String.raw`
import dgram from 'node:dgram';
const cfg = JSON.parse(process.argv[1]);
let seed = cfg.seed >>> 0 || 1;
const rnd = () => { seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0; return (seed % 100000) / 100000; };
const stats = { forwarded: 0, dropped: 0, reordered: 0 };
function impaired(send) {
  let held = null;
  return (buf) => {
    if (rnd() < cfg.loss) { stats.dropped++; return; }
    if (held === null && rnd() < cfg.reorder) {
      held = buf; stats.reordered++;
      setTimeout(() => { if (held === buf) { held = null; send(buf); } }, 30);
      return;
    }
    send(buf); stats.forwarded++;
    if (held) { const h = held; held = null; send(h); }
  };
}
const bind = (port, address) => new Promise((res, rej) => { const s = dgram.createSocket('udp4'); s.once('error', rej); s.bind(port, address, () => res(s)); });
const front = await bind(69, '127.0.0.1');
const sessions = new Map();
front.on('message', async (buf, rinfo) => {
  let s = sessions.get(rinfo.port);
  if (!s) {
    s = { cport: rinfo.port, up: await bind(0, cfg.local), serverPort: 69, back: null };
    sessions.set(rinfo.port, s);
    s.toServer = impaired((b) => s.up.send(b, s.serverPort, cfg.server));
    s.toClient = impaired((b) => (s.back ?? front).send(b, s.cport, '127.0.0.1'));
    s.up.on('message', async (b, r) => {
      if (s.serverPort === 69 && r.port !== 69) {
        s.serverPort = r.port;
        try {
          s.back = await bind(r.port, '127.0.0.1');
          s.back.on('message', (m) => s.toServer(m));
        } catch { /* port taken on loopback: answer from port 69 (the client will see a wrong TID) */ }
      }
      s.toClient(b);
    });
  }
  s.toServer(buf);
});
process.on('SIGTERM', () => { console.log(JSON.stringify(stats)); process.exit(0); });
console.log('ready');
`;

async function withRelay(fn: () => Promise<void>): Promise<{ forwarded: number; dropped: number; reordered: number }> {
  const relay = lab.spawn(lab.clientNs, process.execPath, ['--input-type=module', '-e', RELAY, JSON.stringify({ server: lab.serverIp, local: `${lab.subnet}.2`, loss: 0.05, reorder: 0.15, seed: 4242 })]);
  let out = '';
  relay.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  relay.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  for (let i = 0; i < 100 && !out.includes('ready'); i++) await new Promise((r) => setTimeout(r, 50));
  assert.match(out, /ready/, `relay did not start: ${out}`);
  try {
    await fn();
  } finally {
    const exited = new Promise((r) => relay.once('exit', r));
    relay.kill('SIGTERM');
    await exited;
  }
  return JSON.parse(out.trim().split('\n').pop()!) as { forwarded: number; dropped: number; reordered: number };
}

test('5% loss + reordering: tftp-hpa (lockstep) and atftp (blksize 1468, windowsize 8) get byte-identical files', { skip }, async () => {
  // A short retransmission timeout keeps the test quick; the retry budget is what firmware uses.
  await withServer({ timeoutMs: 200, retries: 8 }, async (s) => {
    const impairment = await withRelay(async () => {
      for (let i = 0; i < 2; i++) {
        const local = join(dir, `hpa-${i}.bin`);
        const r = await run('tftp', ['-m', 'binary', '127.0.0.1', '-c', 'get', 'lossy-64k.bin', local]);
        assert.equal(r.code, 0, r.out);
        assert.equal(sha(readFileSync(local)), sha(data.get('lossy-64k.bin')!), 'tftp-hpa copy is byte-identical');
      }
      const local = join(dir, 'atftp.bin');
      const r = await run('atftp', ['--get', '-r', 'lossy-300k.bin', '-l', local, '--option', 'blksize 1468', '--option', 'windowsize 8', '127.0.0.1']);
      assert.equal(r.code, 0, r.out);
      assert.equal(sha(readFileSync(local)), sha(data.get('lossy-300k.bin')!), 'atftp windowed copy is byte-identical');
    });
    // The impairment really happened, and the server recovered by retransmitting.
    assert.ok(impairment.dropped > 5 && impairment.reordered > 10, `impairment applied: ${JSON.stringify(impairment)}`);
    assert.ok(s.stats().retransmits > 0, `expected retransmissions: ${JSON.stringify(s.stats())}`);
  });
});

/** A raw client in the lab's client namespace that fires RRQs and never answers. */
const FLOOD = String.raw`
import dgram from 'node:dgram';
const cfg = JSON.parse(process.argv[1]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const socks = [];
for (let i = 0; i < cfg.ports; i++) socks.push(await new Promise((res) => { const s = dgram.createSocket('udp4'); s.on('message', () => {}); s.bind(0, () => res(s)); }));
const rrq = (name, mode) => Buffer.concat([Buffer.from([0, 1]), Buffer.from(name + '\0' + mode + '\0', 'latin1')]);
const bogus = (i) => {
  switch (i % 6) {
    case 0: return rrq('no/such/file-' + i + '.efi', 'octet');
    case 1: return rrq('../../etc/passwd', 'octet');
    case 2: return rrq('/etc/shadow', 'octet');
    case 3: return rrq('flood.bin', 'mail');
    case 4: return rrq('..\\..\\boot.ini', 'netascii');
    default: return rrq('%2e%2e/%2e%2e/x' + i, 'octet');
  }
};
for (let i = 0; i < cfg.bogus; i++) {
  socks[i % socks.length].send(bogus(i), 69, cfg.server);
  if (i % 10 === 9) await sleep(2);
}
// The flood: valid requests for a real file from many ports, never acknowledged.
for (let i = 0; i < cfg.valid; i++) {
  socks[i % socks.length].send(rrq('flood.bin', 'octet'), 69, cfg.server);
  if (i % 10 === 9) await sleep(2);
}
await sleep(200);
for (const s of socks) s.close();
console.log('sent');
`;

test('1,000 bogus RRQs and a flood of never-acknowledged RRQs: transfers capped, state released, events bounded, a clear log line', { skip }, async () => {
  const maxTransfers = 40;
  await withServer({ maxTransfers, maxPerClient: 1000, timeoutMs: 150, retries: 2 }, async (s, events) => {
    let peakActive = 0;
    let peakTracked = 0;
    const sampler = setInterval(() => {
      const st = s.stats();
      peakActive = Math.max(peakActive, st.activeTransfers + st.pendingTransfers);
      peakTracked = Math.max(peakTracked, st.trackedPeers);
    }, 5);
    try {
      const r = await run(process.execPath, ['--input-type=module', '-e', FLOOD, JSON.stringify({ server: lab.serverIp, ports: 250, bogus: 1000, valid: 500 })]);
      assert.match(r.out, /sent/, r.out);
      // Every flood transfer times out (nobody ACKs): wait until all state is released.
      for (let i = 0; i < 400 && s.stats().activeTransfers + s.stats().pendingTransfers > 0; i++) await new Promise((res) => setTimeout(res, 50));
    } finally {
      clearInterval(sampler);
    }
    const st = s.stats();
    assert.ok(peakActive <= maxTransfers, `transfers never exceed the cap: peak ${peakActive} > ${maxTransfers}`);
    assert.ok(peakTracked <= maxTransfers, `per-peer state bounded by the cap: ${peakTracked}`);
    assert.equal(st.activeTransfers, 0, 'every flood transfer ended');
    assert.equal(st.trackedPeers, 0, 'per-peer state released');
    assert.equal(st.trackedClients, 0, 'per-client state released');
    // (A few may be lost in the kernel's receive queue under the flood; nearly all must be counted.)
    assert.ok(st.requests >= 1200, `requests counted: ${JSON.stringify(st)}`);
    assert.ok(st.notFound + st.accessViolations >= 500, `bogus requests refused and counted: ${JSON.stringify(st)}`);
    assert.ok(st.refused > 0, 'the flood hit the cap: some requests refused as busy');
    assert.ok(st.transfersFailed > 0 && st.transfersFailed <= 500, 'flood transfers timed out one by one');
    // Events are rate-limited: far fewer than the 1,500 requests, and one line says so.
    const refusals = events.filter((e) => e.type === 'transfer' && e.phase === 'error' && e.bytes === 0 && (e.errorCode === 'not-found' || e.errorCode === 'access-violation'));
    assert.ok(refusals.length < 1000, `refusal events bounded: ${refusals.length}`);
    const logs = events.filter((e): e is LogEvent => e.type === 'log' && e.level === 'warn');
    assert.ok(logs.some((l) => /busy/.test(l.message) && new RegExp(`limit ${maxTransfers}`).test(l.message)), 'a log line names the cap');
    // The server still serves a normal client afterwards.
    const local = join(dir, 'after-flood.bin');
    const ok = await run('tftp', ['-m', 'binary', lab.serverIp, '-c', 'get', 'lossy-64k.bin', local]);
    assert.equal(ok.code, 0, ok.out);
    assert.equal(sha(readFileSync(local)), sha(data.get('lossy-64k.bin')!));
  });
});
