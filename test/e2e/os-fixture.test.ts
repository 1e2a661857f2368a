// End-to-end, past the hand-off (issue 24): real PXE firmware (QEMU) boots the
// Debian kernel + the OS fixture initramfs from `pxekit serve --mode dhcp`; the
// started "OS" loads its NIC driver and runs its own DHCP client (udhcpc, vendor
// class PXEKit-OS-fixture), which PXE Kit sees on the same NIC, from the same MAC,
// after the kernel and initrd transfers.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ensureOsFixtures, type OsFixtures } from '../../src/lab/os-fixture.js';
import { VirtualLab } from '../../src/lab/virtual-lab.js';
import { QemuClient } from '../../src/lab/qemu.js';
import { LabEngine, type AnyEvent } from '../../src/lab/engine-cli.js';
import { e2eSkipReason, MARKER_TIMEOUT, TEST_TIMEOUT } from '../helpers/qemu-boot.js';
import { forMac } from '../helpers/live-iso.js';

const skip = e2eSkipReason();

let fixtures: OsFixtures | undefined;
function osFixturesOnce(): OsFixtures {
  fixtures ??= ensureOsFixtures({ log: (l) => console.error(l) });
  return fixtures;
}

/** The OS's DHCP messages as tshark decodes them from the engine's evidence pcapng (for the record; empty without tshark). */
function decodeOsDhcp(evidenceDir: string, mac: string): string[] {
  const paths = (process.env.PATH ?? '/usr/bin').split(':');
  if (!paths.some((d) => existsSync(join(d, 'tshark'))) || !existsSync(evidenceDir)) return [];
  const pcap = readdirSync(evidenceDir).find((f) => f.endsWith('.pcapng'));
  if (!pcap) return [];
  try {
    const out = execFileSync(
      'tshark',
      ['-r', join(evidenceDir, pcap), '-Y', `dhcp.hw.mac_addr == ${mac} and udp.srcport == 68`, '-T', 'fields', '-E', 'separator=|', '-E', 'aggregator=,',
        '-e', 'frame.time_relative', '-e', 'dhcp.option.dhcp', '-e', 'dhcp.option.vendor_class_id', '-e', 'dhcp.ip.client', '-e', 'dhcp.option.requested_ip_address',
        '-e', 'dhcp.option.dhcp_server_id', '-e', 'dhcp.flags.bc', '-e', 'dhcp.option.type', '-e', 'dhcp.option.request_list_item'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    return out.split('\n').filter(Boolean);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    return [`(tshark failed: ${(e.stderr || e.message).trim().split('\n').slice(-1)[0]})`];
  }
}

async function bootOs(t: TestContext, firmware: 'bios' | 'uefi'): Promise<void> {
  const fx = osFixturesOnce();
  const lab = VirtualLab.create();
  t.after(() => lab.destroy());
  const token = randomBytes(4).toString('hex');
  const evidence = lab.file('evidence');
  const engine = LabEngine.start(lab, {
    mode: 'dhcp',
    kernel: fx.kernel,
    initrd: fx.initrd,
    cmdline: `console=ttyS0 pxekit.token=${token}`,
    dataDir: lab.file('data'),
    args: ['--range', `${lab.subnet}.20-${lab.subnet}.40`, '--evidence', evidence],
  });
  t.after(() => engine.stop());
  await engine.serving(90_000);

  const started = Date.now();
  const qemu = QemuClient.start({ lab, firmware });
  t.after(() => qemu.kill());
  const mac = qemu.mac;
  let netLine: string;
  try {
    netLine = await qemu.waitForLine(new RegExp(`${fx.netMarker}|${fx.netFailedMarker}`), MARKER_TIMEOUT[firmware]);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${engine.tail(25)}`);
  }
  const netSeconds = (Date.now() - started) / 1000;
  const insmodFailed = qemu.lines.find((l) => l.includes('PXEKIT-OS-INSMOD-FAILED'));
  assert.ok(netLine.includes(fx.netMarker), `the OS's DHCP got no address: ${netLine}${insmodFailed ? `\n${insmodFailed}` : ''}\n${qemu.tail(60)}\n${engine.tail(25)}`);
  const ip = /ip=(\S+)/.exec(netLine)?.[1];
  assert.match(String(ip), new RegExp(`^${lab.subnet.replace(/\./g, '\\.')}\\.(2\\d|3\\d|40)$`), `address from PXE Kit's range: ${netLine}`);

  const markerLine = await qemu.waitForLine(fx.marker, 60_000);
  assert.match(markerLine, new RegExp(`pxekit\\.token=${token}\\b`));
  assert.equal(await qemu.waitExit(60_000), 0, 'QEMU should exit by itself after the OS fixture powers off');
  const seconds = (Date.now() - started) / 1000;

  // The kernel and the initrd went over first (that is the hand-off) ...
  const mine = () => engine.events.filter(forMac(mac));
  const done = mine().filter((e) => e.type === 'transfer' && e.phase === 'done');
  const kernelDone = done.find((e) => e.role === 'kernel' || String(e.file).includes('vmlinuz'));
  const initrdDone = done.find((e) => e.role === 'initrd' || String(e.file).includes('initrd'));
  assert.ok(kernelDone && initrdDone, `kernel and initrd transfers to ${mac}: ${JSON.stringify(done.map((e) => e.file))}`);
  const handOffAt = Math.max(Number(kernelDone.at), Number(initrdDone.at));

  // ... then the started system's own DHCP, same NIC, same MAC, its own vendor class.
  const isOsDhcp = (e: AnyEvent) =>
    e.type === 'dhcp' && e.direction === 'in' && forMac(mac)(e) && e.vendorClass === fx.vendorClass && (e.message === 'discover' || e.message === 'request') && Number(e.at) >= handOffAt;
  const first = await engine.waitFor(isOsDhcp, `a DHCP DISCOVER/REQUEST from ${mac} with vendor class ${fx.vendorClass} after the hand-off`, 10_000);
  assert.ok(Number(first.at) >= handOffAt);

  const dhcp = mine().filter((e) => e.type === 'dhcp');
  const firmwareAck = dhcp.filter((e) => e.direction === 'out' && e.message === 'ack' && Number(e.at) < handOffAt).pop();
  const osMsgs = dhcp.filter((e) => Number(e.at) >= handOffAt);
  const osAck = osMsgs.find((e) => e.direction === 'out' && e.message === 'ack');
  assert.ok(osAck, `PXE Kit acknowledged the OS's request: ${JSON.stringify(osMsgs)}`);
  assert.equal(osAck.ip, ip, "the address the OS printed is the one PXE Kit acknowledged");
  // Nothing before the hand-off carried the OS's vendor class: the firmware said PXEClient.
  assert.ok(!dhcp.some((e) => e.direction === 'in' && Number(e.at) < handOffAt && e.vendorClass === fx.vendorClass));

  await engine.stop();
  const session = [...engine.events].reverse().find((e) => e.type === 'session' && forMac(mac)(e))?.session as { state?: string } | undefined;
  t.diagnostic(`${firmware}: ${mac} OS network up in ${netSeconds.toFixed(1)} s (${netLine}), powered off at ${seconds.toFixed(1)} s`);
  t.diagnostic(`${firmware}: OS DHCP ${((Number(first.at) - handOffAt) / 1000).toFixed(1)} s after the last transfer; firmware's address ${String(firmwareAck?.ip)}, OS's ${ip}; last session state ${String(session?.state)}`);
  for (const e of osMsgs) t.diagnostic(`${firmware}: after hand-off: ${e.direction} ${String(e.message)} xid=${Number(e.xid).toString(16)} ip=${String(e.ip)} vendorClass=${String(e.vendorClass)} arch=${String(e.arch)} serverId=${String(e.serverId)} secs=${String(e.secs)}`);
  for (const l of decodeOsDhcp(evidence, mac)) t.diagnostic(`${firmware}: pcap, client to server (t|type|option 60|ciaddr|option 50|option 54|broadcast|options present|option 55): ${l}`);
}

for (const firmware of ['bios', 'uefi'] as const) {
  test(`${firmware.toUpperCase()} machine: the started OS's own DHCP (vendor class PXEKit-OS-fixture) reaches PXE Kit after the hand-off`, { skip, timeout: TEST_TIMEOUT }, async (t) => {
    await bootOs(t, firmware);
  });
}
