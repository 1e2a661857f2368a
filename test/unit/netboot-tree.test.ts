// Netboot trees on real loaders from Debian's packages (pxelinux, syslinux-efi, ipxe, memtest86+,
// grub-mkimage, the signed shim + network GRUB in resources/secureboot): what each loader is,
// a Debian-netboot-shaped tree with its symlinks, per-machine menus, bad trees (no loader, links
// out, too many files), --boot-file, the DHCP policy, per-client roots, the tracker's hand-off and
// the loaders' expected misses.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BootFixtures } from '../../src/lab/fixtures.js';
import { writeKernelStub } from '../helpers/fake-kernel.js';
import {
  GRUB_EFI_MODULES,
  GRUB_MODULES,
  grubConfigSearch,
  grubTree,
  MEMTEST_BIN,
  MEMTEST_EFI,
  packTar,
  PXELINUX_0,
  pxelinuxMacConfigName,
  pxelinuxTree,
  SYSLINUX_BIOS_MODULES,
  SYSLINUX_EFI64,
  syslinuxConfigSearch,
  syslinuxEfiTree,
} from '../helpers/netboot-trees.js';
import { folderTree } from '../../src/images/tree.js';
import { chooseLoaders, identifyLoader, scanLoaders, type NetbootLoader } from '../../src/images/netboot-loaders.js';
import { findIndexed, indexFolder, openIndexed, TreeTooLarge } from '../../src/images/netboot-index.js';
import {
  isNetbootFolder,
  loaderLines,
  namedBy,
  NETBOOT_PROBES,
  netbootMachinePlan,
  netbootResolver,
  netbootRoles,
  netbootSecureBoot,
  openNetboot,
  type OpenedNetboot,
} from '../../src/images/netboot-tree.js';
import { parseBootFiles } from '../../src/cli/boot-files.js';
import { imageSpecFromPath } from '../../src/images/publish-image.js';
import { createBootPolicy } from '../../src/boot/policy.js';
import type { ClientArch, ClientInfo } from '../../src/boot/client.js';
import type { BootOffer, BootRefusal } from '../../src/boot/decision.js';
import type { BootPlan } from '../../src/boot/boot-plan.js';
import { PXEKIT_SIGNED_LOADERS } from '../../src/boot/signed-chain.js';
import type { IpxeBinaries } from '../../src/boot/ipxe-binaries.js';
import { bufferFile, PublishedFiles, type PublishedFile } from '../../src/files/published.js';
import { SessionTracker } from '../../src/sessions/tracker.js';
import type { DhcpEvent, TransferEvent } from '../../src/sessions/events.js';
import type { FileRole } from '../../src/files/roles.js';
import { BootChooser } from '../../src/images/boot-chooser.js';
import { ImageLibrary } from '../../src/images/library.js';
import { readPublished } from '../helpers/published.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SECUREBOOT = join(REPO, 'resources', 'secureboot');
const SHIM = join(SECUREBOOT, 'shimx64.efi');
const GRUBNET = join(SECUREBOOT, 'grubnetx64.efi');
const GCD = join(SECUREBOOT, 'gcdx64.efi');
const LPXELINUX_0 = '/usr/lib/PXELINUX/lpxelinux.0';
const UNDIONLY = '/usr/lib/ipxe/undionly.kpxe';
const IPXE_EFI = '/usr/lib/ipxe/ipxe.efi';

const MAC = '52:54:00:aa:bb:cc';
const OTHER_MAC = '52:54:00:11:22:33';

let work: string;
let fx: BootFixtures;

before(() => {
  if (!existsSync(SHIM) || !existsSync(GRUBNET)) execFileSync('bash', [join(REPO, 'build', 'fetch-secureboot.sh')], { cwd: REPO, stdio: 'ignore' });
  work = mkdtempSync(join(tmpdir(), 'pxk-netboot-unit-'));
  const fxDir = join(work, 'fx');
  mkdirSync(fxDir);
  const initrd = join(fxDir, 'initrd.img');
  writeFileSync(initrd, Buffer.from('070701 fake initramfs for the tree tests\n'));
  fx = { kernel: writeKernelStub(fxDir), initrd, marker: 'PXEKIT-TEST', kernelPackage: 'custom', dir: fxDir };
});
after(() => rmSync(work, { recursive: true, force: true }));

let n = 0;
/** A fresh folder under the test's work dir. */
function dir(name: string): string {
  const d = join(work, `${name}-${n++}`);
  mkdirSync(d, { recursive: true });
  return d;
}
function put(root: string, rel: string, content: string | Buffer): string {
  const p = join(root, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, content);
  return p;
}
function cp(src: string, root: string, rel: string): string {
  const p = join(root, rel);
  mkdirSync(dirname(p), { recursive: true });
  copyFileSync(src, p);
  return p;
}
function mkgrub(out: string, prefix: string, modules = GRUB_MODULES): void {
  mkdirSync(dirname(out), { recursive: true });
  execFileSync('grub-mkimage', ['-O', 'x86_64-efi', '-d', GRUB_EFI_MODULES, '-p', prefix, '-o', out, ...modules], { stdio: ['ignore', 'pipe', 'pipe'] });
}
async function identify(root: string, rel: string): Promise<NetbootLoader | undefined> {
  const tree = folderTree(root);
  const e = await tree.stat(rel);
  assert.ok(e, `${rel} is in the tree`);
  return identifyLoader(tree, e);
}
async function readAll(f: PublishedFile): Promise<string> {
  const src = await f.open();
  try {
    const buf = Buffer.alloc(src.size);
    let off = 0;
    while (off < buf.length) {
      const r = await src.read(buf, off, buf.length - off, off);
      if (r <= 0) break;
      off += r;
    }
    return buf.subarray(0, off).toString('latin1');
  } finally {
    await src.close();
  }
}

// ------------------------------------------------------------------ the prefix of Debian's network GRUB
/** The prefix built into grubnetx64.efi, read with strings(1) the way a person would check it (independent of parseGrubImage). */
function grubnetPrefixByStrings(): string {
  const out = execFileSync('strings', ['-n', '4', GRUBNET], { maxBuffer: 64 * 1024 * 1024 }).toString();
  // The prefix object is the last string of the mods section: a path ending in "grub", right after the modules.
  const candidates = out.split('\n').filter((l) => /^(\([^)]*\))?\/[A-Za-z0-9_./-]*grub$/.test(l));
  assert.ok(candidates.length >= 1, 'a prefix string in grubnetx64.efi');
  return candidates[candidates.length - 1];
}

// ------------------------------------------------------------------ the Debian-netboot-shaped tree
/**
 * As Debian's netboot.tar.gz lays it out: pxelinux.0 and pxelinux.cfg at the root are symlinks into
 * debian-installer/amd64/, which holds bootnetx64.efi (the signed shim) and grubx64.efi (the signed
 * network GRUB). The GRUB reads grub.cfg under its built-in prefix, so grub/ sits where that prefix
 * says (a symlink into debian-installer/amd64/grub, as the pxelinux ones are).
 */
