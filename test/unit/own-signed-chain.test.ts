// An image's own shim and GRUB: what a real GRUB carries built in (Debian's network GRUB has
// tftp and prefix /grub; the GRUB of Debian's install media has neither tftp nor that prefix),
// which media PXE Kit serves with their own chain, and how one machine gets that image's GRUB
// under the name shim asks for while every other machine gets PXE Kit's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildIso, tempDir, writeTree } from '../helpers/iso-build.js';
import { readPublished } from '../helpers/published.js';
import { parseGrubImage } from '../../src/images/grub-image.js';
import { findOwnSignedChain } from '../../src/images/own-chain.js';
import { folderTree } from '../../src/images/tree.js';
import { treeSecureBoot } from '../../src/images/secure-boot-image.js';
import { planFor } from '../../src/images/recipes/index.js';
import { PublishedFiles } from '../../src/files/published.js';
import { BootChooser } from '../../src/images/boot-chooser.js';
import { ImageLibrary } from '../../src/images/library.js';
import { PXEKIT_SIGNED_LOADERS, publishSignedChain } from '../../src/boot/signed-chain.js';
import { createBootPolicy } from '../../src/boot/policy.js';
import type { BootOffer } from '../../src/boot/decision.js';
import { ensureFixtures, packageRoot } from '../../src/lab/fixtures.js';
import { bzImageStub } from '../helpers/fake-kernel.js';

const sbDir = join(packageRoot(), 'resources', 'secureboot');
const MAC = '52:54:00:aa:cc:01';
const OTHER = '52:54:00:aa:cc:02';

function signedBinaries(): { shim: string; netGrub: string; cdGrub: string } {
  const b = { shim: join(sbDir, 'shimx64.efi'), netGrub: join(sbDir, 'grubnetx64.efi'), cdGrub: join(sbDir, 'gcdx64.efi') };
  if (!Object.values(b).every(existsSync)) execFileSync('bash', ['build/fetch-secureboot.sh'], { cwd: packageRoot(), stdio: 'inherit' });
  for (const f of Object.values(b)) assert.ok(existsSync(f), `${f} is missing even after build/fetch-secureboot.sh`);
  return b;
}
const readerOf = (b: Buffer) => async (offset: number, length: number) => b.subarray(offset, offset + length);
const parse = (b: Buffer) => parseGrubImage(readerOf(b), b.length);

test("GRUB's built-in modules and prefix, read from Debian's signed network GRUB and its install-media GRUB", async () => {
  const bins = signedBinaries();
  const net = await parse(readFileSync(bins.netGrub));
  assert.ok(net, 'grubnetx64 is read as GRUB');
  assert.equal(net.prefix, '/grub');
  for (const m of ['tftp', 'efinet', 'net', 'linux', 'normal']) assert.ok(net.modules.includes(m), `grubnetx64 has ${m}`);
  assert.equal(net.netBoot, true);
  assert.match(net.embeddedConfig ?? '', /memdisk/);
  const cd = await parse(readFileSync(bins.cdGrub));
  assert.ok(cd);
  assert.equal(cd.prefix, '/boot/grub');
  assert.ok(cd.modules.includes('efinet') && !cd.modules.includes('tftp'), 'the media GRUB has the NIC driver but no way to read files over it');
  assert.equal(cd.netBoot, false);
  // Not GRUB, and damaged GRUB: no answer, no throw.
  assert.equal(await parse(readFileSync(bins.shim)), undefined, 'shim has no mods section');
  assert.equal(await parse(Buffer.from('MZ not a program')), undefined);
  const cut = readFileSync(bins.netGrub).subarray(0, 200_000);
  assert.equal(await parse(cut), undefined, 'a truncated GRUB (its mods section past the end)');
  const scrambled = Buffer.from(readFileSync(bins.netGrub));
  const mods = scrambled.indexOf(Buffer.from('mimg'), 100_000);
  scrambled.writeUInt32LE(0xfffffff0, mods + 24 + 4); // the first record's length runs past the end
  const broken = await parse(scrambled);
  assert.deepEqual(broken?.modules, [], 'records past the end are not read');
});

function mediaTree(dir: string, grub: string | undefined, shim: string): string {
  const fx = ensureFixtures();
  const root = join(dir, 'media');
  writeTree(root, { '.disk/info': 'Ubuntu 24.04 LTS "own chain" - Release amd64', 'casper/filesystem.squashfs': 'S' });
  copyFileSync(fx.kernel, join(root, 'casper', 'vmlinuz'));
  copyFileSync(fx.initrd, join(root, 'casper', 'initrd'));
  mkdirSync(join(root, 'EFI', 'BOOT'), { recursive: true });
  copyFileSync(shim, join(root, 'EFI', 'BOOT', 'BOOTX64.EFI'));
  if (grub) copyFileSync(grub, join(root, 'EFI', 'BOOT', 'grubx64.efi'));
  return root;
}

