// End-to-end: a netboot folder as one entry of the library's iPXE menu. The machine boots iPXE
// from PXE Kit, the menu shows, the technician types the folder's number on the serial console,
// and iPXE chains the folder's own loader (netbootChainScript in src/images/publish-image.ts),
// which then reads the folder's menus and boots its kernel and initrd. Against the real
// `pxekit serve --library`, with trees built from Debian's packages (test/helpers/netboot-trees.ts).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { e2eSkipReason, fixturesOnce, MARKER_TIMEOUT, TEST_TIMEOUT, typeUntilRequest } from '../helpers/qemu-boot.js';
import { forMac } from '../helpers/live-iso.js';
import { grubTree, pxelinuxTree, syslinuxConfigSearch, syslinuxEfiTree, type NetbootTree } from '../helpers/netboot-trees.js';
import type { BootFixtures } from '../../src/lab/fixtures.js';
import { VirtualLab } from '../../src/lab/virtual-lab.js';
import { QemuClient, type Firmware } from '../../src/lab/qemu.js';
import { LabEngine, type AnyEvent } from '../../src/lab/engine-cli.js';
import { ImageLibrary } from '../../src/images/library.js';
import { macToHyphens } from '../../src/boot/ipxe-script.js';

const skip = e2eSkipReason();
const fileOf = (e: AnyEvent) => String(e.file ?? '').replace(/^\/+/, '');
type Transfer = { file: string; role?: string; state: string };
type Session = { state: string; failure?: { code: string; message: string }; diagnosis?: { title: string }; boots: number; transfers: Transfer[]; ip?: string };
const sessionOf = (e: AnyEvent) => e.session as Session;

interface MenuBoot {
  mac: string;
  tree: NetbootTree;
  events: AnyEvent[];
  sessions: Session[];
  done: string[];
  misses: AnyEvent[];
}

/** Library = [a kernel entry (the menu's default), the tree], served with `--library`; one machine with a console to type on. */
async function menuLab(t: TestContext, firmware: Firmware, build: (dir: string, fx: BootFixtures, o: { cmdline: string }) => NetbootTree, serveArgs: string[]) {
  const fx = fixturesOnce();
  const lab = VirtualLab.create();
  t.after(() => lab.destroy());
  // The token is only in the folder's own menu: seeing it on the console proves the folder's
  // loader read its menu and booted its entry (not entry A, not PXE Kit's kernel).
  const token = randomBytes(4).toString('hex');
  const tree = build(lab.file('tree'), fx, { cmdline: `console=ttyS0 pxekit.token=${token}` });
  const data = lab.file('data');
  const lib = new ImageLibrary(data, { hashInBackground: false });
  const a = await lib.add({ path: fx.kernel, name: 'Kernel A', initrds: [fx.initrd], cmdline: 'console=ttyS0 pxekit.token=entryA' });
  const b = await lib.add({ path: tree.root, name: 'Netboot B' });
  assert.equal(b.kind, 'netboot', 'the folder is in the library as a netboot folder');
  // A long timeout and entry A as the default: only a key press reaches B.
  await lib.setMenu({ enabled: true, timeoutSeconds: 300, defaultEntryId: a.id, includeLocalBoot: true });

  const engine = LabEngine.start(lab, { mode: 'dhcp', kernel: fx.kernel, dataDir: data, args: ['--library', '--range', `${lab.subnet}.20-${lab.subnet}.40`, ...serveArgs] });
  t.after(() => engine.stop());
  await engine.serving(90_000);
  const qemu = QemuClient.start({ lab, firmware, serialInput: true });
  t.after(() => qemu.kill());
  const mac = qemu.mac;
  const mine = forMac(mac);
  const context = () => `\n--- console ---\n${qemu.tail()}\n--- engine ---\n${engine.tail(40)}`;
  const scriptPath = `ipxe/${macToHyphens(mac)}.ipxe`;
  try {
    await engine.waitFor((e) => mine(e) && e.type === 'transfer' && e.phase === 'done' && fileOf(e) === scriptPath, 'the menu script fetched', MARKER_TIMEOUT[firmware]);
  } catch (err) {
    throw new Error(`${(err as Error).message}${context()}`);
  }
  const choose = (key: string, prefix: string, what: string) => typeUntilRequest({ qemu, engine, mine }, key, prefix, what, context);
  return { fx, tree, token, a, b, engine, qemu, mac, mine, context, choose };
}

