// The machine's NICs, from interfaces.list.
import { create } from 'zustand';
import type { NetInterface } from '../api/types.js';

export interface InterfacesStore {
  list: NetInterface[];
  loaded: boolean;
  error?: string;
}

export const useInterfaces = create<InterfacesStore>(() => ({ list: [], loaded: false }));
