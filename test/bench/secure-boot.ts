// Boot time through the signed chain (shim -> GRUB -> kernel and initrd over TFTP, 1024-byte
// lockstep blocks: Debian's signed GRUB has no HTTP) beside the iPXE chain (ipxe.efi -> kernel
// and initrd over HTTP), the same UEFI machine (OVMF, Secure Boot off so both run), the same
// kernel + initrd, run alternately. Software emulation: the ratio is what compares, not the seconds.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureFixtures } from '../../src/lab/fixtures.js';
import { VirtualLab } from '../../src/lab/virtual-lab.js';
import { QemuClient } from '../../src/lab/qemu.js';
import { LabEngine } from '../../src/lab/engine-cli.js';

export interface SecureBootBenchOptions {
  rounds: number;
  /** Extra initrd bytes (a larger payload shows the TFTP cost); default 32 MiB. */
  padMiB?: number;
  log: (line: string) => void;
}

async function bootSeconds(chain: 'signed' | 'ipxe', initrd: string, kernel: string): Promise<number> {
  const lab = VirtualLab.create();
  try {
    const engine = LabEngine.start(lab, {
      mode: 'dhcp',
      kernel,
      initrd,
      cmdline: 'console=ttyS0',
      dataDir: lab.file('data'),
      args: ['--range', `${lab.subnet}.20-${lab.subnet}.40`, '--secure-boot', chain],
    });
    try {
      await engine.serving(90_000);
      const qemu = QemuClient.start({ lab, firmware: 'uefi' });
      try {
        const fx = ensureFixtures();
        await qemu.waitForLine(fx.marker, 600_000);
        return (Date.now() - qemu.startedAt) / 1000;
      } finally {
        await qemu.kill();
      }
    } finally {
      await engine.stop();
    }
  } finally {
    lab.destroy();
  }
}

export async function benchSecureBoot(o: SecureBootBenchOptions): Promise<{ summary: string[] }> {
  const fx = ensureFixtures();
  // The marker initramfs followed by zeros: the kernel's initramfs unpacker skips NUL padding
  // between archives, so the payload grows without changing what boots.
  const pad = o.padMiB ?? 32;
  const dir = mkdtempSync(join(tmpdir(), 'pxekit-sb-bench-'));
  const initrd = join(dir, 'initrd-padded.img');
  writeFileSync(initrd, Buffer.concat([readFileSync(fx.initrd), Buffer.alloc(pad * 1024 * 1024)]));
  const times: Record<'signed' | 'ipxe', number[]> = { signed: [], ipxe: [] };
  for (let r = 0; r < o.rounds; r++) {
    for (const chain of r % 2 ? (['ipxe', 'signed'] as const) : (['signed', 'ipxe'] as const)) {
      const s = await bootSeconds(chain, initrd, fx.kernel);
      times[chain].push(s);
      o.log(`round ${r + 1}: ${chain === 'signed' ? 'signed chain (shim, GRUB, TFTP)' : 'iPXE chain (ipxe.efi, HTTP)'}: power-on to marker ${s.toFixed(1)} s`);
    }
  }
  rmSync(dir, { recursive: true, force: true });
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const ratio = median(times.ipxe) / median(times.signed);
  return {
    summary: [
      `UEFI boot, kernel + ${pad} MiB padded initrd, power-on to marker: signed chain ${median(times.signed).toFixed(1)} s, iPXE chain ${median(times.ipxe).toFixed(1)} s; iPXE / signed = ${ratio.toFixed(2)} (< 1: the signed chain is slower)`,
    ],
  };
}
