// A stand-in PXE server built from dnsmasq (DHCP + TFTP + PXE options), run in
// the virtual lab. It proves the lab's plumbing (bridge, taps, QEMU firmware,
// fixtures) independently of PXE Kit: if this boots and PXE Kit does not, the
// bug is in PXE Kit.
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { lineReader, type VirtualLab } from '../../src/lab/virtual-lab.js';
import type { BootFixtures } from '../../src/lab/fixtures.js';

export interface StandinServer {
  process: ChildProcess;
  log: string[];
}

/** proxy: answer as a proxyDHCP server only (the lab's site DHCP server hands out addresses). */
export async function startDnsmasqPxe(lab: VirtualLab, fx: BootFixtures, cmdline: string, opts: { proxy?: boolean } = {}): Promise<StandinServer> {
  const root = join(lab.tmp, 'standin-tftp');
  mkdirSync(root, { recursive: true });
  copyFileSync(fx.kernel, join(root, 'vmlinuz'));
  copyFileSync(fx.initrd, join(root, 'initrd.gz'));
  // UEFI firmware without iPXE gets iPXE (using the firmware's own NIC driver), which then asks again.
  copyFileSync('/usr/lib/ipxe/snponly.efi', join(root, 'snponly.efi'));
  // initrd=: the 2019 iPXE of Debian 12 hands EFI kernels the initrd as a file
  // the EFI stub loads by that name (no LoadFile2 yet); harmless on BIOS.
  writeFileSync(join(root, 'boot.ipxe'), `#!ipxe\nkernel vmlinuz initrd=initrd.gz ${cmdline}\ninitrd initrd.gz\nboot\n`);
  const args = [
    '--no-daemon',
    '--conf-file=/dev/null',
    '--port=0',
    `--interface=${lab.bridge}`,
    '--bind-interfaces',
    ...(opts.proxy
      ? [
          `--dhcp-range=${lab.subnet}.0,proxy,255.255.255.0`,
          '--dhcp-match=set:ipxe,175',
          // proxyDHCP hands out boot servers/files via PXE menus (option 43).
          '--pxe-service=tag:ipxe,x86PC,"iPXE",boot.ipxe',
          '--pxe-service=tag:ipxe,X86-64_EFI,"iPXE",boot.ipxe',
          '--pxe-service=tag:!ipxe,X86-64_EFI,"PXE",snponly.efi',
        ]
      : [
          `--dhcp-range=${lab.subnet}.50,${lab.subnet}.99,255.255.255.0,10m`,
          '--dhcp-match=set:ipxe,175',
          '--dhcp-match=set:efi64,option:client-arch,7',
          '--dhcp-boot=tag:ipxe,boot.ipxe',
          '--dhcp-boot=tag:!ipxe,tag:efi64,snponly.efi',
        ]),
    `--dhcp-leasefile=${join(lab.tmp, 'standin.leases')}`,
    `--pid-file=${join(lab.tmp, 'standin.pid')}`,
    '--enable-tftp',
    `--tftp-root=${root}`,
    '--log-dhcp',
    '--log-facility=-',
    '--user=root',
  ];
  const proc = lab.spawn('dnsmasq', args);
  const log: string[] = [];
  lineReader(proc.stdout, (l) => log.push(l));
  lineReader(proc.stderr, (l) => log.push(l));
  const started = Date.now();
  while (!log.some((l) => l.includes('TFTP root'))) {
    if (proc.exitCode !== null) throw new Error(`stand-in dnsmasq exited: ${log.join('\n')}`);
    if (Date.now() - started > 10_000) throw new Error(`stand-in dnsmasq did not start: ${log.join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { process: proc, log };
}
