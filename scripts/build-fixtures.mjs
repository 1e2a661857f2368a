#!/usr/bin/env node
// Builds (or reuses) the lab's boot fixtures: a Debian kernel and the marker initramfs.
// Needs "npm run build" first. Usage: node scripts/build-fixtures.mjs
import { ensureFixtures } from '../dist/src/lab/fixtures.js';

const f = ensureFixtures({ log: (line) => console.error(line) });
console.log(JSON.stringify(f));
