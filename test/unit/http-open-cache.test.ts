// The HTTP open-file cache (src/http/open-cache.ts): hits share one fd, in-place rewrites are seen at
// once through fstat, entries expire after the TTL and are closed only when the last user releases them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOpenCache } from '../../src/http/open-cache.js';

const dir = mkdtempSync(join(tmpdir(), 'bhc-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('hit shares the fd and re-reads size after an in-place append', async () => {
  const f = join(dir, 'a.bin');
  writeFileSync(f, 'hello');
  let now = 1000;
  const cache = createOpenCache(1000, 4, () => now);
  assert.equal(cache.take('a.bin'), undefined);
  const fh = await open(f, 'r');
  const first = cache.put('a.bin', fh, await fh.stat());
  assert.equal(first.size, 5);
  appendFileSync(f, ' world');
  now += 500;
  const hit = cache.take('a.bin');
  assert.ok(hit);
  assert.equal(hit.fh.fd, fh.fd);
  assert.equal(hit.size, 11);
  first.release();
  hit.release();
  cache.clear();
});

test('expired entry is dropped; its fd stays open until the last user releases it', async () => {
  const f = join(dir, 'b.bin');
  writeFileSync(f, 'x');
  let now = 0;
  const cache = createOpenCache(100, 4, () => now);
  const fh = await open(f, 'r');
  const user = cache.put('b.bin', fh, await fh.stat());
  now = 200;
  assert.equal(cache.take('b.bin'), undefined, 'expired');
  const buf = Buffer.alloc(1);
  const r = await fh.read(buf, 0, 1, 0);
  assert.equal(r.bytesRead, 1, 'still readable while in use');
  user.release();
  await new Promise((ok) => setImmediate(ok));
  await assert.rejects(fh.read(buf, 0, 1, 0), 'closed after the last release');
});

test('a directory is never cached', async () => {
  const cache = createOpenCache();
  const fh = await open(dir, 'r');
  const o = cache.put('.', fh, await fh.stat());
  assert.equal(o.isFile, false);
  o.release();
  assert.equal(cache.take('.'), undefined);
});
