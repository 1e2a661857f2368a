// Reading netboot trees' menus (pxelinux/syslinux.efi and GRUB) for the files a machine will fetch,
// on folders laid out like the real trees (Debian's netboot.tar.gz and hand-made ones).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { folderTree } from '../../src/images/tree.js';
import { elfNeeded, mergeReadings, readGrubMenus, readSyslinuxMenus, type MenuEntry, type MenuReading } from '../../src/images/netboot-menus.js';

function tree(t: TestContext, files: Record<string, string | Buffer>) {
  const dir = mkdtempSync(join(tmpdir(), 'pxekit-menus-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const [p, body] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), body);
  }
  return { dir, tree: folderTree(dir) };
}

const byLabel = (r: MenuReading, label: string): MenuEntry => {
  const e = r.entries.find((x) => x.label === label);
  assert.ok(e, `no entry "${label}" in ${JSON.stringify(r.entries.map((x) => x.label))}`);
  return e;
};

const DI = 'debian-installer/amd64';
const BS = `${DI}/boot-screens`;

/** Debian 12's netboot.tar.gz, abridged: the same files and the same directives. */
function debianNetboot(): Record<string, string> {
  return {
    'pxelinux.0': 'PXE',
    'ldlinux.c32': 'LD',
    'pxelinux.cfg/default': `# D-I config version 2.0
# search path for the c32 support libraries (libcom32, libutil etc.)
path ${BS}/
include ${BS}/menu.cfg
default ${BS}/vesamenu.c32
prompt 0
timeout 0
`,
    [`${BS}/menu.cfg`]: `menu hshift 4
menu width 70

menu title Debian GNU/Linux installer menu (BIOS mode)
include ${BS}/stdmenu.cfg
include ${BS}/gtk.cfg
include ${BS}/txt.cfg
menu begin advanced
    menu label ^Advanced options
\tmenu title Advanced options
\tinclude ${BS}/stdmenu.cfg
\tlabel mainmenu
\t\tmenu label ^Back..
\t\tmenu exit
\tinclude ${BS}/adtxt.cfg
menu end
label help
\tmenu label ^Help
\ttext help
   Display help screens; type 'menu' at boot prompt to return to this menu
\tendtext
\tconfig ${BS}/prompt.cfg
`,
    [`${BS}/stdmenu.cfg`]: `menu background ${BS}/splash.png
menu color title\t* #FFFFFFFF *
`,
    [`${BS}/splash.png`]: 'PNG',
    [`${BS}/gtk.cfg`]: `label installgui
\tmenu label ^Graphical install
\tkernel ${DI}/linux
\tappend vga=788 initrd=${DI}/gtk/initrd.gz --- quiet
`,
    [`${BS}/txt.cfg`]: `default install
label install
\tmenu label ^Install
\tmenu default
\tkernel ${DI}/linux
\tappend vga=788 initrd=${DI}/initrd.gz --- quiet 
`,
    [`${BS}/adtxt.cfg`]: `label expert
\tmenu label E^xpert install
\tkernel ${DI}/linux
\tappend priority=low vga=788 initrd=${DI}/initrd.gz --- 
include ${BS}/rqtxt.cfg
`,
    [`${BS}/rqtxt.cfg`]: `label rescue
\tmenu label ^Rescue mode
\tkernel ${DI}/linux
\tappend vga=788 initrd=${DI}/initrd.gz rescue/enable=true --- quiet 
`,
    [`${BS}/prompt.cfg`]: `prompt 1
display ${BS}/f1.txt
timeout 0
include ${BS}/f1.cfg
label menu
\tkernel ${BS}/vesamenu.c32
\tappend pxelinux.cfg/default
`,
    [`${BS}/f1.cfg`]: `F1 ${BS}/f1.txt\nF2 ${BS}/f2.txt\n`,
    [`${BS}/f1.txt`]: 'help',
    [`${BS}/vesamenu.c32`]: 'VESA',
    [`${DI}/linux`]: 'K',
    [`${DI}/initrd.gz`]: 'I',
    [`${DI}/grub/grub.cfg`]: `if loadfont $prefix/font.pf2 ; then
  set gfxmode=800x600
  insmod efi_gop
  insmod gfxterm
  terminal_output gfxterm
fi

if background_image /isolinux/splash.png; then
  set color_normal=light-gray/black
elif background_image /splash.png; then
  set color_normal=light-gray/black
else
  set menu_color_normal=cyan/blue
fi

insmod play
play 960 440 1 0 4 440 1
menuentry --hotkey=g 'Graphical install' {
    set background_color=black
    linux    /${DI}/linux vga=788 --- quiet
    initrd   /${DI}/gtk/initrd.gz
}
menuentry --hotkey=i 'Install' {
    set background_color=black
    linux    /${DI}/linux vga=788 --- quiet
    initrd   /${DI}/initrd.gz
}
submenu --hotkey=a 'Advanced options ...' {
    set menu_color_normal=cyan/blue
    menuentry '... Expert install' {
        set background_color=black
        linux    /${DI}/linux priority=low vga=788 ---
        initrd   /${DI}/initrd.gz
    }
    menuentry '... Rescue mode' {
        set background_color=black
        linux    /${DI}/linux vga=788 rescue/enable=true --- quiet
        initrd   /${DI}/initrd.gz
    }
}
`,
    [`${DI}/grub/font.pf2`]: 'FONT',
    [`${DI}/grubx64.efi`]: 'GRUB',
  };
}

test("Debian netboot (pxelinux): include -> menu.cfg -> txt.cfg; the default, the submenu, what's missing and from where", async (t) => {
  const { tree: tr } = tree(t, debianNetboot());
  const r = await readSyslinuxMenus(tr, { baseDir: '', configs: ['pxelinux.cfg/01-52-54-00-12-34-56', 'pxelinux.cfg/default'] });
  const install = byLabel(r, 'Install');
  assert.deepEqual(install, { loader: 'pxelinux', label: 'Install', menu: [], source: `${BS}/txt.cfg`, kernel: `${DI}/linux`, initrds: [`${DI}/initrd.gz`], isDefault: true });
  assert.equal(byLabel(r, 'Graphical install').isDefault, false);
  const expert = byLabel(r, 'Expert install');
  assert.deepEqual(expert.menu, ['Advanced options']);
  assert.equal(expert.isDefault, true, 'first entry of its submenu (Back.. is navigation, not an entry)');
  assert.equal(byLabel(r, 'Rescue mode').source, `${BS}/rqtxt.cfg`);
  assert.ok(!r.entries.some((e) => e.label === 'Back..'));
  // The GTK initrd is not in this tree: named with the config that named it.
  assert.deepEqual(r.missing, [{ path: `${DI}/gtk/initrd.gz`, from: `${BS}/gtk.cfg`, role: 'initrd' }]);
  // Configs in the order read (stdmenu.cfg twice in the menus, once here); CONFIG prompt.cfg and its vesamenu hand-back are followed.
  assert.deepEqual(r.configs, ['pxelinux.cfg/default', `${BS}/menu.cfg`, `${BS}/stdmenu.cfg`, `${BS}/gtk.cfg`, `${BS}/txt.cfg`, `${BS}/adtxt.cfg`, `${BS}/rqtxt.cfg`, `${BS}/prompt.cfg`, `${BS}/f1.cfg`]);
  // Old-style DEFAULT naming the menu module, found along PATH; its background, help screens, ldlinux.
  assert.deepEqual(new Set(r.support), new Set([`${BS}/splash.png`, `${BS}/vesamenu.c32`, `${BS}/f1.txt`, 'ldlinux.c32']));
  assert.deepEqual(r.notes, []);
});

test('Debian netboot (GRUB): $prefix font, menuentries, submenu, default 0', async (t) => {
  const { tree: tr } = tree(t, debianNetboot());
  const r = await readGrubMenus(tr, { prefix: `${DI}/grub` });
  assert.deepEqual(r.configs, [`${DI}/grub/grub.cfg`]);
  assert.deepEqual(r.entries.map((e) => [e.label, e.menu.join('>'), e.isDefault]), [
    ['Graphical install', '', true],
    ['Install', '', false],
    ['... Expert install', 'Advanced options ...', true],
    ['... Rescue mode', 'Advanced options ...', false],
  ]);
  assert.deepEqual(byLabel(r, 'Install'), { loader: 'grub', label: 'Install', menu: [], source: `${DI}/grub/grub.cfg`, kernel: `${DI}/linux`, initrds: [`${DI}/initrd.gz`], isDefault: false });
  assert.deepEqual(r.support, [`${DI}/grub/font.pf2`]);
  assert.deepEqual(r.missing, [{ path: `${DI}/gtk/initrd.gz`, from: `${DI}/grub/grub.cfg`, role: 'initrd' }]);
  assert.deepEqual(r.notes, []);
  const both = mergeReadings(await readSyslinuxMenus(tr, { baseDir: '', configs: ['pxelinux.cfg/default'] }), r);
  assert.equal(both.entries.length, 8);
  assert.equal(both.missing.length, 2, 'same path, two configs: both kept');
  assert.ok(both.configs.includes(`${DI}/grub/grub.cfg`) && both.configs.includes('pxelinux.cfg/default'));
});

test('GRUB: set variables, (tftp)/(tftp,ip)/($root)/${prefix} paths, chainloader, source, set default by title', async (t) => {
  const { tree: tr } = tree(t, {
    'boot/grub/grub.cfg': `# site menu
set timeout=5
set default="Rescue"
set base=images/debian
set kver=6.1.0
source \${prefix}/vars.cfg
menuentry "Debian $kver" --class debian --class gnu-linux {
  linux ($root)/$base/vmlinuz-\${kver} root=/dev/nfs quiet
  initrd (tftp,10.0.0.1)/$base/initrd.img-$kver $prefix/extra.cpio
}
menuentry 'Rescue' --id rescue {
  linuxefi (tftp)/rescue/vmlinuz
  initrdefi /rescue/initrd.gz \\
            /rescue/firmware.cpio
}
menuentry "iPXE" {
  chainloader --force /ipxe.efi
}
submenu 'Tools' {
  set default=1
  menuentry 'memtest' { linux16 $prefix/memtest86+x64.bin }
  menuentry 'Windows disk' { set root=(hd0,gpt1); chainloader /EFI/Microsoft/Boot/bootmgfw.efi }
  menuentry 'Local' { search --no-floppy --set=root --file /EFI/boot/bootx64.efi; chainloader /EFI/boot/bootx64.efi }
}
function unused { linux /never/read }
if [ "$grub_platform" = "efi" ]; then
  menuentry 'Setup' { fwsetup }
fi
`,
    'boot/grub/vars.cfg': 'set extra=1\nloadfont unicode\n',
    'boot/grub/fonts/unicode.pf2': 'F',
    'images/debian/vmlinuz-6.1.0': 'K',
    'images/debian/initrd.img-6.1.0': 'I',
    'boot/grub/extra.cpio': 'C',
    'rescue/vmlinuz': 'K',
    'rescue/initrd.gz': 'I',
    'ipxe.efi': 'P',
    'boot/grub/memtest86+x64.bin': 'M',
  });
  const r = await readGrubMenus(tr, { prefix: 'boot/grub' });
  assert.deepEqual(r.configs, ['boot/grub/grub.cfg', 'boot/grub/vars.cfg']);
  assert.deepEqual(byLabel(r, 'Debian 6.1.0'), { loader: 'grub', label: 'Debian 6.1.0', menu: [], source: 'boot/grub/grub.cfg', kernel: 'images/debian/vmlinuz-6.1.0', initrds: ['images/debian/initrd.img-6.1.0', 'boot/grub/extra.cpio'], isDefault: false });
  const rescue = byLabel(r, 'Rescue');
  assert.equal(rescue.isDefault, true);
  assert.deepEqual(rescue.initrds, ['rescue/initrd.gz', 'rescue/firmware.cpio']);
  assert.equal(byLabel(r, 'iPXE').program, 'ipxe.efi');
  assert.equal(byLabel(r, 'memtest').program, 'boot/grub/memtest86+x64.bin');
  assert.equal(byLabel(r, 'memtest').kernel, undefined);
  assert.equal(byLabel(r, 'Windows disk').isDefault, true, 'set default=1 inside the submenu');
  assert.equal(byLabel(r, 'Windows disk').program, undefined, 'on the local disk, not the tree');
  assert.equal(byLabel(r, 'Local').program, undefined);
  assert.ok(byLabel(r, 'Setup'));
  assert.ok(!r.entries.some((e) => e.kernel === 'never/read'));
  assert.deepEqual(r.missing, [{ path: 'rescue/firmware.cpio', from: 'boot/grub/grub.cfg', role: 'initrd' }]);
  assert.deepEqual(r.support, ['boot/grub/fonts/unicode.pf2']);
  assert.ok(r.notes.some((n) => n.includes('(hd0,gpt1)')), r.notes.join('\n'));
});

test('GRUB: configfile opens another menu; default by number; a missing grub.cfg and a missing configfile are said', async (t) => {
  const { tree: tr } = tree(t, {
    'grub/grub.cfg': 'set default=1\nmenuentry A { linux /a }\nmenuentry "More" { configfile (tftp)/grub/more.cfg }\nmenuentry Gone { configfile /grub/gone.cfg }\n',
    'grub/more.cfg': 'menuentry "B" {\n  linux /b\n}\nmenuentry "Back" { configfile $prefix/grub.cfg }\n',
    a: 'K',
  });
  const r = await readGrubMenus(tr, { prefix: 'grub' });
  assert.equal(byLabel(r, 'More').isDefault, true);
  assert.deepEqual(byLabel(r, 'B').menu, ['More']);
  assert.deepEqual(r.missing, [
    { path: 'b', from: 'grub/more.cfg', role: 'kernel' },
    { path: 'grub/gone.cfg', from: 'grub/grub.cfg', role: 'config' },
  ]);
  assert.deepEqual(r.notes, [], 'a menu that hands back to the first one is navigation, not a loop');
  assert.deepEqual(r.configs, ['grub/grub.cfg', 'grub/more.cfg']);
  const none = await readGrubMenus(tr, { prefix: 'nothere' });
  assert.equal(none.entries.length, 0);
  assert.match(none.notes.join('\n'), /holds no grub\.cfg/);
});

test('pxelinux: a missing kernel is named with the config that named it; APPEND initrd=a,b; INITRD; APPEND -; case-insensitive keywords', async (t) => {
  const { tree: tr } = tree(t, {
    'boot/pxelinux.cfg/default': `UI menu.c32
MENU TITLE Lab
Append quiet
LaBeL one
  MENU LABEL One (two initrds)
  KERNEL vmlinuz
  APPEND initrd=a.img,b.img console=ttyS0
LABEL two
  Linux /kernels/gone
  INITRD /initrds/i.img
LABEL three
  kernel vmlinuz
  append -
label four
  kernel vmlinuz
`,
    'boot/vmlinuz': 'K',
    'boot/a.img': 'A',
    'boot/b.img': 'B',
    'boot/menu.c32': 'old-style module',
    'initrds/i.img': 'I',
  });
  const r = await readSyslinuxMenus(tr, { baseDir: 'boot', configs: ['pxelinux.cfg/default'] });
  assert.deepEqual(r.configs, ['boot/pxelinux.cfg/default']);
  const one = byLabel(r, 'One (two initrds)');
  assert.equal(one.kernel, 'boot/vmlinuz', 'relative to the working directory');
  assert.deepEqual(one.initrds, ['boot/a.img', 'boot/b.img']);
  assert.equal(one.isDefault, true, 'first entry of a menu without DEFAULT');
  const two = byLabel(r, 'two');
  assert.equal(two.kernel, 'kernels/gone', '/ is the TFTP root');
  assert.deepEqual(two.initrds, ['initrds/i.img'], 'INITRD keyword, global APPEND used');
  assert.deepEqual(byLabel(r, 'three').initrds, []);
  assert.deepEqual(r.missing, [{ path: 'kernels/gone', from: 'boot/pxelinux.cfg/default', role: 'kernel' }]);
  assert.deepEqual(r.support, ['boot/menu.c32'], 'not ELF (pre-5.00 module): no ldlinux asked for');
});

test('pxelinux: an include loop and a .. that leaves the tree are notes, not followed; :: and ./ paths', async (t) => {
  const { tree: tr } = tree(t, {
    'pxelinux.cfg/default': 'DEFAULT a\nINCLUDE loop1.cfg\nLABEL a\n KERNEL ./k/../k/vmlinuz\n APPEND initrd=::/i.img\nLABEL esc\n KERNEL ../../etc/passwd\n',
    'loop1.cfg': 'include loop2.cfg\n',
    'loop2.cfg': 'INCLUDE loop1.cfg\nLABEL fromloop\n KERNEL k/vmlinuz\n',
    'k/vmlinuz': 'K',
    'i.img': 'I',
  });
  const r = await readSyslinuxMenus(tr, { baseDir: '', configs: ['pxelinux.cfg/default'] });
  assert.deepEqual(r.configs, ['pxelinux.cfg/default', 'loop1.cfg', 'loop2.cfg']);
  assert.deepEqual(byLabel(r, 'a'), { loader: 'pxelinux', label: 'a', menu: [], source: 'pxelinux.cfg/default', kernel: 'k/vmlinuz', initrds: ['i.img'], isDefault: true });
  assert.ok(byLabel(r, 'fromloop'));
  assert.equal(byLabel(r, 'esc').kernel, undefined);
  assert.match(r.notes.join('\n'), /loop2\.cfg includes loop1\.cfg, which is already being read/);
  assert.match(r.notes.join('\n'), /\.\.\/\.\.\/etc\/passwd, which leaves the tree/);
  assert.deepEqual(r.missing, []);
});

test('pxelinux: memtest, memdisk with its disk image, COM32 programs, .0 chains, localboot, DEFAULT without a menu', async (t) => {
  const { tree: tr } = tree(t, {
    'pxelinux.cfg/default': `default local
label memtest
  kernel memtest86+x64.bin
label floppy
  kernel memdisk
  append initrd=images/fd.img floppy
label chain
  com32 chain.c32
  append hd0 1
label reboot
  kernel reboot.c32
label ipxe
  pxe ipxe.0
label old
  kernel undionly.kpxe.0
label local
  localboot 0
label efi
  kernel snponly.efi
label stub
  kernel vmlinuz.efi
`,
    'snponly.efi': 'E',
    'vmlinuz.efi': 'K',
    'memtest86+x64.bin': 'M',
    memdisk: 'D',
    'chain.c32': 'C',
    'ipxe.0': 'P',
  });
  const r = await readSyslinuxMenus(tr, { baseDir: '', configs: ['pxelinux.cfg/default'] });
  const get = (l: string) => byLabel(r, l);
  assert.deepEqual([get('memtest').program, get('memtest').kernel], ['memtest86+x64.bin', undefined]);
  assert.deepEqual([get('floppy').program, get('floppy').initrds], ['memdisk', ['images/fd.img']]);
  assert.equal(get('chain').program, 'chain.c32');
  assert.equal(get('reboot').program, 'reboot.c32');
  assert.equal(get('ipxe').program, 'ipxe.0');
  assert.equal(get('old').program, 'undionly.kpxe.0');
  assert.equal(get('efi').program, 'snponly.efi');
  assert.equal(get('stub').kernel, 'vmlinuz.efi', 'ldlinux loads other names as Linux kernels');
  assert.deepEqual(get('local'), { loader: 'pxelinux', label: 'local', menu: [], source: 'pxelinux.cfg/default', initrds: [], isDefault: true });
  assert.equal(r.entries.filter((e) => e.isDefault).length, 1, 'no menu: only the DEFAULT label');
  assert.deepEqual(r.missing, [
    { path: 'images/fd.img', from: 'pxelinux.cfg/default', role: 'initrd' },
    { path: 'reboot.c32', from: 'pxelinux.cfg/default', role: 'program' },
    { path: 'undionly.kpxe.0', from: 'pxelinux.cfg/default', role: 'program' },
  ]);
});

test('syslinux.efi: DEFAULT names a kernel command (no labels); ldlinux.e64 asked for and missing', async (t) => {
  const { tree: tr } = tree(t, {
    'efi64/syslinux.efi': 'S',
    'efi64/pxelinux.cfg/default': 'DEFAULT vmlinuz initrd=initrd.img console=ttyS0\nTIMEOUT 10\n',
    'efi64/vmlinuz': 'K',
    'efi64/initrd.img': 'I',
  });
  const r = await readSyslinuxMenus(tr, { baseDir: 'efi64', configs: ['pxelinux.cfg/default'], firmware: 'efi64' });
  assert.deepEqual(r.entries, [{ loader: 'pxelinux', label: 'vmlinuz', menu: [], source: 'efi64/pxelinux.cfg/default', kernel: 'efi64/vmlinuz', initrds: ['efi64/initrd.img'], isDefault: true }]);
  assert.deepEqual(r.missing, [{ path: 'efi64/ldlinux.e64', from: 'efi64/pxelinux.cfg/default', role: 'support' }]);
  const none = await readSyslinuxMenus(tr, { baseDir: 'efi64', configs: ['pxelinux.cfg/C0A80001'] });
  assert.deepEqual(none.entries, []);
  assert.match(none.notes.join('\n'), /none of the pxelinux configs/);
});

test("Debian's own vesamenu.c32 (syslinux-common): its libraries come from the ELF header, found along PATH", { skip: !existsSync('/usr/lib/syslinux/modules/bios/vesamenu.c32') }, async (t) => {
  const mods = '/usr/lib/syslinux/modules/bios';
  const { dir, tree: tr } = tree(t, {
    'pxelinux.cfg/default': 'PATH syslinux/\nUI vesamenu.c32\nMENU INCLUDE more.cfg Extras\nLABEL linux\n KERNEL vmlinuz\n',
    'more.cfg': 'LABEL hdt\n MENU LABEL Hardware\n COM32 hdt\n',
    vmlinuz: 'K',
  });
  mkdirSync(join(dir, 'syslinux'));
  for (const f of ['vesamenu.c32', 'libutil.c32', 'ldlinux.c32']) copyFileSync(join(mods, f), join(dir, f === 'ldlinux.c32' ? f : `syslinux/${f}`));
  const r = await readSyslinuxMenus(tr, { baseDir: '', configs: ['pxelinux.cfg/default'] });
  assert.deepEqual(elfNeeded(readFileSync(join(mods, 'vesamenu.c32'))), ['libutil.c32', 'libcom32.c32']);
  assert.deepEqual(r.support, ['syslinux/vesamenu.c32', 'syslinux/libutil.c32', 'ldlinux.c32']);
  assert.deepEqual(r.missing, [
    { path: 'libcom32.c32', from: 'pxelinux.cfg/default', role: 'support' },
    { path: 'hdt.c32', from: 'more.cfg', role: 'program' },
  ]);
  assert.deepEqual(byLabel(r, 'Hardware').menu, ['Extras']);
  assert.equal(byLabel(r, 'linux').isDefault, true);
  assert.equal(byLabel(r, 'Hardware').isDefault, true, 'first of its own submenu');
});

test('bounds: a config too big is a note; include depth; never throws on junk', async (t) => {
  const chain: Record<string, string> = {};
  for (let i = 0; i < 20; i++) chain[`c${i}.cfg`] = `include c${i + 1}.cfg\nlabel l${i}\n kernel k\n`;
  const { tree: tr } = tree(t, {
    ...chain,
    'big.cfg': `label big\n kernel k\n${'#'.repeat(300 * 1024)}\n`,
    'grub/grub.cfg': 'menuentry "unterminated { linux /x\n}}}\n${\nset default="\n\x00\xff',
    k: 'K',
  });
  const deep = await readSyslinuxMenus(tr, { baseDir: '', configs: ['c0.cfg', 'big.cfg'] });
  assert.equal(deep.configs.length, 16);
  assert.match(deep.notes.join('\n'), /deeper than 16 levels/);
  assert.match(deep.notes.join('\n'), /big\.cfg is \d+ bytes/);
  const junk = await readGrubMenus(tr, { prefix: 'grub' });
  assert.ok(Array.isArray(junk.entries));
});
