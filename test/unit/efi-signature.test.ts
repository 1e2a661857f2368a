// Secure Boot signatures of real EFI programs (Debian's shim, GRUB and kernel; Debian's unsigned
// iPXE), hand-built PE32/PE32+ images around real signature bytes, and damaged files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEfiProgram, readEfiProgram, type EfiProgramInfo } from '../../src/images/efi-signature.js';
import { secureBootVerdict, signerKind, programSignerKind } from '../../src/images/secure-boot-verdict.js';
import { ensureFixtures, packageRoot } from '../../src/lab/fixtures.js';

const TIMEOUT = { timeout: 300_000 };
const IPXE = '/usr/lib/ipxe/ipxe.efi';
const sbDir = join(packageRoot(), 'resources', 'secureboot');

function realFiles(): { shim: string; grub: string; kernel: string } {
  const shim = join(sbDir, 'shimx64.efi');
  const grub = join(sbDir, 'grubnetx64.efi');
  if (!existsSync(shim) || !existsSync(grub)) execFileSync('bash', ['build/fetch-secureboot.sh'], { cwd: packageRoot(), stdio: 'inherit' });
  for (const f of [shim, grub]) assert.ok(existsSync(f), `${f} is missing even after build/fetch-secureboot.sh`);
  assert.ok(existsSync(IPXE), `${IPXE} is missing: install Debian's ipxe package`);
  return { shim, grub, kernel: ensureFixtures().kernel };
}

const readerOf = (b: Buffer) => async (offset: number, length: number) => b.subarray(offset, offset + length);
const parseBuffer = (b: Buffer) => parseEfiProgram(readerOf(b), b.length);
async function load(path: string): Promise<EfiProgramInfo> {
  const info = await readEfiProgram(path);
  assert.ok(info, `${path} is not read as a PE image`);
  return info;
}
/** The raw WIN_CERTIFICATE entries of a signed file. */
function certTableOf(path: string, info: EfiProgramInfo): Buffer {
  assert.ok(info.certificateTable);
  return readFileSync(path).subarray(info.certificateTable.offset, info.certificateTable.offset + info.certificateTable.size);
}
/** Finds an embedded certificate by brute force, independently of the parser under test. */
function findCertDer(blob: Buffer, cn: string): Buffer {
  for (let i = 0; i + 4 < blob.length; i++) {
    if (blob[i] !== 0x30 || blob[i + 1] !== 0x82) continue;
    try {
      const der = blob.subarray(i, i + 4 + blob.readUInt16BE(i + 2));
      if (new X509Certificate(der).subject.includes(`CN=${cn}`)) return der;
    } catch {
      /* not a certificate at this offset */
    }
  }
  throw new Error(`no certificate ${cn}`);
}

