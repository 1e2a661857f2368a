// Reads what Secure Boot cares about from an EFI program (PE/COFF): CPU, subsystem, the
// Authenticode signatures in the certificate table, shim's built-in vendor certificate and
// its SBAT text. Reads only headers and the small regions it needs (kernels and GRUB are MBs)
// and never throws on a damaged file: what could not be read is listed in `problems`.
// It does not verify signatures cryptographically: it says who signed, not that the hash matches.
import { X509Certificate } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { ByteSource } from '../files/published.js';

export type EfiMachine = 'x64' | 'ia32' | 'arm64' | 'arm32' | 'riscv64' | 'other';

export interface EfiCertificate {
  subject: string;
  issuer: string;
  commonName?: string;
  organisation?: string;
  issuerCommonName?: string;
  /** Upper-case hex, no leading zeros. */
  serial: string;
  validFrom: string;
  validTo: string;
}

export interface EfiSignature {
  /** The certificate that made the signature; undefined when it is not embedded. */
  signer?: EfiCertificate;
  /** Every certificate embedded in the PKCS#7 (the signer and the chain above it). */
  certificates: EfiCertificate[];
}

export interface EfiProgramInfo {
  path?: string;
  machine: EfiMachine;
  machineCode: number;
  pe32Plus: boolean;
  /** 10 = EFI application, 11 = boot service driver, 12 = runtime driver. */
  subsystem: number;
  sections: string[];
  /** Where the certificate table sits in the file (data directory 4), when there is one. */
  certificateTable?: { offset: number; size: number };
  signatures: EfiSignature[];
  /** shim's built-in trusted certificates (.vendor_cert); the first one, and all of them. */
  vendorCert?: EfiCertificate;
  vendorCerts: EfiCertificate[];
  /** First lines of the .sbat section (the generations that revocation by SBAT checks). */
  sbat?: string;
  problems: string[];
}

export type ReadAt = (offset: number, length: number) => Promise<Buffer>;

const MACHINES: Record<number, EfiMachine> = { 0x8664: 'x64', 0x14c: 'ia32', 0xaa64: 'arm64', 0x1c2: 'arm32', 0x1c4: 'arm32', 0x5064: 'riscv64' };
// Real tables hold a few signatures of a few KB; anything larger is damage, not data.
const MAX_REGION = 1 << 20;
// The Windows loader refuses images with more sections than this; so does any sane firmware.
const MAX_SECTIONS = 96;
const SIGNED_DATA_OID = Buffer.from('2a864886f70d010702', 'hex'); // 1.2.840.113549.1.7.2
const EFI_CERT_X509_GUID = Buffer.from('a159c0a5e494a74a87b5ab155c2bf072', 'hex');
const WIN_CERT_TYPE_PKCS_SIGNED_DATA = 0x0002;

export async function readEfiProgram(path: string): Promise<EfiProgramInfo | undefined> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const readAt: ReadAt = async (offset, length) => {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fh.read(buf, 0, length, offset);
      return buf.subarray(0, bytesRead);
    };
    const info = await parseEfiProgram(readAt, size);
    return info && { path, ...info };
  } finally {
    await fh.close();
  }
}

/** The same, from published bytes (a file inside an ISO, a published boot program). */
export async function readEfiSource(src: ByteSource): Promise<EfiProgramInfo | undefined> {
  return parseEfiProgram(sourceReader(src), src.size);
}

/** Reads of published bytes, clipped at their end. */
export function sourceReader(src: ByteSource): ReadAt {
  return async (offset, length) => {
    const buf = Buffer.alloc(Math.max(0, Math.min(length, src.size - offset)));
    return buf.subarray(0, await src.read(buf, 0, buf.length, offset));
  };
}

