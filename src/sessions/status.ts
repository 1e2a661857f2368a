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
  /** What the served image costs the technician, in plain words (a Windows ISO without wimboot). */
  imageWarning?: string;
  otherDhcpServers?: OtherDhcpServer[];
  /** Set in --mode dhcp when another DHCP server appeared while serving: PXE Kit stopped handing out addresses, and why. */
  dhcpSuspended?: string;
  message?: string;
}
