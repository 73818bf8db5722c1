import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode } from '../../src/lib/errors.js';

/*
 * docs/log-events.md is the one table of stable log event names and docs/errors.md of error codes
 * (issue 8): every event the code under src/ logs, and every ErrorCode, must be listed there.
 */

function walk(d: string): string[] {
  return readdirSync(d).flatMap((e) => { const p = join(d, e); return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : []; });
}

/** Event names logged in src/: `event: 'x.y'` literals, and `authority.${direction}...` expanded. */
function loggedEvents(): Map<string, string> {
  const found = new Map<string, string>();
  for (const f of walk('src')) {
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/event: '([a-z0-9_.-]+)'/g)) found.set(m[1]!, f);
    for (const m of text.matchAll(/event: `([a-z0-9_.-]*)\$\{direction\}([a-z0-9_.-]*)`/g)) {
      for (const d of ['promote', 'revert']) found.set(`${m[1]}${d}${m[2]}`, f);
    }
  }
  return found;
}

const documented = (doc: string) => new Set([...doc.matchAll(/^\| `([A-Za-z0-9_.-]+)` \|/gm)].map((m) => m[1]!));

test('every log event in src/ is in docs/log-events.md', () => {
  const events = loggedEvents();
  assert.ok(events.size >= 10, `found ${events.size} events in src/`);
  const doc = documented(readFileSync('docs/log-events.md', 'utf8'));
  const missing = [...events].filter(([e]) => !doc.has(e)).map(([e, f]) => `${e} (${f})`);
  assert.deepEqual(missing, [], 'add these to docs/log-events.md');
});

test('docs/log-events.md covers the areas issue 8 names, and marks what exists', () => {
  const text = readFileSync('docs/log-events.md', 'utf8');
  const doc = documented(text);
  for (const area of ['daemon', 'config', 'dns', 'dhcp', 'tftp', 'http', 'authority', 'store']) {
    assert.ok([...doc].some((e) => e.startsWith(`${area}.`)), `no ${area}.* event documented`);
  }
  const rows = [...text.matchAll(/^\| `([a-z0-9_.-]+)` \| (\w+) \| (exists|planned \(\d+\)) \|/gm)];
  assert.equal(rows.length, doc.size, 'every row has a level and a status');
  const events = loggedEvents();
  for (const r of rows) {
    if (r[3] === 'exists') continue;
    assert.ok(!events.has(r[1]!), `${r[1]} is logged now: mark it "exists"`);
  }
});

test('every ErrorCode is in docs/errors.md, and nothing else is', () => {
  const doc = documented(readFileSync('docs/errors.md', 'utf8'));
  const codes = Object.values(ErrorCode);
  assert.deepEqual(codes.filter((c) => !doc.has(c)), [], 'add these to docs/errors.md');
  assert.deepEqual([...doc].filter((c) => !(codes as string[]).includes(c)), [], 'codes documented but not in src/lib/errors.ts');
});