function debianTree(): { root: string; grubPrefix: string } {
  const root = dir('debian');
  const d = 'debian-installer/amd64';
  cp(PXELINUX_0, root, `${d}/pxelinux.0`);
  cp(join(SYSLINUX_BIOS_MODULES, 'ldlinux.c32'), root, `${d}/boot-screens/ldlinux.c32`);
  cp(SHIM, root, `${d}/bootnetx64.efi`);
  cp(GRUBNET, root, `${d}/grubx64.efi`);
  cp(fx.kernel, root, `${d}/linux`);
  cp(fx.initrd, root, `${d}/initrd.gz`);
  put(root, `${d}/initrd-mine.gz`, 'the initrd of one machine');
  put(
    root,
    `${d}/pxelinux.cfg/default`,
    [
      'DEFAULT install',
      'PROMPT 0',
      'TIMEOUT 1',
      'LABEL install',
      `  KERNEL ${d}/linux`,
      `  APPEND vga=788 initrd=${d}/initrd.gz --- quiet`,
      'LABEL expert',
      `  KERNEL ${d}/linux`,
      `  APPEND priority=low initrd=${d}/initrd-expert.gz`,
      '',
    ].join('\n'),
  );
  put(root, `${d}/pxelinux.cfg/${pxelinuxMacConfigName(MAC)}`, ['DEFAULT mine', 'LABEL mine', `  KERNEL ${d}/linux`, `  APPEND initrd=${d}/initrd-mine.gz auto=true`, ''].join('\n'));
  put(root, `${d}/grub/grub.cfg`, ['set timeout=1', "menuentry 'Install' {", `  linux /${d}/linux vga=788 --- quiet`, `  initrd /${d}/initrd.gz`, '}', ''].join('\n'));
  put(root, `${d}/grub/grub.cfg-${pxelinuxMacConfigName(MAC)}`, ["menuentry 'Mine' {", `  linux /${d}/linux auto=true`, `  initrd /${d}/initrd-mine.gz`, '}', ''].join('\n'));
  symlinkSync(`${d}/pxelinux.0`, join(root, 'pxelinux.0'));
  symlinkSync(`${d}/pxelinux.cfg`, join(root, 'pxelinux.cfg'));
  symlinkSync(`${d}/boot-screens/ldlinux.c32`, join(root, 'ldlinux.c32'));
  // Lay grub.cfg out where grubnetx64.efi's prefix says ("/grub" -> grub/ at the root).
  const prefix = grubnetPrefixByStrings().replace(/^\([^)]*\)/, '').replace(/^\/+|\/+$/g, '');
  if (prefix !== `${d}/grub`) {
    mkdirSync(dirname(join(root, prefix)), { recursive: true });
    symlinkSync(join(...prefix.split('/').slice(1).map(() => '..'), d, 'grub'), join(root, prefix));
  }
  return { root, grubPrefix: prefix };
}

// ================================================================== loaders by content

test('loaders from Debian packages are identified by content, with the right kind and firmware', async () => {
  const root = dir('loaders');
  cp(PXELINUX_0, root, 'bios/pxelinux.0');
  cp(LPXELINUX_0, root, 'bios/lpxelinux.0');
  cp(SYSLINUX_EFI64, root, 'efi/syslinux.efi');
  cp('/usr/lib/ipxe/snponly.efi', root, 'efi/snponly.efi');
  cp(MEMTEST_EFI, root, 'efi/memtest.efi');
  cp(MEMTEST_BIN, root, 'bios/memtest.bin');
  // A kernel (bzImage with its EFI stub: "MZ" at 0, "HdrS" at 0x202) and text named like loaders are not loaders.
  const kernel = readFileSync(fx.kernel);
  kernel.write('MZ', 0, 'latin1');
  put(root, 'bios/vmlinuz.0', kernel);
  put(root, 'bios/notes.0', 'x'.repeat(2000));

  const want: Record<string, [string, string] | undefined> = {
    'bios/pxelinux.0': ['pxelinux', 'bios'],
    'bios/lpxelinux.0': ['lpxelinux', 'bios'],
    'efi/syslinux.efi': ['syslinux-efi', 'x64'],
    'efi/snponly.efi': ['ipxe', 'x64'],
    'efi/memtest.efi': ['efi-program', 'x64'],
    'bios/memtest.bin': undefined, // not a PXE name
  };
  for (const [rel, exp] of Object.entries(want)) {
    const l = await identify(root, rel);
    if (!exp) {
      assert.equal(l, undefined, `${rel} is no loader`);
      continue;
    }
    assert.ok(l, `${rel} identified`);
    assert.deepEqual([l.kind, l.firmware, l.path], [...exp, rel], rel);
    assert.ok(l.size > 512);
  }
  // A kernel (bzImage, "MZ" at 0) called *.0 is no PXE program.
  assert.equal(await identify(root, 'bios/vmlinuz.0'), undefined);
});

test(
  "Debian's iPXE builds (undionly.kpxe, undionly.kkpxe, ipxe.pxe, ipxe.efi) are identified as iPXE",
  async () => {
    const root = dir('bios-ipxe');
    cp(UNDIONLY, root, 'undionly.kpxe');
    cp('/usr/lib/ipxe/undionly.kkpxe', root, 'undionly.kkpxe');
    cp('/usr/lib/ipxe/ipxe.pxe', root, 'ipxe.pxe');
    cp(IPXE_EFI, root, 'ipxe.efi');
    const got = [];
    for (const rel of ['undionly.kpxe', 'undionly.kkpxe', 'ipxe.pxe', 'ipxe.efi']) {
      const l = await identify(root, rel);
      got.push([rel, l?.kind, l?.firmware]);
    }
    assert.deepEqual(got, [
      ['undionly.kpxe', 'ipxe', 'bios'],
      ['undionly.kkpxe', 'ipxe', 'bios'],
      ['ipxe.pxe', 'ipxe', 'bios'],
      ['ipxe.efi', 'ipxe', 'x64'],
    ]);
  },
);

test('a shim next to a network GRUB gets it as its second stage; alone it is passed over', async () => {
  const root = dir('shim');
  cp(SHIM, root, 'a/shimx64.efi');
  cp(GRUBNET, root, 'a/grubx64.efi');
  cp(SHIM, root, 'lonely/shimx64.efi');
  const l = await identify(root, 'a/shimx64.efi');
  assert.equal(l?.kind, 'shim');
  assert.equal(l?.firmware, 'x64');
  assert.match(l!.what, /signed/);
  const g = await identify(root, 'a/grubx64.efi');
  assert.equal(g?.kind, 'grub');
  const scan = await scanLoaders(folderTree(root));
  const shims = scan.loaders.filter((x) => x.kind === 'shim');
  assert.deepEqual(shims.map((s) => [s.path, s.secondStage]), [
    ['a/shimx64.efi', 'a/grubx64.efi'],
    ['lonely/shimx64.efi', undefined],
  ]);
  assert.equal(chooseLoaders(scan.loaders).x64?.path, 'a/shimx64.efi', 'the shim with its GRUB is preferred over the bare GRUB');
  // Without its GRUB, the lonely shim is never chosen.
  const lonely = scan.loaders.filter((x) => x.path.startsWith('lonely/'));
  assert.equal(chooseLoaders(lonely).x64, undefined);
});

