// Recipe detection and the scripts they write, on ISOs built here with xorriso from
// synthetic trees of each family's layout (contents are placeholders: only the layout counts).
import { test } from 'node:test';
import { readPublished } from '../helpers/published.js';
import { payloadFor } from '../../src/boot/boot-plan.js';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { buildIso, tempDir, writeTree, type TreeSpec, patternBytes } from '../helpers/iso-build.js';
import { openImage, publishOpened, safeId } from '../../src/images/publish-iso.js';
import { PublishedFiles } from '../../src/files/published.js';
import { wimbootStandin } from '../helpers/wimboot-standin.js';

const SERVER = { serverIp: '10.9.8.1', httpPort: 8080 };
const BASE = 'http://10.9.8.1:8080';

async function plan(t: Parameters<typeof tempDir>[0], spec: TreeSpec, o: { rockRidge?: boolean; joliet?: boolean; bios?: string; uefi?: string; wimboot?: boolean; memdisk?: boolean; folder?: boolean; cmdline?: string } = {}) {
  const dir = tempDir(t);
  const src = join(dir, 'src');
  writeTree(src, spec);
  const helpers: { wimboot?: string; memdisk?: string; noSearch: boolean } = { noSearch: true };
  if (o.wimboot) helpers.wimboot = wimbootStandin(dir); // a given wimboot must be wimboot (src/images/wimboot.ts)
  if (o.memdisk) writeFileSync((helpers.memdisk = join(dir, 'memdisk')), 'fake memdisk');
  const path = o.folder ? src : buildIso(src, join(dir, 'test.iso'), { rockRidge: o.rockRidge ?? true, joliet: o.joliet, bios: o.bios, uefi: o.uefi, volumeId: 'TESTVOL' });
  const opened = await openImage(path, helpers);
  t.after(() => opened.tree.close());
  const files = new PublishedFiles();
  const pub = await publishOpened(files, opened, { ...SERVER, id: 'img1', cmdline: o.cmdline });
  return { opened, plan: opened.plan, pub, files, script: pub.script() };
}

test('casper live ISO: kernel + initrd from casper/, the ISO over HTTP, version from .disk/info', async (t) => {
  const r = await plan(t, {
    'casper/vmlinuz': 'K',
    'casper/initrd': 'I',
    'casper/hwe-vmlinuz': 'K2',
    'casper/filesystem.squashfs': 'S',
    '.disk/info': 'Ubuntu 22.04.3 LTS "Jammy Jellyfish" - Release amd64 (20230807.2)\n',
  }, { cmdline: 'console=ttyS0' });
  assert.equal(r.plan.recipe, 'casper');
  assert.equal(r.plan.os, 'Ubuntu');
  assert.equal(r.plan.version, '22.04.3 LTS');
  assert.deepEqual(r.plan.bootModes, ['bios', 'uefi']);
  assert.match(r.script, new RegExp(`^kernel ${BASE}/iso/img1/casper/vmlinuz initrd=0-initrd boot=casper netboot=url url=${BASE}/iso/img1\\.iso ip=dhcp console=ttyS0 \\|\\| goto failed$`, 'm'));
  assert.match(r.script, new RegExp(`^initrd --name 0-initrd ${BASE}/iso/img1/casper/initrd \\|\\| goto failed$`, 'm'));
  assert.deepEqual(r.pub.payload.map((f) => f.path), ['iso/img1/casper/vmlinuz', 'iso/img1/casper/initrd']);
  // The ISO and every file of its tree are published, with roles.
  assert.equal(r.files.lookup('iso/img1.iso')?.role, 'image file');
  assert.equal(r.files.lookup('iso/img1/casper/vmlinuz')?.role, 'kernel');
  assert.equal(r.files.lookup('iso/img1/CASPER/INITRD')?.role, 'initrd', 'case-insensitive like the ISO');
  assert.equal(r.files.lookup('iso/img1/casper/filesystem.squashfs')?.role, 'image file');
  assert.equal(r.files.lookup('iso/img1/casper/nothere'), undefined);
  assert.equal(r.files.lookup('iso/img1/../img1.iso'), undefined);
  await r.pub.unpublish();
  assert.equal(r.files.lookup('iso/img1/casper/vmlinuz'), undefined);
});

