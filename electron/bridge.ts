// What the preload exposes to the renderer as `window.pxekit` (desktop only; in a
// plain browser it is absent). Types only, plus the channel names main uses: the
// sandboxed preload cannot import local modules, so it repeats the names.
import type { EngineLifecycleState } from './engine-lifecycle.js';

export interface EngineStateInfo {
  state: EngineLifecycleState;
  /** Why (the declined-prompt message, the crash reason...). */
  detail?: string;
}

export interface DesktopBridge {
  readonly isDesktop: true;
  /** Where the engine's API listens (ws://127.0.0.1:PORT/api) and this run's token; rejects while the engine is not running. */
  connection(): Promise<{ url: string; token: string }>;
  /** Native "open image" dialog; absolute paths, [] when cancelled. */
  openImageDialog(): Promise<string[]>;
  /** The absolute path of a dropped file ('' when it is not a local file). */
  pathForFile(file: File): string;
  /** Native save dialog for an exported log; the saved path, or null when cancelled. */
  saveLogs(fileName: string, content: string): Promise<string | null>;
  engineState(): Promise<EngineStateInfo>;
  /** Subscribes to engine lifecycle changes; returns the unsubscribe function. */
  onEngineState(listener: (s: EngineStateInfo) => void): () => void;
  /** Asks for elevation again (after the user declined, or the engine gave up). */
  restartEngine(): Promise<void>;
}

export const CHANNELS = {
  connection: 'pxekit:connection',
  openImage: 'pxekit:open-image',
  saveLogs: 'pxekit:save-logs',
  engineState: 'pxekit:engine-state',
  engineStateChanged: 'pxekit:engine-state-changed',
  restartEngine: 'pxekit:restart-engine',
} as const;
