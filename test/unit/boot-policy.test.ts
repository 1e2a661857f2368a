import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientArch, ClientInfo } from '../../src/boot/client.js';
import type { BootOffer, BootRefusal } from '../../src/boot/decision.js';
import { createBootPolicy, publishIpxeBinaries } from '../../src/boot/policy.js';
import type { IpxeBinaries } from '../../src/boot/ipxe-binaries.js';
import { PublishedFiles } from '../../src/files/published.js';

const ALL: IpxeBinaries = {
  searched: ['/x'],
  paths: { bios: '/x/undionly.kpxe', efiX64: '/x/ipxe.efi', efiX64Snp: '/x/snponly.efi', efiArm64: '/x/ipxe-arm64.efi' },
};
const DEBIAN_X86: IpxeBinaries = { searched: ['/usr/lib/ipxe'], paths: { bios: '/x/undionly.kpxe', efiX64: '/x/ipxe.efi', efiX64Snp: '/x/snponly.efi' } };

function client(arch: ClientArch, o: Partial<ClientInfo> = {}): ClientInfo {
  const http = arch.endsWith('-http');
  return { mac: '52:54:00:12:34:56', arch, isIpxe: false, isHttpBoot: http, isPxe: !http, ...o };
}
const policy = (b: IpxeBinaries = ALL, extra = {}) => createBootPolicy({ serverIp: '10.9.0.1', httpPort: 8080, binaries: b, ...extra });
function offer(d: ReturnType<ReturnType<typeof policy>['decide']>): BootOffer {
  assert.equal(d.kind, 'offer', d.kind === 'refuse' ? d.reason : '');
  return d as BootOffer;
}
function refusal(d: ReturnType<ReturnType<typeof policy>['decide']>): BootRefusal {
  assert.equal(d.kind, 'refuse');
  return d as BootRefusal;
}

test('a client that is already iPXE gets its per-client script over HTTP (breaks the chainload loop)', () => {
  for (const arch of ['bios', 'efi-x64', 'efi-arm64', 'unknown'] as ClientArch[]) {
    const o = offer(policy().decide(client(arch, { isIpxe: true })));
    assert.equal(o.bootFile, 'http://10.9.0.1:8080/ipxe/52-54-00-12-34-56.ipxe');
    assert.equal(o.httpClient, false);
    assert.equal(o.nextServer, '10.9.0.1');
  }
});

test('scriptPathFor is honoured', () => {
  const o = offer(policy(ALL, { scriptPathFor: (m: string) => `s/${m}.ipxe` }).decide(client('efi-x64', { isIpxe: true })));
  assert.equal(o.bootFile, 'http://10.9.0.1:8080/s/52%3A54%3A00%3A12%3A34%3A56.ipxe');
});

test('BIOS PXE gets undionly.kpxe over TFTP', () => {
  const o = offer(policy().decide(client('bios')));
  assert.deepEqual([o.bootFile, o.httpClient, o.nextServer], ['undionly.kpxe', false, '10.9.0.1']);
});

test('UEFI x64 PXE gets ipxe.efi over TFTP, or snponly.efi when preferred', () => {
  assert.equal(offer(policy().decide(client('efi-x64'))).bootFile, 'ipxe.efi');
  assert.equal(offer(policy(ALL, { efiBuild: 'snponly' }).decide(client('efi-x64'))).bootFile, 'snponly.efi');
  // Falls back to whichever exists.
  const onlySnp: IpxeBinaries = { searched: [], paths: { efiX64Snp: '/x/snponly.efi' } };
  assert.equal(offer(policy(onlySnp).decide(client('efi-x64'))).bootFile, 'snponly.efi');
});

test('UEFI HTTP Boot gets an absolute http:// URL and httpClient', () => {
  const o = offer(policy().decide(client('efi-x64-http')));
  assert.equal(o.bootFile, 'http://10.9.0.1:8080/ipxe.efi');
  assert.equal(o.httpClient, true);
  const a = offer(policy().decide(client('efi-arm64-http')));
  assert.equal(a.bootFile, 'http://10.9.0.1:8080/ipxe-arm64.efi');
  assert.equal(a.httpClient, true);
  // isHttpBoot with a plain arch (vendor class said HTTPClient) also goes over HTTP.
  assert.equal(offer(policy().decide(client('efi-x64', { isHttpBoot: true, isPxe: false }))).httpClient, true);
});

test('ARM64 PXE gets the arm64 build when present, else a refusal in plain words', () => {
  assert.equal(offer(policy().decide(client('efi-arm64'))).bootFile, 'ipxe-arm64.efi');
  const r = refusal(policy(DEBIAN_X86).decide(client('efi-arm64')));
  assert.match(r.reason, /^an ARM64 UEFI client asked to boot; no ARM64 iPXE binary is available: /);
  // Where to put it, in a technician's words (no source-tree paths).
  assert.match(r.reason, /named ipxe-arm64\.efi, into the ipxe folder of PXE Kit's installation/);
  assert.doesNotMatch(r.reason, /resources\/ipxe|fetch-ipxe/);
});

test('ia32, arm32 and unknown architectures are refused with words', () => {
  assert.match(refusal(policy().decide(client('efi-ia32'))).reason, /32-bit x86 UEFI client.*no 32-bit UEFI iPXE binary/);
  const withIa32: IpxeBinaries = { searched: [], paths: { ...ALL.paths, efiIa32: '/x/ipxe-ia32.efi' } };
  assert.equal(offer(createBootPolicy({ serverIp: '10.9.0.1', httpPort: 8080, binaries: withIa32 }).decide(client('efi-ia32'))).bootFile, 'ipxe-ia32.efi');
  assert.match(refusal(policy().decide(client('efi-arm32'))).reason, /32-bit ARM/);
  assert.match(refusal(policy().decide(client('unknown', { archCode: 99 }))).reason, /architecture code 99/);
});

test('missing BIOS or x64 programs are refused with how to get them', () => {
  const none: IpxeBinaries = { searched: [], paths: {} };
  assert.match(refusal(policy(none).decide(client('bios'))).reason, /undionly\.kpxe.*apt-get install ipxe/);
  assert.match(refusal(policy(none).decide(client('efi-x64'))).reason, /ipxe\.efi or snponly\.efi.*install Debian's "ipxe" package.*reinstall PXE Kit/);
});

test('a DHCP client that did not ask to network-boot is refused', () => {
  assert.match(refusal(policy().decide(client('bios', { isPxe: false }))).reason, /did not ask to boot from the network/);
});

test('publishIpxeBinaries registers each program once under its TFTP/HTTP name', () => {
  const files = new PublishedFiles();
  const names = publishIpxeBinaries(files, ALL);
  assert.deepEqual(names.sort(), ['ipxe-arm64.efi', 'ipxe.efi', 'snponly.efi', 'undionly.kpxe']);
  assert.equal(files.lookup('/undionly.kpxe')?.role, 'boot program');
  assert.equal(files.lookup('ipxe.efi')?.path, 'ipxe.efi');
});
