// One machine's boot, as a technician follows it: where it is, how far along,
// and what went wrong. Plain data so it can cross the API unchanged.
import type { ClientArch } from '../boot/client.js';
import type { Diagnosis } from '../diagnostics/types.js';

export type SessionState =
  | 'dhcp' // DISCOVER seen, nothing settled yet
  | 'offered' // we offered (address and/or boot file)
  | 'bound' // address acknowledged (or proxy boot file taken)
  | 'boot-program' // downloading the first boot program (TFTP, or HTTP for HTTP Boot)
  | 'ipxe' // the boot program (iPXE) is running and asked DHCP again
  | 'script' // iPXE fetched its script
  | 'payload' // kernel / initrd / ISO downloading
  | 'handed-off' // everything it needs was delivered: the OS is starting
  | 'failed';

export const STATE_LABELS: Record<SessionState, string> = {
  dhcp: 'Asking for an address',
  offered: 'Offer sent',
  bound: 'Address acknowledged',
  'boot-program': 'Downloading boot program',
  ipxe: 'iPXE started',
  script: 'Boot script fetched',
  payload: 'Downloading OS',
  'handed-off': 'Handed off',
  failed: 'Failed',
};

/** Rough share of the whole boot each state stands for, for a single progress bar. */
export const STATE_PROGRESS: Record<SessionState, number> = {
  dhcp: 2,
  offered: 5,
  bound: 10,
  'boot-program': 15,
  ipxe: 35,
  script: 40,
  payload: 45,
  'handed-off': 100,
  failed: 0,
};

export interface TransferSnapshot {
  id: string;
  protocol: 'tftp' | 'http';
  file: string;
  role?: string;
  bytes: number;
  size?: number;
  /** Bytes per second over the last seconds. */
  rate: number;
  state: 'running' | 'done' | 'failed';
  startedAt: number;
  endedAt?: number;
}

export interface SessionFailure {
  /** Stable code the UI and diagnostics key on. */
  code: 'not-found' | 'timeout' | 'silent' | 'no-boot-file' | 'aborted' | 'io';
  /** What the technician reads. */
  message: string;
  /** The PXE error the client's screen likely shows, if any. */
  pxeError?: string;
  at: number;
}

export interface TimelineEntry {
  at: number;
  state: SessionState;
  text: string;
}

export interface ClientSession {
  mac: string;
  ip?: string;
  arch?: ClientArch;
  vendorClass?: string;
  isIpxe: boolean;
  firstSeen: number;
  lastSeen: number;
  state: SessionState;
  /** 0..100 for the whole boot. */
  progress: number;
  /** The transfer in progress, if any. */
  current?: TransferSnapshot;
  transfers: TransferSnapshot[];
  failure?: SessionFailure;
  /** What PXE Kit concluded about this boot attempt's problem (src/diagnostics): code, PXE error, causes, fix. */
  diagnosis?: Diagnosis;
  /** Most recent first? No: oldest first, bounded. */
  timeline: TimelineEntry[];
  /** How many times this machine started over from DHCP within this run. */
  boots: number;
}
