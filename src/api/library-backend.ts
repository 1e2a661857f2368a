// The seam between the API and the image library (src/images, issue 3). The
// library is built in parallel: the controller talks to it only through this
// interface, and says "not-available" while no implementation is found.
import type { Assignment, LibraryEntry, MenuSettings, StateEvent } from './contract.js';
import type { ImageSpec } from '../boot/publish-image.js';

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

/**
 * Finds the library implementation if src/images provides one: a module
 * src/images/api-backend.ts exporting `createLibraryBackend(dataDir): LibraryBackend`.
 * TODO(issue 3): wire once the library lands; until then library/assign/menu
 * commands answer with the 'not-available' error code.
 */
export async function loadLibraryBackend(dataDir: string): Promise<LibraryBackend | undefined> {
  const modulePath = '../images/api-backend.js';
  try {
    const mod = (await import(modulePath)) as { createLibraryBackend?: (dataDir: string) => LibraryBackend | Promise<LibraryBackend> };
    return mod.createLibraryBackend ? await mod.createLibraryBackend(dataDir) : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw err;
  }
}
