// Engine status and the connection to it; fed by hello, status events and command results.
import { create } from 'zustand';
import type { StatusEvent } from '../api/types.js';
import type { ConnectionState } from '../api/transport.js';

export interface StatusStore {
  status: StatusEvent | null;
  connection: ConnectionState;
  connectionDetail?: string;
  engineVersion?: string;
}

export const useStatus = create<StatusStore>(() => ({ status: null, connection: 'connecting' }));

/** Newer wins: a late command result must not overwrite a fresher pushed status. */
export function applyStatus(s: StatusEvent): void {
  const cur = useStatus.getState().status;
  if (cur && cur.at > s.at) return;
  useStatus.setState({ status: s });
}
