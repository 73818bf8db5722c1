import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { notifyListener, type NotifyListener, type NotifyMessage } from '../helpers/notify-listener.js';
import { sdNotify, notifyReady, notifyStopping, notifyReloading, notifyStatus, startWatchdog, watchdogUsec, sdNotifyLastError } from '../../src/lib/sd-notify.js';

/*
 * sd_notify(3) against a real AF_UNIX SOCK_DGRAM listener (python3, with SO_PASSCRED so every
 * datagram carries the sender's PID the way systemd checks NotifyAccess=main).
 */

let dir = '';
const listeners: NotifyListener[] = [];

before(() => {
  // `npm ci` builds native/* (scripts/build-native.mjs is the package's install script); build it here
  // when this file runs in a fresh checkout on its own.
  if (!existsSync('native/sdnotify/build/Release/sdnotify.node')) {
    const r = spawnSync(process.execPath, ['scripts/build-native.mjs'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr + r.stdout);
  }
  dir = mkdtempSync(join(tmpdir(), 'ops-sdnotify-'));
});
after(() => {
  for (const l of listeners) l.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function listen(address: string): Promise<NotifyListener & { next(n: number, ms?: number): Promise<NotifyMessage[]> }> {
  const l = await notifyListener(address);
  listeners.push(l);
  /** The first `n` messages, once they are there. */
  const next = async (n: number, ms = 3000) => { await l.waitFor(() => true, ms, n); return l.messages.slice(0, n); };
  return Object.assign(l, { next });
}

test('READY=1 reaches a filesystem-path NOTIFY_SOCKET, sent by this process (NotifyAccess=main)', async () => {
  const path = join(dir, 'notify.sock');
  const l = await listen(path);
  const env = { NOTIFY_SOCKET: path };
  assert.equal(notifyReady('serving dns dhcp tftp', env), true);
  const [m] = await l.next(1);
  assert.equal(m!.data, 'READY=1\nSTATUS=serving dns dhcp tftp');
  assert.equal(m!.pid, process.pid, 'the kernel-filled sender PID is ours, not a helper process');
});

test('abstract socket names (@...) work; STOPPING, STATUS and RELOADING + MONOTONIC_USEC', async () => {
  const name = `@ops-sdnotify-${process.pid}-${Date.now()}`;
  const l = await listen(name);
  const env = { NOTIFY_SOCKET: name };
  assert.equal(notifyStatus('line one\nline two', env), true);
  const before = process.hrtime.bigint() / 1000n;
  assert.equal(notifyReloading(env), true);
  assert.equal(notifyStopping(undefined, env), true);
  const msgs = await l.next(3);
  assert.equal(msgs[0]!.data, 'STATUS=line one line two', 'STATUS is one line');
  const m = /^RELOADING=1\nMONOTONIC_USEC=(\d+)$/.exec(msgs[1]!.data);
  assert.ok(m, msgs[1]!.data);
  const usec = BigInt(m[1]!);
  assert.ok(usec >= before && usec - before < 5_000_000n, 'MONOTONIC_USEC is CLOCK_MONOTONIC µs');
  // Cross-check against the kernel's CLOCK_MONOTONIC as python sees it.
  const py = spawnSync('python3', ['-c', 'import time; print(time.clock_gettime_ns(time.CLOCK_MONOTONIC)//1000)'], { encoding: 'utf8' });
  const pyUsec = BigInt(py.stdout.trim());
  assert.ok(pyUsec >= usec && pyUsec - usec < 10_000_000n, `python monotonic ${pyUsec} vs ours ${usec}`);
  assert.equal(msgs[2]!.data, 'STOPPING=1');
});

test('a child process whose main PID notifies: the listener sees that PID', async () => {
  const path = join(dir, 'child.sock');
  const l = await listen(path);
  const code = `import('./src/lib/sd-notify.ts').then((m) => { if (!m.notifyReady('child')) process.exit(3); })`;
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', code], { env: { ...process.env, NOTIFY_SOCKET: path }, stdio: 'inherit' });
  const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const [m] = await l.next(1, 15_000);
  assert.equal(await exit, 0);
  assert.equal(m!.data, 'READY=1\nSTATUS=child');
  assert.equal(m!.pid, child.pid);
});

test('no NOTIFY_SOCKET: returns false; a missing socket: false with the reason, never a throw', () => {
  assert.equal(sdNotify('READY=1', {}), false);
  assert.equal(sdNotify('READY=1', { NOTIFY_SOCKET: join(dir, 'nobody-listens.sock') }), false);
  assert.match(String(sdNotifyLastError()?.message), /ENOENT|No such file/);
  assert.equal(sdNotify('READY=1', { NOTIFY_SOCKET: 'relative/path' }), false);
  assert.equal(sdNotify('READY=1', { NOTIFY_SOCKET: '/' + 'x'.repeat(200) }), false);
});

test('watchdog: enabled only for our PID, pings WATCHDOG=1 at half of WATCHDOG_USEC', async () => {
  assert.equal(watchdogUsec({ WATCHDOG_USEC: '30000000' }), 30_000_000);
  assert.equal(watchdogUsec({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: String(process.pid) }), 30_000_000);
  assert.equal(watchdogUsec({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '1' }), undefined);
  assert.equal(watchdogUsec({ WATCHDOG_USEC: 'x' }), undefined);
  assert.equal(watchdogUsec({}), undefined);
  assert.equal(startWatchdog({ env: { WATCHDOG_USEC: '200000' } }), undefined, 'no NOTIFY_SOCKET, no watchdog');

  const path = join(dir, 'wd.sock');
  const l = await listen(path);
  const t0 = Date.now();
  const wd = startWatchdog({ env: { NOTIFY_SOCKET: path, WATCHDOG_USEC: '200000', WATCHDOG_PID: String(process.pid) } });
  assert.ok(wd);
  assert.equal(wd.intervalMs, 100);
  try {
    const msgs = await l.next(4, 3000);
    assert.ok(msgs.every((m) => m.data === 'WATCHDOG=1' && m.pid === process.pid));
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 250, `4 pings (one at start, then every 100 ms) took ${elapsed} ms`);
    assert.ok(wd.pings() >= 4);
  } finally {
    wd.stop();
  }
  const n = wd.pings();
  await new Promise((r) => setTimeout(r, 250));
  assert.equal(wd.pings(), n, 'stop() stops the pings');
  assert.ok(existsSync(path));
});
