// The whole engine through its real CLI, in a namespace lab, with real peers:
// udhcpc playing PXE firmware and then iPXE, tftp-hpa and curl downloading.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, requireRoot } from '../helpers/lab.js';
import { EngineProcess } from '../helpers/engine-process.js';
import { runUdhcpc } from '../helpers/udhcpc.js';
import { mergeSessionUpdate, type ClientSession } from '../../src/sessions/session.js';

const skip = requireRoot();
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A file that looks like a Linux bzImage ("HdrS" at 0x202), so the engine treats it as a kernel. */
function fakeKernel(dir: string): string {
  const k = randomBytes(300_000);
  k.write('HdrS', 0x202, 'latin1');
  const p = join(dir, 'vmlinuz');
  writeFileSync(p, k);
  return p;
}

test('pxekit serve: BIOS PXE client gets an address and undionly.kpxe, then as iPXE its script, kernel and initrd; session handed off', { skip, timeout: 120_000 }, async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const dir = mkdtempSync(join(tmpdir(), 'pxk-cli-'));
  const kernel = fakeKernel(dir);
  const initrd = join(dir, 'initrd.img');
  writeFileSync(initrd, randomBytes(100_000));
  const engine = EngineProcess.start(lab, lab.serverNs, ['--iface', lab.serverIf, '--mode', 'auto', '--probe-seconds', '1', '--data-dir', join(dir, 'data'), '--initrd', initrd, '--cmdline', 'console=ttyS0 quiet', kernel]);
  t.after(() => engine.stop());
  const status = await engine.serving();
  assert.equal(status.mode, 'dhcp', 'no other DHCP server: auto picks full DHCP');

  // 1. The firmware: PXEClient, arch 0 (BIOS).
  const fw = runUdhcpc(lab, lab.clientNs, lab.clientIf, { vendorClass: 'PXEClient:Arch:00000:UNDI:002001', arch: 0 });
  assert.ok(fw.ok, `firmware got a lease: ${fw.output}`);
  assert.match(fw.env.ip, new RegExp(`^${lab.subnet.replace(/\./g, '\\.')}\\.`));
  assert.equal(fw.env.boot_file, 'undionly.kpxe');
  assert.equal(fw.env.siaddr, lab.serverIp);
  lab.ip(lab.clientNs, ['addr', 'add', `${fw.env.ip}/24`, 'dev', lab.clientIf]);

  // 2. The boot program over TFTP, byte-identical to Debian's.
  const out = join(dir, 'undionly.kpxe');
  lab.exec(lab.clientNs, 'tftp', ['-m', 'binary', lab.serverIp, '-c', 'get', 'undionly.kpxe', out]);
  const served = readFileSync(out);
  assert.ok(served.length > 10_000, 'undionly.kpxe downloaded');

  // 3. iPXE asks again: it must get the HTTP URL of its own script (no chainload loop).
  const ipxe = runUdhcpc(lab, lab.clientNs, lab.clientIf, { vendorClass: 'PXEClient:Arch:00000:UNDI:002001', arch: 0, userClass: 'iPXE' });
  assert.ok(ipxe.ok, `iPXE got a lease: ${ipxe.output}`);
  assert.equal(ipxe.env.ip, fw.env.ip, 'same machine, same address');
  assert.match(ipxe.env.boot_file, /^http:\/\/.+\.ipxe$/);
  const script = lab.exec(lab.clientNs, 'curl', ['-fsS', ipxe.env.boot_file]);
  assert.match(script, /^#!ipxe/);
  assert.match(script, /console=ttyS0 quiet/);

  // 4. Everything the script names, downloaded the way iPXE would.
  const urls = [...script.matchAll(/(?:kernel|initrd|chain)\s+(?:--name\s+\S+\s+)?(http:\/\/\S+)/g)].map((m) => m[1]);
  assert.equal(urls.length, 2, `kernel and initrd in the script:\n${script}`);
  const bodies = urls.map((u) => Buffer.from(lab.exec(lab.clientNs, 'sh', ['-c', `curl -fsS '${u}' | base64 -w0`]), 'base64'));
  assert.equal(sha(bodies[0]), sha(readFileSync(kernel)));
  assert.equal(sha(bodies[1]), sha(readFileSync(initrd)));
  // Delivered is not handed off: the script reports its hand-off just before `boot`, with iPXE's own MAC.
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(!engine.events.some((e) => e.type === 'session' && (e.session as { state: string }).state === 'handed-off'), 'not handed off before the report');
  const report = /^imgfetch --name pxekit-handoff (http:\/\/\S+)\$\{netX\/mac:hexhyp\} && imgfree pxekit-handoff/m.exec(script);
  assert.ok(report, `the script reports its hand-off:\n${script}`);
  const mac = lab.ip(lab.clientNs, ['-br', 'link', 'show', lab.clientIf]).trim().split(/\s+/)[2];
  lab.exec(lab.clientNs, 'curl', ['-fsS', `${report[1]}${mac.replace(/:/g, '-')}`]);

  const handedOff = await engine.waitFor((e) => e.type === 'session' && (e.session as { state: string }).state === 'handed-off', 'handed-off session');
  const session = handedOff.session as ClientSession;
  assert.equal(session.ip, fw.env.ip);
  assert.equal(session.progress, 100);
  // Each update carries only its new timeline entries: folded together they tell the whole boot.
  let folded: ClientSession | undefined;
  for (const e of engine.events) if (e.type === 'session' && (e.session as ClientSession).mac === session.mac) folded = mergeSessionUpdate(folded, e.session as ClientSession);
  assert.equal(folded!.timelineFrom, 0);
  for (const state of ['dhcp', 'bound', 'boot-program', 'ipxe', 'script', 'payload', 'handed-off'])
    assert.ok(folded!.timeline.some((e) => e.state === state), `timeline has ${state}`);

  // 5. Ctrl-C stops cleanly and releases every port: a second engine starts on the same ports.
  assert.equal(await engine.stop(), 0, `clean exit; stderr: ${engine.stderr}; signal ${engine.child.signalCode}`);
  const again = EngineProcess.start(lab, lab.serverNs, ['--iface', lab.serverIf, '--mode', 'dhcp', '--probe-seconds', '1', '--data-dir', join(dir, 'data'), kernel]);
  t.after(() => again.stop());
  await again.serving();
  assert.equal(await again.stop(), 0);
});