test("a GRUB's prefix is read as a tree-relative folder; a GRUB without tftp is no network loader", async () => {
  const root = dir('grubs');
  mkgrub(join(root, 'tools/grubx64.efi'), '(tftp)/tools/grub');
  mkgrub(join(root, 'plain/grubx64.efi'), '/boot/grub');
  cp(GRUBNET, root, 'debian/grubx64.efi');
  cp(GCD, root, 'cd/grubx64.efi');
  const tools = await identify(root, 'tools/grubx64.efi');
  assert.deepEqual([tools?.kind, tools?.firmware, tools?.grubPrefix], ['grub', 'x64', 'tools/grub']);
  assert.match(tools!.what, /tftp and http/);
  assert.match(tools!.what, /reads tools\/grub\/grub\.cfg/);
  assert.equal((await identify(root, 'plain/grubx64.efi'))?.grubPrefix, 'boot/grub');
  const deb = await identify(root, 'debian/grubx64.efi');
  assert.equal(deb?.kind, 'grub');
  // The same prefix strings(1) finds in the file, as a tree-relative folder.
  assert.equal(deb?.grubPrefix, grubnetPrefixByStrings().replace(/^\([^)]*\)/, '').replace(/^\/+|\/+$/g, ''));
  const cd = await identify(root, 'cd/grubx64.efi');
  assert.equal(cd?.kind, 'efi-program');
  assert.match(cd!.what, /GRUB without a network protocol/);
  assert.equal(chooseLoaders([cd!]).x64, undefined, 'a GRUB that cannot read the network is never handed out');
});

// ================================================================== a Debian-shaped netboot tree

test('a Debian-netboot-shaped tree: pxelinux.0 symlink for BIOS, the signed shim + network GRUB for UEFI, menus read through the links', async () => {
  const { root, grubPrefix } = debianTree();
  const nb = await openNetboot(root);
  assert.equal(nb.loaders.bios?.path, 'pxelinux.0', 'the root symlink, nearest the root');
  assert.equal(nb.loaders.bios?.kind, 'pxelinux');
  const x64 = nb.loaders.x64!;
  assert.deepEqual([x64.kind, x64.path, x64.secondStage], ['shim', 'debian-installer/amd64/bootnetx64.efi', 'debian-installer/amd64/grubx64.efi']);
  const grub = nb.scan.loaders.find((l) => l.path === 'debian-installer/amd64/grubx64.efi');
  assert.equal(grub?.grubPrefix, grubPrefix);
  // Links inside the tree are followed and served.
  assert.equal(findIndexed(nb.index, 'pxelinux.cfg/default')?.real, join(root, 'debian-installer/amd64/pxelinux.cfg/default'));
  assert.equal(nb.index.outside.length, 0);
  // What each firmware's menus name.
  const bios = nb.readings.bios!;
  assert.deepEqual(bios.common.configs[0], 'pxelinux.cfg/default');
  assert.deepEqual(
    bios.common.entries.map((e) => [e.label, e.kernel, e.initrds, e.isDefault]),
    [
      ['install', 'debian-installer/amd64/linux', ['debian-installer/amd64/initrd.gz'], true],
      ['expert', 'debian-installer/amd64/linux', ['debian-installer/amd64/initrd-expert.gz'], false],
    ],
  );
  const uefi = nb.readings.x64!;
  assert.equal(uefi.common.entries[0]?.label, 'Install');
  assert.deepEqual(uefi.common.entries[0]?.initrds, ['debian-installer/amd64/initrd.gz']);
  assert.deepEqual([...bios.perMac.keys()], [MAC]);
  assert.deepEqual([...uefi.perMac.keys()], [MAC]);
  // The missing expert initrd is said, with its menu.
  assert.ok(nb.notes.some((s) => /pxelinux\.cfg\/default names the initrd debian-installer\/amd64\/initrd-expert\.gz, which is not in the folder/.test(s)), nb.notes.join('\n'));
  // Signed shim first: Secure Boot on is fine.
  const sb = netbootSecureBoot(nb);
  assert.equal(sb.verdict, 'boots', sb.reason);
  const lines = loaderLines(nb);
  assert.match(lines.find((l) => l.startsWith('UEFI x64'))!, /debian-installer\/amd64\/bootnetx64\.efi \(shim \(signed\).*then debian-installer\/amd64\/grubx64\.efi\); boots "Install"/);
  assert.match(lines.find((l) => l.startsWith('BIOS'))!, /pxelinux\.0 .*boots "install".*1 machine has its own configuration/);
  assert.match(lines.find((l) => l.startsWith('UEFI ARM64'))!, /nothing: the folder has no loader for it/);
});

test('netbootMachinePlan: the machine with its own config gets its payload; another machine the common one', async () => {
  const { root } = debianTree();
  const nb = await openNetboot(root);
  const d = 'debian-installer/amd64';
  const mine = netbootMachinePlan(nb, MAC.toUpperCase());
  const bios = (p: { payload: { firmware?: string; role: string; path: string }[] }) => p.payload.filter((f) => f.firmware === 'bios').map((f) => [f.role, f.path]);
  assert.deepEqual(bios(mine), [
    ['kernel', `${d}/linux`],
    ['initrd', `${d}/initrd-mine.gz`],
  ]);
  assert.deepEqual(
    mine.entries.filter((e) => e.firmware === 'bios'),
    [{ firmware: 'bios', files: [`${d}/linux`, `${d}/initrd-mine.gz`] }],
  );
  const other = netbootMachinePlan(nb, OTHER_MAC);
  assert.deepEqual(
    other.payload.map((p) => [p.firmware, p.path]),
    [
      ['bios', `${d}/linux`],
      ['bios', `${d}/initrd.gz`],
      ['uefi', `${d}/linux`],
      ['uefi', `${d}/initrd.gz`],
    ],
  );
  // Every entry of the menu is a possible hand-off, not only the default one.
  assert.deepEqual(other.entries, [
    { firmware: 'bios', files: [`${d}/linux`, `${d}/initrd.gz`] },
    { firmware: 'bios', files: [`${d}/linux`, `${d}/initrd-expert.gz`] },
    { firmware: 'uefi', files: [`${d}/linux`, `${d}/initrd.gz`] },
  ]);
});

test(
  "netbootMachinePlan: a machine with its own GRUB config (grub.cfg-01-<mac>) gets that config's payload, not grub.cfg's",
  async () => {
    const { root } = debianTree();
    const nb = await openNetboot(root);
    const d = 'debian-installer/amd64';
    const mine = netbootMachinePlan(nb, MAC);
    assert.deepEqual(
      mine.payload.filter((f) => f.firmware === 'uefi').map((f) => [f.role, f.path]),
      [
        ['kernel', `${d}/linux`],
        ['initrd', `${d}/initrd-mine.gz`],
      ],
    );
    assert.deepEqual(
      mine.entries.filter((e) => e.firmware === 'uefi'),
      [{ firmware: 'uefi', files: [`${d}/linux`, `${d}/initrd-mine.gz`] }],
    );
  },
);

test('namedBy: a file a menu names is said with that menu; a file no menu names is not', async () => {
  const { root } = debianTree();
  const nb = await openNetboot(root);
  assert.equal(namedBy(nb, 'debian-installer/amd64/initrd.gz'), 'named as the initrd of "install" in pxelinux.cfg/default');
  assert.equal(namedBy(nb, '/Debian-Installer/amd64/LINUX'), 'named as the kernel of "install" in pxelinux.cfg/default', 'leading slash and case as loaders send them');
  // A file the menu names that the tree lacks: still said with its menu.
  assert.match(namedBy(nb, 'debian-installer/amd64/initrd-expert.gz') ?? '', /^named as the initrd .*pxelinux\.cfg\/default$/);
  assert.equal(namedBy(nb, 'debian-installer/amd64/not-named.gz'), undefined);
  assert.equal(namedBy(nb, 'pxelinux.cfg/default'), undefined, 'a configuration is not a payload file');
});

