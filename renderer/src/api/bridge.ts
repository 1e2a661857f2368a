// The Electron preload bridge (electron/preload exposes it as window.pxekit via
// contextBridge). The renderer never sees Node or ipcRenderer: only these calls.
// In a plain browser (pxekit serve --ui) there is no bridge: the token comes from
// the URL fragment and the API lives on the page's own host.

export interface PxekitBridge {
  /** Where the engine's API listens (ws://127.0.0.1:PORT/...) and this run's token. */
  connection(): Promise<{ url: string; token: string }>;
  /** Native "open" dialog for images; absolute paths, empty when cancelled. */
  openImageDialog?(): Promise<string[]>;
  /** Absolute path of a file dropped on the window (Electron's webUtils.getPathForFile). */
  pathForFile?(file: File): string;
}

declare global {
  interface Window {
    pxekit?: PxekitBridge;
  }
}

export function bridge(): PxekitBridge | undefined {
  return typeof window !== 'undefined' ? window.pxekit : undefined;
}

/** The API endpoint path on the engine's UI server (same origin as the page). */
export const API_PATH = '/api';

/** The token from "#token=..." (browsers never send the fragment to the server). */
export function tokenFromHash(hash: string = location.hash): string | undefined {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  return params.get('token') ?? undefined;
}

/** Where to connect: the Electron bridge's answer, else this page's host plus the fragment's token. */
export async function resolveConnection(): Promise<{ url: string; token: string }> {
  const b = bridge();
  if (b) return b.connection();
  const token = tokenFromHash();
  if (!token) throw new Error('No API token: open the address pxekit printed (it ends with #token=...).');
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return { url: `${scheme}://${location.host}${API_PATH}`, token };
}
