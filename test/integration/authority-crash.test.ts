// Authority transition crash safety: kill -9 between each pair of promote steps leaves exactly one
// consistent mode after restart (issue 6). The flip is one store transaction; a restart finishes the
// post-hook a crash left owed.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdirSync, existsSync, rmSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { scratch, exampleYaml, spawnServe, ROOT } from '../helpers/daemon.js';

const s = scratch('bd-authcrash');
after(() => s.cleanup());
const cli = join(ROOT, 'dist/cli/index.js');
const file = join(s.dir, 'builderd.yaml');
// The router is dead (nothing listens there): the DNS pre-flight fails, so promotes are --force'd.
writeFileSync(file, exampleYaml(s.dir, (y) => y.replace('dns: 10.99.0.1:53', 'dns: 127.0.0.1:9')));
const hooks = join(s.dir, 'hooks');
mkdirSync(hooks, { recursive: true });
for (const h of ['pre-promote', 'post-promote']) {
  const p = join(hooks, h);
  // Each hook leaves a mark; while a "block-<hook>" file exists it waits (so the test can kill the daemon mid-step).
  writeFileSync(p, `#!/bin/sh\necho "$BUILDERD_EPOCH" >> "${hooks}/ran-${h}"\nwhile [ -e "${hooks}/block-${h}" ]; do sleep 0.05; done\n`);
  chmodSync(p, 0o755);
}

function status(): { mode: string; epoch: number; pending: unknown } {
  const r = spawnSync(process.execPath, [cli, 'authority', 'status', '--json', '--config', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { mode: string; epoch: number; pending: unknown };
}
function journal(): { kind: string; detail: { forced?: boolean } }[] {
  const r = spawnSync(process.execPath, [cli, 'authority', 'log', '--json', '--config', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { kind: string; detail: { forced?: boolean } }[];
}
async function waitFile(p: string, ms = 15_000): Promise<void> {
  const t0 = Date.now();
  while (!existsSync(p)) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${p}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
function promoteAsync() {
  const c = spawn(process.execPath, [cli, 'authority', 'promote', '--force', '--config', file], { stdio: 'ignore' });
  return c;
}

test('promote without --force against a dead router is refused and changes nothing', async () => {
  const d = spawnServe(file);
  try {
    await d.waitFor((l) => l['event'] === 'daemon.ready');
    const r = spawnSync(process.execPath, [cli, 'authority', 'promote', '--config', file], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 3, r.stdout + r.stderr);
    assert.match(r.stdout, /REFUSED/);
    assert.match(r.stdout, /router-dns/);
    assert.deepEqual([status().mode, status().epoch], ['bootstrap', 1]);
  } finally { await d.stop(); }
});

test('kill -9 during the pre-flight: still bootstrap', async () => {
  const d = spawnServe(file);
  await d.waitFor((l) => l['event'] === 'daemon.ready');
  const c = promoteAsync();
  await d.waitFor((l) => l['event'] === 'authority.promote.start');
  d.child.kill('SIGKILL');
  await d.stop();
  c.kill();
  const d2 = spawnServe(file);
  try {
    await d2.waitFor((l) => l['event'] === 'daemon.ready');
    const st = status();
    assert.deepEqual([st.mode, st.epoch, st.pending ?? null], ['bootstrap', 1, null]);
    assert.ok(!journal().some((e) => e.kind === 'authority.promote'));
  } finally { await d2.stop(); }
});

test('kill -9 inside the pre-promote hook (before the flip): still bootstrap, nothing journaled', async () => {
  writeFileSync(join(hooks, 'block-pre-promote'), '');
  const d = spawnServe(file);
  await d.waitFor((l) => l['event'] === 'daemon.ready');
  const c = promoteAsync();
  await waitFile(join(hooks, 'ran-pre-promote'), 30_000);
  d.child.kill('SIGKILL');
  await d.stop();
  c.kill();
  rmSync(join(hooks, 'block-pre-promote'));
  const d2 = spawnServe(file);
  try {
    await d2.waitFor((l) => l['event'] === 'daemon.ready');
    const st = status();
    assert.deepEqual([st.mode, st.epoch, st.pending ?? null], ['bootstrap', 1, null]);
    assert.ok(!journal().some((e) => e.kind === 'authority.promote'));
  } finally { await d2.stop(); }
});

test('kill -9 inside the post-promote hook (after the flip): production, and the restart finishes the post-hook', async () => {
  rmSync(join(hooks, 'ran-post-promote'), { force: true });
  writeFileSync(join(hooks, 'block-post-promote'), '');
  const d = spawnServe(file);
  await d.waitFor((l) => l['event'] === 'daemon.ready');
  const c = promoteAsync();
  await waitFile(join(hooks, 'ran-post-promote'), 30_000);
  d.child.kill('SIGKILL');
  await d.stop();
  c.kill();
  rmSync(join(hooks, 'block-post-promote'));
  const d2 = spawnServe(file);
  try {
    await d2.waitFor((l) => l['event'] === 'daemon.ready');
    assert.ok(d2.lines.some((l) => l['event'] === 'authority.recover'), 'recovery logged');
    const st = status();
    assert.deepEqual([st.mode, st.epoch, st.pending ?? null], ['production', 2, null]);
    const j = journal();
    const promote = j.find((e) => e.kind === 'authority.promote');
    assert.ok(promote, 'the flip is journaled');
    assert.equal(promote!.detail.forced, true, 'the journal records --force');
    assert.ok(j.some((e) => e.kind === 'authority.recover'));
    assert.ok(j.some((e) => e.kind === 'authority.promote.post-hook'), 'post-hook ran on recovery');
  } finally { await d2.stop(); }
});

test('revert with the router dead succeeds (no rival DHCP on the segment): bootstrap at epoch 3', async () => {
  const d = spawnServe(file);
  try {
    await d.waitFor((l) => l['event'] === 'daemon.ready');
    const r = spawnSync(process.execPath, [cli, 'authority', 'revert', '--config', file], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const st = status();
    assert.deepEqual([st.mode, st.epoch], ['bootstrap', 3]);
  } finally { await d.stop(); }
});
