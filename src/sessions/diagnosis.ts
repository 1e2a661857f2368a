// What PXE Kit concluded about a failure, in the words a technician acts on:
// what the client's screen likely shows, the likely causes (most likely first),
// and what to do. Plain data: it crosses the API, rides on a machine's session and
// lands in the job report. The rules that reach it are src/diagnostics/.
import type { SiteProblem } from './status.js';

export type DiagnosisCode =
  | 'offer-taken-elsewhere' // the client REQUESTed another DHCP server's offer
  | 'offer-ignored' // OFFERs sent, no REQUEST back
  | 'no-tftp-after-ack' // PXE-E32: address/boot file given, no TFTP request arrived
  | 'tftp-file-not-found' // PXE-E3B
  | 'tftp-stall' // transfer stopped at a block (MTU/blksize, lossy link, client stopped)
  | 'wrong-arch-file' // a UEFI client fetching a BIOS program or the other way round
  | 'no-image-for-arch' // e.g. an ARM64 client and no ARM64 boot program
  | 'silent-after-boot-program' // the boot program was delivered, then nothing (crash, hang)
  | 'secure-boot-refused' // an unsigned loader (iPXE) was delivered to a UEFI machine, which then stopped or started over
  | 'script-without-payload' // iPXE fetched its script but not the kernel/ISO
  | 'payload-not-found' // iPXE asked for a kernel/initrd/ISO that is not served
  | 'spanning-tree' // DISCOVERs arrive only after a long wait: switch port blocking (no PortFast)
  | 'no-clients' // serving, and not one PXE client seen
  | 'rogue-dhcp'; // another DHCP server appeared on the segment while serving

export interface Diagnosis {
  code: DiagnosisCode;
  /** One line: what happened. */
  title: string;
  /** What the client's screen likely shows, e.g. "PXE-E32: TFTP open timeout". */
  pxeError?: string;
  /** Likely causes, most likely first. */
  causes: string[];
  /** What to do, in order. */
  fix: string;
  /** What on the wire led here (for the report and the curious). */
  evidence: string[];
  at: number;
  /** The machine, when the diagnosis is about one. */
  mac?: string;
  /** A machine's diagnosis given while a site problem stood (src/diagnostics/site.ts): that problem is its likely cause. */
  siteCause?: SiteProblem['code'];
  /** A site diagnosis (no MAC) the engine also keeps as this site problem: screens say it once, by the problem. */
  keptAs?: SiteProblem['code'];
}

/** Published by the engine for every new diagnosis (session ones and engine-wide ones). */
export interface DiagnosisEvent {
  type: 'diagnosis';
  at: number;
  mac?: string;
  diagnosis: Diagnosis;
}