test('pxelinuxTree and syslinuxEfiTree from the helpers open with their loader and their menus, and nothing said missing', async () => {
  const p = pxelinuxTree(dir('pxe'), fx, { cmdline: 'console=ttyS0', perMac: { mac: MAC, cmdline: 'mine=1' } });
  const nb = await openNetboot(p.root);
  assert.equal(nb.loaders.bios?.path, p.biosBootFile);
  assert.equal(nb.loaders.x64, undefined);
  assert.deepEqual(nb.notes, []);
  assert.deepEqual(netbootMachinePlan(nb, MAC).payload.map((f) => f.path), [p.kernel, p.initrd]);
  const s = syslinuxEfiTree(dir('sefi'), fx, { cmdline: 'console=ttyS0' });
  const nbe = await openNetboot(s.root);
  assert.equal(nbe.loaders.x64?.kind, 'syslinux-efi');
  assert.equal(nbe.loaders.x64?.path, s.uefiBootFile);
  assert.deepEqual(netbootMachinePlan(nbe, OTHER_MAC).payload.map((f) => [f.firmware, f.path]), [
    ['uefi', s.kernel],
    ['uefi', s.initrd],
  ]);
  // syslinux.efi loads ldlinux.e64, which the tree has: nothing is missing.
  assert.deepEqual(nbe.notes, [], nbe.notes.join('\n'));
});

// ================================================================== bad trees

test('a folder with no network loader is refused with what to do', async () => {
  const root = dir('noloader');
  cp(fx.kernel, root, 'boot/vmlinuz');
  put(root, 'README.txt', 'hello');
  cp(MEMTEST_BIN, root, 'memtest.bin');
  await assert.rejects(openNetboot(root), (e: Error) => {
    assert.match(e.message, /holds no network boot loader PXE Kit recognises/);
    assert.match(e.message, /--boot-file bios=PATH,uefi=PATH/);
    assert.ok(e.message.startsWith(root), 'names the folder');
    return true;
  });
  assert.equal(await isNetbootFolder(root), false);
  await assert.rejects(openNetboot(join(root, 'nope')), /no such file or folder/);
  await assert.rejects(openNetboot(join(root, 'README.txt')), /not a folder or a \.tar\.gz\/\.zip archive/);
});

test('a symlink out of the tree is not indexed, is noted, and never resolves', async () => {
  const p = pxelinuxTree(dir('out'), fx, { cmdline: 'x' });
  const secret = put(dir('secret'), 'secret.txt', 'SECRET');
  symlinkSync(secret, join(p.root, 'secret.txt'));
  symlinkSync(dirname(secret), join(p.root, 'outdir'));
  symlinkSync('../../..', join(p.root, 'boot/linux/up'));
  symlinkSync(join(p.root, 'does-not-exist'), join(p.root, 'dangling'));
  const nb = await openNetboot(p.root);
  assert.deepEqual(nb.index.outside.sort(), ['boot/linux/up', 'dangling', 'outdir', 'secret.txt']);
  assert.equal(findIndexed(nb.index, 'secret.txt'), undefined);
  assert.equal(findIndexed(nb.index, 'outdir/secret.txt'), undefined);
  assert.ok(nb.notes.some((s) => /4 links lead out of the folder and are not served/.test(s)), nb.notes.join('\n'));
  const resolve = netbootResolver(nb, netbootRoles(nb));
  for (const name of ['secret.txt', 'outdir/secret.txt', 'SECRET.TXT', 'boot/linux/up/etc/passwd', '../secret.txt']) assert.equal(resolve(name), undefined, name);
  // Through PublishedFiles as a client's root too.
  const files = new PublishedFiles();
  files.setClientRoot(() => resolve);
  assert.equal(files.lookup('/secret.txt', { clientIp: '10.0.0.5' }), undefined);
  assert.equal(files.lookup('/../secret.txt', { clientIp: '10.0.0.5' }), undefined);
  assert.equal(await readAll(files.lookup('pxelinux.cfg/default', { clientIp: '10.0.0.5' })!), readFileSync(join(p.root, 'pxelinux.cfg/default'), 'latin1'));
});

test('a file swapped for a link out of the tree after indexing is refused when opened', async () => {
  const root = dir('swap');
  const outside = dir('outside');
  put(outside, 'a.txt', 'OUTSIDE');
  put(outside, 'sub/file.txt', 'OUTSIDE-SUB');
  put(root, 'a.txt', 'inside-a');
  put(root, 'real-sub/file.txt', 'inside-sub');
  put(root, 'b.txt', 'inside-b');
  symlinkSync('b.txt', join(root, 'link.txt'));
  const idx = await indexFolder(root);
  const a = findIndexed(idx, 'a.txt')!;
  const sub = findIndexed(idx, 'real-sub/file.txt')!;
  const link = findIndexed(idx, 'link.txt')!;
  assert.ok(a && sub && link);
  // Before the swap: served.
  const s0 = await openIndexed(idx, a);
  assert.equal(s0.size, 'inside-a'.length);
  await s0.close();
  // A regular file replaced by a link out.
  unlinkSync(join(root, 'a.txt'));
  symlinkSync(join(outside, 'a.txt'), join(root, 'a.txt'));
  await assert.rejects(openIndexed(idx, a), /a\.txt now leads out of .*: not served/);
  // A folder replaced by a link out.
  renameSync(join(root, 'real-sub'), join(root, 'moved'));
  symlinkSync(join(outside, 'sub'), join(root, 'real-sub'));
  await assert.rejects(openIndexed(idx, sub), /now leads out of/);
  // The link itself pointed elsewhere: whatever is opened, it is never the outside file.
  unlinkSync(join(root, 'link.txt'));
  symlinkSync(join(outside, 'a.txt'), join(root, 'link.txt'));
  const opened = await openIndexed(idx, link).then(
    async (src) => {
      const buf = Buffer.alloc(src.size);
      await src.read(buf, 0, buf.length, 0);
      await src.close();
      return buf.toString();
    },
    (e: Error) => e.message,
  );
  assert.notEqual(opened, 'OUTSIDE');
});

test('a 100,000-file folder is indexed; with a smaller max it is refused as too large, with what to do', async () => {
  const root = dir('big');
  for (let d = 0; d < 100; d++) {
    mkdirSync(join(root, `d${d}`));
    for (let f = 0; f < 1000; f++) writeFileSync(join(root, `d${d}`, `f${f}`), '');
  }
  const idx = await indexFolder(root);
  assert.equal(idx.files, 100_000);
  assert.equal(findIndexed(idx, 'd99/f999')?.real, join(root, 'd99', 'f999'));
  assert.equal(findIndexed(idx, 'D42/F7')?.path, 'd42/f7');
  await assert.rejects(indexFolder(root, 50_000), (e: Error) => {
    assert.ok(e instanceof TreeTooLarge, 'TreeTooLarge');
    assert.match(e.message, /holds more than 50,000 files and folders: that is a whole disk, not a netboot folder/);
    assert.match(e.message, /Point PXE Kit at the folder that holds the boot loader/);
    return true;
  });
});