/** undefined when the bytes are not a PE/COFF image at all (no "MZ"). */
export async function parseEfiProgram(readAt: ReadAt, size: number): Promise<EfiProgramInfo | undefined> {
  const dos = await readAt(0, Math.min(64, size));
  if (dos.length < 2 || dos.toString('latin1', 0, 2) !== 'MZ') return undefined;
  const info: EfiProgramInfo = { machine: 'other', machineCode: 0, pe32Plus: false, subsystem: 0, sections: [], signatures: [], vendorCerts: [], problems: [] };
  // Every length below is checked against the file before it is read.
  const region = async (offset: number, length: number, what: string): Promise<Buffer | undefined> => {
    if (offset < 0 || length < 0 || offset + length > size) info.problems.push(`${what} runs past the end of the file (${offset}+${length} > ${size})`);
    else if (length > MAX_REGION) info.problems.push(`${what} is implausibly large (${length} bytes)`);
    else {
      const b = await readAt(offset, length);
      if (b.length === length) return b;
      info.problems.push(`${what}: short read`);
    }
    return undefined;
  };
  if (dos.length < 64) return (info.problems.push('DOS header truncated'), info);
  const peOffset = dos.readUInt32LE(0x3c);
  const coff = await region(peOffset, 24, 'PE header');
  if (!coff) return info;
  if (coff.readUInt32LE(0) !== 0x00004550) return (info.problems.push('no "PE\\0\\0" signature where the DOS header points'), info);
  info.machineCode = coff.readUInt16LE(4);
  info.machine = MACHINES[info.machineCode] ?? 'other';
  const sectionCount = coff.readUInt16LE(6);
  const optSize = coff.readUInt16LE(20);
  const opt = await region(peOffset + 24, optSize, 'optional header');
  if (!opt || optSize < 70) return (opt && info.problems.push('optional header too short'), info);
  const magic = opt.readUInt16LE(0);
  if (magic !== 0x10b && magic !== 0x20b) info.problems.push(`unknown optional header magic 0x${magic.toString(16)}`);
  info.pe32Plus = magic === 0x20b;
  info.subsystem = opt.readUInt16LE(68);
  // PE32+ widens ImageBase and the four stack/heap sizes to 64 bits: the directories move by 16.
  const dirCountAt = info.pe32Plus ? 108 : 92;
  const securityDir = dirCountAt + 4 + 4 * 8;
  if (optSize >= securityDir + 8 && opt.readUInt32LE(dirCountAt) > 4) {
    const offset = opt.readUInt32LE(securityDir); // a file offset, unlike every other directory
    const length = opt.readUInt32LE(securityDir + 4);
    if (offset !== 0 && length !== 0) {
      info.certificateTable = { offset, size: length };
      const table = await region(offset, length, 'certificate table');
      if (table) info.signatures = walkCertificateTable(table, info.problems);
    }
  }
  if (sectionCount > MAX_SECTIONS) return (info.problems.push(`${sectionCount} sections: not a real EFI program`), info);
  const table = await region(peOffset + 24 + optSize, sectionCount * 40, 'section table');
  const rawNames = table ? Array.from({ length: sectionCount }, (_, i) => table.toString('latin1', i * 40, i * 40 + 8).replace(/\0.*$/s, '')) : [];
  // GNU ld (shim, systemd-boot) writes names longer than 8 bytes as "/<offset>" into the COFF
  // string table after the symbols. Firmware never looks at names; only tools like this do.
  const strings = rawNames.some((n) => n.startsWith('/')) ? await stringTable(coff.readUInt32LE(12) + coff.readUInt32LE(16) * 18) : undefined;
  for (let i = 0; table && i < sectionCount; i++) {
    const h = table.subarray(i * 40, i * 40 + 40);
    const name = sectionName(rawNames[i], strings);
    info.sections.push(name);
    if (name !== '.vendor_cert' && name !== '.sbat') continue;
    // SizeOfRawData is rounded up to the file alignment; VirtualSize is what the linker put there.
    const virtualSize = h.readUInt32LE(8);
    const rawSize = h.readUInt32LE(16);
    const data = await region(h.readUInt32LE(20), virtualSize > 0 ? Math.min(virtualSize, rawSize) : rawSize, `section ${name}`);
    if (data && name === '.sbat') info.sbat = data.toString('utf8').replace(/\0.*$/s, '').split('\n').slice(0, 20).join('\n');
    if (data && name === '.vendor_cert') {
      info.vendorCerts = vendorCertificates(data, info.problems);
      info.vendorCert = info.vendorCerts[0];
    }
  }
  return info;

  async function stringTable(at: number): Promise<Buffer | undefined> {
    const head = await region(at, 4, 'COFF string table');
    return head && region(at, head.readUInt32LE(0), 'COFF string table');
  }
}

