// The setup-media share with real Samba in a lab: smbd runs in the lab's server namespace on
// its veth, serving a Windows-layout ISO (UDF + Joliet, real WIMs made by wimlib) loop-mounted
// read-only; real smbclient in the client namespace lists it and copies install.wim
// byte-identical with the generated account (signed, as Windows 11 24H2 insists), cannot
// write, and a host behind a second NIC of the server cannot connect at all. After stop()
// smbd, its mount and its port are gone. Errors: no smbd, no source, not an ISO, port taken.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, requireRoot, sh } from '../helpers/lab.js';
import { buildIso, patternBytes, writeTree } from '../helpers/iso-build.js';
import { startSetupShare, isMounted, ShareError, type SetupShare } from '../../src/share/smb-share.js';

// No skip: this machine has root, samba, smbclient and wimtools, and a test that cannot run is a failure.
assert.equal(requireRoot(), undefined, 'needs root (network namespaces, loop mounts)');

let lab: Lab;
let dir: string;
let iso: string;
let share: SetupShare | undefined;
let otherNs: string;
let otherSubnet: string;
const INSTALL_WIM_PAYLOAD = patternBytes(4 * 1024 * 1024 + 123, 21);
let installWim: Buffer;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** smbclient in a namespace, with no system smb.conf; its exit code and all of its output. */
function smbclient(ns: string, args: string[]): { code: number | null; out: string } {
  const [cmd, a] = lab.wrap(ns, 'smbclient', ['--configfile=/dev/null', ...args]);
  const r = spawnSync(cmd, a, { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** A WIM image made by wimlib from a folder, as Windows media carry them. */
function wim(contents: Record<string, Buffer>, out: string): Buffer {
  const src = mkdtempSync(join(dir, 'wimsrc-'));
  writeTree(src, contents);
  sh('wimlib-imagex', ['capture', src, out, '--compress=none']);
  return readFileSync(out);
}

/** Whether this kernel can mount the ISO itself (else the share copies its files: see smb-share.ts). */
function kernelMountsIsos(): boolean {
  const fsList = readFileSync('/proc/filesystems', 'utf8');
  if (/\t(udf|iso9660)$/m.test(fsList)) return true;
  const mods = `/lib/modules/${sh('uname', ['-r']).trim()}/kernel/fs`;
  return existsSync(`${mods}/udf`) || existsSync(`${mods}/isofs`);
}

function mediaMounts(): string[] {
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .filter((l) => l.includes('pxekit-media-'));
}

before(() => {
  lab = Lab.create();
  lab.ip(lab.clientNs, ['addr', 'add', `${lab.subnet}.2/24`, 'dev', lab.clientIf]);
  // A second NIC on the server, to another namespace on another subnet, with a route back to
  // the first subnet's address: the share must not answer there.
  otherNs = `pxk-o-${lab.id}`;
  otherSubnet = lab.subnet.replace(/^10\.77\./, '10.78.');
  sh('ip', ['netns', 'add', otherNs]);
  lab.extraNs.push(otherNs);
  sh('ip', ['link', 'add', `pxo${lab.id}`, 'type', 'veth', 'peer', 'name', `pxp${lab.id}`]);
  sh('ip', ['link', 'set', `pxo${lab.id}`, 'netns', lab.serverNs!]);
  sh('ip', ['link', 'set', `pxp${lab.id}`, 'netns', otherNs]);
  lab.ip(lab.serverNs, ['addr', 'add', `${otherSubnet}.1/24`, 'dev', `pxo${lab.id}`]);
  lab.ip(lab.serverNs, ['link', 'set', `pxo${lab.id}`, 'up']);
  lab.ip(otherNs, ['link', 'set', 'lo', 'up']);
  lab.ip(otherNs, ['addr', 'add', `${otherSubnet}.2/24`, 'dev', `pxp${lab.id}`]);
  lab.ip(otherNs, ['link', 'set', `pxp${lab.id}`, 'up']);
  lab.ip(otherNs, ['route', 'add', `${lab.subnet}.0/24`, 'via', `${otherSubnet}.1`]);

  dir = mkdtempSync(join(tmpdir(), 'pxk-smb-'));
  const media = join(dir, 'media');
  mkdirSync(join(media, 'sources'), { recursive: true });
  wim({ 'Windows/System32/winpeshl.exe': patternBytes(10_000, 22) }, join(media, 'sources', 'boot.wim'));
  installWim = wim({ 'Windows/System32/ntoskrnl.exe': INSTALL_WIM_PAYLOAD }, join(media, 'sources', 'install.wim'));
  writeTree(media, {
    bootmgr: patternBytes(409_601, 11),
    'boot/bcd': patternBytes(262_144, 12),
    'boot/boot.sdi': patternBytes(3_170_304, 13),
    'efi/boot/bootx64.efi': patternBytes(1_500_000, 15),
    'setup.exe': patternBytes(90_000, 16),
  });
  iso = buildIso(media, join(dir, 'win.iso'), { tool: 'genisoimage', udf: true, joliet: true, volumeId: 'CCCOMA_X64FRE' });
});

after(async () => {
  await share?.stop();
  lab?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the ISO is shared from the server namespace: listed, and install.wim copied byte-identical with the account', { timeout: 120_000 }, async () => {
  share = await startSetupShare({ iface: lab.serverIf, address: lab.serverIp, prefix: 24, source: iso, workDir: join(dir, 'work'), netns: lab.serverNs! });
  assert.equal(share.unc, `\\\\${lab.serverIp}\\pxekit`);
  assert.equal(share.user, 'pxekit');
  assert.match(share.password ?? '', /^[A-Za-z0-9]{20,}$/);
  if (kernelMountsIsos()) {
    assert.equal(share.how, 'loop-mount');
    assert.ok(isMounted(share.path), 'the ISO is loop-mounted');
    assert.match(mediaMounts().join('\n'), /\bro,/, 'mounted read-only');
  } else {
    // This kernel has neither udf nor iso9660: the files were copied with the engine's ISO reader.
    assert.equal(share.how, 'extracted');
    assert.deepEqual(mediaMounts(), []);
    assert.ok(share.path.startsWith(join(dir, 'work')), share.path);
    assert.equal(sha(readFileSync(join(share.path, 'sources', 'install.wim'))), sha(installWim));
  }
  // smbd runs in the server namespace, not ours.
  assert.ok(sh('ip', ['netns', 'pids', lab.serverNs!]).split(/\s+/).includes(String(share.pid)), 'smbd is in the server namespace');

  const list = smbclient(lab.clientNs, ['-L', `//${lab.serverIp}`, '-N']);
  assert.equal(list.code, 0, list.out);
  assert.match(list.out, /^\s*pxekit\s+Disk\s/m, list.out);
  const shares = [...list.out.matchAll(/^\s+(\S+)\s+(Disk|IPC|Printer)\s/gm)].map((m) => m[1]);
  assert.deepEqual(shares.sort(), ['IPC$', 'pxekit'], 'nothing else is shared');

  const creds = `${share.user}%${share.password}`;
  const out = join(dir, 'install.wim.copy');
  // Signing required, as Windows 11 24H2 does; WinPE names its own domain (MINWINPC).
  const get = smbclient(lab.clientNs, [`//${lab.serverIp}/pxekit`, '-U', creds, '-W', 'MINWINPC', '--option=clientsigning=required', '-c', `get sources/install.wim ${out}`]);
  assert.equal(get.code, 0, get.out);
  assert.equal(sha(readFileSync(out)), sha(installWim), 'install.wim differs');
  const ls = smbclient(lab.clientNs, [`//${lab.serverIp}/pxekit`, '-U', creds, '-c', 'ls']);
  for (const name of ['setup.exe', 'sources', 'boot', 'efi', 'bootmgr']) assert.match(ls.out, new RegExp(`^\\s+${name}\\s`, 'm'), ls.out);
});

test('a guest session cannot be signed (why the account exists); a wrong password is refused', () => {
  const guest = smbclient(lab.clientNs, [`//${lab.serverIp}/pxekit`, '-N', '--option=clientsigning=required', '-c', 'ls']);
  assert.notEqual(guest.code, 0, guest.out);
  assert.match(guest.out, /NT_STATUS_ACCESS_DENIED/);
  const plainGuest = smbclient(lab.clientNs, [`//${lab.serverIp}/pxekit`, '-N', '-c', 'ls']);
  assert.equal(plainGuest.code, 0, `guest may read (older Windows PE builds): ${plainGuest.out}`);
  const wrong = smbclient(lab.clientNs, [`//${lab.serverIp}/pxekit`, '-U', `${share!.user}%not-the-password`, '-c', 'ls']);
  assert.notEqual(wrong.code, 0, wrong.out);
  assert.match(wrong.out, /NT_STATUS_LOGON_FAILURE/);
});

test('writing is refused: put, mkdir and rm fail and the media are unchanged', () => {
  const creds = `${share!.user}%${share!.password}`;
  const local = join(dir, 'intruder.txt');
  writeFileSync(local, 'should not land');
  for (const cmd of [`put ${local} intruder.txt`, 'mkdir newdir', 'rm setup.exe']) {
    const r = smbclient(lab.clientNs, [`//${lab.serverIp}/pxekit`, '-U', creds, '-c', cmd]);
    // smbclient's exit code reflects put only; mkdir and rm report in their output.
    if (cmd.startsWith('put')) assert.notEqual(r.code, 0, `${cmd}: ${r.out}`);
    assert.match(r.out, /NT_STATUS_(ACCESS_DENIED|MEDIA_WRITE_PROTECTED)/, `${cmd}: ${r.out}`);
  }
  assert.deepEqual(readdirSync(share!.path).sort(), ['boot', 'bootmgr', 'efi', 'setup.exe', 'sources']);
});

test('not reachable through another NIC of the server: neither its address nor the share address routed through it', () => {
  // The path itself works: the other host reaches the share's address by its route.
  sh('ip', ['netns', 'exec', otherNs, 'ping', '-c', '1', '-W', '2', lab.serverIp]);
  for (const ip of [`${otherSubnet}.1`, lab.serverIp]) {
    const r = smbclient(otherNs, ['-L', `//${ip}`, '-N']);
    assert.notEqual(r.code, 0, `${ip} answered from the other NIC: ${r.out}`);
    assert.match(r.out, /NT_STATUS_(CONNECTION_REFUSED|CONNECTION_RESET|CONNECTION_DISCONNECTED|IO_TIMEOUT|INVALID_NETWORK_RESPONSE)|failed/i, r.out);
    assert.doesNotMatch(r.out, /pxekit\s+Disk/);
  }
});

test('stop(): smbd and its children are gone, the loop mount and its directory are gone, the port is closed', { timeout: 60_000 }, async () => {
  const s = share!;
  const workDirs = readdirSync(join(dir, 'work'));
  assert.equal(workDirs.length, 1);
  await s.stop();
  share = undefined;
  assert.equal(existsSync(`/proc/${s.pid}`), false, 'smbd pid still exists');
  const left = sh('ip', ['netns', 'pids', lab.serverNs!]).split(/\s+/).filter(Boolean);
  assert.deepEqual(left.filter((p) => readFileSync(`/proc/${p}/comm`, 'utf8').startsWith('smbd')), [], 'smbd children left');
  assert.equal(isMounted(s.path), false);
  assert.deepEqual(mediaMounts(), []);
  assert.equal(existsSync(s.path), false, 'mount point removed');
  assert.deepEqual(readdirSync(join(dir, 'work')), [], 'run directory removed');
  const r = smbclient(lab.clientNs, ['-L', `//${lab.serverIp}`, '-N']);
  assert.notEqual(r.code, 0, r.out);
  assert.match(r.out, /NT_STATUS_CONNECTION_REFUSED/, r.out);
  await s.stop(); // twice is harmless
});

test('a folder image is shared in place, read-only', { timeout: 60_000 }, async () => {
  const media = join(dir, 'media');
  const s = await startSetupShare({ iface: lab.serverIf, address: lab.serverIp, prefix: 24, source: media, workDir: join(dir, 'work'), netns: lab.serverNs!, shareName: 'win11' });
  try {
    assert.equal(s.path, media);
    assert.deepEqual(mediaMounts(), [], 'a folder is not mounted');
    const out = join(dir, 'bootmgr.copy');
    const get = smbclient(lab.clientNs, [`//${lab.serverIp}/win11`, '-U', `${s.user}%${s.password}`, '-c', `get bootmgr ${out}`]);
    assert.equal(get.code, 0, get.out);
    assert.equal(sha(readFileSync(out)), sha(readFileSync(join(media, 'bootmgr'))));
    const put = smbclient(lab.clientNs, [`//${lab.serverIp}/win11`, '-U', `${s.user}%${s.password}`, '-c', `put ${out} copy`]);
    assert.notEqual(put.code, 0, put.out);
    assert.equal(existsSync(join(media, 'copy')), false);
  } finally {
    await s.stop();
  }
  assert.equal(existsSync(`/proc/${s.pid}`), false);
});

test('errors say what to do: no smbd, no source, not an ISO, address missing, port 445 taken; nothing is left behind', { timeout: 60_000 }, async () => {
  const base = { iface: lab.serverIf, address: lab.serverIp, prefix: 24, source: iso, workDir: join(dir, 'work'), netns: lab.serverNs! };
  const rejects = async (o: Partial<typeof base> & { smbd?: string }, code: string, message: RegExp) => {
    await assert.rejects(startSetupShare({ ...base, ...o }), (err: unknown) => {
      assert.ok(err instanceof ShareError, String(err));
      assert.equal(err.code, code, err.message);
      assert.match(err.message, message);
      return true;
    });
    assert.deepEqual(mediaMounts(), [], 'a mount was left behind');
    assert.deepEqual(readdirSync(join(dir, 'work')), [], 'a run directory was left behind');
    assert.deepEqual(readdirSync(tmpdir()).filter((n) => n.startsWith('pxekit-media-')), [], 'a mount point was left behind');
  };
  await rejects({ smbd: '/nonexistent/sbin/smbd' }, 'smbd-missing', /smbd \(Samba\) was not found at \/nonexistent\/sbin\/smbd: install samba/);
  await rejects({ source: join(dir, 'nothere.iso') }, 'bad-source', /nothere\.iso: no such ISO file or folder/);
  const notIso = join(dir, 'not-an-iso.iso');
  writeFileSync(notIso, patternBytes(1 << 20, 5));
  await rejects({ source: notIso }, 'mount-failed', /(could not mount .*|copying its files failed: .*)not-an-iso\.iso/);
  await rejects({ address: '10.250.250.1' }, 'start-failed', /no address 10\.250\.250\.1\/24/);
  // Something else holds port 445 on the address (another file server).
  const holder: ChildProcess = lab.spawn(lab.serverNs, 'python3', ['-c', `import socket,time\ns=socket.socket()\ns.bind(('${lab.serverIp}',445))\ns.listen()\nprint('ok',flush=True)\ntime.sleep(60)`]);
  await new Promise<void>((resolve, reject) => {
    holder.stdout?.once('data', () => resolve());
    holder.once('exit', (c) => reject(new Error(`listener exited ${c}`)));
  });
  try {
    await rejects({}, 'port-in-use', /port 445 on .* is already in use/);
  } finally {
    holder.kill('SIGKILL');
  }
});
