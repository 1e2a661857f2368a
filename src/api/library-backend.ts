// The seam between the API and the image library (src/images): the controller talks to the
// library only through this interface (tests give it a fake, or none).
import type { Assignment, LibraryEntry, MenuSettings, StateEvent } from './contract.js';
import type { ImageSpec } from '../boot/publish-image.js';
import { createLibraryBackend } from '../images/api-backend.js';

export interface LibraryBackend {
  list(): Promise<LibraryEntry[]>;
  add(p: { path: string; name?: string; initrds?: string[]; cmdline?: string }): Promise<LibraryEntry>;
  remove(id: string): Promise<boolean>;
  inspect(id: string): Promise<{ entry: LibraryEntry; detected: string; script: string }>;
  assignments(): Promise<Assignment[]>;
  setAssignment(a: Assignment): Promise<Assignment[]>;
  clearAssignment(mac: string): Promise<Assignment[]>;
  setMenu(m: MenuSettings): Promise<MenuSettings>;
  menu(): MenuSettings | Promise<MenuSettings>;
  /** What the engine publishes for a library entry. */
  imageSpecFor(id: string): Promise<ImageSpec>;
  /** Re-checks whether Windows entries have wimboot (after wimboot.install); emits a change when one differs. */
  refreshWimboot?(): void;
  /** Library/settings changes (checksum progress, files gone...), so every UI stays in step. */
  onChange?(listener: (ev: StateEvent) => void): void;
}

/** The image library of this data dir (src/images/api-backend.ts). */
export async function loadLibraryBackend(dataDir: string): Promise<LibraryBackend> {
  return createLibraryBackend(dataDir);
}
