// The signed chain's pieces without firmware: the GRUB configurations PXE Kit writes, which
// first stage the DHCP policy hands out per --secure-boot, the per-machine configuration from
// the same decision as the iPXE scripts, and shim's/GRUB's probes as expected misses.
import { test } from 'node:test';
import { payloadFor } from '../../src/boot/boot-plan.js';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildIso, tempDir, writeTree } from '../helpers/iso-build.js';
import { grubDispatchConfig, grubKernelConfig, grubWord } from '../../src/boot/grub-config.js';
import { createBootPolicy } from '../../src/boot/policy.js';
import type { ClientArch, ClientInfo } from '../../src/boot/client.js';
import type { BootOffer } from '../../src/boot/decision.js';
import { publishSignedChain, locateSignedChain, signedChainComplete, PXEKIT_SIGNED_LOADERS } from '../../src/boot/signed-chain.js';
import { PublishedFiles } from '../../src/files/published.js';
import { readPublished } from '../helpers/published.js';
import { BootChooser } from '../../src/images/boot-chooser.js';
import { ImageLibrary } from '../../src/images/library.js';
import { SessionTracker, type SessionUpdate } from '../../src/sessions/tracker.js';
import type { ClientSession } from '../../src/sessions/session.js';
import { ensureFixtures, packageRoot } from '../../src/lab/fixtures.js';
import { bzImageStub } from '../helpers/fake-kernel.js';

const MAC = '52:54:00:aa:bb:01';
const OTHER = '52:54:00:aa:bb:02';

const read = readPublished;

