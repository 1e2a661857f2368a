// `pxekit serve DIR` on a netboot tree, in a namespace lab with real peers: udhcpc plays the PXE
// firmware (a lease from PXE Kit, the tree's own loader as its boot file), then tftp-hpa, atftp
// and curl fetch from the tree as that machine's root. Also: names that lead out of the tree, a
// Windows-style tree asked for in another case with backslashes, a folder with no loader, and a
// .tar.gz of a tree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, requireRoot } from '../helpers/lab.js';
import { CLI, EngineProcess } from '../helpers/engine-process.js';
import { runUdhcpc } from '../helpers/udhcpc.js';
import { macOfLink } from '../helpers/dhcp-lab.js';
import { ImageLibrary } from '../../src/images/library.js';
import { writeKernelStub } from '../helpers/fake-kernel.js';
import { packTar, PXELINUX_0, pxelinuxTree, type NetbootTree } from '../helpers/netboot-trees.js';
import type { BootFixtures } from '../../src/lab/fixtures.js';

const skip = requireRoot();
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const HTTP_PORT = '8089';
const BIOS_PXE = { vendorClass: 'PXEClient:Arch:00000:UNDI:002001', arch: 0 };

function fixtures(dir: string): BootFixtures {
  const fxDir = join(dir, 'fx');
  mkdirSync(fxDir, { recursive: true });
  const initrd = join(fxDir, 'initrd.img');
  writeFileSync(initrd, Buffer.from(`070701 initramfs ${'i'.repeat(50_000)}`));
  return { kernel: writeKernelStub(fxDir), initrd, marker: 'PXEKIT-TEST', kernelPackage: 'custom', dir: fxDir };
}

/** A pxelinux tree plus a Windows-style Boot/BCD and two links out of the tree (a file and a folder). */
function makeTree(dir: string): { tree: NetbootTree; secret: string; bcd: Buffer } {
  const tree = pxelinuxTree(join(dir, 'tree'), fixtures(dir), { cmdline: 'console=ttyS0 netboot-test' });
  const bcd = Buffer.from(`BCD regf hive ${'b'.repeat(3000)}`);
  mkdirSync(join(tree.root, 'Boot'), { recursive: true });
  writeFileSync(join(tree.root, 'Boot', 'BCD'), bcd);
  const secret = join(dir, 'outside', 'secret.txt');
  mkdirSync(join(dir, 'outside'), { recursive: true });
  writeFileSync(secret, 'SECRET-OUTSIDE-THE-TREE');
  symlinkSync(secret, join(tree.root, 'secret.txt'));
  symlinkSync(join(dir, 'outside'), join(tree.root, 'outdir'));
  return { tree, secret, bcd };
}

interface Client {
  ip: string;
  /** tftp-hpa: exits 0 even when refused; returns what it printed and the file (undefined when none). */
  tftp(name: string): { output: string; data?: Buffer };
  atftp(name: string): { output: string; data?: Buffer };
  /** curl over HTTP: the status code and body. */
  http(path: string): { code: number; body: Buffer };
}

function clientOf(lab: Lab, dir: string, ip: string): Client {
  let k = 0;
  const out = () => join(dir, `dl-${k++}`);
  const read = (p: string) => (existsSync(p) ? readFileSync(p) : undefined);
  return {
    ip,
    tftp(name) {
      const p = out();
      const output = lab.exec(lab.clientNs, 'sh', ['-c', `tftp -m binary ${lab.serverIp} -c get '${name}' '${p}' 2>&1; true`]);
      const data = read(p);
      // tftp-hpa leaves an empty file behind when it is refused.
      return { output, data: data && (data.length || !/Error code/.test(output)) ? data : undefined };
    },
    atftp(name) {
      const p = out();
      const output = lab.exec(lab.clientNs, 'sh', ['-c', `atftp --get -r '${name}' -l '${p}' ${lab.serverIp} 2>&1; echo "rc=$?"`]);
      return { output, data: /rc=0\s*$/.test(output) ? read(p) : undefined };
    },
    http(path) {
      const p = out();
      const code = lab.exec(lab.clientNs, 'curl', ['-sS', '--path-as-is', '-o', p, '-w', '%{http_code}', `http://${lab.serverIp}:${HTTP_PORT}/${path}`], { allowFail: true });
      return { code: Number(code.trim()), body: read(p) ?? Buffer.alloc(0) };
    },
  };
}

/**
 * The engine on `image`, and a client that got its address from it as BIOS PXE firmware: the
 * engine knows that address's MAC (its lease), so the tree is that machine's root. (A client whose
 * MAC is unknown would get the default image's tree too, chooser.treeRootFor(undefined); the lease
 * makes the tests go through the per-machine path a real boot takes.)
 */