interface PeSpec { pe32Plus?: boolean; machine?: number; sections?: { name: string; data: Buffer }[]; certTable?: Buffer; certDir?: { offset: number; size: number } }
/** A minimal PE image: headers, sections (long names through the COFF string table), certificate table last. */
function buildPe(spec: PeSpec): Buffer {
  const pe32Plus = spec.pe32Plus ?? true;
  const sections = spec.sections ?? [];
  const optSize = (pe32Plus ? 112 : 96) + 16 * 8;
  const align = (n: number) => (n + 511) & ~511;
  let pos = align(0x40 + 24 + optSize + sections.length * 40);
  const at: number[] = [];
  for (const s of sections) {
    at.push(pos);
    pos = align(pos + s.data.length);
  }
  const longNames = sections.map((s) => s.name).filter((n) => n.length > 8);
  const strtab = Buffer.concat([Buffer.alloc(4), ...longNames.map((n) => Buffer.from(`${n}\0`, 'latin1'))]);
  strtab.writeUInt32LE(strtab.length, 0);
  const strtabAt = pos;
  const certAt = align(strtabAt + strtab.length);
  const b = Buffer.alloc(certAt + (spec.certTable?.length ?? 0));
  b.write('MZ', 0, 'latin1');
  b.writeUInt32LE(0x40, 0x3c);
  b.writeUInt32LE(0x4550, 0x40);
  b.writeUInt16LE(spec.machine ?? 0x8664, 0x44);
  b.writeUInt16LE(sections.length, 0x46);
  b.writeUInt32LE(strtabAt, 0x4c); // PointerToSymbolTable, 0 symbols: the string table starts there
  b.writeUInt16LE(optSize, 0x54);
  const opt = 0x58;
  b.writeUInt16LE(pe32Plus ? 0x20b : 0x10b, opt);
  b.writeUInt16LE(10, opt + 68);
  const dirs = opt + (pe32Plus ? 112 : 96);
  b.writeUInt32LE(16, dirs - 4);
  const dir = spec.certDir ?? (spec.certTable && { offset: certAt, size: spec.certTable.length });
  if (dir) {
    b.writeUInt32LE(dir.offset, dirs + 32);
    b.writeUInt32LE(dir.size, dirs + 36);
  }
  sections.forEach((s, i) => {
    const h = opt + optSize + i * 40;
    b.write(s.name.length > 8 ? `/${strtab.indexOf(`${s.name}\0`)}` : s.name, h, 8, 'latin1');
    b.writeUInt32LE(s.data.length, h + 8);
    b.writeUInt32LE(at[i], h + 12);
    b.writeUInt32LE(s.data.length, h + 16);
    b.writeUInt32LE(at[i], h + 20);
    s.data.copy(b, at[i]);
  });
  strtab.copy(b, strtabAt);
  spec.certTable?.copy(b, certAt);
  return b;
}
/** One WIN_CERTIFICATE whose dwLength is not a multiple of 8, padded to 8 as the PE format requires. */
function unalignedEntry(table: Buffer): Buffer {
  assert.equal(table[9], 0x82, 'PKCS#7 with a two-byte DER length expected');
  const der = table.subarray(8, 8 + 4 + table.readUInt16BE(10));
  const length = 8 + der.length + ((8 + der.length) % 8 === 0 ? 1 : 0);
  const entry = Buffer.alloc((length + 7) & ~7);
  entry.writeUInt32LE(length, 0);
  entry.writeUInt16LE(0x0200, 4);
  entry.writeUInt16LE(0x0002, 6);
  der.copy(entry, 8);
  return entry;
}
/** shim's .vendor_cert layout with an EFI_SIGNATURE_LIST (vendor_db) holding one X.509 certificate. */
function vendorDbSection(der: Buffer): Buffer {
  const esl = Buffer.alloc(28 + 16 + der.length);
  Buffer.from('a159c0a5e494a74a87b5ab155c2bf072', 'hex').copy(esl, 0);
  esl.writeUInt32LE(esl.length, 16);
  esl.writeUInt32LE(16 + der.length, 24);
  der.copy(esl, 44);
  const head = Buffer.alloc(16);
  head.writeUInt32LE(esl.length, 0);
  head.writeUInt32LE(16, 8);
  head.writeUInt32LE(16 + esl.length, 12);
  return Buffer.concat([head, esl]);
}

test('Debian shim: Microsoft UEFI CA signatures, Debian vendor certificate, SBAT', TIMEOUT, async () => {
  const shim = await load(realFiles().shim);
  assert.deepEqual([shim.machine, shim.machineCode, shim.pe32Plus, shim.subsystem, shim.problems], ['x64', 0x8664, true, 10, []]);
  assert.ok(shim.sections.includes('.vendor_cert') && shim.sections.includes('.sbat'), shim.sections.join());
  const issuers = shim.signatures.map((s) => s.signer?.issuerCommonName);
  assert.deepEqual(issuers, ['Microsoft Corporation UEFI CA 2011', 'Microsoft UEFI CA 2023']);
  assert.equal(shim.signatures[0].signer?.commonName, 'Microsoft Windows UEFI Driver Publisher');
  assert.equal(shim.signatures[0].signer?.organisation, 'Microsoft Corporation');
  assert.ok(shim.signatures[0].certificates.some((c) => c.commonName === 'Microsoft Corporation UEFI CA 2011'));
  assert.deepEqual(shim.signatures.map(signerKind), ['microsoft-uefi-ca', 'microsoft-uefi-ca']);
  assert.equal(shim.vendorCert?.commonName, 'Debian Secure Boot CA');
  assert.equal(shim.vendorCert?.issuerCommonName, 'Debian Secure Boot CA');
  assert.equal(shim.vendorCert?.serial, 'ED54A1D5AF8748948D9F8932EE9C7C34');
  assert.match(shim.sbat ?? '', /^sbat,1,.*\nshim,\d+,UEFI shim,[^]*shim\.debian,/);
});

test('Debian GRUB and kernel: signed by Debian signers under the Debian Secure Boot CA; iPXE unsigned', TIMEOUT, async () => {
  const files = realFiles();
  const grub = await load(files.grub);
  const kernel = await load(files.kernel);
  const ipxe = await load(IPXE);
  for (const p of [grub, kernel, ipxe]) assert.deepEqual([p.machine, p.pe32Plus, p.subsystem, p.problems], ['x64', true, 10, []]);
  assert.equal(grub.signatures.length, 1);
  assert.match(grub.signatures[0].signer?.commonName ?? '', /^Debian Secure Boot Signer \d+ - grub2$/);
  assert.match(kernel.signatures[0].signer?.commonName ?? '', /^Debian Secure Boot Signer \d+ - linux$/);
  for (const p of [grub, kernel]) {
    assert.equal(p.signatures[0].signer?.issuer, 'CN=Debian Secure Boot CA');
    assert.equal(programSignerKind(p), 'other');
    assert.equal(p.vendorCert, undefined);
  }
  assert.match(grub.sbat ?? '', /grub\.debian,/);
  assert.deepEqual([ipxe.signatures, ipxe.certificateTable, programSignerKind(ipxe)], [[], undefined, 'unsigned']);
  assert.equal(await readEfiProgram('/usr/lib/ipxe/ipxe.pxe'), undefined); // not PE at all
});