test('Debian live: live/vmlinuz-*, live/initrd.img-*, fetch= the squashfs', async (t) => {
  const r = await plan(t, {
    'live/vmlinuz-6.1.0-13-amd64': 'K',
    'live/initrd.img-6.1.0-13-amd64': 'I',
    'live/filesystem.squashfs': 'S',
    '.disk/info': 'Debian GNU/Linux 12.2.0 "Bookworm" - Official Live amd64 standard 20231007',
  });
  assert.equal(r.plan.recipe, 'debian-live');
  assert.equal(r.plan.os, 'Debian GNU/Linux');
  assert.equal(r.plan.version, '12.2.0');
  assert.match(r.script, new RegExp(`kernel ${BASE}/iso/img1/live/vmlinuz-6\\.1\\.0-13-amd64 initrd=0-initrd\\.img-6\\.1\\.0-13-amd64 boot=live fetch=${BASE}/iso/img1/live/filesystem\\.squashfs ip=dhcp \\|\\|`));
});

test('Debian installer (netinst): the installer\'s kernel + initrd from install.amd/, not a sanboot of the ISO; says it needs a mirror', async (t) => {
  const r = await plan(t, {
    'install.amd/vmlinuz': 'K',
    'install.amd/initrd.gz': 'I',
    'install.amd/gtk/initrd.gz': 'G',
    'pool/main/b/base-files/base-files_12.4_amd64.deb': 'D',
    'isolinux/isolinux.bin': patternBytes(2048, 3),
    '.disk/info': 'Debian GNU/Linux 12.5.0 "Bookworm" - Official amd64 NETINST with firmware 20240210-11:27',
  }, { bios: 'isolinux/isolinux.bin' });
  assert.equal(r.plan.recipe, 'debian-installer');
  assert.equal(r.plan.os, 'Debian GNU/Linux');
  assert.equal(r.plan.version, '12.5.0');
  assert.deepEqual(payloadFor(r.pub, 'bios'), ['iso/img1/install.amd/vmlinuz', 'iso/img1/install.amd/initrd.gz']);
  assert.match(r.script, new RegExp(`kernel ${BASE}/iso/img1/install\\.amd/vmlinuz initrd=0-initrd\\.gz`));
  assert.doesNotMatch(r.script, /sanboot/);
  assert.ok(r.plan.notes.some((n) => /network mirror/.test(n)));
});

test('Rocky/RHEL family: images/pxeboot, .treeinfo names it; DVD gets inst.repo, boot ISO inst.stage2', async (t) => {
  const treeinfo = '[general]\nfamily = Rocky Linux\nversion = 9.2\n[release]\nname = Rocky Linux\nversion = 9.2\n[stage2]\nmainimage = images/install.img\n';
  const boot = await plan(t, { 'images/pxeboot/vmlinuz': 'K', 'images/pxeboot/initrd.img': 'I', 'images/install.img': 'S', '.treeinfo': treeinfo });
  assert.equal(boot.plan.recipe, 'redhat');
  assert.equal(boot.plan.os, 'Rocky Linux');
  assert.equal(boot.plan.version, '9.2');
  assert.match(boot.script, new RegExp(`kernel ${BASE}/iso/img1/images/pxeboot/vmlinuz initrd=0-initrd\\.img inst\\.stage2=${BASE}/iso/img1/ ip=dhcp \\|\\|`));
  const dvd = await plan(t, { 'images/pxeboot/vmlinuz': 'K', 'images/pxeboot/initrd.img': 'I', 'BaseOS/repodata/repomd.xml': 'x', '.treeinfo': treeinfo });
  assert.match(dvd.script, new RegExp(`inst\\.repo=${BASE}/iso/img1/ ip=dhcp`));
  const live = await plan(t, { 'images/pxeboot/vmlinuz': 'K', 'images/pxeboot/initrd.img': 'I', 'LiveOS/squashfs.img': 'S' });
  assert.match(live.script, new RegExp(`root=live:${BASE}/iso/img1/LiveOS/squashfs\\.img rd\\.live\\.image ip=dhcp`));
});