// ================================================================== --boot-file

test('--boot-file: a loader for another firmware, a missing file and a non-program are refused; a right one wins', async () => {
  const root = dir('bootfile');
  cp(PXELINUX_0, root, 'pxelinux.0');
  cp(LPXELINUX_0, root, 'other/lpxelinux.0');
  cp(join(SYSLINUX_BIOS_MODULES, 'ldlinux.c32'), root, 'ldlinux.c32');
  mkgrub(join(root, 'grubx64.efi'), '/grub');
  put(root, 'grub/grub.cfg', "menuentry 'x' {\n linux /vmlinuz\n}\n");
  cp(fx.kernel, root, 'vmlinuz');
  await assert.rejects(openNetboot(root, { bootFiles: { x64: 'pxelinux.0' } }), /--boot-file x64=pxelinux\.0: pxelinux\.0 is pxelinux .* for BIOS, not for UEFI x64/);
  await assert.rejects(openNetboot(root, { bootFiles: { bios: 'grubx64.efi' } }), /grubx64\.efi is GRUB .* for UEFI x64, not for BIOS/);
  await assert.rejects(openNetboot(root, { bootFiles: { bios: 'nope.0' } }), /--boot-file bios=nope\.0: there is no such file in /);
  await assert.rejects(openNetboot(root, { bootFiles: { bios: 'vmlinuz' } }), /vmlinuz is not a PXE or EFI boot program/);
  const nb = await openNetboot(root, { bootFiles: { bios: '\\Other\\LPXELINUX.0' } });
  assert.equal(nb.loaders.bios?.path, 'other/lpxelinux.0');
  assert.equal(nb.loaders.bios?.kind, 'lpxelinux');
  assert.equal(nb.loaders.x64?.path, 'grubx64.efi', 'the other firmware keeps what was found');
  // Without it, the plain pxelinux.0 nearest the root.
  assert.equal((await openNetboot(root)).loaders.bios?.path, 'pxelinux.0');
});

test('parseBootFiles: firmware names and their errors', () => {
  assert.deepEqual(parseBootFiles('bios=pxelinux.0,uefi=debian-installer/amd64/bootnetx64.efi'), { bios: 'pxelinux.0', x64: 'debian-installer/amd64/bootnetx64.efi' });
  assert.deepEqual(parseBootFiles(' BIOS=a.0 , aa64=b.efi, ia32=c.efi '), { bios: 'a.0', arm64: 'b.efi', ia32: 'c.efi' });
  assert.deepEqual(parseBootFiles('efi=boot\\x64\\wdsmgfw.efi'), { x64: 'boot\\x64\\wdsmgfw.efi' });
  assert.throws(() => parseBootFiles('mips=a.0'), /--boot-file takes FIRMWARE=PATH pairs .*not "mips=a\.0"/);
  assert.throws(() => parseBootFiles('pxelinux.0'), /not "pxelinux\.0"/);
  assert.throws(() => parseBootFiles('bios='), /not "bios="/);
  assert.throws(() => parseBootFiles(''), /--boot-file is empty/);
  assert.throws(() => parseBootFiles(' , '), /--boot-file is empty/);
});

test('imageSpecFromPath: a netboot folder, an archive, --boot-file on the wrong thing', async () => {
  const p = pxelinuxTree(dir('spec'), fx, { cmdline: 'x' });
  assert.deepEqual(await imageSpecFromPath(p.root), { kind: 'netboot', path: p.root, bootFiles: undefined });
  await assert.rejects(imageSpecFromPath(p.root, { cmdline: 'quiet' }), /netboot folder: its own menus give the kernel command line/);
  const tgz = packTar(p.root, join(work, `spec-${n++}.tar.gz`));
  assert.equal((await imageSpecFromPath(tgz, { bootFiles: { bios: 'pxelinux.0' } })).kind, 'netboot');
  await assert.rejects(imageSpecFromPath(fx.kernel, { bootFiles: { bios: 'pxelinux.0' } }), /--boot-file goes with a netboot folder or archive, not /);
  // An archive is unpacked into the data dir and opened as its folder.
  const nb = await openNetboot(tgz, { dataDir: join(work, `data-${n++}`) });
  assert.equal(nb.archive, tgz);
  assert.equal(nb.loaders.bios?.path, 'pxelinux.0');
  assert.equal(readFileSync(join(nb.root, 'pxelinux.cfg/default'), 'latin1'), readFileSync(join(p.root, 'pxelinux.cfg/default'), 'latin1'));
  await assert.rejects(openNetboot(tgz), /is an archive: PXE Kit needs its data folder/);
});

// ================================================================== netboot folder or unpacked ISO?

test('isNetbootFolder: true for a pxelinux tree and the Debian tree, false for unpacked ISOs', async () => {
  assert.equal(await isNetbootFolder(pxelinuxTree(dir('isnb'), fx, { cmdline: 'x' }).root), true);
  assert.equal(await isNetbootFolder(debianTree().root), true);
  // An unpacked Linux ISO: EFI/BOOT/BOOTX64.EFI only.
  const iso = dir('iso');
  cp(MEMTEST_EFI, iso, 'EFI/BOOT/BOOTX64.EFI');
  cp(fx.kernel, iso, 'live/vmlinuz');
  assert.equal(await isNetbootFolder(iso), false);
  // Debian's ISO: the signed shim with the CD GRUB (no network) beside it.
  const deb = dir('debiso');
  cp(SHIM, deb, 'EFI/boot/bootx64.efi');
  cp(GCD, deb, 'EFI/boot/grubx64.efi');
  cp(fx.kernel, deb, 'install.amd/vmlinuz');
  assert.equal(await isNetbootFolder(deb), false);
});

test('isNetbootFolder: an unpacked Windows ISO (efi/microsoft/boot/bootmgfw.efi) is no netboot tree', async () => {
  const win = dir('win');
  cp(MEMTEST_EFI, win, 'efi/microsoft/boot/bootmgfw.efi');
  cp(MEMTEST_EFI, win, 'efi/boot/bootx64.efi');
  put(win, 'sources/boot.wim', 'MSWIM\0\0\0');
  put(win, 'bootmgr', Buffer.alloc(4096, 1));
  assert.equal(await isNetbootFolder(win), false);
  const wl = await identify(win, 'efi/microsoft/boot/bootmgfw.efi');
  assert.deepEqual([wl?.kind, wl?.firmware], ['wds', 'x64']);
});

test(
  "isNetbootFolder: a Windows ISO's boot/etfsboot.com (the CD boot sector) does not make it a netboot tree",
  async () => {
    const win = dir('winetfs');
    cp(MEMTEST_EFI, win, 'efi/microsoft/boot/bootmgfw.efi');
    // etfsboot.com: a 4 KiB El Torito no-emulation boot sector (cli; xor ax,ax; mov ss,ax; mov sp,7c00h ...).
    const etfs = Buffer.alloc(4096);
    Buffer.from([0xfa, 0x33, 0xc0, 0x8e, 0xd0, 0xbc, 0x00, 0x7c]).copy(etfs);
    etfs.write('CDBOOT: Cannot boot from CD - Code: ', 0x200, 'latin1');
    etfs.write('BOOTMGR', 0x300, 'latin1');
    put(win, 'boot/etfsboot.com', etfs);
    put(win, 'sources/boot.wim', 'MSWIM\0\0\0');
    assert.equal(await isNetbootFolder(win), false);
  },
);

