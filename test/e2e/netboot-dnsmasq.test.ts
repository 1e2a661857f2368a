// The netboot test trees (test/helpers/netboot-trees.ts) boot real firmware with
// dnsmasq, the reference DHCP + TFTP server, in the virtual lab: so when a tree
// fails to boot from PXE Kit, the tree is not to blame. Each test also records
// the exact TFTP requests the loader made (including its normal misses: pxelinux's
// config search, GRUB's grub.cfg-* and *.lst probes), which PXE Kit must treat as probes.
//
// dnsmasq runs inside the lab namespace on the lab's bridge (never on a host NIC)
// and is killed by PID with the lab.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lineReader, VirtualLab } from '../../src/lab/virtual-lab.js';
import { QemuClient, randomMac, type Firmware } from '../../src/lab/qemu.js';
import { e2eSkipReason, fixturesOnce, MARKER_TIMEOUT, TEST_TIMEOUT } from '../helpers/qemu-boot.js';
import { grubConfigSearch, grubTree, hexIp, packTar, pxelinuxMacConfigName, pxelinuxTree, syslinuxConfigSearch, syslinuxEfiTree, type NetbootTree } from '../helpers/netboot-trees.js';

const skip = e2eSkipReason();

interface TftpEvent {
  file: string;
  outcome: 'sent' | 'not-found' | 'error';
  line: string;
}

/** dnsmasq's TFTP log lines ("sent /root/x to ip", "file /root/x not found", "error N ... received from ip"), in order. */
function tftpEvents(log: string[], root: string): TftpEvent[] {
  const rel = (p: string) => (p.startsWith(`${root}/`) ? p.slice(root.length + 1) : p);
  const out: TftpEvent[] = [];
  for (const line of log) {
    if (!line.includes('dnsmasq-tftp')) continue;
    let m = / sent (\S+) to /.exec(line);
    if (m) {
      out.push({ file: rel(m[1]), outcome: 'sent', line });
      continue;
    }
    m = / file (\S+) not found/.exec(line);
    if (m) {
      out.push({ file: rel(m[1]), outcome: 'not-found', line });
      continue;
    }
    m = /failed sending (\S+) to /.exec(line);
    if (m) out.push({ file: rel(m[1]), outcome: 'error', line });
    else if (/error \d+ .* received from/.test(line)) out.push({ file: '', outcome: 'error', line });
  }
  return out;
}

