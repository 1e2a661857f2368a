// End-to-end: netboot folders and archives served as they are, as dnsmasq's --tftp-root serves
// them (test/e2e/netboot-dnsmasq.test.ts proves the same trees boot there). Before, `pxekit serve
// DIR` refused the folder ("is a directory") and `pxekit serve pxelinux.0` gave the machine
// pxelinux.0 alone, which then could not fetch ldlinux.c32 or its configuration and stopped.
// - BIOS through pxelinux: a machine with its own pxelinux.cfg/01-<mac> boots that, another the
//   default; pxelinux's search for per-machine configurations is never a failure.
// - UEFI through GRUB (its grub.cfg-* search and module lists are expected misses).
// - The same pxelinux tree served packed (.tar.gz, unpacked once into the data dir).
// - A menu naming a missing kernel: the machine fails with the kernel named by that menu.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { e2eSkipReason, fixturesOnce, MARKER_TIMEOUT, SECURE_BOOT_ON, TEST_TIMEOUT } from '../helpers/qemu-boot.js';
import { copyFileSync, mkdirSync } from 'node:fs';
import { locateSignedChain } from '../../src/boot/signed-chain.js';
import { forMac } from '../helpers/live-iso.js';
import { grubTree, packTar, pxelinuxTree, syslinuxEfiTree, TREE_KERNEL, type NetbootTree } from '../helpers/netboot-trees.js';
import { VirtualLab } from '../../src/lab/virtual-lab.js';
import { QemuClient, randomMac, type Firmware } from '../../src/lab/qemu.js';
import { CLI_MAIN, LabEngine, type AnyEvent } from '../../src/lab/engine-cli.js';

const skip = e2eSkipReason();
const fileOf = (e: AnyEvent) => String(e.file ?? '').replace(/^\/+/, '');
type Session = { state: string; failure?: { code: string; message: string }; boots: number };
const sessionOf = (e: AnyEvent) => e.session as Session;

function serveTree(t: TestContext, lab: VirtualLab, image: string, mode: 'dhcp' | 'proxy' = 'dhcp'): LabEngine {
  const engine = LabEngine.start(lab, { mode, kernel: image, dataDir: lab.file('data'), args: mode === 'dhcp' ? ['--range', `${lab.subnet}.20-${lab.subnet}.40`] : [] });
  t.after(() => engine.stop());
  return engine;
}