// ================================================================== the DHCP policy

const ALL: IpxeBinaries = { searched: ['/x'], paths: { bios: '/x/undionly.kpxe', efiX64: '/x/ipxe.efi', efiX64Snp: '/x/snponly.efi', efiArm64: '/x/ipxe-arm64.efi' } };
function client(arch: ClientArch, o: Partial<ClientInfo> = {}): ClientInfo {
  const http = arch.endsWith('-http');
  return { mac: MAC, arch, isIpxe: false, isHttpBoot: http, isPxe: !http, ...o };
}
function treePolicy(firstStage: BootPlan['firstStage']) {
  const plan: Pick<BootPlan, 'signedChainCan' | 'signedLoaders' | 'firstStage'> = { signedChainCan: false, signedLoaders: PXEKIT_SIGNED_LOADERS, firstStage };
  return createBootPolicy({ serverIp: '10.9.0.1', httpPort: 8080, binaries: ALL, planFor: () => plan });
}
function offer(d: ReturnType<ReturnType<typeof treePolicy>['decide']>): BootOffer {
  assert.equal(d.kind, 'offer', d.kind === 'refuse' ? d.reason : '');
  return d as BootOffer;
}

test("policy: BIOS, UEFI, UEFI HTTP and iPXE-ROM clients get the tree's loader", () => {
  const p = treePolicy({ bios: 'pxelinux.0', x64: 'debian-installer/amd64/bootnetx64.efi' });
  const b = offer(p.decide(client('bios')));
  assert.deepEqual([b.bootFile, b.nextServer, b.httpClient], ['pxelinux.0', '10.9.0.1', false]);
  assert.match(b.description, /the folder's pxelinux\.0 for BIOS/);
  assert.equal(offer(p.decide(client('efi-x64'))).bootFile, 'debian-installer/amd64/bootnetx64.efi');
  const h = offer(p.decide(client('efi-x64-http')));
  assert.deepEqual([h.bootFile, h.httpClient], ['http://10.9.0.1:8080/debian-installer/amd64/bootnetx64.efi', true]);
  // QEMU's and many NICs' ROMs are iPXE: they get the tree's loader too (no loop: it is not iPXE).
  assert.equal(offer(p.decide(client('bios', { isIpxe: true }))).bootFile, 'pxelinux.0');
  assert.equal(offer(p.decide(client('efi-x64', { isIpxe: true }))).bootFile, 'debian-installer/amd64/bootnetx64.efi');
});

test("policy: a tree whose loader is iPXE itself: the iPXE client gets PXE Kit's script, not the loader again", () => {
  const p = treePolicy({ bios: 'undionly.kpxe', x64: 'boot/ipxe.efi' });
  assert.equal(offer(p.decide(client('bios'))).bootFile, 'undionly.kpxe', 'the ROM gets the tree loader');
  for (const arch of ['bios', 'efi-x64'] as ClientArch[]) {
    const o = offer(p.decide(client(arch, { isIpxe: true })));
    assert.equal(o.bootFile, 'http://10.9.0.1:8080/ipxe/52-54-00-aa-bb-cc.ipxe', arch);
  }
});

test('policy: a UEFI machine is refused when the tree has a BIOS loader only, saying what the tree has', () => {
  const p = treePolicy({ bios: 'pxelinux.0' });
  const d = p.decide(client('efi-x64'));
  assert.equal(d.kind, 'refuse');
  const r = (d as BootRefusal).reason;
  assert.match(r, /the netboot folder has no boot loader for a 64-bit x86 UEFI machine \(it has one for BIOS\)/);
  assert.match(r, /boot this machine in BIOS mode, or give the folder's loader with --boot-file/);
  assert.equal(p.decide(client('efi-x64-http')).kind, 'refuse');
  const both = treePolicy({ bios: 'pxelinux.0', x64: 'grubx64.efi' }).decide(client('efi-arm64'));
  assert.match((both as BootRefusal).reason, /it has one for BIOS and UEFI x64/);
  // Not booting a tree: PXE Kit's own iPXE as always.
  assert.equal(offer(treePolicy(undefined).decide(client('bios'))).bootFile, 'undionly.kpxe');
});

// ================================================================== a machine's own root

test("setClientRoot: the tree's grub/grub.cfg wins over PXE Kit's own, for that client only", async () => {
  const g = grubTree(dir('root'), fx, { cmdline: 'tree-cmdline' });
  const nb: OpenedNetboot = await openNetboot(g.root);
  const resolve = netbootResolver(nb, netbootRoles(nb));
  const files = new PublishedFiles();
  files.add(bufferFile('grub/grub.cfg', '# PXE Kit own grub.cfg', 'boot script'));
  files.add(bufferFile('undionly.kpxe', 'IPXE', 'boot program'));
  files.setClientRoot((ip) => (ip === '10.0.0.50' ? resolve : undefined));
  const mine = files.lookup('/grub/grub.cfg', { clientIp: '10.0.0.50' })!;
  assert.equal(mine.role, 'boot script');
  assert.match(await readAll(mine), /tree-cmdline/);
  assert.equal(await readAll(files.lookup('/grub/grub.cfg', { clientIp: '10.0.0.51' })!), '# PXE Kit own grub.cfg');
  assert.equal(await readAll(files.lookup('grub/grub.cfg')!), '# PXE Kit own grub.cfg');
  // PXE Kit's own files stay reachable beneath the tree.
  assert.equal(await readAll(files.lookup('undionly.kpxe', { clientIp: '10.0.0.50' })!), 'IPXE');
  // The tree's files, by the names the loaders send (case, backslashes), with their roles.
  const k = files.lookup('\\BOOT\\linux\\VMLINUZ', { clientIp: '10.0.0.50' })!;
  assert.equal(k.path, g.kernel);
  assert.equal(k.role, 'kernel');
  assert.equal(await k.size(), readFileSync(fx.kernel).length);
  assert.equal(files.lookup(g.kernel, { clientIp: '10.0.0.51' }), undefined, 'another machine does not see the tree');
  files.setClientRoot(undefined);
  assert.equal(await readAll(files.lookup('/grub/grub.cfg', { clientIp: '10.0.0.50' })!), '# PXE Kit own grub.cfg');
});

// ================================================================== the tracker

function harness(entries: { firmware?: 'bios' | 'uefi'; files: string[] }[], payload: string[]) {
  let at = 1_000_000;
  const tracker = new SessionTracker({
    planFor: () => ({ payload: payload.map((path) => ({ path, role: 'kernel', firmware: 'bios' as const })), handoff: { kind: 'files', entries } }),
    onUpdate: () => {},
    now: () => at,
    silentAfterMs: 60_000,
  });
  const dhcp = (e: Partial<DhcpEvent>) => tracker.handle({ type: 'dhcp', at, direction: 'in', message: 'discover', mac: MAC, xid: 1, port: 67, ...e });
  let id = 0;
  const fetch = (file: string, role: FileRole = 'kernel') => {
    const t = `t${id++}`;
    tracker.handle({ type: 'transfer', at: ++at, protocol: 'tftp', phase: 'start', id: t, clientIp: '10.0.0.50', clientPort: 2000, mac: MAC, file, role, bytes: 0, size: 10 });
    tracker.handle({ type: 'transfer', at: ++at, protocol: 'tftp', phase: 'done', id: t, clientIp: '10.0.0.50', clientPort: 2000, mac: MAC, file, role, bytes: 10, size: 10 });
  };
  const xfer = (e: Partial<TransferEvent>) =>
    tracker.handle({ type: 'transfer', at: ++at, protocol: 'tftp', phase: 'start', id: `x${id++}`, clientIp: '10.0.0.50', clientPort: 2000, mac: MAC, file: 'x', bytes: 0, ...e });
  return { tracker, dhcp, fetch, xfer, state: () => tracker.get(MAC)!.state };
}

test("tracker: any menu entry's files delivered is the hand-off, for the machine's firmware", () => {
  const d = 'debian-installer/amd64';
  const entries = [
    { firmware: 'bios' as const, files: [`${d}/linux`, `${d}/initrd.gz`] },
    { firmware: 'bios' as const, files: [`${d}/linux`, `${d}/initrd-expert.gz`] },
    { firmware: 'uefi' as const, files: [`${d}/linux`, `${d}/initrd-uefi.gz`] },
  ];
  // The expert entry, not the default: handed off once both its files are in.
  const h = harness(entries, [`${d}/linux`, `${d}/initrd.gz`]);
  h.dhcp({ arch: 'bios', vendorClass: 'PXEClient:Arch:00000' });
  h.dhcp({ direction: 'out', message: 'ack', ip: '10.0.0.50' });
  h.fetch('pxelinux.0', 'boot program');
  h.fetch('pxelinux.cfg/default', 'boot script');
  h.fetch(`/${d}/linux`);
  assert.notEqual(h.state(), 'handed-off', 'the kernel alone is not the hand-off');
  h.fetch(`/${d.toUpperCase()}/INITRD-EXPERT.GZ`, 'initrd');
  assert.equal(h.state(), 'handed-off');
  // A UEFI entry's files on a BIOS machine are not its hand-off.
  const u = harness(entries, [`${d}/linux`, `${d}/initrd.gz`]);
  u.dhcp({ arch: 'bios', vendorClass: 'PXEClient:Arch:00000' });
  u.dhcp({ direction: 'out', message: 'ack', ip: '10.0.0.50' });
  u.fetch(`${d}/linux`);
  u.fetch(`${d}/initrd-uefi.gz`, 'initrd');
  assert.notEqual(u.state(), 'handed-off');
  u.fetch(`${d}/initrd.gz`, 'initrd');
  assert.equal(u.state(), 'handed-off');
});

test('tracker: a missing file a menu names is said with that menu', () => {
  const h = harness([{ files: ['a', 'b'] }], ['a', 'b']);
  h.dhcp({ arch: 'bios' });
  h.dhcp({ direction: 'out', message: 'ack', ip: '10.0.0.50' });
  h.xfer({ file: 'debian-installer/amd64/initrd-expert.gz', phase: 'error', errorCode: 'not-found', namedBy: 'named as the initrd of "expert" in pxelinux.cfg/default' });
  const s = h.tracker.get(MAC)!;
  assert.equal(s.state, 'failed');
  assert.equal(s.failure?.code, 'not-found');
  assert.equal(
    s.failure?.message,
    'The machine asked for "debian-installer/amd64/initrd-expert.gz" over TFTP, named as the initrd of "expert" in pxelinux.cfg/default, but the netboot folder does not have it.',
  );
  const plain = harness([{ files: ['a'] }], ['a']);
  plain.dhcp({});
  plain.xfer({ file: 'nothing', phase: 'error', errorCode: 'not-found' });
  assert.match(plain.tracker.get(MAC)!.failure!.message, /which PXE Kit does not serve/);
});

// ================================================================== the loaders' expected misses

function probeOf(path: string): string | undefined {
  const p = path.replace(/^\/+/, '');
  return NETBOOT_PROBES.find((x) => x.pattern.test(p))?.key;
}

test("NETBOOT_PROBES: pxelinux's and GRUB's per-machine searches are expected misses; the configs they end at are not", () => {
  const uuid = '8a1b3c4d-0000-4e5f-9a6b-7c8d9e0f1a2b';
  for (const dirName of ['pxelinux.cfg', 'debian-installer/amd64/pxelinux.cfg']) {
    const search = syslinuxConfigSearch(MAC, '10.123.0.24', { uuid, dir: dirName });
    assert.equal(search.length, 11);
    assert.ok(search.includes(`${dirName}/0A7B0018`) && search.includes(`${dirName}/0`) && search.includes(`${dirName}/${uuid}`));
    for (const name of search.slice(0, -1)) assert.equal(probeOf(name), 'pxelinux-config', name);
    assert.equal(search[search.length - 1], `${dirName}/default`);
    assert.equal(probeOf(search[search.length - 1]), undefined);
  }
  for (const prefix of ['/grub', '/debian-installer/amd64/grub']) {
    const search = grubConfigSearch(MAC, '10.123.0.24', prefix);
    const last = search.pop()!;
    assert.equal(last, `${prefix}/grub.cfg`);
    assert.equal(probeOf(last), undefined);
    for (const name of search) assert.equal(probeOf(name), name.endsWith('.lst') ? 'grub-lists' : 'grub-config', name);
    // Chained by iPXE, GRUB knows the machine's UUID and asks for it first.
    assert.equal(probeOf(`${prefix}/grub.cfg-00000000-0000-0000-0000-000000000000`), 'grub-config');
    assert.equal(probeOf(`${prefix}/grub.cfg-${uuid}`), 'grub-config');
  }
  // Files a tree must have are never expected misses.
  for (const name of ['pxelinux.cfg/default', 'grub/grub.cfg', 'pxelinux.0', 'ldlinux.c32', 'boot/linux/vmlinuz', 'pxelinux.cfg/menu.cfg', 'grub/x86_64-efi/normal.mod'])
    assert.equal(probeOf(name), undefined, name);
});

// ================================================================== a tree chosen from PXE Kit's iPXE menu

test("a tree chosen from the library menu: its loader is chained by the tree's own names, the tree becomes that machine's root, its menu's files are its hand-off", async (t) => {
  const root = dir('menu-tree');
  const tree = pxelinuxTree(join(root, 'flat'), fx, { cmdline: 'console=ttyS0 from-the-tree' });
  // A tree whose only BIOS loader sits in a folder: pxelinux's prefix (option 210) is that folder.
  const deep = join(root, 'deep');
  cp(PXELINUX_0, deep, 'boot/bios/pxelinux.0');
  cp(join(SYSLINUX_BIOS_MODULES, 'ldlinux.c32'), deep, 'boot/bios/ldlinux.c32');
  cp(fx.kernel, deep, 'boot/bios/linux');
  put(deep, 'boot/bios/pxelinux.cfg/default', 'DEFAULT l\nLABEL l\n  KERNEL linux\n');
  const lib = new ImageLibrary(join(root, 'data'), { hashInBackground: false });
  const k = await lib.add({ path: fx.kernel, name: 'A kernel' });
  const flat = await lib.add({ path: tree.root, name: 'Flat tree' });
  const inFolder = await lib.add({ path: deep, name: 'Deep tree' });
  assert.deepEqual([flat.kind, inFolder.kind], ['netboot', 'netboot']);
  await lib.setMenu({ enabled: true, timeoutSeconds: 300, defaultEntryId: k.id, includeLocalBoot: false });
  const files = new PublishedFiles();
  const chooser = new BootChooser({ files, serverIp: '10.1.2.3', httpPort: 8080, library: lib, dataDir: join(root, 'data') });
  await chooser.start();
  t.after(() => chooser.stop());
  const ipOf: Record<string, string> = { '10.1.2.50': MAC, '10.1.2.51': OTHER_MAC };
  files.setClientRoot((ip) => chooser.treeRootFor(ipOf[ip]));

  const hy = (m: string) => m.replace(/:/g, '-');
  assert.match(await readPublished(files, `ipxe/${hy(MAC)}.ipxe`), /^choose /m, 'the menu first');
  assert.equal(chooser.treeRootFor(MAC), undefined, 'before its choice, no tree is the machine\'s root');
  assert.equal(files.lookup('pxelinux.cfg/default', { clientIp: '10.1.2.50' }), undefined);

  const script = await readPublished(files, `ipxe/img/${flat.id}/${hy(MAC)}.ipxe`);
  assert.match(script, /^iseq \$\{platform\} pcbios && set 210:string tftp:\/\/10\.1\.2\.3\/ && chain tftp:\/\/10\.1\.2\.3\/pxelinux\.0 \|\|$/m);
  assert.doesNotMatch(script, /netboot\//, 'no name the tree\'s menus do not use');
  const deepScript = await readPublished(files, `ipxe/img/${inFolder.id}/${hy(OTHER_MAC)}.ipxe`);
  assert.match(deepScript, /set 210:string tftp:\/\/10\.1\.2\.3\/boot\/bios\/ && chain tftp:\/\/10\.1\.2\.3\/boot\/bios\/pxelinux\.0 \|\|$/m);

  // After its choice, each machine's root is the tree it chose: what pxelinux asks for is there, with its role.
  for (const [name, role] of [['pxelinux.0', 'boot program'], ['ldlinux.c32', 'boot program'], ['pxelinux.cfg/default', 'boot script'], [tree.kernel, 'kernel'], [tree.initrd, 'initrd']] as const) {
    const f = files.lookup(`/${name}`, { clientIp: '10.1.2.50' });
    assert.equal(f?.role, role, name);
  }
  assert.equal(files.lookup('boot/bios/pxelinux.cfg/default', { clientIp: '10.1.2.51' })?.role, 'boot script');
  assert.equal(files.lookup(tree.kernel, { clientIp: '10.1.2.51' }), undefined, 'the other machine sees its own tree only');
  assert.match(await readAll(files.lookup('pxelinux.cfg/default', { clientIp: '10.1.2.50' })!), /from-the-tree/);

  // From the signed GRUB's menu (UEFI, --secure-boot auto) a tree cannot start: said on the machine's screen, with what to do.
  const fromGrub = chooser.resolveGrubConfig(`img/${flat.id}/${MAC}.cfg`)!;
  assert.match(fromGrub, /Flat tree.* is a netboot folder: its own loader does not start from this menu\. Assign the folder to this machine/);
  assert.match(fromGrub, /--secure-boot ipxe/);

  // The tracker follows the chosen tree: the kernel and initrd its menu names, by the names pxelinux sends, are the hand-off.
  const plan = chooser.handedPlan(MAC);
  assert.equal(plan.handoff.kind, 'files');
  let at = 1_000_000;
  const tracker = new SessionTracker({ planFor: (m) => chooser.handedPlan(m), onUpdate: () => {}, now: () => at });
  tracker.handle({ type: 'dhcp', at, direction: 'in', message: 'discover', mac: MAC, xid: 1, port: 67, arch: 'bios', vendorClass: 'PXEClient:Arch:00000' });
  tracker.handle({ type: 'dhcp', at, direction: 'out', message: 'ack', mac: MAC, xid: 1, port: 67, ip: '10.1.2.50' });
  let n = 0;
  for (const [name, role] of [['pxelinux.0', 'boot program'], ['ldlinux.c32', 'boot program'], ['pxelinux.cfg/default', 'boot script'], [`/${tree.kernel}`, 'kernel'], [`/${tree.initrd}`, 'initrd']] as const) {
    assert.notEqual(tracker.get(MAC)!.state, 'handed-off', `not handed off before ${name}`);
    const id = `t${n++}`;
    const common = { type: 'transfer' as const, protocol: 'tftp' as const, id, clientIp: '10.1.2.50', clientPort: 2000, mac: MAC, file: name, role, size: 10 };
    tracker.handle({ ...common, at: ++at, phase: 'start', bytes: 0 });
    tracker.handle({ ...common, at: ++at, phase: 'done', bytes: 10 });
  }
  assert.equal(tracker.get(MAC)!.state, 'handed-off');
});

test('a syslinux.efi tree chosen from the iPXE menu on UEFI: refused with why and what to do, back to the menu; BIOS still chains pxelinux', async (t) => {
  const root = dir('menu-sefi');
  const tree = syslinuxEfiTree(join(root, 'tree'), fx, { cmdline: 'console=ttyS0' });
  // Both loaders: BIOS through pxelinux.0 is chained as ever.
  cp(PXELINUX_0, tree.root, 'pxelinux.0');
  cp(join(SYSLINUX_BIOS_MODULES, 'ldlinux.c32'), tree.root, 'ldlinux.c32');
  const lib = new ImageLibrary(join(root, 'data'), { hashInBackground: false });
  const k = await lib.add({ path: fx.kernel, name: 'A kernel' });
  const e = await lib.add({ path: tree.root, name: 'Sefi tree' });
  await lib.setMenu({ enabled: true, timeoutSeconds: 300, defaultEntryId: k.id, includeLocalBoot: false });
  const files = new PublishedFiles();
  const chooser = new BootChooser({ files, serverIp: '10.1.2.3', httpPort: 8080, library: lib, dataDir: join(root, 'data') });
  await chooser.start();
  t.after(() => chooser.stop());
  const script = await readPublished(files, `ipxe/img/${e.id}/${MAC.replace(/:/g, '-')}.ipxe`);
  assert.doesNotMatch(script, /chain [^\n]*syslinux\.efi/, 'iPXE never starts syslinux.efi (it stops with a CPU exception)');
  assert.match(script, /^iseq \$\{buildarch\} x86_64 && iseq \$\{platform\} efi && goto no_syslinux_efi \|\|$/m);
  const refusal = script.slice(script.indexOf(':no_syslinux_efi'));
  assert.match(refusal, /echo PXE Kit: the UEFI loader of this netboot folder, syslinux\.efi \(syslinux\.efi\), cannot start from the PXE Kit menu/);
  assert.match(refusal, /assign the folder to this machine/);
  // Back to the menu (its `chain ... || goto failed` then `goto menu`), not a hang or a reboot.
  assert.match(refusal, /\nexit 0$/);
  assert.match(script, /set 210:string tftp:\/\/10\.1\.2\.3\/ && chain tftp:\/\/10\.1\.2\.3\/pxelinux\.0 \|\|/);
  // The signed GRUB's menu does not send it to the iPXE menu either.
  const fromGrub = chooser.resolveGrubConfig(`img/${e.id}/${MAC}.cfg`)!;
  assert.match(fromGrub, /Assign the folder to this machine/);
  assert.doesNotMatch(fromGrub, /--secure-boot ipxe/);
});