test('Arch: microcode first, then the initramfs; archiso_http_srv is the tree', async (t) => {
  const r = await plan(t, {
    'arch/boot/x86_64/vmlinuz-linux': 'K',
    'arch/boot/x86_64/initramfs-linux.img': 'I',
    'arch/boot/intel-ucode.img': 'U',
    'arch/boot/amd-ucode.img': 'A',
    'arch/version': '2024.01.01\n',
  });
  assert.equal(r.plan.recipe, 'arch');
  assert.equal(r.plan.version, '2024.01.01');
  const initrds = [...r.script.matchAll(/^initrd --name (\S+) (\S+)/gm)].map((m) => m[2].replace(BASE, ''));
  assert.deepEqual(initrds, ['/iso/img1/arch/boot/intel-ucode.img', '/iso/img1/arch/boot/amd-ucode.img', '/iso/img1/arch/boot/x86_64/initramfs-linux.img']);
  assert.match(r.script, new RegExp(`archisobasedir=arch archiso_http_srv=${BASE}/iso/img1/ ip=dhcp`));
});

const WINPE: TreeSpec = {
  bootmgr: patternBytes(3000, 1),
  'Boot/BCD': patternBytes(5000, 2),
  'Boot/boot.sdi': patternBytes(7000, 3),
  'sources/boot.wim': patternBytes(9000, 4),
  'efi/boot/bootx64.efi': patternBytes(4000, 5),
};

