// The TFTP server against real clients (tftp-hpa, atftp, curl) in a private lab:
// byte-identical downloads at several sizes and options, block-number rollover,
// refusals (missing files, escapes, uploads), many clients at once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, requireRoot } from '../helpers/lab.js';
import { TftpServer } from '../../src/tftp/server.js';
import { PublishedFiles, bufferFile, diskFile } from '../../src/files/published.js';
import type { TransferEvent, WireEvent } from '../../src/sessions/events.js';

const skip = requireRoot();
const SIZES: Record<string, number> = {
  'empty.bin': 0,
  'one.bin': 1,
  'b511.bin': 511,
  'b512.bin': 512,
  'b1024.bin': 1024,
  'b4404.bin': 1468 * 3, // exact multiple of blksize 1468
  'b100k.bin': 100_000,
  'boot/nested.bin': 70_001,
  'b300k.bin': 300_001, // several segments (128 KiB read at once), a short last one
  'mem/b300k.bin': 300_001, // held in memory (bufferFile), not read from disk
};
const BIG = 'big33m.bin'; // > 32 MiB: block numbers wrap past 65535 at 512-byte blocks
const BIG_SIZE = 33 * 1024 * 1024 + 77;

let lab: Lab;
let server: TftpServer;
let dir: string;
let out: string;
const events: WireEvent[] = [];
const hashes = new Map<string, string>();

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function run(cmd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const c = lab.spawn(lab.clientNs, cmd, args);
    let text = '';
    c.stdout?.on('data', (d) => (text += d));
    c.stderr?.on('data', (d) => (text += d));
    c.on('exit', (code) => resolve({ code, out: text }));
  });
}

function outFile(tag: string): string {
  return join(out, tag.replace(/[^A-Za-z0-9.]/g, '_'));
}

function assertSame(name: string, local: string, output: string): void {
  assert.ok(existsSync(local), `${name}: no output file (${output})`);
  assert.equal(sha(readFileSync(local)), hashes.get(name), `${name}: content differs (${output})`);
}

/** Waits (at most 5 s) for `check` to hold; the assertions after it say what was missing. */
async function settled(check: () => boolean): Promise<void> {
  for (let i = 0; i < 250 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
}

function transfers(file: string): TransferEvent[] {
  return events.filter((e): e is TransferEvent => e.type === 'transfer' && e.file === file);
}

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pxk-tftp-'));
  out = join(dir, 'out');
  mkdirSync(out);
  mkdirSync(join(dir, 'pub', 'boot'), { recursive: true });
  const files = new PublishedFiles();
  for (const [name, size] of Object.entries({ ...SIZES, [BIG]: BIG_SIZE })) {
    const data = randomBytes(size);
    hashes.set(name, sha(data));
    if (name.startsWith('mem/')) {
      files.add(bufferFile(name, data, 'image file'));
      continue;
    }
    writeFileSync(join(dir, 'pub', name), data);
    files.add(diskFile(name, join(dir, 'pub', name), 'image file'));
  }
  lab = Lab.create({ serverInRoot: true });
  lab.ip(lab.clientNs, ['addr', 'add', `${lab.subnet}.2/24`, 'dev', lab.clientIf]);
  server = new TftpServer({ iface: lab.serverIf, ifaceAddress: lab.serverIp, files, emit: (e) => events.push(e) });
  await server.start();
});