async function dnsmasqTftp(lab: VirtualLab, tree: NetbootTree, log: string[]): Promise<void> {
  const args = [
    '--no-daemon',
    '--conf-file=/dev/null',
    '--port=0',
    `--interface=${lab.bridge}`,
    '--bind-interfaces',
    `--dhcp-range=${lab.subnet}.20,${lab.subnet}.40,255.255.255.0,10m`,
    `--dhcp-leasefile=${lab.file('netboot-dnsmasq.leases')}`,
    `--pid-file=${lab.file('netboot-dnsmasq.pid')}`,
    '--dhcp-match=set:efi,option:client-arch,7',
    '--dhcp-match=set:efi,option:client-arch,9',
    ...(tree.biosBootFile ? [`--dhcp-boot=tag:!efi,${tree.biosBootFile}`] : []),
    ...(tree.uefiBootFile ? [`--dhcp-boot=tag:efi,${tree.uefiBootFile}`] : []),
    '--enable-tftp',
    `--tftp-root=${tree.root}`,
    '--log-dhcp',
    '--log-facility=-',
    '--user=root',
  ];
  const child = lab.spawn('dnsmasq', args);
  lineReader(child.stdout, (l) => log.push(l));
  lineReader(child.stderr, (l) => log.push(l));
  const started = Date.now();
  while (!log.some((l) => /TFTP root is/.test(l))) {
    if (child.exitCode !== null) throw new Error(`dnsmasq exited (${child.exitCode}): ${log.join(' | ')}`);
    if (Date.now() - started > 10_000) throw new Error(`dnsmasq did not start: ${log.join(' | ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One TFTP read request as seen on the wire (UDP to port 69 on the lab's bridge), with its options. */
interface Rrq {
  file: string;
  options: string;
}

/**
 * tshark on the lab's bridge, inside the lab namespace: every RRQ to port 69, in order. dnsmasq's log tells
 * outcomes, but only the wire shows each request (EDK2's tsize probe and its real download are two RRQs).
 */
async function captureRrqs(lab: VirtualLab, rrqs: Rrq[]): Promise<() => Promise<void>> {
  const fields = ['tftp.opcode', 'tftp.source_file', 'tftp.option.name', 'tftp.option.value'].flatMap((f) => ['-e', f]);
  const child = lab.spawn('tshark', ['-i', lab.bridge, '-l', '-n', '-Q', '-f', 'udp dst port 69', '-Y', 'tftp.opcode == 1', '-T', 'fields', '-E', 'separator=|', ...fields]);
  const err: string[] = [];
  lineReader(child.stdout, (l) => {
    const [, file, names = '', values = ''] = l.split('|');
    const v = values.split(',');
    if (file) rrqs.push({ file, options: names ? names.split(',').map((n, i) => `${n}=${v[i] ?? ''}`).join(' ') : '' });
  });
  lineReader(child.stderr, (l) => err.push(l));
  // -Q prints nothing when capture starts: give dumpcap a moment to open the bridge.
  const started = Date.now();
  while (Date.now() - started < 3000 && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
  if (child.exitCode !== null) throw new Error(`tshark exited (${child.exitCode}): ${err.join(' | ')}`);
  return async () => {
    await new Promise((r) => setTimeout(r, 1000));
    child.kill('SIGINT');
    await new Promise((r) => child.once('exit', r));
  };
}

/** The DHCP exchanges dnsmasq completed with one MAC, in order: transaction id, address, and whether the client said PXEClient. */
function dhcpExchanges(log: string[], mac: string): { xid: string; ip: string; pxe: boolean }[] {
  const out: { xid: string; ip: string; pxe: boolean }[] = [];
  for (const line of log) {
    const m = /dnsmasq-dhcp\[\d+\]: (\d+) DHCPACK\(\S+\) (\S+) (\S+)/.exec(line);
    if (!m || m[3].toLowerCase() !== mac) continue;
    const xid = m[1];
    const pxe = log.some((l) => l.includes(`]: ${xid} vendor class: PXEClient`));
    if (!out.some((e) => e.xid === xid)) out.push({ xid, ip: m[2], pxe });
  }
  return out;
}

interface Booted {
  qemu: QemuClient;
  /** The address dnsmasq gave the machine (the loaders' hex-IP config names come from it). */
  ip: string;
  dhcp: { xid: string; ip: string; pxe: boolean }[];
  markerLine: string;
  seconds: number;
  tftp: TftpEvent[];
  rrqs: Rrq[];
  log: string[];
}

async function bootWithDnsmasq(t: TestContext, firmware: Firmware, tree: NetbootTree, mac: string): Promise<Booted> {
  const fx = fixturesOnce();
  const lab = VirtualLab.create();
  t.after(() => lab.destroy());
  const log: string[] = [];
  await dnsmasqTftp(lab, tree, log);
  const rrqs: Rrq[] = [];
  const stopCapture = await captureRrqs(lab, rrqs);
  const started = Date.now();
  const qemu = QemuClient.start({ lab, firmware, mac });
  t.after(() => qemu.kill());
  let markerLine: string;
  try {
    markerLine = await qemu.waitForLine(fx.marker, MARKER_TIMEOUT[firmware]);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- dnsmasq ---\n${log.slice(-40).join('\n')}`);
  }
  const seconds = (Date.now() - started) / 1000;
  assert.equal(await qemu.waitExit(60_000), 0, 'QEMU should exit by itself after the initramfs powers off');
  await stopCapture();
  const tftp = tftpEvents(log, tree.root);
  const dhcp = dhcpExchanges(log, mac);
  assert.ok(dhcp.length > 0, `no DHCPACK to ${mac} in dnsmasq's log`);
  t.diagnostic(`DHCP exchanges: ${dhcp.map((d) => `${d.xid} -> ${d.ip}${d.pxe ? ' (PXEClient)' : ' (no PXEClient vendor class)'}`).join(', ')}`);
  t.diagnostic(`${firmware}: ${mac} reached the initramfs in ${seconds.toFixed(1)} s`);
  t.diagnostic(`TFTP read requests on the wire: ${rrqs.map((r) => `${r.file}${r.options ? ` [${r.options}]` : ''}`).join(', ')}`);
  t.diagnostic(`dnsmasq TFTP log: ${tftp.map((e) => `${e.file || '?'} (${e.outcome})`).join(', ')}`);
  if (process.env.PXEKIT_NETBOOT_LOG) t.diagnostic(`serial console:\n${qemu.lines.join('\n')}\n--- dnsmasq ---\n${log.join('\n')}`);
  return { qemu, ip: dhcp[0].ip, dhcp, markerLine, seconds, tftp, rrqs, log };
}