test('reads only headers and the certificate table, never the whole file', TIMEOUT, async () => {
  const whole = readFileSync(realFiles().kernel);
  let bytes = 0;
  const info = await parseEfiProgram(async (o, l) => ((bytes += l), whole.subarray(o, o + l)), whole.length);
  assert.equal(info?.signatures.length, 1);
  assert.ok(bytes < 16 * 1024, `read ${bytes} of ${whole.length} bytes`);
});

test('PE32 and PE32+ images, long section names, a vendor_db signature list', TIMEOUT, async () => {
  const files = realFiles();
  const kernelTable = certTableOf(files.kernel, await load(files.kernel));
  const pe32 = await parseBuffer(buildPe({ pe32Plus: false, machine: 0x14c, certTable: kernelTable, sections: [{ name: '.text', data: Buffer.alloc(16) }] }));
  assert.deepEqual([pe32?.machine, pe32?.pe32Plus, pe32?.sections, pe32?.problems], ['ia32', false, ['.text'], []]);
  assert.match(pe32?.signatures[0].signer?.commonName ?? '', /- linux$/);
  for (const [code, name] of [[0xaa64, 'arm64'], [0x1c4, 'arm32'], [0x5064, 'riscv64'], [0x1234, 'other']] as const)
    assert.equal((await parseBuffer(buildPe({ machine: code })))?.machine, name);

  const grubTable = certTableOf(files.grub, await load(files.grub));
  const two = await parseBuffer(buildPe({ certTable: Buffer.concat([unalignedEntry(kernelTable), unalignedEntry(grubTable)]) }));
  assert.deepEqual(two?.problems, []);
  assert.deepEqual(two?.signatures.map((s) => s.signer?.commonName?.replace(/.* - /, '')), ['linux', 'grub2']);

  // A shim look-alike: Microsoft's signatures, but a vendor_db trusting only GRUB's signer.
  const grubSigner = findCertDer(grubTable, 'Debian Secure Boot Signer 2022 - grub2');
  const shimTable = certTableOf(files.shim, await load(files.shim));
  const sections = [{ name: '.text', data: Buffer.alloc(64) }, { name: '.vendor_cert', data: vendorDbSection(grubSigner) }, { name: '.sbat', data: Buffer.from('sbat,1,x\n\0\0') }];
  const fake = await parseBuffer(buildPe({ certTable: shimTable, sections }));
  assert.deepEqual(fake?.sections, ['.text', '.vendor_cert', '.sbat']);
  assert.deepEqual([fake?.vendorCerts.length, fake?.vendorCert?.commonName, fake?.sbat, fake?.problems], [1, 'Debian Secure Boot Signer 2022 - grub2', 'sbat,1,x\n', []]);
  assert.ok(fake);
  assert.equal(programSignerKind(fake), 'microsoft-uefi-ca');
  assert.equal(secureBootVerdict({ firstStage: fake, kernel: await load(files.grub) }).verdict, 'boots'); // signer == vendor cert
  assert.equal(secureBootVerdict({ firstStage: fake, kernel: await load(files.kernel) }).verdict, 'needs-mok');
});

