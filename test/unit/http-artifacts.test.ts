// RFC 9110 §13 conditional requests and §14 ranges, as decided by src/http/artifacts.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contentTypeOf, etagOf, evaluateRange, ifRangeMatches, lastModifiedOf, notModified } from '../../src/http/artifacts.js';

test('RFC 9110 §14.1.2: single ranges, suffix, open end, clamping; several ranges → whole file; unsatisfiable', () => {
  assert.deepEqual(evaluateRange('bytes=0-99', 1000), { kind: 'range', range: { start: 0, end: 99 } });
  assert.deepEqual(evaluateRange('bytes=900-', 1000), { kind: 'range', range: { start: 900, end: 999 } });
  assert.deepEqual(evaluateRange('bytes=-10', 1000), { kind: 'range', range: { start: 990, end: 999 } });
  assert.deepEqual(evaluateRange('bytes=-5000', 1000), { kind: 'range', range: { start: 0, end: 999 } });
  assert.deepEqual(evaluateRange('bytes=990-5000', 1000), { kind: 'range', range: { start: 990, end: 999 } });
  assert.deepEqual(evaluateRange('bytes=0-1,5-6', 1000), { kind: 'none' });
  assert.deepEqual(evaluateRange('bytes=1000-', 1000), { kind: 'unsatisfiable' });
  assert.deepEqual(evaluateRange('bytes=-0', 1000), { kind: 'unsatisfiable' });
  assert.deepEqual(evaluateRange('bytes=5-1', 1000), { kind: 'none' });
  assert.deepEqual(evaluateRange('items=0-1', 1000), { kind: 'none' });
  assert.deepEqual(evaluateRange(undefined, 1000), { kind: 'none' });
});

test('RFC 9110 §13.1.2–3: If-None-Match (weak comparison) wins over If-Modified-Since', () => {
  const m = { size: 10, mtimeMs: 1_700_000_000_500, ino: 42 };
  const etag = etagOf(m);
  assert.ok(notModified({ ifNoneMatch: etag }, etag, m.mtimeMs));
  assert.ok(notModified({ ifNoneMatch: `"x", W/${etag}` }, etag, m.mtimeMs));
  assert.ok(notModified({ ifNoneMatch: '*' }, etag, m.mtimeMs));
  assert.ok(!notModified({ ifNoneMatch: '"other"', ifModifiedSince: lastModifiedOf(m) }, etag, m.mtimeMs));
  assert.ok(notModified({ ifModifiedSince: lastModifiedOf(m) }, etag, m.mtimeMs));
  assert.ok(!notModified({ ifModifiedSince: new Date(m.mtimeMs - 5000).toUTCString() }, etag, m.mtimeMs));
  assert.ok(!notModified({ ifModifiedSince: 'garbage' }, etag, m.mtimeMs));
});

test('RFC 9110 §13.1.5: If-Range needs a strong ETag match or the exact Last-Modified date', () => {
  const m = { size: 10, mtimeMs: 1_700_000_000_000, ino: 1 };
  const etag = etagOf(m);
  const lm = lastModifiedOf(m);
  assert.ok(ifRangeMatches(undefined, etag, lm));
  assert.ok(ifRangeMatches(etag, etag, lm));
  assert.ok(!ifRangeMatches(`W/${etag}`, etag, lm));
  assert.ok(!ifRangeMatches('"stale"', etag, lm));
  assert.ok(ifRangeMatches(lm, etag, lm));
  assert.ok(!ifRangeMatches(new Date(0).toUTCString(), etag, lm));
});

test('content types by extension, octet-stream otherwise', () => {
  assert.equal(contentTypeOf('boot/x.ipxe'), 'text/plain; charset=utf-8');
  assert.equal(contentTypeOf('ipxe.efi'), 'application/efi');
  assert.equal(contentTypeOf('vmlinuz'), 'application/octet-stream');
  assert.equal(contentTypeOf('undionly.kpxe'), 'application/octet-stream');
  assert.equal(contentTypeOf('a/.hidden'), 'application/octet-stream');
  assert.equal(contentTypeOf('fedora.iso'), 'application/x-iso9660-image');
});