test('pxekit serve: a missing boot file is reported for the client that asked', { skip, timeout: 60_000 }, async (t) => {
  const lab = Lab.create();
  t.after(() => lab.destroy());
  const dir = mkdtempSync(join(tmpdir(), 'pxk-cli-'));
  const engine = EngineProcess.start(lab, lab.serverNs, ['--iface', lab.serverIf, '--mode', 'dhcp', '--probe-seconds', '1', '--data-dir', join(dir, 'data'), fakeKernel(dir)]);
  t.after(() => engine.stop());
  await engine.serving();
  const fw = runUdhcpc(lab, lab.clientNs, lab.clientIf, { vendorClass: 'PXEClient:Arch:00000:UNDI:002001', arch: 0 });
  assert.ok(fw.ok);
  lab.ip(lab.clientNs, ['addr', 'add', `${fw.env.ip}/24`, 'dev', lab.clientIf]);
  const res = lab.exec(lab.clientNs, 'tftp', ['-m', 'binary', lab.serverIp, '-c', 'get', 'pxelinux.0', join(dir, 'x')], { allowFail: true });
  void res;
  const failed = await engine.waitFor((e) => e.type === 'session' && (e.session as { state: string }).state === 'failed', 'failed session');
  const s = failed.session as { failure: { code: string; message: string; pxeError?: string } };
  assert.equal(s.failure.code, 'not-found');
  assert.match(s.failure.message, /pxelinux\.0/);
  assert.match(s.failure.pxeError ?? '', /PXE-E3B/);
});
