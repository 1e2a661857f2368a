// The one question protocol code asks about booting: "what does this client get?"
// Protocol modules never decide what a client boots (pixiecore's Booter pattern);
// they ask a BootPolicy and put its answer on the wire.
import type { ClientInfo } from './client.js';

export interface BootOffer {
  kind: 'offer';
  /** Boot file name for DHCP option 67 / the BOOTP file field: a TFTP path or an http:// URL. */
  bootFile: string;
  /** Address of the TFTP/HTTP server (siaddr / option 66). */
  nextServer: string;
  /** UEFI HTTP Boot: the reply must carry option 60 "HTTPClient". */
  httpClient: boolean;
  /** Short description for logs: "iPXE for BIOS (undionly.kpxe)", "boot script". */
  description: string;
}

export interface BootRefusal {
  kind: 'refuse';
  /** Plain words: why this client gets no boot file, and what to do. */
  reason: string;
}

export type BootDecision = BootOffer | BootRefusal;

/** How the answer goes out: proxyDHCP answers ride beside another server's address. */
export interface BootAnswerContext {
  proxy: boolean;
}

export interface BootPolicy {
  decide(client: ClientInfo, how?: BootAnswerContext): BootDecision;
}