/** Boots one machine to the marker and checks what every tree boot must show; returns the marker line. */
async function bootTree(t: TestContext, lab: VirtualLab, engine: LabEngine, firmware: Firmware, tree: Pick<NetbootTree, 'kernel' | 'initrd'>, mac = randomMac(), o: { secureBoot?: boolean } = {}): Promise<string> {
  const fx = fixturesOnce();
  const qemu = QemuClient.start({ lab, firmware, mac, secureBoot: o.secureBoot });
  t.after(() => qemu.kill());
  let line: string;
  try {
    line = await qemu.waitForLine(fx.marker, MARKER_TIMEOUT[firmware]);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${engine.tail(30)}`);
  }
  if (o.secureBoot) assert.ok(qemu.lines.some((l) => l.includes(SECURE_BOOT_ON)), `the firmware did not enforce Secure Boot\n${qemu.tail()}`);
  const mine = forMac(mac);
  const handed = await engine.waitFor((e) => e.type === 'session' && mine(e) && sessionOf(e).state === 'handed-off', `${mac} handed off`, 15_000);
  assert.ok(handed);
  const events = engine.events.filter(mine);
  const done = events.filter((e) => e.type === 'transfer' && e.phase === 'done').map(fileOf);
  for (const f of [tree.kernel, tree.initrd]) assert.ok(done.includes(f), `${f} delivered from the tree: ${JSON.stringify(done)}`);
  // The loaders' searches are expected misses; nothing else is missing.
  const misses = events.filter((e) => e.type === 'transfer' && e.phase === 'error' && e.errorCode === 'not-found');
  assert.deepEqual(misses.filter((e) => !e.expected).map(fileOf), [], 'a file the machine asked for was missing');
  // Never called failed on the way, handed off once.
  const states = events.filter((e) => e.type === 'session').map((e) => sessionOf(e).state);
  assert.ok(!states.includes('failed'), `never failed: ${JSON.stringify([...new Set(states)])}`);
  // One boot: a loader's own DHCP on the way (syslinux.efi's, through OVMF) is no new attempt.
  assert.equal(sessionOf(events.filter((e) => e.type === 'session').at(-1)!).boots, 1, 'one boot attempt');
  return line;
}

test('BIOS: a pxelinux folder boots, a machine with its own pxelinux.cfg/01-<mac> gets it, another the default', { skip, timeout: TEST_TIMEOUT * 2 }, async (t) => {
  const fx = fixturesOnce();
  const lab = VirtualLab.create();
  t.after(() => lab.destroy());
  const own = randomMac();
  const tokens = { common: randomBytes(4).toString('hex'), own: randomBytes(4).toString('hex') };
  const tree = pxelinuxTree(lab.file('tree'), fx, { cmdline: `console=ttyS0 pxekit.token=${tokens.common}`, perMac: { mac: own, cmdline: `console=ttyS0 pxekit.token=${tokens.own}` } });
  const inspect = execFileSync(process.execPath, [CLI_MAIN, 'inspect', tree.root], { encoding: 'utf8' });
  assert.match(inspect, /BIOS\s+pxelinux\.0 \(pxelinux/);
  assert.match(inspect, /1 machine has its own configuration/);
  const engine = serveTree(t, lab, tree.root);
  const status = await engine.serving(90_000);
  assert.match(String(status.image), /netboot folder/);

  const line = await bootTree(t, lab, engine, 'bios', tree, own);
  assert.match(line, new RegExp(`pxekit\\.token=${tokens.own}\\b`), 'the machine booted its own configuration');
  // It asked for its own configuration first: found, so no search past it.
  const asked = engine.events.filter((e) => forMac(own)(e) && e.type === 'transfer' && e.phase === 'done').map(fileOf);
  assert.ok(asked.includes(`pxelinux.cfg/01-${own.replace(/:/g, '-')}`), JSON.stringify(asked));
  assert.ok(!asked.includes('pxelinux.cfg/default'), JSON.stringify(asked));

  const other = randomMac();
  const line2 = await bootTree(t, lab, engine, 'bios', tree, other);
  assert.match(line2, new RegExp(`pxekit\\.token=${tokens.common}\\b`), 'another machine booted the default');
  const searched = engine.events.filter((e) => forMac(other)(e) && e.type === 'transfer' && e.phase === 'error' && e.errorCode === 'not-found');
  assert.ok(searched.length >= 9, `pxelinux searched 01-<mac> and the hex address before default: ${JSON.stringify(searched.map(fileOf))}`);
  for (const e of searched) assert.match(String(e.expected), /pxelinux looks for a configuration/);
  assert.equal(await engine.stop(), 0);
});

test("BIOS, proxyDHCP beside the site's DHCP server: the pxelinux folder boots; a lone pxelinux.0 given serves its folder", { skip, timeout: TEST_TIMEOUT }, async (t) => {
  const fx = fixturesOnce();
  const lab = VirtualLab.create();
  t.after(() => lab.destroy());
  const siteLog: string[] = [];
  await lab.startSiteDhcp({ onLog: (l) => siteLog.push(l) });
  const token = randomBytes(4).toString('hex');
  const tree = pxelinuxTree(lab.file('tree'), fx, { cmdline: `console=ttyS0 pxekit.token=${token}` });
  // Given pxelinux.0 alone (as a technician used to a TFTP root would), PXE Kit serves the folder around it.
  const engine = serveTree(t, lab, join(tree.root, 'pxelinux.0'), 'proxy');
  const status = await engine.serving(90_000);
  assert.equal(status.mode, 'proxy');
  assert.match(String(status.image), /netboot folder/);
  let line: string;
  try {
    line = await bootTree(t, lab, engine, 'bios', tree);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- site dnsmasq ---\n${siteLog.slice(-20).join('\n')}`);
  }
  assert.match(line, new RegExp(`pxekit\\.token=${token}\\b`));
  assert.equal(await engine.stop(), 0);
});

