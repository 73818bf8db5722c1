#!/usr/bin/env node
// Builds every native addon under native/*/binding.gyp (SO_BINDTODEVICE for DHCP, sd_notify) with the
// node-gyp that ships with npm, against the running Node's headers (no download: the machine has
// /usr/include/node). Run by `npm ci` (the package's install script) and `npm run build:native`.
import { existsSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const npmDir = dirname(dirname(process.env.npm_execpath ?? '/usr/lib/node_modules/npm/bin/npm-cli.js'));
const candidates = [
  join(npmDir, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
  '/usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
  '/usr/share/nodejs/node-gyp/bin/node-gyp.js',
];
const gyp = candidates.find((p) => existsSync(p));
if (!gyp) { console.error('build-native: node-gyp not found (it ships with npm)'); process.exit(1); }
const nodedir = existsSync('/usr/include/node/node_api.h') ? ['--nodedir=/usr'] : [];
let failed = 0;
for (const name of readdirSync(join(root, 'native')).sort()) {
  const dir = join(root, 'native', name);
  if (!existsSync(join(dir, 'binding.gyp'))) continue;
  const r = spawnSync(process.execPath, [gyp, 'rebuild', `--directory=${dir}`, ...nodedir], { stdio: 'inherit' });
  if (r.status !== 0) { console.error(`build-native: ${name} failed`); failed++; }
  else console.log(`build-native: ${name} built`);
}
process.exit(failed ? 1 : 0);