async function serveTree(t: { after: (fn: () => unknown) => void }, image: string | ((lab: Lab) => Promise<string[]>), dir: string) {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const imageArgs = typeof image === 'string' ? [image] : await image(lab);
  const engine = EngineProcess.start(lab, lab.serverNs, ['--iface', lab.serverIf, '--mode', 'dhcp', '--probe-seconds', '1', '--http-port', HTTP_PORT, '--data-dir', join(dir, 'data'), ...imageArgs]);
  t.after(() => engine.stop());
  await engine.serving();
  const fw = runUdhcpc(lab, lab.clientNs, lab.clientIf, BIOS_PXE);
  assert.ok(fw.ok, `the firmware got a lease: ${fw.output}`);
  lab.ip(lab.clientNs, ['addr', 'add', `${fw.env.ip}/24`, 'dev', lab.clientIf]);
  return { lab, engine, fw, client: clientOf(lab, dir, fw.env.ip) };
}

test('pxekit serve DIR: a BIOS client leased by PXE Kit gets pxelinux.0 and fetches the tree by TFTP and HTTP as its root; names out of the tree are refused', { skip, timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pxk-netboot-serve-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { tree, bcd } = makeTree(dir);
  const { lab, engine, fw, client } = await serveTree(t, tree.root, dir);
  // DHCP hands the tree's own loader, from PXE Kit itself.
  assert.equal(fw.env.boot_file, 'pxelinux.0');
  assert.equal(fw.env.siaddr, lab.serverIp);

  // The loader, byte-identical to Debian's, by two TFTP clients.
  const loader = readFileSync(PXELINUX_0);
  assert.equal(sha(client.tftp('pxelinux.0').data ?? Buffer.alloc(0)), sha(loader), 'tftp-hpa: pxelinux.0');
  const at = client.atftp('pxelinux.0');
  assert.equal(sha(at.data ?? Buffer.alloc(0)), sha(loader), `atftp: pxelinux.0 (${at.output})`);

  // The tree's menu and kernel, as pxelinux asks for them: relative to the tree's root.
  const cfg = client.tftp('pxelinux.cfg/default');
  assert.equal(cfg.data?.toString(), readFileSync(join(tree.root, 'pxelinux.cfg/default'), 'utf8'), cfg.output);
  assert.match(cfg.data!.toString(), /KERNEL boot\/linux\/vmlinuz/);
  const kernel = readFileSync(join(tree.root, tree.kernel));
  assert.equal(sha(client.tftp(tree.kernel).data ?? Buffer.alloc(0)), sha(kernel), 'tftp: the kernel');
  // The same over HTTP (lpxelinux and GRUB's http use these URLs).
  const hk = client.http(tree.kernel);
  assert.equal(hk.code, 200);
  assert.equal(sha(hk.body), sha(kernel));
  const hc = client.http('pxelinux.cfg/default');
  assert.equal(hc.code, 200);
  assert.equal(hc.body.toString(), cfg.data!.toString());

  // A Windows loader's name: backslashes, another case.
  const w = client.tftp('\\boot\\bcd');
  assert.equal(sha(w.data ?? Buffer.alloc(0)), sha(bcd), `\\boot\\bcd: ${w.output}`);
  assert.equal(sha(client.http('boot/bcd').body), sha(bcd));

  // Out of the tree: ../ and links that lead out are never served, by either protocol.
  for (const name of ['../outside/secret.txt', 'secret.txt', 'outdir/secret.txt', 'boot/../../outside/secret.txt']) {
    const r = client.tftp(name);
    assert.equal(r.data, undefined, `tftp ${name} refused`);
    assert.match(r.output, /Error code \d+/, `tftp ${name}: ${r.output}`);
    assert.doesNotMatch(r.output, /SECRET/);
    const a = client.atftp(name);
    assert.equal(a.data, undefined, `atftp ${name} refused: ${a.output}`);
    const h = client.http(name);
    assert.ok(h.code >= 400 && h.code < 500, `http ${name}: ${h.code}`);
    assert.doesNotMatch(h.body.toString(), /SECRET-OUTSIDE/);
  }

  // The initrd too: every file of the menu's entry delivered is the hand-off of this machine.
  assert.equal(sha(client.tftp(tree.initrd).data ?? Buffer.alloc(0)), sha(readFileSync(join(tree.root, tree.initrd))));
  const handed = await engine.waitFor((e) => e.type === 'session' && (e.session as { state: string }).state === 'handed-off', 'handed-off session', 15_000);
  assert.equal((handed.session as { ip?: string }).ip, client.ip);
});

test('pxekit serve DIR: a file the menu names but the tree lacks fails the session with that menu named', { skip, timeout: 90_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pxk-netboot-serve-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { tree } = makeTree(dir);
  rmSync(join(tree.root, tree.initrd));
  const { engine, client } = await serveTree(t, tree.root, dir);
  const r = client.tftp(tree.initrd);
  assert.equal(r.data, undefined);
  assert.match(r.output, /Error code/);
  const failed = await engine.waitFor((e) => e.type === 'session' && (e.session as { state: string }).state === 'failed', 'failed session', 15_000);
  const f = (failed.session as { failure: { code: string; message: string } }).failure;
  assert.equal(f.code, 'not-found');
  assert.match(f.message, /boot\/linux\/initrd\.img/);
  assert.match(f.message, /named as the initrd of "linux" in pxelinux\.cfg\/default, but the netboot folder does not have it/);
});

