// Will this boot chain start on a PC with Secure Boot on? Decided from who signed what, by
// name: signatures are not verified cryptographically (see efi-signature.ts), so a forged
// certificate with Microsoft's names would pass here and still be refused by the firmware.
import type { EfiCertificate, EfiProgramInfo, EfiSignature } from './efi-signature.js';

export type SignerKind = 'microsoft-uefi-ca' | 'microsoft-windows' | 'other' | 'unsigned';
export type Verdict = 'boots' | 'needs-secure-boot-off' | 'needs-mok';
export interface SecureBootVerdict {
  verdict: Verdict;
  /** Plain words for the person at the machine, naming the signers. */
  reason: string;
}
export interface BootChain {
  /** What the firmware starts (shim, GRUB, iPXE, a Windows boot manager ...). */
  firstStage?: EfiProgramInfo;
  /** What the first stage starts (a kernel, or GRUB when the first stage is shim). */
  kernel?: EfiProgramInfo;
}

// PC firmware ships these CAs in its db: the third-party CA signs shim and other non-Windows
// loaders, the Windows CA signs only Microsoft's own boot managers.
const UEFI_CA = ['Microsoft Corporation UEFI CA 2011', 'Microsoft UEFI CA 2023'];
const WINDOWS_CA = ['Microsoft Windows Production PCA 2011', 'Windows UEFI CA 2023'];

/** The signer, then the certificates above it, as far as the signature carries them. */
export function signingChain(sig: EfiSignature): EfiCertificate[] {
  const chain: EfiCertificate[] = [];
  let cert = sig.signer;
  while (cert && !chain.includes(cert) && chain.length < 8) {
    chain.push(cert);
    const issuer = cert.issuer;
    cert = sig.certificates.find((c) => c.subject === issuer);
  }
  return chain;
}

export function signerKind(sig: EfiSignature | undefined): SignerKind {
  if (!sig) return 'unsigned';
  const names = signingChain(sig).flatMap((c) => [c.commonName, c.issuerCommonName]);
  if (names.some((n) => n !== undefined && UEFI_CA.includes(n))) return 'microsoft-uefi-ca';
  if (names.some((n) => n !== undefined && WINDOWS_CA.includes(n))) return 'microsoft-windows';
  return 'other';
}

/** The most trusted kind among a program's signatures (shim carries both 2011 and 2023 ones). */
export function programSignerKind(program: EfiProgramInfo): SignerKind {
  const kinds = program.signatures.map(signerKind);
  for (const k of ['microsoft-uefi-ca', 'microsoft-windows', 'other'] as const) if (kinds.includes(k)) return k;
  return 'unsigned';
}

/** shim trusts a program whose chain reaches one of its vendor certificates (or is one). */
export function trustedByVendor(program: EfiProgramInfo, vendorCerts: EfiCertificate[]): EfiCertificate | undefined {
  for (const sig of program.signatures)
    for (const c of signingChain(sig))
      for (const v of vendorCerts) if (c.issuer === v.subject || (c.subject === v.subject && c.serial === v.serial)) return v;
  return undefined;
}

const certName = (c: EfiCertificate) => c.commonName ?? c.subject.replace(/\n/g, ', ');
function signers(program: EfiProgramInfo): string {
  const each = program.signatures.map((s) => (s.signer ? `${certName(s.signer)} (issued by ${s.signer.issuerCommonName ?? s.signer.issuer})` : 'a signer whose certificate is not included'));
  return [...new Set(each)].join(' and ');
}
const nameOf = (p: EfiProgramInfo, fallback: string) => (p.path ? p.path.split(/[\\/]/).pop() || fallback : fallback);

export function secureBootVerdict(chain: BootChain): SecureBootVerdict {
  const first = chain.firstStage ?? chain.kernel;
  if (!first) return { verdict: 'needs-secure-boot-off', reason: 'There is no EFI program to check.' };
  const firstName = nameOf(first, 'the first boot program');
  const firstKind = programSignerKind(first);
  if (firstKind === 'unsigned')
    return { verdict: 'needs-secure-boot-off', reason: `${firstName} is not signed, so the firmware refuses to start it while Secure Boot is on. Turn Secure Boot off in the firmware setup, or boot a Microsoft-signed shim first.` };
  if (firstKind === 'other')
    return { verdict: 'needs-secure-boot-off', reason: `${firstName} is signed by ${signers(first)}, not by Microsoft. The firmware trusts only Microsoft's keys out of the box: turn Secure Boot off, or enroll that key in the firmware's db.` };
  const trusted = `${firstName} is signed by ${signers(first)}, which the firmware trusts`;
  const kernel = chain.kernel;
  if (!kernel || kernel === first) return { verdict: 'boots', reason: `${trusted}.` };

  const kernelName = nameOf(kernel, 'the kernel');
  const kernelKind = programSignerKind(kernel);
  if (kernelKind === 'unsigned')
    return { verdict: 'needs-secure-boot-off', reason: `${trusted}, but ${kernelName} is not signed and will be refused while Secure Boot is on. Turn Secure Boot off in the firmware setup.` };
  // shim checks the firmware's db as well as its own vendor certificate.
  if (kernelKind !== 'other') return { verdict: 'boots', reason: `${trusted}; ${kernelName} is signed by ${signers(kernel)}, which the firmware trusts too.` };
  if (first.vendorCerts.length === 0)
    return { verdict: 'needs-secure-boot-off', reason: `${trusted}, but it carries no vendor certificate (it is not shim), so ${kernelName}, signed by ${signers(kernel)}, is checked against Microsoft's keys only and refused. Turn Secure Boot off, or start it through shim.` };
  const vendor = trustedByVendor(kernel, first.vendorCerts);
  const vendors = first.vendorCerts.map(certName).join(', ');
  if (vendor) return { verdict: 'boots', reason: `${trusted}. It accepts programs signed with ${certName(vendor)}'s key, and ${kernelName} is signed by ${signers(kernel)}.` };
  return {
    verdict: 'needs-mok',
    reason: `${trusted}. It accepts only programs signed with ${vendors}'s key or Microsoft's, but ${kernelName} is signed by ${signers(kernel)}: ${kernelName} boots once its signer's key is enrolled with MokManager (mokutil --import), or with Secure Boot off.`,
  };
}
