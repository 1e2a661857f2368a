// Image library, assignments and menu: replaced wholesale by their state events
// (every open UI stays in step) and by the results of the commands that change them.
import { create } from 'zustand';
import type { Assignment, LibraryEntry, MenuSettings } from '../api/types.js';

export const useLibrary = create<{ entries: LibraryEntry[]; loaded: boolean; error?: string }>(() => ({ entries: [], loaded: false }));

export function upsertEntry(e: LibraryEntry): void {
  useLibrary.setState((st) => {
    const i = st.entries.findIndex((x) => x.id === e.id);
    const entries = i < 0 ? [...st.entries, e] : st.entries.map((x, j) => (j === i ? e : x));
    return { entries };
  });
}

export const useAssignments = create<{ assignments: Assignment[] }>(() => ({ assignments: [] }));

export const useMenu = create<{ menu: MenuSettings | null }>(() => ({ menu: null }));
