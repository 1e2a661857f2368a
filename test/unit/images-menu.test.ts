// Which script each machine gets: the default image, its assignment, the library menu,
// and the local disk after a boot-once image was handed off (persisted in the data dir).
import { test } from 'node:test';
import { bzImageStub } from '../helpers/fake-kernel.js';
import { payloadFor } from '../../src/boot/boot-plan.js';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildIso, tempDir, writeTree } from '../helpers/iso-build.js';
import { PublishedFiles } from '../../src/files/published.js';
import { readPublished } from '../helpers/published.js';
import { BootChooser } from '../../src/images/boot-chooser.js';
import { ImageLibrary } from '../../src/images/library.js';
import { menuScript, localBootScript } from '../../src/images/menu.js';
import type { ClientSession } from '../../src/sessions/session.js';

const MAC = '52:54:00:aa:bb:01';
const OTHER = '52:54:00:aa:bb:02';
const BASE = 'http://10.1.2.3:8080';

const read = readPublished;

function handedOff(mac: string): ClientSession {
  return { mac, state: 'handed-off', isIpxe: true, firstSeen: 0, lastSeen: 0, progress: 100, transfers: [], timeline: [], timelineFrom: 0, boots: 1 } as ClientSession;
}

async function setup(t: Parameters<typeof tempDir>[0], o: { bootOnce?: boolean } = {}) {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'default-vmlinuz'), bzImageStub());
  writeFileSync(join(dir, 'other-vmlinuz'), bzImageStub(8192));
  writeTree(join(dir, 'src'), { 'casper/vmlinuz': 'K', 'casper/initrd': 'I', '.disk/info': 'Ubuntu 24.04 LTS' });
  const iso = buildIso(join(dir, 'src'), join(dir, 'live.iso'), { rockRidge: true });
  const lib = new ImageLibrary(join(dir, 'data'), { hashInBackground: false });
  const live = await lib.add({ path: iso, name: 'Live', cmdline: 'console=ttyS0' });
  const other = await lib.add({ path: join(dir, 'other-vmlinuz'), name: 'Other kernel', cmdline: 'quiet' });
  const files = new PublishedFiles();
  const chooser = new BootChooser({ files, serverIp: '10.1.2.3', httpPort: 8080, library: lib, defaultImage: { kind: 'kernel', kernel: join(dir, 'default-vmlinuz'), initrds: [], cmdline: 'default=1' }, bootOnce: o.bootOnce });
  await chooser.start();
  t.after(() => chooser.stop());
  return { dir, lib, live, other, files, chooser };
}

test('default image for everyone; a per-MAC assignment overrides it; scripts are served per MAC', async (t) => {
  const { lib, live, files, chooser } = await setup(t);
  assert.equal(chooser.scriptPathFor(MAC), 'ipxe/52-54-00-aa-bb-01.ipxe');
  const def = await read(files, 'ipxe/52-54-00-aa-bb-01.ipxe');
  assert.match(def, new RegExp(`^kernel ${BASE}/image/vmlinuz default=1 `, 'm'));
  assert.deepEqual(payloadFor(chooser.handedPlan(MAC), undefined), ['image/vmlinuz']);

  await lib.setAssignment({ mac: MAC, imageId: live.id, bootOnce: false });
  const mine = await read(files, 'ipxe/52-54-00-aa-bb-01.ipxe');
  assert.match(mine, new RegExp(`^kernel ${BASE}/iso/${live.id}/casper/vmlinuz .*boot=casper netboot=url url=${BASE}/iso/${live.id}\\.iso ip=dhcp console=ttyS0 `, 'm'));
  assert.deepEqual(payloadFor(chooser.handedPlan(MAC), undefined), [`iso/${live.id}/casper/vmlinuz`, `iso/${live.id}/casper/initrd`]);
  // The ISO's files are served for it.
  assert.equal(await read(files, `iso/${live.id}/casper/initrd`), 'I');
  // Another machine still gets the default.
  assert.match(await read(files, 'ipxe/52-54-00-aa-bb-02.ipxe'), /image\/vmlinuz default=1/);
  await lib.clearAssignment(MAC);
  assert.match(await read(files, 'ipxe/52-54-00-aa-bb-01.ipxe'), /image\/vmlinuz default=1/);
});