/**
 * The test types "2" on the machine's console, and the machine must reach the marker with the
 * tree's own token. Checks what every such boot must show; returns the machine's events for the caller's checks.
 */
async function bootTreeFromMenu(
  t: TestContext,
  firmware: Firmware,
  build: (dir: string, fx: BootFixtures, o: { cmdline: string }) => NetbootTree,
  loader: string,
  serveArgs: string[] = [],
): Promise<MenuBoot> {
  const { fx, tree, token, a, b, engine, qemu, mac, mine, context, choose } = await menuLab(t, firmware, build, serveArgs);
  await choose('2', `ipxe/img/${b.id}/`, 'entry B chosen');
  assert.ok(qemu.lines.some((l) => l.includes('Netboot B')), `the menu shows the library entries on the console${context()}`);

  let line: string;
  try {
    line = await qemu.waitForLine(fx.marker, MARKER_TIMEOUT[firmware]);
  } catch (err) {
    throw new Error(`${(err as Error).message}${context()}`);
  }
  assert.match(line, new RegExp(`pxekit\\.token=${token}\\b`), "the folder's own menu entry booted");
  await engine.waitFor((e) => e.type === 'session' && mine(e) && sessionOf(e).state === 'handed-off', `${mac} handed off`, 15_000);

  const events = engine.events.filter(mine);
  const done = events.filter((e) => e.type === 'transfer' && e.phase === 'done').map(fileOf);
  // The folder's own loader ran (chained by iPXE), then what its menu names.
  for (const f of [loader, tree.kernel, tree.initrd]) assert.ok(done.includes(f), `${f} delivered from the folder: ${JSON.stringify(done)}`);
  assert.ok(!done.some((f) => f.startsWith(`lib/${a.id}/`)), `entry A was not loaded: ${JSON.stringify(done)}`);

  // The session shows the folder's kernel and initrd, as such, and was handed off once.
  const sessions = events.filter((e) => e.type === 'session').map(sessionOf);
  const handed = sessions.find((s) => s.state === 'handed-off')!;
  for (const [f, role] of [
    [tree.kernel, 'kernel'],
    [tree.initrd, 'initrd'],
  ] as const) {
    const tr = handed.transfers.find((x) => x.file.replace(/^\/+/, '') === f);
    assert.ok(tr && tr.state === 'done' && tr.role === role, `the session shows ${f} as the ${role}: ${JSON.stringify(handed.transfers)}`);
  }
  const entered = sessions.filter((s, i) => s.state === 'handed-off' && sessions[i - 1]?.state !== 'handed-off').length;
  assert.equal(entered, 1, `handed off once: ${JSON.stringify(sessions.map((s) => s.state))}`);
  assert.equal(sessions.at(-1)!.boots, 1, 'one boot attempt');

  // The loader's searches are normal misses, each said to be one; nothing else was missing, and
  // no failure or diagnosis was given on the way.
  const misses = events.filter((e) => e.type === 'transfer' && e.phase === 'error' && e.errorCode === 'not-found');
  assert.deepEqual(misses.filter((e) => !e.expected).map(fileOf), [], 'a file the machine asked for was missing');
  assert.deepEqual(
    sessions.filter((s) => s.state === 'failed' || s.failure || s.diagnosis).map((s) => s.failure?.message ?? s.diagnosis?.title ?? s.state),
    [],
    'never failed nor diagnosed on the way',
  );
  assert.equal(await engine.stop(), 0);
  return { mac, tree, events, sessions, done, misses };
}

