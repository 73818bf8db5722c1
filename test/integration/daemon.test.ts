// The daemon as an operator runs it: `builderd serve`, readiness, signals, reload, control socket.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, statSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { scratch, exampleYaml, spawnServe, ROOT } from '../helpers/daemon.js';

const s = scratch('bd-daemon');
after(() => s.cleanup());
const cli = join(ROOT, 'dist/cli/index.js');

test('serve logs daemon.ready within 2 s, answers on the control socket, reloads on SIGHUP, stops on SIGTERM', async () => {
  const file = join(s.dir, 'builderd.yaml');
  writeFileSync(file, exampleYaml(s.dir));
  const t0 = Date.now();
  const d = spawnServe(file);
  try {
    const ready = await d.waitFor((l) => l['event'] === 'daemon.ready', 5000);
    const ms = Date.now() - t0;
    assert.ok(ms < 2000, `ready after ${ms} ms`);
    assert.equal(ready['mode'], 'bootstrap');

    const sock = join(s.dir, 'var/builderd.sock');
    assert.equal(statSync(sock).mode & 0o777, 0o600, 'control socket is owner-only');
    const st = spawnSync(process.execPath, [cli, 'authority', 'status', '--json', '--config', file], { encoding: 'utf8' });
    assert.equal(st.status, 0, st.stderr);
    const status = JSON.parse(st.stdout) as { mode: string; epoch: number; journal: { kind: string }[] };
    assert.equal(status.mode, 'bootstrap');
    assert.equal(status.epoch, 1);
    assert.equal(status.journal[0]!.kind, 'authority.init');

    // A broken config on SIGHUP is refused and the daemon keeps running on the old one.
    writeFileSync(file, exampleYaml(s.dir, (y) => y.replace('ttl: 300', 'ttl: "x"')));
    d.child.kill('SIGHUP');
    const failed = await d.waitFor((l) => l['event'] === 'config.reload.failed');
    assert.match(JSON.stringify(failed['errors']), /dns\.ttl/);
    writeFileSync(file, exampleYaml(s.dir));
    d.child.kill('SIGHUP');
    await d.waitFor((l) => l['event'] === 'config.reload');
    const again = spawnSync(process.execPath, [cli, 'authority', 'status', '--config', file], { encoding: 'utf8' });
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /mode: +bootstrap/);
  } finally {
    const code = await d.stop('SIGTERM');
    assert.equal(code, 0, 'clean exit on SIGTERM');
  }
  assert.ok(d.lines.some((l) => l['event'] === 'daemon.stopped'));
});

test('an invalid config starts nothing: exit 2 with file:line', () => {
  const file = join(s.dir, 'bad.yaml');
  writeFileSync(file, exampleYaml(s.dir, (y) => y.replace('lease_time: 1h', 'lease_tim: 1h')));
  const r = spawnSync(process.execPath, [cli, 'serve', '--config', file], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 2);
  assert.match(r.stderr, new RegExp(`${file.replace(/[.]/g, '\\.')}:\\d+:\\d+: dhcp\\.lease_tim: unknown key "lease_tim" — did you mean "lease_time"\\?`));
});

test('a second daemon on the same control socket refuses to start', async () => {
  const file = join(s.dir, 'builderd2.yaml');
  writeFileSync(file, exampleYaml(s.dir));
  const d = spawnServe(file);
  try {
    await d.waitFor((l) => l['event'] === 'daemon.ready', 5000);
    const r = spawnSync(process.execPath, [cli, 'serve', '--config', file], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 1);
    assert.match(r.stdout + r.stderr, /another builderd is listening/);
  } finally {
    await d.stop();
  }
});

test('--version and --help', () => {
  const v = spawnSync(process.execPath, [cli, '--version'], { encoding: 'utf8' });
  assert.equal(v.stdout.trim(), `builderd ${(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version}`);
  for (const c of ['serve', 'check', 'inventory', 'authority']) {
    const h = spawnSync(process.execPath, [cli, c, '--help'], { encoding: 'utf8' });
    assert.equal(h.status, 0);
    assert.match(h.stdout, new RegExp(`builderd ${c}`));
  }
});