test('the menu lists the library with a timeout, a default and "boot from local disk"; a choice chains to that image', async (t) => {
  const { lib, live, other, files, chooser } = await setup(t);
  await lib.setMenu({ enabled: true, timeoutSeconds: 5, defaultEntryId: other.id, includeLocalBoot: true });
  const menu = await read(files, 'ipxe/52-54-00-aa-bb-01.ipxe');
  assert.match(menu, /^menu PXE Kit: what should \$\{net0\/mac\} boot\?$/m);
  // The test kernels are not EFI programs: the menu says what they need on a Secure Boot machine.
  assert.match(menu, /^item --key 1 img0 1\) Live \(Ubuntu 24\.04 LTS\) \(needs Secure Boot off\)$/m);
  assert.match(menu, /^item --key 2 img1 2\) Other kernel \(needs Secure Boot off\)$/m);
  assert.match(menu, /^item --key l local l\) Boot from the local disk$/m);
  assert.match(menu, /^choose --timeout 5000 --default img1 target \|\| goto local$/m);
  assert.match(menu, new RegExp(`^chain ${BASE}/ipxe/img/${live.id}/52-54-00-aa-bb-01\\.ipxe \\|\\| goto failed$`, 'm'));
  assert.match(menu, /^sanboot --no-describe --drive 0x80 \|\| goto failed$/m);
  assert.match(menu, /^iseq \$\{platform\} efi && goto local_efi \|\| goto local_bios$/m);
  assert.match(menu, /^:local_efi\nexit$/m);
  // Choosing the ISO: its script, and from then on its files are this machine's payload.
  const chosen = await read(files, `ipxe/img/${live.id}/52-54-00-aa-bb-01.ipxe`);
  assert.match(chosen, /boot=casper/);
  assert.deepEqual(payloadFor(chooser.handedPlan(MAC), undefined), [`iso/${live.id}/casper/vmlinuz`, `iso/${live.id}/casper/initrd`]);
  assert.equal(files.lookup(`ipxe/img/nope/52-54-00-aa-bb-01.ipxe`), undefined);
  // An assignment still wins over the menu.
  await lib.setAssignment({ mac: OTHER, imageId: other.id, bootOnce: false });
  assert.match(await read(files, 'ipxe/52-54-00-aa-bb-02.ipxe'), /lib\/.*\/vmlinuz quiet/);
  // Without local boot, Esc leaves the menu instead.
  await lib.setMenu({ enabled: true, timeoutSeconds: 0, includeLocalBoot: false });
  const m2 = await read(files, 'ipxe/52-54-00-aa-bb-01.ipxe');
  assert.match(m2, /^choose --default img0 target \|\| goto cancelled$/m);
  assert.doesNotMatch(m2, /item --key l/);
});

test('boot once: after the assigned image was handed off, the next boot goes to the local disk (persisted)', async (t) => {
  const { dir, lib, live, files, chooser } = await setup(t);
  await lib.setAssignment({ mac: MAC, imageId: live.id, bootOnce: true });
  assert.match(await read(files, 'ipxe/52-54-00-aa-bb-01.ipxe'), /boot=casper/);
  chooser.onSession({ ...handedOff(MAC), state: 'payload' });
  assert.equal(lib.bootedOnce(MAC), undefined, 'only handed-off counts');
  chooser.onSession(handedOff(MAC));
  const second = await read(files, 'ipxe/52-54-00-aa-bb-01.ipxe');
  assert.match(second, /already booted "Live \(Ubuntu 24\.04 LTS\)" once/);
  assert.match(second, /sanboot --no-describe --drive 0x80/);
  assert.doesNotMatch(second, /casper/);
  // A restart reads the record back.
  assert.equal(new ImageLibrary(join(dir, 'data')).bootedOnce(MAC)?.imageId, live.id);
  // Assigning again re-arms it.
  await lib.setAssignment({ mac: MAC, imageId: live.id, bootOnce: true });
  assert.match(await read(files, 'ipxe/52-54-00-aa-bb-01.ipxe'), /boot=casper/);
});

test('boot once for the default image (pxekit serve --boot-once) and machines without a boot-once rule', async (t) => {
  const { files, chooser, lib, other } = await setup(t, { bootOnce: true });
  await read(files, 'ipxe/52-54-00-aa-bb-01.ipxe');
  chooser.onSession(handedOff(MAC));
  assert.match(await read(files, 'ipxe/52-54-00-aa-bb-01.ipxe'), /booting from the local disk|sanboot --no-describe --drive 0x80/);
  assert.match(await read(files, 'ipxe/52-54-00-aa-bb-02.ipxe'), /default=1/);
  // An assignment without boot-once keeps booting its image.
  await lib.setAssignment({ mac: OTHER, imageId: other.id, bootOnce: false });
  await read(files, 'ipxe/52-54-00-aa-bb-02.ipxe');
  chooser.onSession(handedOff(OTHER));
  assert.match(await read(files, 'ipxe/52-54-00-aa-bb-02.ipxe'), /vmlinuz quiet/);
});

test('images added while serving are published; removed ones are withdrawn', async (t) => {
  const { dir, lib, files, chooser } = await setup(t);
  writeFileSync(join(dir, 'late'), bzImageStub(12288));
  const late = await lib.add({ path: join(dir, 'late'), name: 'Late' });
  await chooser.sync();
  await lib.setAssignment({ mac: MAC, imageId: late.id, bootOnce: false });
  assert.match(await read(files, 'ipxe/52-54-00-aa-bb-01.ipxe'), new RegExp(`lib/${late.id}/vmlinuz`));
  assert.equal((await read(files, `lib/${late.id}/vmlinuz`)).length, 12288, 'the late kernel is served (its own size)');
  await lib.remove(late.id);
  await chooser.sync();
  assert.equal(files.lookup(`lib/${late.id}/vmlinuz`), undefined);
  assert.match(await read(files, 'ipxe/52-54-00-aa-bb-01.ipxe'), /default=1/);
});

test('menu and local-disk scripts keep user text inert', () => {
  const s = menuScript({ items: [{ id: 'a', title: 'evil ${x}\nshell', url: 'http://x/y' }], timeoutSeconds: 3, includeLocalBoot: true });
  assert.doesNotMatch(s, /evil \$\{x\}/);
  assert.doesNotMatch(s, /^shell$/m);
  assert.match(localBootScript('why'), /^echo PXE Kit: why$/m);
});
