// The Electron preload bridge, window.pxekit (electron/bridge.ts DesktopBridge).
// The desktop window loads the engine's own page (http://127.0.0.1:PORT/#token=...),
// so the API endpoint and token come from the URL in both builds; the bridge adds
// native dialogs, drag-and-drop paths and saving exported logs. Every member is
// optional here: the renderer checks before using, so an older/newer shell degrades.
import { API_PATH } from '../../../src/api/wire.js';

export interface PxekitBridge {
  readonly isDesktop?: true;
  /** Where the engine's API listens and this run's token, if the shell hands them over itself. */
  connection?(): Promise<{ url: string; token: string }>;
  /** Native "open" dialog for images; absolute paths, empty when cancelled. */
  openImageDialog?(): Promise<string[]>;
  /** Absolute path of a file dropped on the window ('' when not a local file). */
  pathForFile?(file: File): string;
  /** Native save dialog for an exported log; the saved path, or null when cancelled. */
  saveLogs?(fileName: string, content: string): Promise<string | null>;
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
export { API_PATH };

/** The token from "#token=..." (browsers never send the fragment to the server). */
export function tokenFromHash(hash: string = location.hash): string | undefined {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  return params.get('token') ?? undefined;
}

/** Where to connect: the bridge's answer if it has one, else this page's host plus the fragment's token. */
export async function resolveConnection(): Promise<{ url: string; token: string }> {
  const b = bridge();
  if (b?.connection) return b.connection();
  const token = tokenFromHash();
  if (!token) throw new Error('No API token: open the address pxekit printed (it ends with #token=...).');
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return { url: `${scheme}://${location.host}${API_PATH}`, token };
}
