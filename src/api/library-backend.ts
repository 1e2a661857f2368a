// The seam between the API and the image library (src/images): the controller talks to the
// library only through this interface (tests give it a fake, or none).
import type { Assignment, LibraryEntry, MenuSettings, StateEvent } from './contract.js';
import type { ImageSpec } from '../images/publish-image.js';
import { join } from 'node:path';
import { ImageLibrary } from '../images/library.js';
import { ImagesFolder } from '../images/images-folder.js';

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
 * The image library of this data dir, with the images folder (<dataDir>/images) watched:
 * files dropped there join the library.
 */
export async function loadLibraryBackend(dataDir: string): Promise<LibraryBackend> {
  const lib = ImageLibrary.forDataDir(dataDir);
  for (const w of lib.warnings) process.stderr.write(`pxekit: ${w}\n`);
  lib.resumeHashing();
  const folder = new ImagesFolder(join(lib.dataDir, 'images'), lib, {
    onRefused: (file, reason) => process.stderr.write(`pxekit: images folder: ${file} ${reason.startsWith(file) ? reason.slice(file.length) : `cannot be served: ${reason}`}\n`),
    onError: (err) => process.stderr.write(`pxekit: images folder: ${err.message}\n`),
  });
  void folder.start().catch((err: Error) => process.stderr.write(`pxekit: images folder ${folder.dir}: ${err.message}\n`));
  return lib;
}
