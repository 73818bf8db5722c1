#!/usr/bin/env node
// Runs the test suites in order (fast first): unit, contract, integration, e2e.
// Node 20's test runner does not find .ts files by itself, so the files are listed here explicitly,
// and an empty list is an error (a run that tests nothing must not look green).
import { readdirSync, statSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const suites = process.argv.slice(2).length ? process.argv.slice(2) : ['unit', 'contract', 'integration', 'e2e'];
const filter = process.env.TEST_FILTER;

function walk(dir) {
  let out = [];
  let entries = [];
  try { entries = readdirSync(dir); } catch { return out; }
  for (const e of entries.sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out = out.concat(walk(p));
    else if (e.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

mkdirSync('test-output', { recursive: true });
let passed = 0, failed = 0, skipped = 0;
let files = 0;
for (const s of suites) {
  let list = walk(join('test', s));
  if (filter) list = list.filter((f) => f.includes(filter));
  if (list.length === 0) continue;
  files += list.length;
  console.log(`\n### suite ${s}: ${list.length} files`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=test-output/${s}.tap`, ...list], { stdio: 'inherit', env: { ...process.env } });
  let tap = '';
  try { tap = (await import('node:fs')).readFileSync(`test-output/${s}.tap`, 'utf8'); } catch { /* none */ }
  const num = (k) => Number((new RegExp(`^# ${k} (\\d+)`, 'm').exec(tap) ?? [])[1] ?? 0);
  passed += num('pass'); failed += num('fail') + num('cancelled'); skipped += num('skipped');
  if (r.status !== 0 && num('fail') + num('cancelled') === 0) failed += 1; // the runner itself failed
}
if (files === 0) { console.error('no test files found'); process.exit(1); }
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 ? 1 : 0);
