// Engine status and the connection to it; fed by hello, status events and command results.
import { create } from 'zustand';
import type { StatusEvent } from '../api/types.js';
import type { ConnectionState } from '../api/transport.js';

export interface StatusStore {
  status: StatusEvent | null;
  connection: ConnectionState;
  connectionDetail?: string;
  engineVersion?: string;
  /** Since when the engine has been unreachable (ms since epoch); unset while connected or before the first attempt failed. */
  disconnectedSince?: number;
  /** The engine answers but refuses this page's token: retrying does not help, opening the address again does. */
  tokenRefused?: boolean;
}

export const useStatus = create<StatusStore>(() => ({ status: null, connection: 'connecting' }));

/** Folds a connection change into the store: when the outage began, and whether the token was refused. */
export function applyConnection(state: ConnectionState, detail: string | undefined, tokenRefusedDetail: string, now = Date.now()): void {
  const cur = useStatus.getState();
  if (state === 'open') {
    useStatus.setState({ connection: state, connectionDetail: detail, disconnectedSince: undefined, tokenRefused: false });
    return;
  }
  // "connecting" between two failed attempts keeps what the last failure said.
  const failed = state === 'closed';
  useStatus.setState({
    connection: state,
    connectionDetail: failed ? detail : cur.connectionDetail,
    disconnectedSince: cur.disconnectedSince ?? (failed || cur.connection === 'open' ? now : undefined),
    tokenRefused: failed ? detail === tokenRefusedDetail : cur.tokenRefused,
  });
}

/** Newer wins: a late command result must not overwrite a fresher pushed status. */
export function applyStatus(s: StatusEvent): void {
  const cur = useStatus.getState().status;
  if (cur && cur.at > s.at) return;
  useStatus.setState({ status: s });
}