test('menu, BIOS: the technician picks a pxelinux netboot folder; its loader, menu, kernel and initrd boot, handed off once', { skip, timeout: TEST_TIMEOUT }, async (t) => {
  const r = await bootTreeFromMenu(t, 'bios', pxelinuxTree, 'pxelinux.0');
  // pxelinux's module and menu came from the folder, by the names pxelinux gives them.
  for (const f of ['ldlinux.c32', 'pxelinux.cfg/default']) assert.ok(r.done.includes(f), `${f} delivered from the folder: ${JSON.stringify(r.done)}`);
  // pxelinux searched for this machine's own configuration before default: each a normal miss.
  const ip = r.sessions.find((s) => s.ip)?.ip;
  assert.ok(ip, 'the machine has an address');
  const searched = r.misses.map(fileOf);
  const search = syslinuxConfigSearch(r.mac, ip).slice(0, -1);
  assert.deepEqual(
    search.filter((f) => !searched.includes(f)),
    [],
    `pxelinux searched its per-machine configurations: ${JSON.stringify(searched)}`,
  );
  for (const e of r.misses) assert.match(String(e.expected), /pxelinux looks for a configuration/);
});

test('menu, UEFI (iPXE, Secure Boot off): the technician picks a GRUB netboot folder; its GRUB, grub.cfg, kernel and initrd boot, handed off once', { skip, timeout: TEST_TIMEOUT }, async (t) => {
  const r = await bootTreeFromMenu(t, 'uefi', grubTree, 'grubx64.efi', ['--secure-boot', 'ipxe']);
  assert.ok(r.done.includes('grub/grub.cfg'), `GRUB read the folder's grub/grub.cfg: ${JSON.stringify(r.done)}`);
});

test('menu, UEFI (iPXE, Secure Boot off): a syslinux.efi folder is refused with why on the screen, and the menu comes back (no hang)', { skip, timeout: TEST_TIMEOUT }, async (t) => {
  // Chained by iPXE, syslinux.efi stops at once with a CPU exception (#UD) and the machine hangs:
  // PXE Kit says so instead of chaining it, then goes back to the menu.
  const { fx, a, b, engine, qemu, mine, context, choose } = await menuLab(t, 'uefi', syslinuxEfiTree, ['--secure-boot', 'ipxe']);
  await choose('2', `ipxe/img/${b.id}/`, 'entry B chosen');
  try {
    await qemu.waitForLine(/syslinux\.efi\), cannot start from the PXE Kit menu/, 60_000);
    await qemu.waitForLine(/assign the folder to this machine in PXE Kit instead/, 10_000);
  } catch (err) {
    throw new Error(`${(err as Error).message}${context()}`);
  }
  // Any key goes back to the menu; there "1" boots entry A: the machine never hung.
  await choose('1', `lib/${a.id}/`, 'entry A chosen after the refusal');
  let line: string;
  try {
    line = await qemu.waitForLine(fx.marker, MARKER_TIMEOUT.uefi);
  } catch (err) {
    throw new Error(`${(err as Error).message}${context()}`);
  }
  assert.match(line, /pxekit\.token=entryA\b/);
  const asked = engine.events.filter((e) => mine(e) && e.type === 'transfer').map(fileOf);
  assert.ok(!asked.some((f) => /syslinux\.efi$|ldlinux\.e64$/.test(f)), `syslinux.efi was never started: ${JSON.stringify(asked)}`);
  assert.ok(!qemu.lines.some((l) => /Exception Type/.test(l)), `no CPU exception${context()}`);
  await engine.waitFor((e) => e.type === 'session' && mine(e) && sessionOf(e).state === 'handed-off', 'entry A handed off', 15_000);
  assert.equal(await engine.stop(), 0);
});