const UEFI_TREES = [
  { title: 'a GRUB folder boots through its own grubx64.efi and grub/grub.cfg', build: grubTree, loader: 'grubx64.efi' },
  { title: 'a syslinux.efi folder boots through its own syslinux.efi and pxelinux.cfg/default', build: syslinuxEfiTree, loader: 'syslinux.efi' },
];
for (const u of UEFI_TREES) {
  test(`UEFI: ${u.title}`, { skip, timeout: TEST_TIMEOUT }, async (t) => {
    const fx = fixturesOnce();
    const lab = VirtualLab.create();
    t.after(() => lab.destroy());
    const token = randomBytes(4).toString('hex');
    const tree = u.build(lab.file('tree'), fx, { cmdline: `console=ttyS0 pxekit.token=${token}` });
    const engine = serveTree(t, lab, tree.root);
    await engine.serving(90_000);
    const line = await bootTree(t, lab, engine, 'uefi', tree);
    assert.match(line, new RegExp(`pxekit\\.token=${token}\\b`));
    const offers = engine.events.filter((e) => e.type === 'dhcp' && e.direction === 'out' && e.bootFile);
    assert.ok(offers.some((e) => String(e.bootFile).endsWith(u.loader)), `DHCP named the folder's ${u.loader}: ${JSON.stringify(offers.map((e) => e.bootFile))}`);
    assert.equal(await engine.stop(), 0);
  });
}

