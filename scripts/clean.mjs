// Empties dist/ before a build, so a deleted or renamed source (a test above all)
// never keeps running from an old build. Usage: node scripts/clean.mjs
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

rmSync(fileURLToPath(new URL('../dist', import.meta.url)), { recursive: true, force: true, maxRetries: 5 });