after(async () => {
  if (skip) return;
  await server?.stop();
  lab?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

test('tftp-hpa client: every size byte-identical (lockstep, 512-byte blocks)', { skip }, async () => {
  for (const name of Object.keys(SIZES)) {
    const local = outFile(`hpa-${name}`);
    const r = await run('tftp', ['-m', 'binary', lab.serverIp, '-c', 'get', name, local]);
    assertSame(name, local, r.out);
  }
  const local = outFile('hpa-verbose');
  const r = await run('tftp', ['-v', '-m', 'binary', lab.serverIp, '-c', 'get', 'b100k.bin', local]);
  assert.match(r.out, /Received 100000 bytes/);
  assertSame('b100k.bin', local, r.out);
});

test('tftp-hpa client: > 32 MiB file at 512-byte blocks (block number rollover)', { skip }, async () => {
  const local = outFile('hpa-big');
  const r = await run('tftp', ['-m', 'binary', lab.serverIp, '-c', 'get', BIG, local]);
  assertSame(BIG, local, r.out);
  // The client exits once it sent its last ACK; the done event follows when that ACK lands.
  await settled(() => transfers(BIG).some((e) => e.phase === 'done'));
  const done = transfers(BIG).find((e) => e.phase === 'done');
  assert.ok(done, 'a done event for the big file');
  assert.equal(done.bytes, BIG_SIZE);
  rmSync(local);
});

test('atftp client: blksize 1468 + windowsize 16 + tsize, every size byte-identical', { skip }, async () => {
  for (const name of Object.keys(SIZES)) {
    const local = outFile(`atftp-${name}`);
    const r = await run('atftp', ['--get', '-r', name, '-l', local, '--option', 'blksize 1468', '--option', 'windowsize 16', '--option', 'tsize enable', lab.serverIp]);
    assert.equal(r.code, 0, r.out);
    assertSame(name, local, r.out);
  }
  const start = transfers('b100k.bin').filter((e) => e.phase === 'start').pop();
  assert.match(start?.detail ?? '', /blksize=1468 windowsize=16/);
});

test('atftp client: > 32 MiB at 512-byte blocks with windowsize 8 (rollover inside windows)', { skip }, async () => {
  const local = outFile('atftp-big');
  const r = await run('atftp', ['--get', '-r', BIG, '-l', local, '--option', 'windowsize 8', lab.serverIp]);
  assert.equal(r.code, 0, r.out);
  assertSame(BIG, local, r.out);
  rmSync(local);
});

test('atftp client: blksize larger than the MTU allows is clamped, still byte-identical', { skip }, async () => {
  const local = outFile('atftp-bigblk');
  const r = await run('atftp', ['--get', '-r', 'b100k.bin', '-l', local, '--option', 'blksize 9000', lab.serverIp]);
  assert.equal(r.code, 0, r.out);
  assertSame('b100k.bin', local, r.out);
  const start = transfers('b100k.bin').filter((e) => e.phase === 'start').pop();
  assert.match(start?.detail ?? '', /blksize=1468 /);
});

test('curl: --tftp-blksize 1468 and default, every size byte-identical', { skip }, async () => {
  for (const name of Object.keys(SIZES)) {
    for (const blk of [['--tftp-blksize', '1468'], []]) {
      const local = outFile(`curl${blk.length}-${name}`);
      const r = await run('curl', ['-sS', ...blk, `tftp://${lab.serverIp}/${name}`, '-o', local]);
      assert.equal(r.code, 0, r.out);
      assertSame(name, local, r.out);
    }
  }
});

test('missing file: the client gets error 1 and an error event names the file', { skip }, async () => {
  const r = await run('tftp', ['-m', 'binary', lab.serverIp, '-c', 'get', 'no/such-file.efi', outFile('missing')]);
  assert.match(r.out, /Error code 1: File not found/);
  const ev = transfers('no/such-file.efi');
  assert.equal(ev.length, 1);
  assert.equal(ev[0].phase, 'error');
  assert.equal(ev[0].errorCode, 'not-found');
  const c = await run('curl', ['-sS', `tftp://${lab.serverIp}/nothing-here`, '-o', outFile('missing2')]);
  // 68 = CURLE_TFTP_NOTFOUND (curl 7.88 prints a misleading getpeername() message with it).
  assert.equal(c.code, 68, c.out);
});

test('escape attempts are refused with error 1 or 2 and never read outside', { skip }, async () => {
  const attempts = ['../etc/passwd', '/etc/passwd', '..\\..\\etc\\passwd', '%2e%2e/etc/passwd', 'b512.bin/..', 'boot/../../etc/passwd', '....//etc/passwd'];
  for (const name of attempts) {
    const local = outFile(`escape-${name}`);
    const r = await run('tftp', ['-m', 'binary', lab.serverIp, '-c', 'get', name, local]);
    assert.match(r.out, /Error code [12]:/, `${name}: ${r.out}`);
    const got = existsSync(local) ? readFileSync(local, 'utf8') : '';
    assert.equal(got.includes('root:'), false, `${name} leaked /etc/passwd`);
    const ev = transfers(name);
    assert.equal(ev.some((e) => e.phase === 'start'), false, `${name} started a transfer`);
    assert.ok(ev.some((e) => e.phase === 'error' && (e.errorCode === 'access-violation' || e.errorCode === 'not-found')), name);
  }
  // A published name given with a leading "/" or Windows separators is fine.
  for (const name of ['/b512.bin', '\\boot\\nested.bin']) {
    const local = outFile(`alias-${name}`);
    const r = await run('tftp', ['-m', 'binary', lab.serverIp, '-c', 'get', name, local]);
    assertSame(name.includes('nested') ? 'boot/nested.bin' : 'b512.bin', local, r.out);
  }
});

test('uploads are refused with error 2 (read-only)', { skip }, async () => {
  const src = join(dir, 'upload.txt');
  writeFileSync(src, 'hello');
  const r = await run('tftp', ['-m', 'binary', lab.serverIp, '-c', 'put', src, 'upload.txt']);
  assert.match(r.out, /Error code 2:/);
  assert.ok(server.stats().accessViolations >= 1);
});

test('20 curl clients at once all get byte-identical files', { skip }, async () => {
  const before = server.stats().transfersDone;
  const jobs = Array.from({ length: 20 }, (_, i) => {
    const name = i % 2 ? 'b100k.bin' : 'boot/nested.bin';
    const local = outFile(`par-${i}`);
    return run('curl', ['-sS', '--tftp-blksize', i % 3 ? '1468' : '512', `tftp://${lab.serverIp}/${name}`, '-o', local]).then((r) => ({ r, name, local }));
  });
  for (const { r, name, local } of await Promise.all(jobs)) {
    assert.equal(r.code, 0, r.out);
    assertSame(name, local, r.out);
  }
  // A client exits once it has sent its last ACK; the server counts the transfer done when that
  // ACK reaches it (on a pump thread, then a message to this thread): let the last ones land.
  await settled(() => server.stats().transfersDone - before >= 20 && server.stats().activeTransfers === 0);
  assert.equal(server.stats().transfersDone - before, 20);
  assert.equal(server.stats().activeTransfers, 0);
  // On Linux these real clients were served by the pump threads (src/tftp/offload), not node:dgram.
  if (process.platform === 'linux') assert.equal(server.stats().transfersOffloaded, server.stats().transfersStarted);
});