test('GRUB words: plain ones as they are, anything GRUB reads as syntax quoted, line breaks refused', () => {
  assert.equal(grubWord('url=http://10.0.0.1:8080/iso/x.iso'), 'url=http://10.0.0.1:8080/iso/x.iso');
  assert.equal(grubWord('a b'), "'a b'");
  assert.equal(grubWord('$x;reboot'), "'$x;reboot'");
  assert.equal(grubWord("it's"), "'it'\\''s'");
  const cfg = grubKernelConfig({ kernelPath: 'image/vmlinuz', initrdPaths: ['image/initrd-0.img', 'image/initrd-1.img'], cmdline: 'console=ttyS0  quiet x=$y', label: "Bob's kernel" });
  assert.match(cfg, /^linux \/image\/vmlinuz console=ttyS0 quiet 'x=\$y'$/m);
  assert.match(cfg, /^initrd \/image\/initrd-0\.img \/image\/initrd-1\.img$/m);
  assert.match(cfg, /^echo 'PXE Kit: booting Bob'\\''s kernel on' "\$net_default_mac"$/m);
  assert.match(cfg, /^boot\n/m);
  assert.throws(() => grubKernelConfig({ kernelPath: 'k', initrdPaths: [], cmdline: 'a\nreboot', label: 'x' }), /line break/);
  // Every machine is sent to its own file, by the MAC GRUB itself knows.
  assert.match(grubDispatchConfig(), /^configfile \$prefix\/pxekit\/\$\{net_default_mac\}\.cfg$/m);
});

function client(arch: ClientArch, o: Partial<ClientInfo> = {}): ClientInfo {
  const http = arch.endsWith('-http');
  return { mac: MAC, arch, isIpxe: false, isHttpBoot: http, isPxe: !http, ...o };
}

test('--secure-boot: auto gives UEFI x64 the signed chain when it can boot the image, signed always, ipxe never; BIOS, HTTP Boot and iPXE unchanged', () => {
  const binaries = { searched: [], paths: { bios: '/x/undionly.kpxe', efiX64: '/x/ipxe.efi' } };
  let can = true;
  const policy = (secureBoot?: 'auto' | 'signed' | 'ipxe', signed = true) =>
    createBootPolicy({ serverIp: '10.9.0.1', httpPort: 8080, binaries, secureBoot, signedChain: signed ? { shim: 'shimx64.efi' } : undefined, planFor: () => ({ signedChainCan: can, signedLoaders: PXEKIT_SIGNED_LOADERS }) });
  const file = (p: ReturnType<typeof policy>, c: ClientInfo) => (p.decide(c) as BootOffer).bootFile;
  assert.equal(file(policy(), client('efi-x64')), 'shimx64.efi');
  assert.match((policy().decide(client('efi-x64')) as BootOffer).description, /signed shim \+ GRUB/);
  assert.equal(file(policy('ipxe'), client('efi-x64')), 'ipxe.efi');
  assert.equal(file(policy('auto', false), client('efi-x64')), 'ipxe.efi', 'no signed binaries: iPXE');
  can = false;
  assert.equal(file(policy(), client('efi-x64')), 'ipxe.efi', 'auto: an image only iPXE boots');
  assert.equal(file(policy('signed'), client('efi-x64')), 'shimx64.efi');
  // proxyDHCP: the signed GRUB would look for its server in the site server's ACK, so iPXE.
  assert.equal((policy('signed').decide(client('efi-x64'), { proxy: true }) as BootOffer).bootFile, 'ipxe.efi');
  can = true;
  assert.equal((policy().decide(client('efi-x64'), { proxy: true }) as BootOffer).bootFile, 'ipxe.efi');
  assert.equal((policy().decide(client('efi-x64'), { proxy: false }) as BootOffer).bootFile, 'shimx64.efi');
  for (const p of [policy(), policy('signed')]) {
    assert.equal(file(p, client('bios')), 'undionly.kpxe');
    assert.equal(file(p, client('efi-x64-http')), 'http://10.9.0.1:8080/ipxe.efi');
    assert.match(file(p, client('efi-x64', { isIpxe: true })), /\/ipxe\/52-54-00-aa-bb-01\.ipxe$/);
  }
});

async function setup(t: Parameters<typeof tempDir>[0], o: { bootOnce?: boolean } = {}) {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'default-vmlinuz'), bzImageStub()); // a kernel is told by its boot header
  writeFileSync(join(dir, 'default-initrd'), 'default initrd');
  writeFileSync(join(dir, 'boot.ipxe'), '#!ipxe\necho hi\n');
  writeFileSync(join(dir, 'shim'), 'shim');
  writeFileSync(join(dir, 'grub'), 'grub');
  writeTree(join(dir, 'src'), { 'casper/vmlinuz': 'K', 'casper/initrd': 'I', '.disk/info': 'Ubuntu 24.04 LTS' });
  const iso = buildIso(join(dir, 'src'), join(dir, 'live.iso'), { rockRidge: true });
  const lib = new ImageLibrary(join(dir, 'data'), { hashInBackground: false });
  const live = await lib.add({ path: iso, name: 'Live', cmdline: 'console=ttyS0' });
  const script = await lib.add({ path: join(dir, 'boot.ipxe'), name: 'Script' });
  const files = new PublishedFiles();
  const chooser = new BootChooser({
    files, serverIp: '10.1.2.3', httpPort: 8080, library: lib, bootOnce: o.bootOnce,
    defaultImage: { kind: 'kernel', kernel: join(dir, 'default-vmlinuz'), initrds: [join(dir, 'default-initrd')], cmdline: 'default=1' },
  });
  await chooser.start();
  t.after(() => chooser.stop());
  const unpublish = publishSignedChain(files, { shim: join(dir, 'shim'), grub: join(dir, 'grub'), searched: [] }, (rest) => chooser.resolveGrubConfig(rest));
  return { dir, lib, live, script, files, chooser, unpublish };
}