function sectionName(raw: string, strings: Buffer | undefined): string {
  if (!strings || !/^\/\d+$/.test(raw)) return raw;
  const at = Number(raw.slice(1));
  const end = strings.indexOf(0, at);
  return at < strings.length ? strings.toString('latin1', at, end < 0 ? strings.length : end) : raw;
}

function walkCertificateTable(table: Buffer, problems: string[]): EfiSignature[] {
  const out: EfiSignature[] = [];
  for (let pos = 0; pos + 8 <= table.length; ) {
    const length = table.readUInt32LE(pos);
    const type = table.readUInt16LE(pos + 6);
    if (length < 8 || pos + length > table.length) {
      problems.push(`certificate entry at +${pos} has length ${length}, beyond its table (${table.length})`);
      break;
    }
    if (type === WIN_CERT_TYPE_PKCS_SIGNED_DATA) {
      try {
        out.push(signedData(table.subarray(pos + 8, pos + length), problems));
      } catch (err) {
        problems.push(`signature at +${pos}: ${(err as Error).message}`);
      }
    } else problems.push(`certificate entry at +${pos} has type 0x${type.toString(16)}, not PKCS#7`);
    pos += (length + 7) & ~7; // entries are quadword aligned
  }
  return out;
}

// ---------------------------------------------------------------- DER, just enough for PKCS#7

interface Tlv { tag: number; pos: number; start: number; end: number }

function tlv(b: Buffer, pos: number, limit: number): Tlv {
  if (pos + 2 > limit) throw new Error('DER truncated');
  const tag = b[pos];
  let len = b[pos + 1];
  let start = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > limit) throw new Error('DER length unsupported or truncated');
    len = b.readUIntBE(start, n);
    start += n;
  }
  if (start + len > limit) throw new Error('DER element runs past its container');
  return { tag, pos, start, end: start + len };
}

/** Checks that an element is there and has the expected tag. */
function need(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t) throw new Error(`${what} missing`);
  if (t.tag !== tag) throw new Error(`${what}: expected DER tag 0x${tag.toString(16)}, found 0x${t.tag.toString(16)}`);
  return t;
}

function kids(b: Buffer, t: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = t.start; p < t.end; p = out[out.length - 1].end) out.push(tlv(b, p, t.end));
  return out;
}

/** The serial number of a Certificate and its issuer Name element. */
function certificateId(b: Buffer, cert: Tlv): { serial: Tlv; issuer: Tlv } {
  const tbs = kids(b, need(kids(b, need(cert, 0x30, 'Certificate'))[0], 0x30, 'TBSCertificate'));
  const i = tbs[0]?.tag === 0xa0 ? 1 : 0; // the explicit version is absent in v1 certificates
  return { serial: need(tbs[i], 0x02, 'serial number'), issuer: need(tbs[i + 2], 0x30, 'issuer') };
}

/** serial + issuer Name bytes: how a SignerInfo names its certificate. */
const idKey = (b: Buffer, serial: Tlv, issuer: Tlv) => `${b.toString('hex', serial.start, serial.end)}/${b.toString('hex', issuer.pos, issuer.end)}`;

