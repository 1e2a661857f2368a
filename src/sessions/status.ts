// The engine's own state, as the CLI and the UI show it at all times.
export type EngineState = 'starting' | 'probing' | 'serving' | 'stopping' | 'stopped' | 'error';

export interface OtherDhcpServer {
  serverId: string;
  from: string;
  offeredIp: string;
  mac?: string;
}

export interface StatusEvent {
  type: 'status';
  at: number;
  state: EngineState;
  iface?: string;
  address?: string;
  mode?: 'dhcp' | 'proxy';
  /** Why this mode (e.g. "another DHCP server answered: 10.0.0.254"). */
  modeReason?: string;
  ports?: { dhcp: number; pxe: number; tftp: number; http: number };
  image?: string;
  /** The served image's file or folder (absent when the library's menu or assignments decide); `servingSince`: when serving began (ms). */
  imagePath?: string;
  servingSince?: number;
  /** What the served image costs the technician, in plain words (a Windows ISO without wimboot). */
  imageWarning?: string;
  otherDhcpServers?: OtherDhcpServer[];
  /** Set in --mode dhcp when another DHCP server appeared while serving: PXE Kit stopped handing out addresses, and why. */
  dhcpSuspended?: string;
  /** Engine-wide problems now (not one machine's): shown on every screen, in words, with the fix. Empty or absent: none. */
  site?: SiteProblem[];
  message?: string;
}

/** Something about the site (the NIC, the segment, the laptop), not one machine. */
export interface SiteProblem {
  code: 'waiting-for-link' | 'link-down' | 'other-dhcp-server' | 'no-machines-yet' | 'port-blocked' | 'firewall';
  severity: 'info' | 'warn' | 'error';
  /** What is wrong, in a technician's words. */
  title: string;
  /** What to do about it. */
  fix: string;
  /** A one-click action the UI offers (the API's serve.action). */
  action?: { id: 'switch-to-proxy' | 'retry-ports'; label: string };
  /** Since when (ms since epoch). */
  since: number;
}

