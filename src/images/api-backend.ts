// The library as the API server sees it (src/api/library-backend.ts looks this module up).
import type { LibraryBackend } from '../api/library-backend.js';
import { ImageLibrary } from './library.js';

export function createLibraryBackend(dataDir: string): LibraryBackend {
  const lib = ImageLibrary.forDataDir(dataDir);
  for (const w of lib.warnings) process.stderr.write(`pxekit: ${w}\n`);
  lib.resumeHashing();
  return lib;
}