function signedData(der: Buffer, problems: string[]): EfiSignature {
  const [contentType, explicit] = kids(der, need(tlv(der, 0, der.length), 0x30, 'ContentInfo'));
  const oid = need(contentType, 0x06, 'content type');
  if (!der.subarray(oid.start, oid.end).equals(SIGNED_DATA_OID)) throw new Error('not PKCS#7 SignedData');
  const parts = kids(der, need(kids(der, need(explicit, 0xa0, 'content'))[0], 0x30, 'SignedData'));
  const certs = new Map<string, EfiCertificate>();
  const certSet = parts.find((t) => t.tag === 0xa0);
  for (const c of certSet ? kids(der, certSet) : []) {
    if (c.tag !== 0x30) continue; // obsolete certificate choices
    try {
      const { serial, issuer } = certificateId(der, c);
      certs.set(idKey(der, serial, issuer), describe(new X509Certificate(der.subarray(c.pos, c.end)), der.subarray(serial.start, serial.end)));
    } catch (err) {
      problems.push(`an embedded certificate is damaged (${(err as Error).message})`);
    }
  }
  const sig: EfiSignature = { certificates: [...certs.values()] };
  const signerInfos = parts[parts.length - 1];
  if (parts.length < 4 || signerInfos.tag !== 0x31) throw new Error('SignedData has no signerInfos');
  for (const si of kids(der, signerInfos)) {
    const sid = kids(der, need(si, 0x30, 'SignerInfo'))[1];
    if (sid?.tag !== 0x30) {
      problems.push('signer named by key identifier, not issuer and serial number');
      continue;
    }
    const [issuer, serial] = kids(der, sid);
    sig.signer ??= certs.get(idKey(der, need(serial, 0x02, 'signer serial number'), need(issuer, 0x30, 'signer issuer')));
    if (!sig.signer) problems.push('the signer certificate is not embedded in the signature');
  }
  return sig;
}

function describe(x: X509Certificate, serial: Buffer): EfiCertificate {
  const field = (name: string, key: string) => name.split('\n').find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1);
  const first = serial.findIndex((byte) => byte !== 0);
  return {
    subject: x.subject,
    issuer: x.issuer,
    commonName: field(x.subject, 'CN'),
    organisation: field(x.subject, 'O'),
    issuerCommonName: field(x.issuer, 'CN'),
    serial: first < 0 ? '0' : serial.toString('hex', first).toUpperCase(),
    validFrom: x.validFrom,
    validTo: x.validTo,
  };
}

/** Parses one DER certificate, adding a problem instead of throwing. */
function certificate(der: Buffer, problems: string[], what: string): EfiCertificate | undefined {
  try {
    const c = tlv(der, 0, der.length);
    const { serial } = certificateId(der, c);
    return describe(new X509Certificate(der.subarray(0, c.end)), der.subarray(serial.start, serial.end));
  } catch (err) {
    problems.push(`${what}: ${(err as Error).message}`);
    return undefined;
  }
}

/**
 * shim's .vendor_cert starts with { u32 authorized_size, deauthorized_size, authorized_offset,
 * deauthorized_offset } (offsets from the section start). The authorized blob is one DER
 * certificate (VENDOR_CERT_FILE) or an EFI_SIGNATURE_LIST db (VENDOR_DB_FILE).
 */
function vendorCertificates(section: Buffer, problems: string[]): EfiCertificate[] {
  if (section.length < 16) return (problems.push('.vendor_cert too short'), []);
  const size = section.readUInt32LE(0);
  const offset = section.readUInt32LE(8);
  if (size === 0) return [];
  if (offset + size > section.length) return (problems.push('.vendor_cert authorized list runs past its section'), []);
  const blob = section.subarray(offset, offset + size);
  if (blob[0] === 0x30) return [certificate(blob, problems, '.vendor_cert')].filter((c): c is EfiCertificate => !!c);
  const out: EfiCertificate[] = [];
  for (let pos = 0; pos + 28 <= blob.length; ) {
    const listSize = blob.readUInt32LE(pos + 16);
    const headerSize = blob.readUInt32LE(pos + 20);
    const sigSize = blob.readUInt32LE(pos + 24);
    if (listSize < 28 || pos + listSize > blob.length || sigSize < 16 || 28 + headerSize > listSize) {
      problems.push(`.vendor_cert signature list at +${pos} is damaged`);
      break;
    }
    if (blob.subarray(pos, pos + 16).equals(EFI_CERT_X509_GUID)) {
      for (let e = pos + 28 + headerSize; e + sigSize <= pos + listSize; e += sigSize) {
        const cert = certificate(blob.subarray(e + 16, e + sigSize), problems, '.vendor_cert db entry');
        if (cert) out.push(cert);
      }
    }
    pos += listSize;
  }
  return out;
}
