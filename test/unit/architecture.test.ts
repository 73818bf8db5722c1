// ARCHITECTURE.md "Import direction", enforced on every run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve } from 'node:path';
import { ROOT } from '../helpers/daemon.js';

const SRC = join(ROOT, 'src');
function walk(d: string): string[] {
  return readdirSync(d).flatMap((e) => { const p = join(d, e); return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : []; });
}
const files = walk(SRC).map((f) => {
  const text = readFileSync(f, 'utf8');
  const imports = [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)]
    .map((m) => m[1] ?? m[2]!)
    .filter((s) => s.startsWith('.'))
    .map((s) => relative(SRC, resolve(dirname(f), s)));
  return { file: relative(SRC, f), imports };
});
const top = (p: string) => p.split('/')[0]!;
const PROTOCOLS = ['dns', 'dhcp4', 'tftp', 'http', 'boot', 'authority'];

test('there are source files to check', () => assert.ok(files.length > 10));

test('lib/ imports nothing of ours outside lib/', () => {
  for (const f of files.filter((f) => top(f.file) === 'lib')) for (const i of f.imports) assert.equal(top(i), 'lib', `${f.file} imports ${i}`);
});

test('codecs import only lib/ (and their own codec files)', () => {
  for (const f of files.filter((f) => /(^|\/)codec(\/|\.ts$)/.test(f.file))) {
    for (const i of f.imports) assert.ok(top(i) === 'lib' || /codec/.test(i), `${f.file} imports ${i}`);
  }
});

test('protocol folders never import one another', () => {
  for (const f of files.filter((f) => PROTOCOLS.includes(top(f.file)))) {
    for (const i of f.imports) assert.ok(!PROTOCOLS.includes(top(i)) || top(i) === top(f.file), `${f.file} imports ${i}`);
  }
});

test('only main.ts and store/ see store/sqlite; only main.ts imports transports', () => {
  for (const f of files) {
    for (const i of f.imports) {
      if (i.startsWith('store/sqlite')) assert.ok(f.file === 'main.ts' || f.file.startsWith('store/') || f.file.startsWith('cli/'), `${f.file} imports ${i}`);
      if (/(^|\/)transport(\.js)?$/.test(i)) assert.ok(f.file === 'main.ts' || dirname(f.file) === dirname(i), `${f.file} imports transport ${i}`);
    }
  }
});

test('src never imports test/ or bench/', () => {
  for (const f of files) for (const i of f.imports) assert.ok(!i.startsWith('..'), `${f.file} imports ${i}`);
});