test('damaged files: truncated, garbage, lengths past the end — problems, never a throw', TIMEOUT, async () => {
  const files = realFiles();
  const shim = readFileSync(files.shim);
  const table = (await load(files.shim)).certificateTable;
  assert.ok(table);
  assert.equal(await parseBuffer(shim.subarray(0, 1)), undefined);
  for (const cut of [10, 63, 64, 100, 300, 0x1000, Math.floor(table.offset / 2), table.offset + 8, table.offset + 3000, shim.length - 1]) {
    const info = await parseBuffer(shim.subarray(0, cut));
    assert.ok(info && info.problems.length > 0, `cut at ${cut}: ${JSON.stringify(info?.problems)}`);
    assert.equal(info.signatures.length, 0, `cut at ${cut} still has signatures`);
  }
  let seed = 7;
  const random = (n: number) => Buffer.from(Array.from({ length: n }, () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff));
  assert.equal(await parseBuffer(Buffer.concat([Buffer.from('XX'), random(4096)])), undefined);
  const mz = Buffer.concat([Buffer.from('MZ'), random(4094)]);
  assert.ok(((await parseBuffer(mz))?.problems.length ?? 0) > 0);
  mz.writeUInt32LE(0xfffffff0, 0x3c);
  assert.match((await parseBuffer(mz))?.problems.join() ?? '', /PE header runs past the end/);

  const huge = await parseBuffer(buildPe({ certDir: { offset: 0x400, size: 0xffffff00 } }));
  assert.match(huge?.problems.join() ?? '', /certificate table runs past the end/);
  const entry = Buffer.alloc(16);
  entry.writeUInt32LE(0x7fffffff, 0); // dwLength beyond its table
  assert.match((await parseBuffer(buildPe({ certTable: entry })))?.problems.join() ?? '', /beyond its table/);
  // Real signature bytes with damage sprinkled in: the DER walker must report, not throw.
  const kernelTable = certTableOf(files.kernel, await load(files.kernel));
  for (let i = 0; i < 300; i++) {
    const t = Buffer.from(kernelTable);
    for (const r of random(3)) t[8 + ((r * 131 + i * 977) % (t.length - 8))] ^= 1 + (i % 255);
    const info = await parseBuffer(buildPe({ certTable: t }));
    assert.ok(info && (info.signatures.length === 1 || info.problems.length > 0));
  }
});

test('Secure Boot verdicts for real chains and a hand-made foreign signer', TIMEOUT, async () => {
  const files = realFiles();
  const [shim, grub, kernel, ipxe] = await Promise.all([files.shim, files.grub, files.kernel, IPXE].map(load));
  const boots = secureBootVerdict({ firstStage: shim, kernel });
  assert.equal(boots.verdict, 'boots');
  assert.match(boots.reason, /shimx64\.efi is signed by Microsoft Windows UEFI Driver Publisher \(issued by Microsoft Corporation UEFI CA 2011\)/);
  assert.match(boots.reason, /accepts programs signed with Debian Secure Boot CA's key, and vmlinuz-\S+ is signed by Debian Secure Boot Signer \d+ - linux/);
  assert.equal(secureBootVerdict({ firstStage: shim, kernel: grub }).verdict, 'boots');
  assert.equal(secureBootVerdict({ firstStage: shim }).verdict, 'boots');
  assert.equal(secureBootVerdict({ firstStage: shim, kernel: { ...shim, path: 'mmx64.efi' } }).verdict, 'boots'); // Microsoft-signed: in db
  const unsignedKernel = secureBootVerdict({ firstStage: shim, kernel: ipxe });
  assert.deepEqual([unsignedKernel.verdict, /ipxe\.efi is not signed/.test(unsignedKernel.reason)], ['needs-secure-boot-off', true]);
  assert.equal(secureBootVerdict({ firstStage: ipxe }).verdict, 'needs-secure-boot-off');
  const grubFirst = secureBootVerdict({ firstStage: grub, kernel });
  assert.deepEqual([grubFirst.verdict, /signed by Debian Secure Boot Signer \d+ - grub2 .*not by Microsoft/.test(grubFirst.reason)], ['needs-secure-boot-off', true]);

  const cert = (cn: string, issuerCn: string) => ({ subject: `CN=${cn}`, issuer: `CN=${issuerCn}`, commonName: cn, issuerCommonName: issuerCn, serial: '01', validFrom: '', validTo: '' });
  const foreign: EfiProgramInfo = { ...kernel, path: 'vmlinuz-fedora', signatures: [{ signer: cert('Fedora Secure Boot Signer', 'Fedora Secure Boot CA'), certificates: [] }] };
  const mok = secureBootVerdict({ firstStage: shim, kernel: foreign });
  assert.equal(mok.verdict, 'needs-mok');
  assert.match(mok.reason, /only programs signed with Debian Secure Boot CA's key or Microsoft's, but vmlinuz-fedora is signed by Fedora Secure Boot Signer \(issued by Fedora Secure Boot CA\).*MokManager/);
  // A signer two steps below the vendor CA, through an intermediate carried in the signature.
  const viaIntermediate = { ...foreign, signatures: [{ signer: cert('Debian kernel signer', 'Debian Intermediate'), certificates: [cert('Debian Intermediate', 'Debian Secure Boot CA')] }] };
  assert.equal(secureBootVerdict({ firstStage: shim, kernel: viaIntermediate }).verdict, 'boots');
  assert.equal(signerKind({ signer: cert('Microsoft Windows', 'Microsoft Windows Production PCA 2011'), certificates: [] }), 'microsoft-windows');
  assert.equal(signerKind(undefined), 'unsigned');
});
