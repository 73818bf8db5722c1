#!/usr/bin/env node
// Builds the sd_notify N-API addon (native/sdnotify) with the node-gyp that ships with npm, against the
// headers of the running Node (Debian/NodeSource install them under /usr/include/node: --nodedir
// avoids downloading headers, which CI cannot do). Exit 0 when the addon is already built (--force rebuilds).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'native', 'sdnotify');
const out = join(dir, 'build', 'Release', 'sdnotify.node');
if (existsSync(out) && !process.argv.includes('--force')) { console.log(`build-sdnotify: ${out} exists`); process.exit(0); }

const npmDir = dirname(dirname(process.execPath));
const gypCandidates = [
  join(npmDir, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
  '/usr/share/nodejs/node-gyp/bin/node-gyp.js',
];
const gyp = gypCandidates.find((p) => existsSync(p));
if (!gyp) { console.error('build-sdnotify: node-gyp not found (it ships with npm)'); process.exit(1); }
const nodedir = [npmDir, '/usr', '/usr/local'].find((d) => existsSync(join(d, 'include', 'node', 'node_api.h')));
const args = [gyp, 'rebuild', ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
const r = spawnSync(process.execPath, args, { cwd: dir, stdio: ['ignore', 'inherit', 'inherit'] });
if (r.status !== 0 || !existsSync(out)) { console.error('build-sdnotify: build failed'); process.exit(1); }
console.log(`build-sdnotify: built ${out}`);
