// A WinPE-shaped ISO (UDF + Joliet, as Windows media are mastered; synthetic contents) is
// detected as WinPE, and every file its script names is served byte-identical from inside
// the ISO over HTTP, whole and by Range, to real curl in a lab namespace.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, requireRoot } from '../helpers/lab.js';
import { buildIso, patternBytes, writeTree } from '../helpers/iso-build.js';
import { HttpFileServer } from '../../src/http/server.js';
import { wimbootStandin } from '../helpers/wimboot-standin.js';
import { PublishedFiles } from '../../src/files/published.js';
import { publishTreeImage, type PublishedTreeImage } from '../../src/images/publish-iso.js';
import type { WireEvent } from '../../src/sessions/events.js';

const skip = requireRoot();
let lab: Lab;
let server: HttpFileServer;
let dir: string;
let image: PublishedTreeImage;
const files = new PublishedFiles();
const events: WireEvent[] = [];
const TREE: Record<string, Buffer> = {
  bootmgr: patternBytes(409_601, 11),
  'Boot/BCD': patternBytes(262_144, 12),
  'Boot/boot.sdi': patternBytes(3_170_304, 13),
  'sources/boot.wim': patternBytes(5 * 1024 * 1024 + 4097, 14),
  'efi/boot/bootx64.efi': patternBytes(1_500_000, 15),
  'sources/lang.ini': Buffer.from('[Available UI Languages]\r\nen-US = 3\r\n'),
};
let WIMBOOT: Buffer; // the stand-in (a given wimboot must be wimboot: src/images/wimboot.ts)
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function curl(args: string[]): Promise<{ code: number | null; out: Buffer; err: string }> {
  return new Promise((resolve, reject) => {
    const child = lab.spawn(lab.clientNs, 'curl', ['-s', '--noproxy', '*', ...args]);
    const chunks: Buffer[] = [];
    let err = '';
    child.stdout?.on('data', (c: Buffer) => chunks.push(c));
    child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out: Buffer.concat(chunks), err }));
  });
}

/** GET with -D -: status, headers, body. */
async function get(url: string, range?: string) {
  // --path-as-is: send "../" as written (curl would resolve it itself).
  const r = await curl(['-D', '-', '--path-as-is', ...(range ? ['-H', `Range: bytes=${range}`] : []), url]);
  const i = r.out.indexOf('\r\n\r\n');
  assert.ok(i > 0, `response from ${url}: ${r.err}`);
  const head = r.out.subarray(0, i).toString('latin1');
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), head, body: r.out.subarray(i + 4) };
}

before(async () => {
  if (skip) return;
  lab = Lab.create({ serverInRoot: true });
  lab.ip(lab.clientNs, ['addr', 'add', `${lab.subnet}.2/24`, 'dev', lab.clientIf]);
  dir = mkdtempSync(join(tmpdir(), 'pxk-winpe-'));
  writeTree(join(dir, 'src'), TREE);
  buildIso(join(dir, 'src'), join(dir, 'winpe.iso'), { tool: 'genisoimage', udf: true, joliet: true, volumeId: 'CCCOMA_X64FRE' });
  WIMBOOT = readFileSync(wimbootStandin(dir));
  server = new HttpFileServer({ address: lab.serverIp, port: 0, files, emit: (e) => events.push(e) });
  await server.start();
  image = await publishTreeImage(files, join(dir, 'winpe.iso'), { id: 'winpe', serverIp: lab.serverIp, httpPort: server.port, helpers: { wimboot: join(dir, 'wimboot'), noSearch: true } });
});

after(async () => {
  await image?.unpublish();
  await server?.stop();
  lab?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('detected as WinPE, read from the UDF tree, booted with wimboot', { skip }, () => {
  const plan = image.opened.plan;
  assert.equal(plan.recipe, 'winpe');
  assert.equal(plan.os, 'Windows PE');
  assert.deepEqual(plan.bootModes, ['bios', 'uefi']);
  assert.deepEqual(plan.files.map((f) => f.path), ['bootmgr', 'efi/boot/bootx64.efi', 'Boot/BCD', 'Boot/boot.sdi', 'sources/boot.wim']);
});

test('every URL the script names is served byte-identical, whole and by ranges, from inside the ISO', { skip }, async () => {
  const script = image.script();
  const urls = [...script.matchAll(/^(?:kernel|initrd(?: --name \S+)?) (http:\/\/\S+)/gm)].map((m) => m[1]);
  assert.equal(urls.length, 6, `wimboot + 5 files in:\n${script}`);
  const base = `http://${lab.serverIp}:${server.port}/`;
  for (const url of urls) {
    assert.ok(url.startsWith(base), url);
    const rel = decodeURIComponent(url.slice(base.length));
    const want = rel === 'helpers/winpe/wimboot' ? WIMBOOT : TREE[rel.replace(/^iso\/winpe\//, '')];
    assert.ok(want, `script names ${rel}, which is not one of the ISO's files`);
    const whole = await get(url);
    assert.equal(whole.status, 200, url);
    assert.match(whole.head, new RegExp(`content-length: ${want.length}\\r?$`, 'im'));
    assert.equal(sha(whole.body), sha(want), `${rel}: whole body differs`);
    const n = want.length;
    const ranges: Array<[string, number, number]> = [
      ['0-0', 0, 0],
      [`1000-${Math.min(n - 1, 70_000)}`, 1000, Math.min(n - 1, 70_000)],
      [`${n - 2049}-`, n - 2049, n - 1],
      ['-777', n - 777, n - 1],
      [`${Math.floor(n / 2)}-${n + 5000}`, Math.floor(n / 2), n - 1],
    ];
    for (const [spec, from, to] of ranges) {
      const r = await get(url, spec);
      assert.equal(r.status, 206, `${rel} ${spec}`);
      assert.match(r.head, new RegExp(`content-range: bytes ${from}-${to}/${n}\\r?$`, 'im'), `${rel} ${spec}`);
      assert.ok(r.body.equals(want.subarray(from, to + 1)), `${rel} range ${spec} differs`);
    }
    const bad = await get(url, `${n + 10}-`);
    assert.equal(bad.status, 416, `${rel}: a range past the end`);
  }
});

test('the ISO itself is served with ranges (sanboot), case-insensitive paths work, nothing outside the image is', { skip }, async () => {
  const iso = (await import('node:fs')).readFileSync(join(dir, 'winpe.iso'));
  const base = `http://${lab.serverIp}:${server.port}`;
  const r = await get(`${base}/iso/winpe.iso`, '32768-34815');
  assert.equal(r.status, 206);
  assert.ok(r.body.equals(iso.subarray(32768, 34816)));
  const lower = await get(`${base}/iso/winpe/boot/bcd`);
  assert.equal(lower.status, 200);
  assert.equal(sha(lower.body), sha(TREE['Boot/BCD']));
  for (const p of ['/iso/winpe/../winpe.iso', '/iso/winpe/', '/iso/winpe/sources', '/iso/winpe/%2e%2e/winpe.iso', '/iso/winpe/nothere']) {
    const x = await get(`${base}${p}`);
    assert.ok(x.status === 404 || x.status === 400, `${p} -> ${x.status}`);
  }
  // Transfers carry the roles the recipe gave (the sessions view keys on them).
  const done = events.filter((e) => e.type === 'transfer' && e.phase === 'done' && e.file.includes('boot.wim'));
  assert.ok(done.length > 0);
});
