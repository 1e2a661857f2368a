// What a standalone boot program is, read from Debian's real files: memtest86+'s BIOS image
// and EFI program, iPXE's builds, a lone pxelinux.0 (served with its folder), and the lab's
// Debian kernel (no program: its own recipe). The DHCP policy refuses a program to firmware it
// does not run on, with why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { programFacts } from '../../src/images/program.js';
import { createBootPolicy } from '../../src/boot/policy.js';
import type { ClientInfo } from '../../src/boot/client.js';

const MEMTEST_BIN = '/boot/memtest86+x64.bin';
const MEMTEST_EFI = '/boot/memtest86+x64.efi';
const need = (...paths: string[]) => {
  const missing = paths.filter((p) => !existsSync(p));
  return missing.length ? `${missing.join(', ')} missing: install the Debian packages in scripts/install-deps.sh` : undefined;
};

test("memtest86+: the BIOS image runs on BIOS only, the EFI program on UEFI x64 only; both say what the screen shows", { skip: need(MEMTEST_BIN, MEMTEST_EFI) }, async () => {
  const bin = await programFacts(MEMTEST_BIN, 'kernel');
  assert.equal(bin?.what, 'memtest86+ (a memory test)');
  assert.deepEqual(bin?.runsOn, ['bios']);
  assert.match(String(bin?.onScreen), /memtest86\+ test screen.*fetches nothing more from PXE Kit/);
  const efi = await programFacts(MEMTEST_EFI, 'kernel');
  assert.deepEqual(efi?.runsOn, ['x64']);
});

test("iPXE's builds: BIOS ones for BIOS, the EFI ones for UEFI x64", { skip: need('/usr/lib/ipxe/undionly.kpxe', '/usr/lib/ipxe/snponly.efi') }, async () => {
  const kpxe = await programFacts('/usr/lib/ipxe/undionly.kpxe', 'pxe');
  assert.equal(kpxe?.what, 'iPXE');
  assert.deepEqual(kpxe?.runsOn, ['bios']);
  const snp = await programFacts('/usr/lib/ipxe/snponly.efi', 'efi');
  assert.equal(snp?.what, 'iPXE');
  assert.deepEqual(snp?.runsOn, ['x64']);
});

test('a lone pxelinux.0 or syslinux.efi is a loader that needs its folder', { skip: need('/usr/lib/PXELINUX/pxelinux.0', '/usr/lib/SYSLINUX.EFI/efi64/syslinux.efi') }, async () => {
  const px = await programFacts('/usr/lib/PXELINUX/pxelinux.0', 'pxe');
  assert.deepEqual(px?.needsFolder, { kind: 'pxelinux', folder: '/usr/lib/PXELINUX', firmware: 'bios' });
  const sx = await programFacts('/usr/lib/SYSLINUX.EFI/efi64/syslinux.efi', 'efi');
  assert.deepEqual(sx?.needsFolder, { kind: 'syslinux-efi', folder: '/usr/lib/SYSLINUX.EFI/efi64', firmware: 'x64' });
});

test('the DHCP policy refuses a program to firmware it does not run on, naming both', () => {
  const policy = createBootPolicy({
    serverIp: '10.0.0.1',
    httpPort: 8080,
    binaries: { paths: { bios: '/x/undionly.kpxe', efiX64: '/x/ipxe.efi' } } as never,
    planFor: () => ({ signedChainCan: false, signedLoaders: { shim: 's', grub: 'g', grubPrefix: 'grub' }, runsOn: { firmware: ['bios'], what: 'memtest86+ (a memory test)' } }),
  });
  const client = (arch: ClientInfo['arch'], archCode: number): ClientInfo => ({ mac: '52:54:00:00:00:09', arch, archCode, isPxe: true, isIpxe: false, isHttpBoot: false }) as ClientInfo;
  const uefi = policy.decide(client('efi-x64', 7));
  assert.equal(uefi.kind, 'refuse');
  assert.match((uefi as { reason: string }).reason, /^memtest86\+ \(a memory test\) runs on BIOS machines only, and this is a 64-bit x86 UEFI machine: switch its boot mode to BIOS \(Legacy\/CSM\)/);
  assert.equal(policy.decide(client('bios', 0)).kind, 'offer');
});
