// How long the diagnosis rules wait before concluding. The diagnosis itself (plain data carried by
// sessions, the API and the job report) is src/sessions/diagnosis.ts, re-exported here.
export type { Diagnosis, DiagnosisCode, DiagnosisEvent } from '../sessions/diagnosis.js';

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
