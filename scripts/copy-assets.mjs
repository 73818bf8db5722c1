#!/usr/bin/env node
// Copies every file under src/ that tsc does not emit (anything not ending in .ts: SQL migrations,
// templates, JSON) to the same path under dist/, so compiled code finds it next to itself
// (e.g. `new URL('./migrations/', import.meta.url)` in src/store/sqlite/index.ts).
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');
const dist = join(root, 'dist');

let copied = 0;
function walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) walk(p);
    else if (entry.isFile() && !entry.name.endsWith('.ts')) {
      const to = join(dist, relative(src, p));
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(p, to);
      copied += 1;
    }
  }
}
walk(src);
console.log(`copy-assets: ${copied} file(s) copied from src/ to dist/`);
