// UI-only state (which screen, which NIC, serve options, theme): choices the
// technician makes, not engine data. Engine data lives in the other stores.
import { create } from 'zustand';
import type { SecureBootOption, ServeModeOption } from '../api/types.js';

export type Screen = 'network' | 'images' | 'clients' | 'log';
export type Theme = 'system' | 'light' | 'dark';

export interface UiStore {
  screen: Screen;
  iface?: string;
  mode: ServeModeOption;
  /** Which first stage UEFI x64 machines get (the signed chain or iPXE). */
  secureBoot: SecureBootOption;
  range: string;
  theme: Theme;
}

function savedTheme(): Theme {
  try {
    const t = localStorage.getItem('pxekit.theme');
    return t === 'light' || t === 'dark' ? t : 'system';
  } catch {
    return 'system';
  }
}

export const useUi = create<UiStore>(() => ({ screen: 'network', mode: 'auto', secureBoot: 'auto', range: '', theme: savedTheme() }));

export function setTheme(theme: Theme): void {
  try {
    localStorage.setItem('pxekit.theme', theme);
  } catch {
    /* private mode: the choice lasts this session */
  }
  useUi.setState({ theme });
}