test("media whose GRUB boots from the network are served with their own chain; others (Debian's, Ubuntu's media) say why PXE Kit's is used", async (t) => {
  const bins = signedBinaries();
  const dir = tempDir(t);
  // Like Fedora's media: a signed shim with a network-capable signed GRUB beside it.
  const own = folderTree(mediaTree(join(dir, 'a'), bins.netGrub, bins.shim));
  t.after(() => own.close());
  const found = await findOwnSignedChain(own);
  assert.ok(found.chain, found.why);
  assert.equal(found.chain.shimPath, 'EFI/BOOT/BOOTX64.EFI');
  assert.equal(found.chain.grubPath, 'EFI/BOOT/grubx64.efi');
  assert.equal(found.chain.grubPrefix, 'grub');
  const verdict = await treeSecureBoot(own, await planFor(own, {}));
  assert.equal(verdict.chain, 'image');
  assert.equal(verdict.verdict, 'boots', verdict.reason);
  assert.match(verdict.reason, /^Served with its own shim and GRUB\. BOOTX64\.EFI is signed by .*Microsoft.*Debian Secure Boot Signer/);

  // Like Debian's and Ubuntu's media: the GRUB has no tftp module.
  const cd = folderTree(mediaTree(join(dir, 'b'), bins.cdGrub, bins.shim));
  t.after(() => cd.close());
  const cdFound = await findOwnSignedChain(cd);
  assert.equal(cdFound.chain, undefined);
  assert.match(cdFound.why ?? '', /its GRUB \(EFI\/BOOT\/grubx64\.efi\) cannot read files from the network \(no tftp module built in\)/);
  const cdVerdict = await treeSecureBoot(cd, await planFor(cd, {}), bins.shim);
  assert.equal(cdVerdict.chain, undefined);
  assert.equal(cdVerdict.verdict, 'boots');
  assert.match(cdVerdict.reason, /PXE Kit's shim and GRUB are used: the image's own chain cannot boot from the network/);

  // A shim with no GRUB, an unsigned "shim", no EFI directory at all.
  const lone = folderTree(mediaTree(join(dir, 'c'), undefined, bins.shim));
  t.after(() => lone.close());
  assert.match((await findOwnSignedChain(lone)).why ?? '', /no GRUB beside it/);
  const none = folderTree(join(dir, 'none'));
  writeTree(join(dir, 'none'), { 'casper/vmlinuz': 'K' });
  t.after(() => none.close());
  assert.deepEqual(await findOwnSignedChain(none), {});
  const ipxeAsShim = folderTree(mediaTree(join(dir, 'd'), bins.netGrub, '/usr/lib/ipxe/ipxe.efi'));
  t.after(() => ipxeAsShim.close());
  assert.deepEqual(await findOwnSignedChain(ipxeAsShim), {}, 'an unsigned program with no vendor certificate is no shim');
});

