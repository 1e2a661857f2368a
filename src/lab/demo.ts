// pxekit demo: no hardware needed. Builds the boot fixtures and a private
// virtual lab, runs the real engine (`pxekit serve`) inside the lab's network
// namespace, powers on one QEMU machine with real PXE firmware, and streams
// both sides live: the engine's log and the machine's serial console.
// Everything is torn down at the end, on failure, and on Ctrl-C.
import { ensureFixtures } from './fixtures.js';
import { VirtualLab } from './virtual-lab.js';
import { QemuClient, qemuMissing, type Firmware } from './qemu.js';
import { LabEngine, type AnyEvent } from './engine-cli.js';
import { formatEvent, type EngineEvent } from '../sessions/format.js';
import { HANDOFF_ROLE } from '../files/roles.js';

export interface DemoOptions {
  firmware: Firmware;
  /** UEFI with Secure Boot enforced (Microsoft's keys enrolled). */
  secureBoot?: boolean;
  /** One JSON object per line instead of readable text. */
  json?: boolean;
  log: (line: string) => void;
  /** Give up after this long (default: 4 min BIOS, 6 min UEFI: software emulation). */
  timeoutMs?: number;
}

export interface DemoResult {
  ok: boolean;
  mac?: string;
  seconds?: number;
  error?: string;
}

const DEFAULT_TIMEOUT: Record<Firmware, number> = { bios: 240_000, uefi: 360_000 };

class Interrupted extends Error {}

/** Runs the demo; resolves true when the machine booted. Never leaves the lab behind. */
export async function runDemo(opts: DemoOptions): Promise<boolean> {
  return (await runDemoDetailed(opts)).ok;
}

export async function runDemoDetailed(opts: DemoOptions): Promise<DemoResult> {
  const { firmware, json } = opts;
  const t0 = Date.now();
  const say = (message: string) => opts.log(json ? JSON.stringify({ type: 'demo', at: Date.now(), message }) : `demo   | ${message}`);
  const missing = qemuMissing();
  if (missing) {
    say(missing);
    return { ok: false, error: missing };
  }

  // Ctrl-C: stop waiting, then tear down like any other ending.
  let interrupt: (err: Error) => void = () => {};
  const interrupted = new Promise<never>((_, reject) => (interrupt = reject));
  interrupted.catch(() => {});
  const onSignal = (sig: string) => {
    say(`${sig}: stopping and removing the lab`);
    interrupt(new Interrupted(`interrupted (${sig})`));
  };
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  const race = <T>(p: Promise<T>) => Promise.race([p, interrupted]);

  let lab: VirtualLab | undefined;
  let engine: LabEngine | undefined;
  let qemu: QemuClient | undefined;
  // A synchronous last resort if the process exits mid-demo.
  const onExit = () => lab?.destroySync();
  process.on('exit', onExit);
  try {
    say(`building the boot fixtures (Debian kernel + a tiny initramfs)`);
    const fx = ensureFixtures({ log: say });
    say(`kernel ${fx.kernel}, initramfs ${fx.initrd}`);

    lab = VirtualLab.create({ log: say });

    engine = LabEngine.start(lab, {
      mode: 'dhcp',
      kernel: fx.kernel,
      initrd: fx.initrd,
      // quiet: the firmware's and PXE Kit's steps stay readable; the marker still shows.
      cmdline: 'console=ttyS0 quiet pxekit.demo=1',
      dataDir: lab.file('data'),
      onEvent: (ev) => {
        if (json) return opts.log(JSON.stringify(ev));
        const line = formatEvent(ev as unknown as EngineEvent);
        if (line) opts.log(`pxekit | ${line}`);
      },
      onStderr: (line) => opts.log(json ? JSON.stringify({ type: 'engine-stderr', at: Date.now(), line }) : `pxekit | ${line}`),
    });
    say(`starting the engine: pxekit serve --iface ${lab.bridge} --mode dhcp (inside ${lab.ns})`);
    await race(engine.serving(90_000));

    say(`powering on a ${firmware === 'bios' ? 'BIOS (SeaBIOS + iPXE NIC ROM)' : opts.secureBoot ? 'UEFI (OVMF, EDK2 PXE) with Secure Boot on' : 'UEFI (OVMF, EDK2 PXE)'} machine with no disk; software emulation, this takes a minute or two`);
    const bootStart = Date.now();
    qemu = QemuClient.start({
      lab,
      firmware,
      secureBoot: opts.secureBoot,
      onSerialLine: (line) => opts.log(json ? JSON.stringify({ type: 'guest', at: Date.now(), mac: qemu?.mac, line }) : `guest  | ${line}`),
    });
    say(`machine ${qemu.mac} on ${qemu.tap}`);
    await race(qemu.waitForLine(fx.marker, opts.timeoutMs ?? DEFAULT_TIMEOUT[firmware]));
    const seconds = (Date.now() - bootStart) / 1000;

    const ack = engine.events.find((e: AnyEvent) => e.type === 'dhcp' && e.direction === 'out' && e.message === 'ack' && String(e.mac) === qemu!.mac && e.ip);
    const files = engine.events
      // The hand-off report is no file the machine boots from.
      .filter((e) => e.type === 'transfer' && e.phase === 'done' && String(e.mac) === qemu!.mac && e.role !== HANDOFF_ROLE)
      .map((e) => `${String(e.file)} (${String(e.protocol)})`);
    const summary = `machine ${qemu.mac} booted over PXE in ${seconds.toFixed(1)} s (${firmware.toUpperCase()}${ack ? `, address ${String(ack.ip)}` : ''}; files: ${files.join(', ') || 'none reported'})`;
    if (json) opts.log(JSON.stringify({ type: 'demo-result', at: Date.now(), ok: true, firmware, mac: qemu.mac, seconds, files }));
    else opts.log(`\n  ${summary}\n`);
    await race(qemu.waitExit(30_000));
    return { ok: true, mac: qemu.mac, seconds };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (json) opts.log(JSON.stringify({ type: 'demo-result', at: Date.now(), ok: false, firmware, error: message }));
    else say(err instanceof Interrupted ? message : `the demo failed: ${message}`);
    return { ok: false, mac: qemu?.mac, error: message };
  } finally {
    await qemu?.kill();
    await engine?.stop(5000);
    await lab?.destroy(2000);
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    process.off('exit', onExit);
    say(`lab removed; total ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
}
