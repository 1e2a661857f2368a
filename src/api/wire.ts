// The API's wire protocol constants, in one place for every side: the engine's server
// (src/api/ws-server.ts), the browser UI (renderer/src/api/bridge.ts) and the Electron shell's
// own lifeline connection (electron/engine-lifecycle.ts). No imports: the Electron app packs this
// file alone (build/electron-builder.yml).

/** Every message carries it as `v`. */
export const API_VERSION = 1;
/** The WebSocket path on the engine's 127.0.0.1 port. */
export const API_PATH = '/api';
/** The per-run token travels as the WebSocket subprotocol "pxekit.v1.<token>" (never in the URL). */
export const TOKEN_PROTOCOL_PREFIX = 'pxekit.v1.';

/** The API's WebSocket URL on this engine's port. */
export function apiUrl(port: number): string {
  return `ws://127.0.0.1:${port}${API_PATH}`;
}

/** A command frame: `{v, id, cmd, params}`. */
export function commandFrame(id: number, cmd: string, params: unknown): string {
  return JSON.stringify({ v: API_VERSION, id, cmd, params });
}