test("a machine booting media with their own chain is handed that shim by DHCP; shim then reads the GRUB beside it, inside the ISO", async (t) => {
  const bins = signedBinaries();
  const dir = tempDir(t);
  const iso = buildIso(mediaTree(dir, bins.netGrub, bins.shim), join(dir, 'own.iso'), { rockRidge: true, joliet: true });
  writeFileSync(join(dir, 'default-vmlinuz'), bzImageStub()); // a kernel is told by its boot header
  writeFileSync(join(dir, 'default-initrd'), 'default initrd');
  const lib = new ImageLibrary(join(dir, 'data'), { hashInBackground: false, shimPath: bins.shim });
  const media = await lib.add({ path: iso, name: 'Own chain' });
  assert.equal(media.secureBoot?.chain, 'image');
  const files = new PublishedFiles();
  const chooser = new BootChooser({ files, serverIp: '10.1.2.3', httpPort: 8080, library: lib, defaultImage: { kind: 'kernel', kernel: join(dir, 'default-vmlinuz'), initrds: [], cmdline: '' } });
  await chooser.start();
  t.after(() => chooser.stop());
  publishSignedChain(files, { shim: bins.shim, grub: bins.netGrub, searched: [] }, (rest) => chooser.resolveGrubConfig(rest));

  await lib.setAssignment({ mac: MAC, imageId: media.id, bootOnce: false });
  const loaders = chooser.plan(MAC).signedLoaders;
  assert.deepEqual(loaders, { shim: `iso/${media.id}/EFI/BOOT/BOOTX64.EFI`, grub: `iso/${media.id}/EFI/BOOT/grubx64.efi`, grubPrefix: 'grub' });
  assert.equal(chooser.plan(OTHER).signedLoaders, PXEKIT_SIGNED_LOADERS, "the default kernel: PXE Kit's chain");
  // DHCP hands each machine its shim (in the BOOTP file field: shim asks for grubx64.efi in that directory).
  const policy = createBootPolicy({
    serverIp: '10.1.2.3', httpPort: 8080, binaries: { searched: [], paths: { efiX64: '/x/ipxe.efi' } },
    signedChain: { shim: 'shimx64.efi' }, planFor: (mac) => chooser.plan(mac),
  });
  const offer = (mac: string) => policy.decide({ mac, arch: 'efi-x64', isIpxe: false, isHttpBoot: false, isPxe: true }) as BootOffer;
  assert.equal(offer(MAC).bootFile, loaders.shim);
  assert.match(offer(MAC).description, /the image's own signed shim/);
  assert.equal(offer(OTHER).bootFile, 'shimx64.efi');
  // Both loaders are boot programs, read from inside the ISO byte for byte.
  for (const [path, want] of [[loaders.shim, bins.shim], [loaders.grub, bins.netGrub]]) {
    const f = files.lookup(path);
    assert.equal(f?.role, 'boot program', path);
    const src = await f!.open();
    const head = Buffer.alloc(8192);
    await src.read(head, 0, head.length, 0);
    await src.close();
    assert.deepEqual(head, readFileSync(want).subarray(0, 8192), path);
  }
  // Its GRUB (prefix /grub) reads the same per-machine configuration: the media's kernel.
  const cfg = await readPublished(files, `grub/pxekit/${MAC}.cfg`);
  assert.match(cfg, new RegExp(`^linux /iso/${media.id}/casper/vmlinuz boot=casper`, 'm'));
  // A menu: one shim must trust every entry, so PXE Kit's.
  await lib.setMenu({ enabled: true, timeoutSeconds: 5, includeLocalBoot: true });
  await lib.clearAssignment(MAC);
  assert.equal(chooser.plan(MAC).signedLoaders, PXEKIT_SIGNED_LOADERS);
});

test('an own GRUB with another prefix reads the dispatch and per-machine configuration under that prefix, while its image is served', async (t) => {
  const bins = signedBinaries();
  const dir = tempDir(t);
  // Debian's network GRUB with its built-in prefix changed to /EFI/fd (as Fedora's GRUB has /EFI/fedora).
  // The signature no longer matches, which no firmware is asked about here.
  const grub = Buffer.from(readFileSync(bins.netGrub));
  const at = grub.indexOf(Buffer.from('/grub\0\0\0'), 100_000);
  assert.ok(at > 0);
  Buffer.from('/EFI/fd\0').copy(grub, at);
  writeFileSync(join(dir, 'grub-fd.efi'), grub);
  const iso = buildIso(mediaTree(dir, join(dir, 'grub-fd.efi'), bins.shim), join(dir, 'fd.iso'), { rockRidge: true, joliet: true });
  const lib = new ImageLibrary(join(dir, 'data'), { hashInBackground: false, shimPath: bins.shim });
  const media = await lib.add({ path: iso, name: 'FD' });
  const files = new PublishedFiles();
  const chooser = new BootChooser({ files, serverIp: '10.1.2.3', httpPort: 8080, library: lib });
  await chooser.start();
  t.after(() => chooser.stop());
  await lib.setAssignment({ mac: MAC, imageId: media.id, bootOnce: false });
  assert.equal(chooser.plan(MAC).signedLoaders.grubPrefix, 'EFI/fd');
  assert.match(await readPublished(files, '/EFI/fd/grub.cfg'), /configfile \$prefix\/pxekit\/\$\{net_default_mac\}\.cfg/);
  assert.match(await readPublished(files, `EFI/fd/pxekit/${MAC}.cfg`), new RegExp(`^linux /iso/${media.id}/casper/vmlinuz boot=casper`, 'm'));
  assert.equal(files.lookup('EFI/fd/other.cfg'), undefined);
  // The image leaves the library: its prefix is no longer served.
  await lib.remove(media.id);
  await chooser.sync();
  assert.equal(files.lookup('EFI/fd/grub.cfg'), undefined);
});
