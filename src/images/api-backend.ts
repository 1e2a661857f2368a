// The library as the API server sees it (src/api/library-backend.ts opens it),
// with the images folder (<dataDir>/images) watched: files dropped there join the library.
import { join } from 'node:path';
import type { LibraryBackend } from '../api/library-backend.js';
import { ImageLibrary } from './library.js';
import { ImagesFolder } from './images-folder.js';

export function createLibraryBackend(dataDir: string): LibraryBackend {
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
