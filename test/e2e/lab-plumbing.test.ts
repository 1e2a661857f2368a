// The virtual lab itself, checked against real tools before any QEMU boot relies on it:
// the fixtures (kernel image, initramfs readable by cpio), the namespace/bridge/tap
// plumbing, the site DHCP server answering a real DHCP client across the bridge,
// teardown, and removal of leftovers from crashed runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { cleanupStaleLabs, VirtualLab } from '../../src/lab/virtual-lab.js';
import { BOOT_MARKER, ensureFixtures, initScript, newcCpio } from '../../src/lab/fixtures.js';
import { e2eSkipReason, fixturesOnce } from '../helpers/qemu-boot.js';

const skip = e2eSkipReason();
const run = (cmd: string, args: string[], input?: Buffer) => execFileSync(cmd, args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
const nsList = () => run('ip', ['netns', 'list']);

test('fixtures: a bzImage kernel and an initramfs the real cpio reads', { skip, timeout: 300_000 }, () => {
  const fx = fixturesOnce();
  const k = readFileSync(fx.kernel);
  assert.equal(k.toString('latin1', 0x202, 0x206), 'HdrS', 'Linux boot protocol header');
  assert.equal(k.toString('latin1', 0, 2), 'MZ', 'PE header of the EFI stub (UEFI boots it directly)');
  const cpio = gunzipSync(readFileSync(fx.initrd));
  const listing = run('cpio', ['-itv', '--quiet'], cpio);
  assert.match(listing, /^-rwxr-xr-x .* init$/m);
  assert.match(listing, /^crw------- .* 5,\s+1 .* dev\/console$/m);
  assert.match(listing, /bin\/busybox$/m);
  assert.match(listing, /bin\/sh -> busybox$/m);
  assert.ok(run('cpio', ['-i', '--to-stdout', '--quiet', 'init'], cpio).includes(`${BOOT_MARKER} cmdline=`));
  // Cached: a second call reuses the same files.
  const again = ensureFixtures();
  assert.equal(again.initrd, fx.initrd);
  assert.equal(statSync(again.kernel).mtimeMs, statSync(fx.kernel).mtimeMs);
});

test('newc cpio writer pads names and data to 4 bytes and ends with the trailer', () => {
  const buf = newcCpio([{ name: 'a', mode: 0o100644, data: Buffer.from('xyz') }]);
  assert.equal(buf.toString('latin1', 0, 6), '070701');
  // header 110 + "a\0" = 112 (aligned), data 3 -> padded to 4, then the trailer entry
  assert.equal(buf.toString('latin1', 112, 115), 'xyz');
  assert.equal(buf.toString('latin1', 116, 122), '070701');
  assert.ok(buf.toString('latin1').includes('TRAILER!!!'));
  assert.equal(buf.length % 4, 0);
  assert.match(initScript('X-MARK'), /poweroff -f/);
});

test('lab: bridge with the server address, taps on the bridge, site DHCP serves a real client, destroy removes everything', { skip, timeout: 60_000 }, async (t) => {
  const lab = VirtualLab.create();
  t.after(() => lab.destroy());
  assert.ok(nsList().includes(lab.ns));
  const addr = JSON.parse(lab.ip(['-j', 'addr', 'show', 'dev', lab.bridge])) as { addr_info: { family: string; local: string; prefixlen: number }[] }[];
  assert.deepEqual(
    addr[0].addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`),
    [`${lab.serverIp}/24`],
  );
  const tap = lab.addTap();
  const master = JSON.parse(lab.ip(['-j', 'link', 'show', 'master', lab.bridge])) as { ifname: string }[];
  assert.ok(master.some((l) => l.ifname === tap), `${tap} enslaved to ${lab.bridge}`);

  const siteLog: string[] = [];
  await lab.startSiteDhcp({ onLog: (l) => siteLog.push(l) });
  const pid = lab.sitePid();
  assert.ok(pid, 'dnsmasq wrote its PID');
  // busybox udhcpc in another namespace on the same switch gets an address from the site range.
  const host = lab.addHost();
  const [cmd, args] = lab.wrap('udhcpc', ['-i', host.ifname, '-n', '-q', '-f', '-t', '5', '-T', '1', '-s', '/bin/true'], host.ns);
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 });
  const out = `${r.stdout}${r.stderr}`;
  assert.match(out, new RegExp(`lease of ${lab.subnet.replace(/\./g, '\\.')}\\.1\\d\\d obtained`), out);
  // spawnSync blocked the event loop: give dnsmasq's log lines a moment to be read.
  for (let i = 0; i < 50 && !siteLog.some((l) => l.includes('DHCPACK(pxksite0)')); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(siteLog.some((l) => l.includes('DHCPACK(pxksite0)')), siteLog.join('\n'));

  await lab.destroy();
  const left = nsList();
  for (const ns of lab.namespaces()) assert.ok(!left.includes(ns), `${ns} removed`);
  assert.throws(() => process.kill(pid!, 0), 'dnsmasq killed');
});

test('lab: leftovers of a crashed run are removed, a live lab is not', { skip }, (t) => {
  // A PID that cannot be alive: above the kernel's pid_max.
  const deadPid = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8')) + 1;
  const stale = `pxklab-${deadPid}-beef`;
  run('ip', ['netns', 'add', stale]);
  t.after(() => {
    if (nsList().includes(stale)) run('ip', ['netns', 'del', stale]);
  });
  const live = VirtualLab.create(); // runs the cleanup itself
  t.after(() => live.destroy());
  assert.ok(!nsList().includes(stale), 'stale namespace removed on create');
  cleanupStaleLabs();
  assert.ok(nsList().includes(live.ns), "this process's lab is kept");
});
