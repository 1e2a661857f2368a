// One end-to-end boot: the virtual lab, the real `pxekit serve` CLI in its
// namespace, and a QEMU machine whose real firmware (SeaBIOS + iPXE ROM, or
// OVMF's EDK2 PXE) boots the Debian kernel + marker initramfs from it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { ensureFixtures, type BootFixtures } from '../../src/lab/fixtures.js';
import { VirtualLab } from '../../src/lab/virtual-lab.js';
import { QemuClient, OVMF_CODE, OVMF_CODE_SECBOOT, OVMF_VARS_MS, qemuMissing, type Firmware } from '../../src/lab/qemu.js';
import { LabEngine, CLI_MAIN, type AnyEvent } from '../../src/lab/engine-cli.js';

/** Software emulation (no KVM), -smp 1: power-on to the marker takes tens of seconds under BIOS and longer under UEFI; the limits leave room for a loaded CI machine. */
export const MARKER_TIMEOUT: Record<Firmware, number> = { bios: 240_000, uefi: 360_000 };
export const TEST_TIMEOUT = 480_000;
/** What the Debian kernel's EFI stub prints when the firmware enforces Secure Boot. */
export const SECURE_BOOT_ON = 'EFI stub: UEFI Secure Boot is enabled';

/** Why the e2e boots cannot run here (they need root, QEMU, OVMF), or undefined. */
export function e2eSkipReason(): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux';
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, tap devices)';
  const q = qemuMissing();
  if (q) return q;
  for (const f of [OVMF_CODE, OVMF_CODE_SECBOOT, OVMF_VARS_MS]) if (!existsSync(f)) return `${f} missing (ovmf package)`;
  if (!existsSync(CLI_MAIN)) return `${CLI_MAIN} missing: npm run build`;
  return undefined;
}

let fixtures: BootFixtures | undefined;
export function fixturesOnce(): BootFixtures {
  fixtures ??= ensureFixtures({ log: (l) => console.error(l) });
  return fixtures;
}

export interface BootResult {
  lab: VirtualLab;
  engine: LabEngine;
  qemu: QemuClient;
  markerLine: string;
  token: string;
  seconds: number;
  siteLog: string[];
}

const forMac = (mac: string) => (e: AnyEvent) => String(e.mac ?? (e.session as { mac?: string } | undefined)?.mac ?? '').toLowerCase() === mac;

/**
 * Boots one machine and checks what every boot must show: the initramfs marker
 * with our kernel command line on the serial console, the engine's DHCP replies
 * and completed transfers of the kernel and initrd for that MAC, the session
 * handed off, QEMU powering off by itself, and the engine exiting 0 on Ctrl-C.
 * Mode-specific checks are left to the caller (it gets the events).
 */
export async function bootOnce(t: TestContext, firmware: Firmware, mode: 'dhcp' | 'proxy', o: { secureBoot?: boolean; serveArgs?: string[] } = {}): Promise<BootResult> {
  const fx = fixturesOnce();
  const lab = VirtualLab.create();
  t.after(() => lab.destroy());
  const siteLog: string[] = [];
  if (mode === 'proxy') await lab.startSiteDhcp({ onLog: (l) => siteLog.push(l) });

  const token = randomBytes(4).toString('hex');
  const engine = LabEngine.start(lab, {
    mode,
    kernel: fx.kernel,
    initrd: fx.initrd,
    cmdline: `console=ttyS0 pxekit.token=${token}`,
    dataDir: lab.file('data'),
    args: [...(mode === 'dhcp' ? ['--range', `${lab.subnet}.20-${lab.subnet}.40`] : []), ...(o.serveArgs ?? [])],
  });
  const status = await engine.serving(90_000);
  assert.equal(status.iface, lab.bridge);
  assert.equal(status.mode, mode);

  const started = Date.now();
  const qemu = QemuClient.start({ lab, firmware, secureBoot: o.secureBoot });
  t.after(() => qemu.kill());
  let markerLine: string;
  try {
    markerLine = await qemu.waitForLine(fx.marker, MARKER_TIMEOUT[firmware]);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${engine.tail(25)}${siteLog.length ? `\n--- site dnsmasq ---\n${siteLog.slice(-30).join('\n')}` : ''}`);
  }
  const seconds = (Date.now() - started) / 1000;
  t.diagnostic(`${firmware}/${mode}: ${qemu.mac} reached the initramfs in ${seconds.toFixed(1)} s`);
  // The token proves the command line we gave PXE Kit is the one the kernel got.
  assert.match(markerLine, new RegExp(`pxekit\\.token=${token}\\b`));
  assert.match(markerLine, /console=ttyS0/);

  // The fixture powers off; with -no-reboot QEMU exits 0 by itself.
  assert.equal(await qemu.waitExit(60_000), 0, 'QEMU should exit by itself after the initramfs powers off');

  const mine = engine.events.filter(forMac(qemu.mac));
  const dhcpOut = mine.filter((e) => e.type === 'dhcp' && e.direction === 'out');
  assert.ok(dhcpOut.length > 0, `engine sent no DHCP reply to ${qemu.mac}\n${engine.tail(25)}`);
  // The engine tags transfers with the published file's role; the names are a fallback.
  const done = mine.filter((e) => e.type === 'transfer' && e.phase === 'done');
  const names = JSON.stringify(done.map((e) => `${String(e.file)} (${String(e.role)})`));
  assert.ok(
    done.some((e) => e.role === 'kernel' || String(e.file).includes('vmlinuz')),
    `no completed kernel transfer to ${qemu.mac}: ${names}`,
  );
  assert.ok(
    done.some((e) => e.role === 'initrd' || String(e.file).includes('initrd')),
    `no completed initrd transfer to ${qemu.mac}: ${names}`,
  );
  const failed = mine.filter((e) => e.type === 'transfer' && e.phase === 'error');
  // Firmware does abort probes on purpose (EDK2 asks for the size first, then aborts), so only count not-found,
  // and not the loaders' normal searches for optional files (shim, GRUB), which the engine marks as expected.
  assert.deepEqual(
    failed.filter((e) => e.errorCode === 'not-found' && !e.expected).map((e) => e.file),
    [],
    'a file the client asked for was not found',
  );
  const handedOff = await engine.waitFor((e) => e.type === 'session' && forMac(qemu.mac)(e) && (e.session as { state: string }).state === 'handed-off', `session ${qemu.mac} handed-off`, 10_000);
  assert.ok(handedOff);

  assert.equal(await engine.stop(), 0, `pxekit serve should exit 0 on Ctrl-C\n${engine.tail()}`);
  return { lab, engine, qemu, markerLine, token, seconds, siteLog };
}

/**
 * A technician at the machine's menu: types `key` on its serial console every 700 ms until it asks
 * for a file under `prefix` (the menu may still be drawing when typing starts). `context` is added
 * to the error (the console's tail by default).
 */
export async function typeUntilRequest(
  o: { qemu: QemuClient; engine: LabEngine; mine: (e: AnyEvent) => boolean },
  key: string,
  prefix: string,
  what: string,
  context: () => string = () => `\n${o.qemu.tail()}`,
): Promise<void> {
  const typing = setInterval(() => o.qemu.sendSerial(key), 700);
  try {
    await o.engine.waitFor((e) => o.mine(e) && e.type === 'transfer' && String(e.file ?? '').replace(/^\/+/, '').startsWith(prefix), what, 90_000);
  } catch (err) {
    throw new Error(`${(err as Error).message}${context()}`);
  } finally {
    clearInterval(typing);
  }
}
