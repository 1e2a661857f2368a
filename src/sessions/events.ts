// The engine's typed events. Protocol modules report what happened on the wire;
// the session tracker folds those into one timeline per machine (MAC).
import type { ClientArch } from '../boot/client.js';
import type { FileRole } from '../files/roles.js';

export type DhcpMessageName = 'discover' | 'offer' | 'request' | 'ack' | 'nak' | 'decline' | 'release' | 'inform';

/** A DHCP message PXE Kit received or sent. */
export interface DhcpEvent {
  type: 'dhcp';
  at: number; // ms since epoch
  direction: 'in' | 'out';
  message: DhcpMessageName;
  mac: string;
  xid: number;
  /** 67 for DHCP/proxyDHCP, 4011 for the PXE boot server port. */
  port: number;
  /** The address offered/acknowledged/requested, or the client's ciaddr. */
  ip?: string;
  arch?: ClientArch;
  vendorClass?: string;
  isIpxe?: boolean;
  /** The boot file or URL we offered. */
  bootFile?: string;
  /** True when the reply was a proxyDHCP one (no address). */
  proxy?: boolean;
  /** For incoming messages: the DHCP server the client addressed (option 54), if any. */
  serverId?: string;
  /** Set when the boot policy refused this client a boot file: why, in plain words. */
  refusal?: string;
  /** For incoming messages: the DHCP "secs" field, how long the client says it has been trying. */
  secs?: number;
}

export type TransferPhase = 'start' | 'progress' | 'done' | 'error';

/** A file moving to a client over TFTP or HTTP. */
export interface TransferEvent {
  type: 'transfer';
  at: number;
  protocol: 'tftp' | 'http';
  phase: TransferPhase;
  /** Unique per transfer within a run. */
  id: string;
  clientIp: string;
  clientPort: number;
  /** Filled in by the engine from the leases / observed DHCP traffic. */
  mac?: string;
  /** Filled in by the engine: the published file's role ("boot program", "script", "kernel", "initrd"). */
  role?: FileRole;
  /** The path the client asked for, as asked. */
  file: string;
  /** Total size, when known. */
  size?: number;
  /** Bytes delivered so far (acknowledged, for TFTP). */
  bytes: number;
  /** Negotiated options (blksize, windowsize...) or HTTP range, for the log. */
  detail?: string;
  /** For phase 'error': a short machine code and a readable message. */
  errorCode?: 'not-found' | 'timeout' | 'aborted' | 'access-violation' | 'io';
  error?: string;
  /**
   * Filled in by the engine for a 'not-found' that is part of a loader's normal search (shim's
   * optional lists, GRUB's module lists): why it is no failure. PublishedFiles.expectMisses.
   */
  expected?: string;
  /** Filled in by the engine for a 'not-found' a netboot tree's menu names: "named as the kernel of "Install" in pxelinux.cfg/default". */
  namedBy?: string;
  /** HTTP: a Range request's first and last byte and the whole file's size (`size` is the range's). */
  range?: { start: number; end: number; total: number };
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogEvent {
  type: 'log';
  at: number;
  level: LogLevel;
  source: 'engine' | 'dhcp' | 'proxy' | 'tftp' | 'http' | 'boot' | 'net';
  message: string;
  mac?: string;
  /** Set when the boot policy refused this machine a boot file and nothing was sent (proxy mode): why. */
  refusal?: string;
  arch?: ClientArch;
}

/** Counters of packets dropped as malformed, per protocol. */
export interface DropEvent {
  type: 'drop';
  at: number;
  protocol: 'dhcp' | 'tftp';
  from: string;
  reason: string;
}

export type WireEvent = DhcpEvent | TransferEvent | LogEvent | DropEvent;

/** The sink protocol modules report into. */
export type EmitWireEvent = (event: WireEvent) => void;