function scratch(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'pxk-netboot-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const sent = (b: Booted, file: string) => b.tftp.some((e) => e.file === file && e.outcome === 'sent');
const wire = (b: Booted) => b.rrqs.map((r) => r.file);

/** EDK2 (OVMF) fetches its NBP twice: a tsize probe it aborts (TFTP error 8), then the download, with windowsize 4 (RFC 7440). */
function assertEdk2NbpFetch(b: Booted, nbp: string): void {
  assert.deepEqual(wire(b).slice(0, 2), [nbp, nbp]);
  assert.match(b.rrqs[0].options, /tsize=0/);
  assert.doesNotMatch(b.rrqs[1].options, /tsize/);
  assert.match(b.rrqs[1].options, /windowsize=4/);
  assert.ok(b.tftp.some((e) => e.outcome === 'error' && /error 8 /.test(e.line)), 'the size probe was aborted');
}

test('BIOS (SeaBIOS + iPXE ROM) boots the pxelinux tree from dnsmasq; the per-MAC config wins over default', { skip, timeout: TEST_TIMEOUT }, async (t) => {
  const fx = fixturesOnce();
  const mac = randomMac();
  const [general, mine] = [randomBytes(4).toString('hex'), randomBytes(4).toString('hex')];
  const tree = pxelinuxTree(join(scratch(t), 'tree'), fx, {
    cmdline: `console=ttyS0 pxekit.token=${general}`,
    perMac: { mac, cmdline: `console=ttyS0 pxekit.token=${mine}` },
  });
  const b = await bootWithDnsmasq(t, 'bios', tree, mac);
  assert.match(b.markerLine, new RegExp(`pxekit\\.token=${mine}\\b`), 'the per-MAC menu was used');
  assert.doesNotMatch(b.markerLine, new RegExp(general));
  const macCfg = `pxelinux.cfg/${pxelinuxMacConfigName(mac)}`;
  for (const f of ['pxelinux.0', 'ldlinux.c32', macCfg, tree.kernel, tree.initrd]) assert.ok(sent(b, f), `${f} sent: ${JSON.stringify(b.tftp)}`);
  assert.ok(!sent(b, 'pxelinux.cfg/default'), 'pxelinux stops searching at the per-MAC file');
  // The whole conversation: no UUID file (QEMU reports none), the per-MAC file found first.
  assert.deepEqual(wire(b), ['pxelinux.0', 'ldlinux.c32', macCfg, tree.kernel, tree.initrd]);
  assert.equal(b.dhcp.length, 1, 'iPXE ran DHCP once; pxelinux reuses its lease');
});

test('UEFI (OVMF) boots the GRUB tree from dnsmasq', { skip, timeout: TEST_TIMEOUT }, async (t) => {
  const fx = fixturesOnce();
  const token = randomBytes(4).toString('hex');
  const tree = grubTree(join(scratch(t), 'tree'), fx, { cmdline: `console=ttyS0 pxekit.token=${token}` });
  const b = await bootWithDnsmasq(t, 'uefi', tree, randomMac());
  assert.match(b.markerLine, new RegExp(`pxekit\\.token=${token}\\b`));
  for (const f of ['grubx64.efi', 'grub/grub.cfg', tree.kernel, tree.initrd]) assert.ok(sent(b, f), `${f} sent: ${JSON.stringify(b.tftp)}`);
  assertEdk2NbpFetch(b, 'grubx64.efi');
  // GRUB names files absolute; its config search and normal mode's *.lst files are misses by design.
  assert.deepEqual(wire(b).slice(2), [...grubConfigSearch(b.qemu.mac, b.ip, '/grub'), `/${tree.kernel}`, `/${tree.initrd}`]);
  assert.deepEqual(
    b.tftp.filter((e) => e.outcome === 'not-found').map((e) => `/${e.file}`),
    grubConfigSearch(b.qemu.mac, b.ip, '/grub').slice(0, -1),
  );
  assert.equal(b.dhcp.length, 1, 'GRUB reuses the firmware\'s DHCP answer');
});

test('UEFI (OVMF) boots the syslinux.efi tree from dnsmasq', { skip, timeout: TEST_TIMEOUT }, async (t) => {
  const fx = fixturesOnce();
  const token = randomBytes(4).toString('hex');
  const tree = syslinuxEfiTree(join(scratch(t), 'tree'), fx, { cmdline: `console=ttyS0 pxekit.token=${token}` });
  const b = await bootWithDnsmasq(t, 'uefi', tree, randomMac());
  assert.match(b.markerLine, new RegExp(`pxekit\\.token=${token}\\b`));
  for (const f of ['syslinux.efi', 'ldlinux.e64', 'pxelinux.cfg/default', tree.kernel, tree.initrd]) assert.ok(sent(b, f), `${f} sent: ${JSON.stringify(b.tftp)}`);
  assertEdk2NbpFetch(b, 'syslinux.efi');
  assert.deepEqual(wire(b).slice(2), ['ldlinux.e64', ...syslinuxConfigSearch(b.qemu.mac, b.ip), tree.kernel, tree.initrd]);
  // Once syslinux.efi opens its own UDP socket, OVMF's IP stack runs DHCP again, as a plain client
  // (no PXEClient vendor class, asks only for options 1, 3, 6): a server answering PXE clients only would not answer it.
  assert.equal(b.dhcp.length, 2, JSON.stringify(b.dhcp));
  assert.deepEqual(b.dhcp.map((d) => d.pxe), [true, false]);
  assert.equal(b.dhcp[1].ip, b.ip);
});

test('BIOS boots the pxelinux tree with a vesamenu.c32 menu (INCLUDE, MENU DEFAULT, TIMEOUT 1) unattended, from pxelinux.cfg/default', { skip, timeout: TEST_TIMEOUT }, async (t) => {
  const fx = fixturesOnce();
  const token = randomBytes(4).toString('hex');
  const tree = pxelinuxTree(join(scratch(t), 'tree'), fx, { cmdline: `console=ttyS0 pxekit.token=${token}`, menu: 'vesamenu' });
  const b = await bootWithDnsmasq(t, 'bios', tree, randomMac());
  assert.match(b.markerLine, new RegExp(`pxekit\\.token=${token}\\b`));
  for (const f of ['pxelinux.0', 'ldlinux.c32', 'pxelinux.cfg/default', 'vesamenu.c32', 'pxelinux.cfg/linux.cfg', tree.kernel, tree.initrd]) assert.ok(sent(b, f), `${f} sent: ${JSON.stringify(b.tftp)}`);
  // The full search (no per-MAC file here), then the menu module, which reads the configuration again.
  assert.deepEqual(wire(b), [
    'pxelinux.0',
    'ldlinux.c32',
    ...syslinuxConfigSearch(b.qemu.mac, b.ip),
    'pxelinux.cfg/linux.cfg',
    'vesamenu.c32',
    'libcom32.c32',
    'libutil.c32',
    'pxelinux.cfg/default',
    'pxelinux.cfg/linux.cfg',
    tree.kernel,
    tree.initrd,
  ]);
});

test('packTar packs a tree with paths relative to its root; the probe lists are what the loaders asked for', { skip, timeout: 120_000 }, (t) => {
  const fx = fixturesOnce();
  const dir = scratch(t);
  const tree = grubTree(join(dir, 'tree'), fx, { cmdline: 'console=ttyS0' });
  const out = packTar(tree.root, join(dir, 'tree.tar.gz'));
  const listing = execFileSync('tar', ['-tzf', out], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const f of tree.files) assert.ok(listing.includes(`./${f}`), `./${f} in ${JSON.stringify(listing)}`);
  assert.equal(hexIp('10.123.0.24'), '0A7B0018');
  assert.equal(pxelinuxMacConfigName('52:54:00:AB:cd:0f'), '01-52-54-00-ab-cd-0f');
  assert.deepEqual(syslinuxConfigSearch('52:54:00:ab:cd:0f', '10.123.0.24').slice(0, 3), ['pxelinux.cfg/01-52-54-00-ab-cd-0f', 'pxelinux.cfg/0A7B0018', 'pxelinux.cfg/0A7B001']);
  assert.equal(grubConfigSearch('52:54:00:ab:cd:0f', '10.123.0.24').at(-1), '/grub/grub.cfg');
});
