// A real PXE firmware client: a QEMU guest with no disk, cabled to the lab's
// bridge by a tap device, whose serial console we read line by line.
//
//   bios: SeaBIOS + the iPXE option ROM of an emulated e1000 (what QEMU ships;
//         the ROM *is* iPXE, so the first DHCPDISCOVER already carries option 175).
//   uefi: OVMF (EDK2) on q35 with a virtio-net NIC and *no* option ROM, so the
//         firmware's own EDK2 PXE stack (VirtioNetDxe + PxeBcDxe) boots, like a
//         real UEFI machine's NIC.
//
// Software emulation by default (CI machines have no /dev/kvm; -smp 1), so a
// boot takes tens of seconds: callers pass generous timeouts.
import { type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { lineReader, type VirtualLab } from './virtual-lab.js';

export type Firmware = 'bios' | 'uefi';

export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';
/** OVMF built to enforce Secure Boot (needs SMM), and a variable store with Microsoft's keys enrolled (PK, KEK, db, dbx). */
export const OVMF_CODE_SECBOOT = '/usr/share/OVMF/OVMF_CODE_4M.secboot.fd';
export const OVMF_VARS_MS = '/usr/share/OVMF/OVMF_VARS_4M.ms.fd';
/** Debian's qemu looks up option ROMs in /usr/share/qemu, which has none; the ipxe package has them. */
const IPXE_E1000_ROMS = ['/usr/lib/ipxe/qemu/pxe-e1000.rom', '/usr/lib/ipxe/qemu/efi-e1000.rom', '/usr/share/qemu/pxe-e1000.rom'];

export interface QemuClientOptions {
  lab: VirtualLab;
  firmware: Firmware;
  /** Guest NIC MAC; default a random 52:54:00:xx:xx:xx. */
  mac?: string;
  memoryMb?: number;
  /** 'tcg' (default, or $PXEKIT_LAB_ACCEL) works everywhere; 'kvm' is much faster where /dev/kvm exists. */
  accel?: 'tcg' | 'kvm';
  /** Every serial console line, escapes stripped. */
  onSerialLine?: (line: string) => void;
  /** QEMU's own stderr lines. */
  onQemuError?: (line: string) => void;
  /** Keep QEMU's stdin open so sendSerial() can type on the serial console (menus). */
  serialInput?: boolean;
  /** UEFI only: Secure Boot on and enforced, with Microsoft's keys enrolled, as on a business PC. */
  secureBoot?: boolean;
}

export function randomMac(): string {
  const b = randomBytes(3);
  return `52:54:00:${[...b].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
}

/** Removes terminal control sequences (OVMF's console and SeaBIOS' sercon paint the screen). */
export function stripTerminal(s: string): string {
  /* eslint-disable no-control-regex -- matching terminal control bytes is the point */
  return (
    s
      // ESC c (reset), ESC 7/8 (save/restore cursor), keypad modes
      .replace(/\x1b[c78=>]/g, '')
      // CSI sequences (colours, cursor moves, erase), incl. private modes like ESC[?25l
      .replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '')
      // charset selection and other two-byte escapes
      .replace(/\x1b[()][0-9A-Za-z]/g, '')
      .replace(/\x1b[@-_]/g, '')
      // remaining control characters except tab
      .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '')
  );
  /* eslint-enable no-control-regex */
}

function findIpxeRom(): string {
  const rom = IPXE_E1000_ROMS.find((p) => existsSync(p));
  if (!rom) throw new Error('no iPXE e1000 option ROM found: install the ipxe package (scripts/install-deps.sh)');
  return rom;
}

export class QemuClient {
  readonly mac: string;
  readonly firmware: Firmware;
  readonly tap: string;
  readonly process: ChildProcess;
  readonly startedAt = Date.now();
  /** Serial console so far, one entry per line. */
  readonly lines: string[] = [];
  private readonly stderr: string[] = [];
  private readonly waiters = new Set<(line: string) => void>();
  readonly exited: Promise<number | null>;

  private constructor(opts: QemuClientOptions) {
    const { lab } = opts;
    this.firmware = opts.firmware;
    this.mac = (opts.mac ?? randomMac()).toLowerCase();
    this.tap = lab.addTap();
    const name = this.tap;
    const accel = opts.accel ?? (process.env.PXEKIT_LAB_ACCEL === 'kvm' ? 'kvm' : 'tcg');
    const args = [
      '-name',
      `pxekit-lab-${name}`,
      '-accel',
      accel,
      '-smp',
      '1',
      '-m',
      String(opts.memoryMb ?? 512),
      '-display',
      'none',
      '-monitor',
      'none',
      '-parallel',
      'none',
      '-serial',
      'stdio',
      // The guest's power-off (and any reboot: a failed boot) ends QEMU.
      '-no-reboot',
      '-netdev',
      `tap,id=n0,ifname=${this.tap},script=no,downscript=no`,
    ];
    if (opts.firmware === 'bios') {
      // SeaBIOS mirrors the text screen (and so iPXE's messages) on the serial
      // port when fw_cfg "etc/sercon-port" holds the port number (little-endian).
      const sercon = lab.writeFile(`${name}-sercon-port`, Buffer.from([0xf8, 0x03, 0, 0, 0, 0, 0, 0]));
      args.push(
        '-machine',
        'pc',
        '-fw_cfg',
        `name=etc/sercon-port,file=${sercon}`,
        '-device',
        `e1000,netdev=n0,mac=${this.mac},romfile=${findIpxeRom()},bootindex=1`,
        '-boot',
        'order=n',
      );
    } else {
      const sb = !!opts.secureBoot;
      const [code, varsTemplate] = sb ? [OVMF_CODE_SECBOOT, OVMF_VARS_MS] : [OVMF_CODE, OVMF_VARS];
      for (const f of [code, varsTemplate]) if (!existsSync(f)) throw new Error(`${f} missing: install the ovmf package (scripts/install-deps.sh)`);
      // OVMF writes its boot options into the variable store: each guest gets a fresh copy.
      const vars = lab.file(`${name}-OVMF_VARS.fd`);
      copyFileSync(varsTemplate, vars);
      args.push(
        '-machine',
        // The Secure Boot build keeps its variables behind SMM, and the flash must be marked secure,
        // or a guest could rewrite the key database.
        sb ? 'q35,smm=on' : 'q35',
        ...(sb ? ['-global', 'driver=cfi.pflash01,property=secure,value=on'] : []),
        '-drive',
        `if=pflash,format=raw,unit=0,readonly=on,file=${code}`,
        '-drive',
        `if=pflash,format=raw,unit=1,file=${vars}`,
        // romfile= (empty): no iPXE ROM, so OVMF's own EDK2 PXE client boots.
        // bootindex=1: PXE over this NIC first, before OVMF's default boot options.
        '-device',
        `virtio-net-pci,netdev=n0,mac=${this.mac},romfile=,bootindex=1`,
      );
    }
    this.process = lab.spawn('qemu-system-x86_64', args, { stdio: [opts.serialInput ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    // Keys typed after QEMU exited must not crash the test runner (EPIPE).
    this.process.stdin?.on('error', () => {});
    this.exited = new Promise((resolve) => {
      this.process.once('exit', (code) => resolve(code));
      this.process.once('error', (err) => {
        this.stderr.push(String(err));
        resolve(null);
      });
    });
    lineReader(this.process.stdout, (raw) => {
      const line = stripTerminal(raw).trimEnd();
      if (!line.trim()) return;
      this.lines.push(line);
      opts.onSerialLine?.(line);
      for (const w of [...this.waiters]) w(line);
    });
    lineReader(this.process.stderr, (line) => {
      this.stderr.push(line);
      opts.onQemuError?.(line);
    });
  }

  /** Types on the guest's serial console (SeaBIOS sercon and OVMF both read keys from it). Needs serialInput. */
  sendSerial(text: string): void {
    if (!this.process.stdin) throw new Error('QemuClient: start it with serialInput: true to type on the console');
    if (!this.process.stdin.destroyed) this.process.stdin.write(text);
  }

  /** Starts a guest on a new tap of the lab's bridge. */
  static start(opts: QemuClientOptions): QemuClient {
    return new QemuClient(opts);
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  /**
   * Resolves with the first serial line matching `marker` (a line seen earlier
   * counts). Rejects on timeout or when QEMU exits first, with the console tail.
   */
  waitForLine(marker: string | RegExp, timeoutMs: number): Promise<string> {
    const match = (l: string) => (typeof marker === 'string' ? l.includes(marker) : marker.test(l));
    const seen = this.lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      const waiter = (line: string) => {
        if (!match(line)) return;
        done();
        resolve(line);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.firmware} guest ${this.mac}: no "${String(marker)}" on the serial console within ${Math.round(timeoutMs / 1000)} s\n${this.tail()}`));
      }, timeoutMs);
      this.waiters.add(waiter);
      void this.exited.then((code) => {
        if (!this.waiters.has(waiter)) return;
        // Let the last stdout chunk be read before giving up.
        setTimeout(() => {
          if (!this.waiters.has(waiter)) return;
          done();
          reject(new Error(`${this.firmware} guest ${this.mac}: QEMU exited (${code}) before "${String(marker)}"\n${this.tail()}`));
        }, 200);
      });
    });
  }

  /** The last serial lines and QEMU's stderr, for failure messages. */
  tail(n = 40): string {
    const err = this.stderr.length ? `\n--- qemu stderr ---\n${this.stderr.slice(-10).join('\n')}` : '';
    return `--- serial console (last ${n} lines) ---\n${this.lines.slice(-n).join('\n')}${err}`;
  }

  /** Waits for QEMU to exit by itself (the fixture powers off), killing it after timeoutMs. */
  async waitExit(timeoutMs: number): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const r = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (r === 'timeout') {
      await this.kill();
      return null;
    }
    return r;
  }

  /** Kills QEMU by PID (SIGTERM, then SIGKILL). */
  async kill(): Promise<void> {
    const p = this.process;
    if (p.exitCode !== null || p.signalCode !== null) return;
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 2000);
    await this.exited;
    clearTimeout(t);
  }
}

/** Why QEMU guests cannot run here, or undefined when they can. */
export function qemuMissing(): string | undefined {
  const paths = (process.env.PATH ?? '/usr/bin').split(':');
  if (!paths.some((d) => existsSync(`${d}/qemu-system-x86_64`))) return 'qemu-system-x86_64 not found: install qemu-system-x86 (scripts/install-deps.sh)';
  return undefined;
}