test('BIOS: the same pxelinux folder served packed (.tar.gz) boots, unpacked once into the data dir', { skip, timeout: TEST_TIMEOUT }, async (t) => {
  const fx = fixturesOnce();
  const lab = VirtualLab.create();
  t.after(() => lab.destroy());
  const token = randomBytes(4).toString('hex');
  const tree = pxelinuxTree(lab.file('tree'), fx, { cmdline: `console=ttyS0 pxekit.token=${token}` });
  const archive = packTar(tree.root, lab.file('netboot.tar.gz'));
  const inspect = execFileSync(process.execPath, [CLI_MAIN, 'inspect', '--data-dir', lab.file('data'), archive], { encoding: 'utf8' });
  assert.match(inspect, /archive, unpacked into .*data\/netboot\//);
  const engine = serveTree(t, lab, archive);
  await engine.serving(90_000);
  const line = await bootTree(t, lab, engine, 'bios', tree);
  assert.match(line, new RegExp(`pxekit\\.token=${token}\\b`));
  assert.equal(await engine.stop(), 0);
});

test('BIOS: a folder whose menu names a missing kernel fails with that kernel, named by that menu', { skip, timeout: TEST_TIMEOUT }, async (t) => {
  const fx = fixturesOnce();
  const lab = VirtualLab.create();
  t.after(() => lab.destroy());
  const tree = pxelinuxTree(lab.file('tree'), fx, { cmdline: 'console=ttyS0' });
  // The menu names a kernel the folder does not have.
  writeFileSync(join(tree.root, 'pxelinux.cfg', 'default'), `DEFAULT rescue\nPROMPT 0\nLABEL rescue\n  KERNEL boot/rescue/vmlinuz\n  APPEND initrd=${tree.initrd} console=ttyS0\n`);
  const inspect = execFileSync(process.execPath, [CLI_MAIN, 'inspect', tree.root], { encoding: 'utf8' });
  assert.match(inspect, /pxelinux\.cfg\/default names the kernel boot\/rescue\/vmlinuz, which is not in the folder/);
  const engine = serveTree(t, lab, tree.root);
  await engine.serving(90_000);
  const mac = randomMac();
  const qemu = QemuClient.start({ lab, firmware: 'bios', mac });
  t.after(() => qemu.kill());
  const failed = await engine.waitFor((e) => e.type === 'session' && forMac(mac)(e) && sessionOf(e).state === 'failed', 'failed', MARKER_TIMEOUT.bios);
  const f = sessionOf(failed).failure!;
  assert.equal(f.code, 'not-found');
  assert.match(f.message, /boot\/rescue\/vmlinuz/);
  assert.match(f.message, /named as the kernel of "rescue" in pxelinux\.cfg\/default/);
  // The tree's kernel path is what was asked: nothing else was missing on the way.
  const misses = engine.events.filter((e) => forMac(mac)(e) && e.type === 'transfer' && e.phase === 'error' && !e.expected).map(fileOf);
  assert.deepEqual([...new Set(misses)], ['boot/rescue/vmlinuz']);
  assert.notEqual(TREE_KERNEL, 'boot/rescue/vmlinuz');
  assert.equal(await engine.stop(), 0);
});

test("UEFI with Secure Boot on: a Debian-style tree boots through its own signed shim and network GRUB to a Debian-signed kernel", { skip, timeout: TEST_TIMEOUT }, async (t) => {
  const fx = fixturesOnce();
  const chain = locateSignedChain();
  assert.ok(chain.shim && chain.grub, 'Debian\'s signed shim and network GRUB (build/fetch-secureboot.sh, run by scripts/install-deps.sh)');
  const lab = VirtualLab.create();
  t.after(() => lab.destroy());
  const token = randomBytes(4).toString('hex');
  // As Debian's netboot tree lays it out: bootnetx64.efi (the shim) beside grubx64.efi (the signed
  // network GRUB, prefix /grub), grub/grub.cfg naming the kernel and initrd.
  const root = lab.file('tree');
  mkdirSync(join(root, 'grub'), { recursive: true });
  mkdirSync(join(root, 'boot', 'linux'), { recursive: true });
  copyFileSync(chain.shim!, join(root, 'bootnetx64.efi'));
  copyFileSync(chain.grub!, join(root, 'grubx64.efi'));
  copyFileSync(fx.kernel, join(root, 'boot', 'linux', 'vmlinuz'));
  copyFileSync(fx.initrd, join(root, 'boot', 'linux', 'initrd.img'));
  writeFileSync(join(root, 'grub', 'grub.cfg'), `set timeout=1\nmenuentry 'Install' {\n  linux /boot/linux/vmlinuz console=ttyS0 pxekit.token=${token}\n  initrd /boot/linux/initrd.img\n}\n`);
  const inspect = execFileSync(process.execPath, [CLI_MAIN, 'inspect', root], { encoding: 'utf8' });
  assert.match(inspect, /UEFI x64\s+bootnetx64\.efi \(shim \(signed\).*, then grubx64\.efi\)/);
  assert.match(inspect, /secure boot: boots/);
  const engine = serveTree(t, lab, root);
  await engine.serving(90_000);
  const line = await bootTree(t, lab, engine, 'uefi', { kernel: 'boot/linux/vmlinuz', initrd: 'boot/linux/initrd.img' }, randomMac(), { secureBoot: true });
  assert.match(line, new RegExp(`pxekit\\.token=${token}\\b`));
  const done = engine.events.filter((e) => e.type === 'transfer' && e.phase === 'done').map(fileOf);
  assert.ok(done.includes('bootnetx64.efi') && done.includes('grubx64.efi'), `the tree's shim and GRUB: ${JSON.stringify(done)}`);
  assert.equal(await engine.stop(), 0);
});