test('each machine reads its own GRUB configuration, from the same decision as its iPXE script', async (t) => {
  const { lib, live, script, files, chooser, unpublish } = await setup(t);
  assert.equal(await read(files, 'shimx64.efi'), 'shim');
  assert.equal(await read(files, 'grubx64.efi'), 'grub');
  assert.equal(files.lookup('grubx64.efi')?.role, 'boot program');
  assert.match(await read(files, '/grub/grub.cfg'), /net_default_mac/);
  // The default kernel.
  const def = await read(files, `grub/pxekit/${MAC}.cfg`);
  assert.match(def, /^linux \/image\/vmlinuz default=1$/m);
  assert.match(def, /^initrd \/image\/initrd-0\.img$/m);
  assert.deepEqual(payloadFor(chooser.handedPlan(MAC), undefined), ['image/vmlinuz', 'image/initrd-0.img']);
  assert.equal(chooser.plan(MAC).signedChainCan, true);
  // An assigned Linux ISO: the recipe's arguments, then the user's, from inside the ISO.
  await lib.setAssignment({ mac: MAC, imageId: live.id, bootOnce: false });
  const iso = await read(files, `grub/pxekit/${MAC}.cfg`);
  assert.match(iso, new RegExp(`^linux /iso/${live.id}/casper/vmlinuz boot=casper netboot=url url=http://10\\.1\\.2\\.3:8080/iso/${live.id}\\.iso ip=dhcp console=ttyS0$`, 'm'));
  assert.match(iso, new RegExp(`^initrd /iso/${live.id}/casper/initrd$`, 'm'));
  assert.deepEqual(payloadFor(chooser.handedPlan(MAC), undefined), [`iso/${live.id}/casper/vmlinuz`, `iso/${live.id}/casper/initrd`]);
  // An iPXE script: only iPXE boots it, so auto keeps iPXE; GRUB (signed mode) says why on the screen.
  await lib.setAssignment({ mac: OTHER, imageId: script.id, bootOnce: false });
  assert.equal(chooser.plan(OTHER).signedChainCan, false);
  const refused = await read(files, `grub/pxekit/${OTHER}.cfg`);
  assert.match(refused, /^echo 'PXE Kit: Script boots only through iPXE, which is not signed: switch Secure Boot off .*--secure-boot auto\|ipxe\)'$/m);
  assert.match(refused, /^exit 1$/m);
  assert.doesNotMatch(refused, /chainloader|linux /);
  // Names that are not a machine's configuration are not served; unpublishing takes it all down.
  assert.equal(files.lookup('grub/pxekit/nobody.cfg'), undefined);
  unpublish();
  for (const p of ['shimx64.efi', 'grubx64.efi', 'grub/grub.cfg', `grub/pxekit/${MAC}.cfg`]) assert.equal(files.lookup(p), undefined, p);
});

