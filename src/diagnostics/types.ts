// What PXE Kit concluded about a failure, in the words a technician acts on:
// what the client's screen likely shows, the likely causes (most likely first),
// and what to do. Plain data: it crosses the API and lands in the job report.
import type { SiteProblem } from '../sessions/status.js';

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

/** How long the rules wait before concluding. Tests shorten these (PXEKIT_DIAG_TIMINGS). */
export interface DiagnosisTimings {
  /** OFFER sent and no REQUEST from that machine for this long: offer-ignored. */
  offerNoRequestMs: number;
  /** ACK (or proxy boot file) sent and no TFTP request for this long: PXE-E32. */
  ackNoTftpMs: number;
  /** Boot program delivered and nothing more from the machine for this long. */
  silentAfterBootProgramMs: number;
  /** Script fetched and no payload request for this long. */
  scriptNoPayloadMs: number;
  /** Serving this long without one PXE client: no-clients. */
  noClientsMs: number;
  /** A new DISCOVER this soon after an unsigned loader was delivered to a UEFI machine: Secure Boot refused it. */
  refusedRetryMs: number;
  /** A first DISCOVER whose secs field (time the firmware has been trying) is at least this. */
  stpSecs: number;
  /** Two DISCOVERs of one machine this far apart with nothing in between. */
  stpGapMs: number;
}

export const DEFAULT_TIMINGS: DiagnosisTimings = {
  // Firmware collects offers for about 4 s (PXE 2.1: first DISCOVER timeout) before it requests one.
  offerNoRequestMs: 12_000,
  // Firmware sends its RRQ within a second of the ACK; PXE-E32 appears after its own retries (~20 s).
  ackNoTftpMs: 15_000,
  // iPXE starts and asks DHCP again within a few seconds of being downloaded.
  silentAfterBootProgramMs: 25_000,
  // iPXE fetches the kernel right after its script.
  scriptNoPayloadMs: 20_000,
  // OVMF tries IPv6 PXE (about 40 s) before HTTP Boot on the same NIC; real firmware often retries sooner.
  refusedRetryMs: 120_000,
  noClientsMs: 60_000,
  // Switch ports without PortFast block for 30 s (STP listening + learning, 2 x 15 s).
  stpSecs: 10,
  stpGapMs: 15_000,
};

/** Timings from PXEKIT_DIAG_TIMINGS (JSON, partial), for tests that cannot wait a minute. */
export function timingsFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<DiagnosisTimings> {
  const raw = env.PXEKIT_DIAG_TIMINGS;
  if (!raw) return {};
  try {
    const v = JSON.parse(raw) as Record<string, unknown>;
    const out: Partial<DiagnosisTimings> = {};
    for (const k of Object.keys(DEFAULT_TIMINGS) as (keyof DiagnosisTimings)[]) if (typeof v[k] === 'number') out[k] = v[k] as number;
    return out;
  } catch {
    return {};
  }
}