test('pxekit serve FILE.tar.gz: the unpacked tree is served', { skip, timeout: 90_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pxk-netboot-serve-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const tree = pxelinuxTree(join(dir, 'tree'), fixtures(dir), { cmdline: 'from-the-archive' });
  const tgz = packTar(tree.root, join(dir, 'netboot.tar.gz'));
  rmSync(tree.root, { recursive: true });
  const { fw, client } = await serveTree(t, tgz, dir);
  assert.equal(fw.env.boot_file, 'pxelinux.0');
  const cfg = client.tftp('pxelinux.cfg/default');
  assert.match(cfg.data?.toString() ?? '', /APPEND initrd=boot\/linux\/initrd\.img from-the-archive/, cfg.output);
  assert.equal(sha(client.tftp('pxelinux.0').data ?? Buffer.alloc(0)), sha(readFileSync(PXELINUX_0)));
  const k = client.http(tree.kernel);
  assert.equal(k.code, 200);
  assert.equal(k.body.length, 200_000);
  assert.equal(k.body.toString('latin1', 0x202, 0x206), 'HdrS');
});

test('the library: a lone pxelinux.0 added as an entry is its folder; the machine it is assigned to gets pxelinux.0, then ldlinux.c32 and the menu from that folder', { skip, timeout: 90_000 }, async (t) => {
  // Before, the library took pxelinux.0 for a bare PXE program: the machine got it alone and
  // ldlinux.c32 was "file not found" (issue 21's defect, back through the UI's library).
  const dir = mkdtempSync(join(tmpdir(), 'pxk-netboot-serve-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const tree = pxelinuxTree(join(dir, 'tree'), fixtures(dir), { cmdline: 'from-the-library' });
  const { fw, client } = await serveTree(
    t,
    async (lab) => {
      const lib = new ImageLibrary(join(dir, 'data'), { hashInBackground: false });
      const entry = await lib.add({ path: join(tree.root, 'pxelinux.0') });
      assert.equal(entry.kind, 'netboot');
      await lib.setAssignment({ mac: macOfLink(lab, lab.clientNs, lab.clientIf), imageId: entry.id, bootOnce: false });
      lib.close();
      return ['--library'];
    },
    dir,
  );
  assert.equal(fw.env.boot_file, 'pxelinux.0');
  const ldlinux = client.tftp('ldlinux.c32');
  assert.equal(sha(ldlinux.data ?? Buffer.alloc(0)), sha(readFileSync(join(tree.root, 'ldlinux.c32'))), ldlinux.output);
  const cfg = client.tftp('pxelinux.cfg/default');
  assert.match(cfg.data?.toString() ?? '', /from-the-library/, cfg.output);
});

/** Runs `pxekit serve ... ARGS` in the server namespace; stopped with SIGINT after `ms` if it is still running (then code 0 or null). */
async function serveExit(lab: Lab, dir: string, args: string[], ms = 10_000): Promise<{ code: number | null; stderr: string; killed: boolean }> {
  const child = lab.spawn(lab.serverNs, process.execPath, [CLI, 'serve', '--iface', lab.serverIf, '--mode', 'dhcp', '--probe-seconds', '1', '--data-dir', join(dir, 'data'), ...args]);
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  child.stdout!.resume();
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill('SIGINT');
  }, ms);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  return { code, stderr, killed };
}

function noLoaderFolder(dir: string): string {
  const folder = join(dir, 'notes');
  mkdirSync(folder);
  writeFileSync(join(folder, 'README.txt'), 'nothing to boot here');
  writeFileSync(join(folder, 'data.bin'), Buffer.alloc(4096, 7));
  return folder;
}

test('pxekit serve DIR --boot-file: a loader the folder does not have exits 1 with a clear message', { skip, timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pxk-netboot-serve-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const folder = noLoaderFolder(dir);
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const r = await serveExit(lab, dir, ['--boot-file', 'bios=pxelinux.0', folder]);
  assert.equal(r.killed, false, 'it did not start serving');
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`^pxekit: --boot-file bios=pxelinux\\.0: there is no such file in ${folder.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`, 'm'));
  const bad = await serveExit(lab, dir, ['--boot-file', 'mips=x.0', folder]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--boot-file takes FIRMWARE=PATH pairs/);
});

test(
  'pxekit serve DIR: a folder with no network loader (and no OS layout) exits 1 with a clear message',
  {
    skip,
    timeout: 60_000,
  },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'pxk-netboot-serve-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const folder = noLoaderFolder(dir);
    const lab = Lab.create();
    t.after(() => lab.destroy());
    const r = await serveExit(lab, dir, [folder]);
    assert.equal(r.killed, false, `it started serving a folder with nothing to boot: ${r.stderr}`);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /no network boot loader|not bootable/);
    assert.ok(r.stderr.includes(folder), `names the folder: ${r.stderr}`);
  },
);