test('GRUB menu of the library, a choice from it, and boot-once to the local disk', async (t) => {
  const { lib, live, script, files, chooser } = await setup(t, { bootOnce: true });
  await lib.setMenu({ enabled: true, timeoutSeconds: 5, defaultEntryId: live.id, includeLocalBoot: true });
  const menu = await read(files, `grub/pxekit/${MAC}.cfg`);
  assert.match(menu, /^set timeout=5$/m);
  // The test ISO's kernel is not an EFI program: its entry says what it needs.
  assert.match(menu, /^menuentry 'Live \(Ubuntu 24\.04 LTS\) \(needs Secure Boot off\)' \{\n {2}configfile \/grub\/pxekit\/img\/[^/]+\/52:54:00:aa:bb:01\.cfg\n\}$/m);
  assert.match(menu, /^menuentry 'Script \(needs Secure Boot off\)' \{$/m);
  assert.match(menu, /^menuentry 'Boot from the local disk' \{\n {2}exit 0\n\}$/m);
  assert.equal(chooser.plan(MAC).signedChainCan, true, 'a menu with one Linux entry goes the signed way');
  const chosen = await read(files, `grub/pxekit/img/${live.id}/${MAC}.cfg`);
  assert.match(chosen, /boot=casper/);
  assert.equal(files.lookup(`grub/pxekit/img/${script.id}x/${MAC}.cfg`), undefined);
  // Handed off once: the next boot goes to the local disk.
  chooser.onSession({ mac: MAC, state: 'handed-off', isIpxe: false, firstSeen: 0, lastSeen: 0, progress: 100, transfers: [], timeline: [], timelineFrom: 0, boots: 1 } as ClientSession);
  const second = await read(files, `grub/pxekit/${MAC}.cfg`);
  assert.match(second, /already booted once; booting from the local disk/);
  assert.match(second, /^exit 0$/m);
});

test("shim's and GRUB's searches for optional files are expected misses; the session does not fail on them", () => {
  const files = new PublishedFiles();
  const bins = locateSignedChain(['/nonexistent']);
  assert.equal(signedChainComplete(bins), false);
  publishSignedChain(files, { shim: '/x/shim', grub: '/x/grub', searched: [] }, () => undefined);
  for (const p of ['revocations_sku.efi', '/revocations_sbat.efi', 'shim_certificate_0.efi', '/grub/x86_64-efi/command.lst', 'grub/x86_64-efi/fs.lst']) {
    assert.ok(files.expectedMiss(p), `${p} is a normal probe`);
  }
  for (const p of ['grubx64.efi.missing', 'boot/grub/x86_64-efi/core.efi', 'image/vmlinuz', 'grub/grub.cfg.bak']) assert.equal(files.expectedMiss(p), undefined, p);

  const updates: SessionUpdate[] = [];
  const tracker = new SessionTracker({ planFor: () => ({ payload: [{ path: 'image/vmlinuz', role: 'kernel' }], handoff: { kind: 'files' } }), onUpdate: (u) => updates.push(u) });
  const base = { type: 'transfer', at: Date.now(), protocol: 'tftp', clientIp: '10.0.0.5', clientPort: 1, mac: MAC, bytes: 0 } as const;
  tracker.handle({ ...base, phase: 'start', id: 'a', file: 'shimx64.efi', role: 'boot program', size: 10 });
  tracker.handle({ ...base, phase: 'done', id: 'a', file: 'shimx64.efi', role: 'boot program', bytes: 10 });
  tracker.handle({ ...base, phase: 'error', id: 'b', file: 'revocations_sbat.efi', errorCode: 'not-found', expected: files.expectedMiss('revocations_sbat.efi') });
  assert.equal(tracker.get(MAC)!.state, 'boot-program');
  assert.match(tracker.get(MAC)!.timeline.at(-1)!.text, /not here, as expected \(shim looks for optional/);
  tracker.handle({ ...base, phase: 'error', id: 'c', file: 'grubx64.efi', errorCode: 'not-found' });
  assert.equal(tracker.get(MAC)!.state, 'failed', 'a real miss still fails');
});

test('the library gives each image its Secure Boot verdict from what it holds (the Debian-signed kernel, an unsigned one, iPXE-only kinds)', async (t) => {
  const fx = ensureFixtures();
  const shim = join(packageRoot(), 'resources', 'secureboot', 'shimx64.efi');
  if (!existsSync(shim)) execFileSync('bash', [join(packageRoot(), 'build', 'fetch-secureboot.sh')]);
  const dir = tempDir(t);
  writeFileSync(join(dir, 'boot.ipxe'), '#!ipxe\necho hi\n');
  const lib = new ImageLibrary(join(dir, 'data'), { hashInBackground: false, shimPath: shim });
  const signed = await lib.add({ path: fx.kernel, name: 'Debian kernel' });
  assert.equal(signed.secureBoot?.verdict, 'boots', signed.secureBoot?.reason);
  assert.match(signed.secureBoot!.reason, /signed by Debian Secure Boot Signer 2022 - linux/);
  // The same kernel with its signature table cut off: the shim would refuse it.
  const bytes = readFileSync(fx.kernel);
  const pe = bytes.readUInt32LE(0x3c);
  const dirEntry = pe + 24 + 144; // PE32+ optional header: data directory 4 (certificates)
  const certAt = bytes.readUInt32LE(dirEntry);
  const stripped = Buffer.from(bytes.subarray(0, certAt));
  stripped.writeUInt32LE(0, dirEntry);
  stripped.writeUInt32LE(0, dirEntry + 4);
  writeFileSync(join(dir, 'vmlinuz-unsigned'), stripped);
  const unsigned = await lib.add({ path: join(dir, 'vmlinuz-unsigned'), name: 'Unsigned kernel' });
  assert.equal(unsigned.secureBoot?.verdict, 'needs-secure-boot-off');
  assert.match(unsigned.secureBoot!.reason, /vmlinuz-unsigned is not signed/);
  const script = await lib.add({ path: join(dir, 'boot.ipxe'), name: 'Script' });
  assert.equal(script.secureBoot?.verdict, 'needs-secure-boot-off');
  assert.match(script.secureBoot!.reason, /started by iPXE, which is not signed/);
});