test('Windows setup media with wimboot: WinPE gets the two files that connect PXE Kit\'s share, written when asked; plain WinPE gets none', async (t) => {
  const setup = await plan(t, { ...WINPE, 'sources/install.wim': patternBytes(6000, 6) }, { wimboot: true });
  assert.equal(setup.plan.setupMedia, true);
  assert.match(setup.plan.method, /setup reads the rest from PXE Kit's SMB share/);
  const inject = ['winpeshl.ini', 'pxekit-setup.cmd'].map((n) => `initrd --name ${n} ${BASE}/winpe/img1/${n} || goto failed`);
  const lines = setup.script.split('\n');
  const at = inject.map((l) => lines.indexOf(l));
  assert.ok(at.every((i) => i > lines.findIndex((l) => l.includes('--name boot.wim'))), `after boot.wim:\n${setup.script}`);
  assert.ok(at.every((i) => i < lines.findIndex((l) => l.startsWith('imgfetch --name pxekit-handoff'))), 'before the hand-off report');
  // No share given: the files say so (never a failed initrd that would stop the boot).
  const cmd = await readPublished(setup.files, 'winpe/img1/pxekit-setup.cmd');
  assert.match(cmd, /PXE Kit did not share the install media: no share was started for these media\.\r\n/);
  assert.match(await readPublished(setup.files, 'winpe/img1/winpeshl.ini'), /^\[LaunchApps\]\r\n.*pxekit-setup\.cmd\r\n$/);
  assert.equal(setup.files.lookup('winpe/img1/other.txt'), undefined);
  // With the share's account: the script connects it (src/images/winpe-setup.ts writes it; here only that it is asked).
  const files = new PublishedFiles();
  const asked: string[] = [];
  await publishOpened(files, setup.opened, { ...SERVER, id: 'img2', setupFiles: (source) => (asked.push(source), [{ name: 'pxekit-setup.cmd', text: 'net use' }]) });
  assert.equal(await readPublished(files, 'winpe/img2/pxekit-setup.cmd'), 'net use');
  assert.deepEqual(asked, [setup.opened.path], 'asked for these media, when WinPE asks');
  // Plain WinPE (no install.wim): its own startnet.cmd runs; nothing is injected.
  const pe = await plan(t, WINPE, { wimboot: true });
  assert.equal(pe.plan.setupMedia, false);
  assert.doesNotMatch(pe.script, /winpeshl|pxekit-setup/);
  assert.equal(pe.files.lookup('winpe/img1/pxekit-setup.cmd'), undefined);
});

test('WinPE with wimboot: bootmgr (BIOS) or bootx64.efi (UEFI), BCD, boot.sdi, boot.wim from the ISO', async (t) => {
  const r = await plan(t, WINPE, { wimboot: true });
  assert.equal(r.plan.recipe, 'winpe');
  assert.equal(r.plan.os, 'Windows PE');
  assert.deepEqual(r.plan.bootModes, ['bios', 'uefi']);
  assert.match(r.script, new RegExp(`^kernel ${BASE}/helpers/img1/wimboot gui \\|\\| goto failed$`, 'm'));
  for (const [name, path] of [['bootmgr', 'bootmgr'], ['bootx64.efi', 'efi/boot/bootx64.efi'], ['BCD', 'Boot/BCD'], ['boot.sdi', 'Boot/boot.sdi'], ['boot.wim', 'sources/boot.wim']]) {
    assert.match(r.script, new RegExp(`^initrd --name ${name.replace('.', '\\.')} ${BASE}/iso/img1/${path.replace('.', '\\.')} \\|\\| goto failed$`, 'm'), name);
  }
  assert.match(r.script, /iseq \$\{platform\} efi/);
  assert.equal(r.files.lookup('helpers/img1/wimboot')?.role, 'payload');
  // A BIOS machine fetches bootmgr, a UEFI one the EFI boot manager: never both.
  assert.deepEqual(payloadFor(r.pub, 'bios'), ['iso/img1/bootmgr', 'iso/img1/Boot/BCD', 'iso/img1/Boot/boot.sdi', 'iso/img1/sources/boot.wim']);
  assert.deepEqual(payloadFor(r.pub, 'uefi'), ['iso/img1/efi/boot/bootx64.efi', 'iso/img1/Boot/BCD', 'iso/img1/Boot/boot.sdi', 'iso/img1/sources/boot.wim']);
  // The hand-off is reported just before wimboot starts, and the report is freed (wimboot would inject it into Windows).
  assert.match(r.script, new RegExp(`^imgfetch --name pxekit-handoff ${BASE}/handoff/\\$\\{netX/mac:hexhyp\\} && imgfree pxekit-handoff \\|\\| echo .*\\nboot \\|\\| goto failed$`, 'm'));
});

test('WinPE without wimboot: sanboot of the ISO, and it says where to get wimboot', async (t) => {
  const setup = await plan(t, { ...WINPE, 'sources/install.wim': 'W', 'sources/idwbinfo.txt': '[BUILDINFO]\r\nBuildArch=amd64\r\nBuildBranch=ni_release\r\n' });
  assert.equal(setup.plan.recipe, 'winpe');
  assert.equal(setup.plan.os, 'Windows setup');
  assert.equal(setup.plan.version, 'ni_release amd64');
  assert.match(setup.script, new RegExp(`^sanboot ${BASE}/iso/img1\\.iso \\|\\| goto failed$`, 'm'));
  assert.ok(setup.plan.notes.some((n) => n.includes('https://github.com/ipxe/wimboot/releases')));
  assert.deepEqual(setup.pub.payload.map((f) => f.path), ['iso/img1.iso']);
  assert.equal(setup.files.lookup('iso/img1.iso')?.role, 'iso');
});

test('anything else bootable: sanboot (BIOS+UEFI), memdisk for a small BIOS-only ISO when memdisk exists', async (t) => {
  const tree = { 'isolinux/isolinux.bin': patternBytes(2048, 9), 'efi.img': Buffer.alloc(0), 'README.TXT': 'hi' };
  const both = await plan(t, { ...tree, 'efi.img': fatImage() }, { bios: 'isolinux/isolinux.bin', uefi: 'efi.img' });
  assert.equal(both.plan.recipe, 'sanboot');
  assert.deepEqual(both.plan.bootModes, ['bios', 'uefi']);
  assert.match(both.script, new RegExp(`^sanboot ${BASE}/iso/img1\\.iso \\|\\| goto failed$`, 'm'));
  const biosOnly = await plan(t, tree, { bios: 'isolinux/isolinux.bin' });
  assert.equal(biosOnly.plan.recipe, 'sanboot', 'no memdisk on this machine: sanboot');
  assert.deepEqual(biosOnly.plan.bootModes, ['bios']);
  const md = await plan(t, tree, { bios: 'isolinux/isolinux.bin', memdisk: true });
  assert.equal(md.plan.recipe, 'memdisk');
  assert.match(md.script, new RegExp(`^kernel ${BASE}/helpers/img1/memdisk iso raw \\|\\| goto failed$`, 'm'));
  assert.match(md.script, new RegExp(`^initrd ${BASE}/iso/img1\\.iso \\|\\| goto failed$`, 'm'));
  assert.match(md.script, /iseq \$\{platform\} pcbios \|\| goto no_uefi/);
  const data = await plan(t, { 'README.TXT': 'just data' });
  assert.equal(data.plan.recipe, 'none');
  assert.deepEqual(data.plan.bootModes, []);
  assert.match(data.script, /is not a bootable image/);
  // --cmdline goes to a kernel PXE Kit starts: a sanbooted ISO starts its own, so it is refused with why.
  await assert.rejects(plan(t, tree, { bios: 'isolinux/isolinux.bin', cmdline: 'console=ttyS0' }), /--cmdline "console=ttyS0" cannot apply to test\.iso: it is started by its own boot loader \(iPXE sanboot/);
});

test('a plain ISO 9660 tree (upper-case names, no Rock Ridge) and an unpacked folder are detected too', async (t) => {
  const spec = { 'casper/vmlinuz': 'K', 'casper/initrd': 'I' };
  const plain = await plan(t, spec, { rockRidge: false });
  assert.equal(plain.plan.recipe, 'casper');
  const folder = await plan(t, { 'arch/boot/x86_64/vmlinuz-linux': 'K', 'arch/boot/x86_64/initramfs-linux.img': 'I' }, { folder: true });
  assert.equal(folder.plan.recipe, 'arch');
  assert.equal(folder.opened.kind, 'folder');
  const src = await folder.files.lookup('iso/img1/arch/boot/x86_64/vmlinuz-linux')!.open();
  const b = Buffer.alloc(1);
  await src.read(b, 0, 1, 0);
  await src.close();
  assert.equal(b.toString(), 'K');
});

test('safeId keeps ids to plain URL segments', () => {
  assert.equal(safeId('Ubuntu 22.04 Desktop.iso'), 'ubuntu-22.04-desktop');
  assert.equal(safeId('../..'), 'image');
});

function fatImage(): Buffer {
  const img = Buffer.alloc(64 * 1024);
  img.set([0xeb, 0x3c, 0x90], 0);
  img.writeUInt16LE(512, 11);
  img[13] = 4;
  img.writeUInt16LE(1, 14);
  img[16] = 2;
  img.writeUInt16LE(512, 17);
  img.writeUInt16LE(128, 19);
  img[21] = 0xf8;
  img.writeUInt16LE(8, 22);
  img[510] = 0x55;
  img[511] = 0xaa;
  return img;
}
