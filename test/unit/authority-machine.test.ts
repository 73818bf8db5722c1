// The authority transition table: every (state, event) pair.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plan, afterChecks, recover } from '../../src/authority/machine.js';

const opts = { force: false, importLeases: false, dryRun: false };

test('bootstrap + promote runs preflight, hooks, flip, post-hooks', () => {
  assert.deepEqual(plan('bootstrap', 'promote', opts), { action: 'run', steps: ['preflight', 'pre-hooks', 'flip', 'post-hooks', 'done'] });
});
test('production + revert imports leases when given a file', () => {
  assert.deepEqual(plan('production', 'revert', { ...opts, importLeases: true }), { action: 'run', steps: ['preflight', 'import', 'pre-hooks', 'flip', 'post-hooks', 'done'] });
});
test('bootstrap + revert and production + promote are refused unless forced', () => {
  assert.equal(plan('bootstrap', 'revert', opts).action, 'refuse');
  assert.equal(plan('production', 'promote', opts).action, 'refuse');
  assert.equal(plan('production', 'promote', { ...opts, force: true }).action, 'run');
});
test('a dry run stops after the checks', () => {
  assert.deepEqual(plan('bootstrap', 'promote', { ...opts, dryRun: true }), { action: 'run', steps: ['preflight'] });
});
test('a failed check aborts, unless forced (and then it is marked forced)', () => {
  const checks = [{ name: 'a', ok: true, detail: '' }, { name: 'b', ok: false, detail: 'x' }];
  assert.deepEqual(afterChecks(checks, false), { proceed: false, forced: false, failed: [checks[1]] });
  assert.deepEqual(afterChecks(checks, true), { proceed: true, forced: true, failed: [checks[1]] });
  assert.deepEqual(afterChecks([checks[0]!], false), { proceed: true, forced: false, failed: [] });
});
test('recovery: no marker, nothing; a marker means the flip happened and post-hooks are owed', () => {
  assert.deepEqual(recover(null), { action: 'none' });
  assert.deepEqual(recover({ direction: 'promote', step: 'post-hooks' }), { action: 'finish', direction: 'promote', hooks: 'post' });
});
