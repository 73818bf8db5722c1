import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, EXAMPLE } from '../helpers/daemon.js';
import { have } from '../helpers/netns.js';
import { notifyListener, type NotifyListener } from '../helpers/notify-listener.js';

/*
 * builderd with exactly the privileges systemd/builderd.service grants, without systemd (PID 1 here is
 * not systemd, so the unit itself cannot be started): a read-only tree but the state folder, private /tmp,
 * no /root or /home (mount namespace), an unprivileged user, NoNewPrivileges, and only
 * CAP_NET_BIND_SERVICE in the ambient/bounding sets (setpriv), in a network namespace of its own.
 * It must bind DNS :53, DHCP :67 on a device (SO_BINDTODEVICE, unprivileged since Linux 5.7),
 * TFTP :69 and HTTP :80 (under the unit's SystemCallFilter= and RestrictAddressFamilies=, applied
 * with libseccomp when python3-seccomp is installed), send READY=1 from its main PID only once they answer, ping the watchdog and
 * send STOPPING=1 on SIGTERM. A second test shows why the unit says MemoryDenyWriteExecute=no.
 */

const execFileP = promisify(execFile);
const NS = 'ops-sbx';
const DEV = 'ops-sbx0';
const UID = 65534; // nobody: stands in for the builderd system user
/** Where the scratch folder appears inside the daemon's mount namespace. */
const IN = '/srv';
const PRIVATE_TMP = `ops-sbx-private-${process.pid}`;
/**
 * The unit's filesystem sandbox, approximated with a private mount namespace (run as root, then exec'd
 * into setpriv): ProtectSystem=strict (the whole tree read-only), the state folder read-write
 * (StateDirectory=), PrivateTmp= (fresh /tmp and /var/tmp), ProtectHome= (empty /root and /home).
 */
const FS_SANDBOX = [
  'set -e',
  'mount --rbind -o ro / /',
  'mount --bind "$SCRATCH" /srv',
  'mount -o remount,bind,ro /srv',
  'mount --bind "$SCRATCH/var" /srv/var',
  'mount -o remount,bind,rw /srv/var',
  // A checkout under /tmp (CI clones anywhere) would vanish under the private /tmp: keep it reachable.
  'mount --bind "$ROOTDIR" /mnt',
  'for d in /tmp /var/tmp; do mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$d"; done',
  'case "$ROOTDIR" in /tmp/*|/var/tmp/*) mkdir -p "$ROOTDIR"; mount --bind /mnt "$ROOTDIR";; esac',
  'for d in /root /home; do mount -t tmpfs -o mode=0755,ro tmpfs "$d"; done',
  'exec "$@"',
].join('\n');
const skipRoot = process.getuid?.() === 0 ? false : 'needs root: creates a network namespace and drops to an unprivileged user';
const missing = ['setpriv', 'ip', 'dig', 'curl', 'python3'].filter((c) => !have(c));
const skip = skipRoot || (missing.length ? `needs ${missing.join(', ')}` : false);
/** The unit's SystemCallFilter=/RestrictAddressFamilies= applied by test/helpers/seccomp-exec.py (python3-seccomp). */
const seccompOk = spawnSync('/usr/bin/python3', ['-c', 'import seccomp'], { stdio: 'ignore' }).status === 0;

let dir = '';
let child: ChildProcess | undefined;
let listener: NotifyListener | undefined;

function ip(...args: string[]): void { execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }); }

let nsMade = false;

/** A namespace with lo and a veth pair (both ends inside: no kernel module needed, no host traffic). */
function makeNamespace(): void {
  try { ip('netns', 'del', NS); } catch { /* not there */ }
  ip('netns', 'add', NS);
  nsMade = true;
  ip('-n', NS, 'link', 'set', 'lo', 'up');
  ip('-n', NS, 'link', 'add', DEV, 'type', 'veth', 'peer', 'name', `${DEV}p`);
  ip('-n', NS, 'addr', 'add', '10.99.0.2/24', 'dev', DEV);
  ip('-n', NS, 'link', 'set', `${DEV}p`, 'up');
  ip('-n', NS, 'link', 'set', DEV, 'up');
}

before(() => {
  if (skip) return;
  if (!existsSync(join(ROOT, 'dist/main.js'))) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
  if (!existsSync(join(ROOT, 'native/sdnotify/build/Release/sdnotify.node'))) execFileSync(process.execPath, [join(ROOT, 'scripts/build-native.mjs')], { stdio: 'ignore' });
});

after(() => {
  if (child?.pid && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  listener?.close();
  if (nsMade) { try { ip('netns', 'del', NS); } catch { /* gone */ } }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Run a command inside the namespace (async: the daemon under test is another process anyway). */
async function inNs(cmd: string[]): Promise<string> {
  const r = await execFileP('ip', ['netns', 'exec', NS, ...cmd], { encoding: 'utf8', timeout: 20_000 });
  return r.stdout;
}

function capLine(status: string, key: string): string {
  return (new RegExp(`^${key}:\\s*(.*)$`, 'm').exec(status) ?? [])[1]?.trim() ?? '';
}

test(`unprivileged user + CAP_NET_BIND_SERVICE only${seccompOk ? ' + the unit\'s seccomp filter' : ' (python3-seccomp missing: no syscall filter)'}: binds 53/67/69/80, READY=1 from the main PID once serving, watchdog, STOPPING=1`, { skip, timeout: 120_000 }, async () => {
  makeNamespace();
  dir = mkdtempSync(join(tmpdir(), 'ops-sbx-'));
  mkdirSync(join(dir, 'var'));
  mkdirSync(join(dir, 'ww'));
  cpSync(join(ROOT, 'config/templates'), join(dir, 'templates'), { recursive: true });
  cpSync(join(ROOT, 'artifacts'), join(dir, 'artifacts'), { recursive: true });
  // Inside the daemon's mount namespace the scratch folder is seen at /srv (see FS_SANDBOX).
  const yaml = readFileSync(EXAMPLE, 'utf8')
    .replace('state: ../var', `state: ${IN}/var`)
    .replace('artifacts: ../artifacts', `artifacts: ${IN}/artifacts`)
    .replace('templates: ./templates', `templates: ${IN}/templates`)
    .replace('hooks: ./hooks', `hooks: ${IN}/hooks`)
    .replace('socket: ../var/builderd.sock', `socket: ${IN}/var/builderd.sock`)
    .replace('listen: ["127.0.0.1:10053"]', 'listen: ["127.0.0.1:53"]')
    .replace('listen: ["127.0.0.1:10069"]', 'listen: ["127.0.0.1:69"]')
    .replace('listen: ["127.0.0.1:10080"]', 'listen: ["127.0.0.1:80"]')
    .replace('interfaces: []', `interfaces: [${DEV}]`)
    .replace(/port: 10067\b/, 'port: 67');
  assert.match(yaml, /port: 67\b/);
  writeFileSync(join(dir, 'builderd.yaml'), yaml);
  // What the lead wires into `builderd serve`: READY after startDaemon resolves (every listener bound),
  // the watchdog, STOPPING on SIGTERM.
  const dist = (p: string) => pathToFileURL(join(ROOT, 'dist', p)).href;
  writeFileSync(join(dir, 'entry.mjs'), `
import { writeFileSync } from 'node:fs';
import { startDaemon } from '${dist('main.js')}';
import { createLogger } from '${dist('lib/logger.js')}';
import { notifyReady, notifyStopping, startWatchdog, sdNotifyLastError } from '${dist('lib/sd-notify.js')}';
const logger = createLogger();
const daemon = await startDaemon({ configFile: process.argv[2], logger });
if (!notifyReady('serving')) logger.warn({ event: 'daemon.notify.failed', err: String(sdNotifyLastError()) }, 'READY not sent');
startWatchdog();
for (const p of ['${IN}/ww/write-test', '/root/write-test', '/tmp/${PRIVATE_TMP}']) {
  try { writeFileSync(p, 'x'); console.log(JSON.stringify({ fs: p, wrote: true })); } catch (e) { console.log(JSON.stringify({ fs: p, code: e.code })); }
}
process.once('SIGTERM', () => { notifyStopping(); daemon.close().then(() => process.exit(0), () => process.exit(1)); });
`);
  execFileSync('chown', ['-R', `${UID}:${UID}`, dir]);
  chmodSync(dir, 0o755);
  chmodSync(join(dir, 'ww'), 0o1777);
  listener = await notifyListener(join(dir, 'notify.sock'));
  chownSync(join(dir, 'notify.sock'), UID, UID);

  child = spawn('ip', ['netns', 'exec', NS, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', FS_SANDBOX, 'fs-sandbox', 'setpriv', `--reuid=${UID}`, `--regid=${UID}`, '--clear-groups',
    '--inh-caps=-all,+net_bind_service', '--ambient-caps=-all,+net_bind_service', '--bounding-set=-all,+net_bind_service', '--no-new-privs',
    ...(seccompOk ? ['/usr/bin/python3', join(ROOT, 'test/helpers/seccomp-exec.py'), join(ROOT, 'systemd/builderd.service'), '--'] : []),
    process.execPath, `${IN}/entry.mjs`, `${IN}/builderd.yaml`], {
    env: { PATH: process.env['PATH'], SCRATCH: dir, ROOTDIR: ROOT, NOTIFY_SOCKET: `${IN}/notify.sock`, WATCHDOG_USEC: '1000000', BUILDERD_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));

  const ready = await Promise.race([
    listener.waitFor((m) => m.data.split('\n').includes('READY=1'), 60_000),
    exited.then((code) => { throw new Error(`daemon exited ${code} before READY:\n${out}`); }),
  ]);
  // ip netns exec and setpriv exec in place: the daemon is the spawned PID, as MainPID is for systemd.
  assert.equal(ready.pid, child.pid, 'READY=1 comes from the main PID (NotifyAccess=main)');

  // Right at READY every listener answers.
  const [a, tftp, http] = await Promise.all([
    inNs(['dig', '+short', '+time=2', '+tries=1', '@127.0.0.1', '-p', '53', 'hv01.lab.example.net', 'A']),
    inNs(['curl', '-sS', '--max-time', '10', '-o', '/dev/null', '-w', '%{size_download}', 'tftp://127.0.0.1:69/undionly.kpxe']),
    inNs(['curl', '-sS', '--max-time', '10', '-o', '/dev/null', '-w', '%{http_code}', 'http://127.0.0.1:80/ipxe.efi']),
  ]);
  assert.equal(a.trim(), '10.99.0.10');
  assert.ok(Number(tftp) > 0, `TFTP :69 sent ${tftp} bytes`);
  assert.equal(http, '200');
  const udp = await inNs(['ss', '-Hulpn', 'sport = :67']);
  assert.match(udp, new RegExp(`%${DEV}:67|0\\.0\\.0\\.0%${DEV}:67|\\*%${DEV}:67`), `DHCP bound to ${DEV}: ${udp}`);

  // The process holds exactly what the unit grants.
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  assert.match(capLine(status, 'Uid'), new RegExp(`^${UID}\\s+${UID}\\s+${UID}\\s+${UID}$`));
  assert.equal(capLine(status, 'CapEff'), '0000000000000400', 'CapEff = CAP_NET_BIND_SERVICE only');
  assert.equal(capLine(status, 'CapBnd'), '0000000000000400');
  assert.equal(capLine(status, 'CapAmb'), '0000000000000400');
  assert.equal(capLine(status, 'NoNewPrivs'), '1');
  if (seccompOk) {
    assert.equal(capLine(status, 'Seccomp'), '2', 'running under a seccomp filter');
    assert.match(out, /seccomp-exec: \d+ syscalls allowed/);
  }

  // Watchdog: WATCHDOG_USEC=1 s → a ping every 500 ms, from the main PID.
  const wd = await listener.waitFor((m) => m.data === 'WATCHDOG=1' && m.pid === child!.pid, 5000, 3);
  assert.ok(wd.at - ready.at < 5000);

  child.kill('SIGTERM');
  await listener.waitFor((m) => m.data.startsWith('STOPPING=1'), 10_000);
  assert.equal(await exited, 0, out);
  assert.doesNotMatch(out, /"level":(50|60)/, 'no error logged');
  // The filesystem sandbox held: the daemon ran with the tree read-only and wrote only its state folder.
  // ${IN}/ww is world-writable on disk: only the read-only mount can refuse the write (EROFS).
  assert.ok(out.includes(`{"fs":"${IN}/ww/write-test","code":"EROFS"}`), out);
  assert.match(out, /\{"fs":"\/root\/write-test","code":"(EROFS|EACCES)"\}/);
  assert.ok(out.includes(`{"fs":"/tmp/${PRIVATE_TMP}","wrote":true}`), 'its /tmp is writable...');
  assert.equal(existsSync(join('/tmp', PRIVATE_TMP)), false, '...and private');
  assert.ok(existsSync(join(dir, 'var', 'builderd.sqlite')) || readdirSync(join(dir, 'var')).length > 0, 'the store was written in the state folder');

  // And the capability is what made it work: the same user without it cannot bind :53.
  const bind53 = `require('node:dgram').createSocket('udp4').on('error', (e) => { console.log(e.code); process.exit(0); }).bind(53, '127.0.0.1', () => { console.log('BOUND'); process.exit(0); })`;
  const noCap = await inNs(['setpriv', `--reuid=${UID}`, `--regid=${UID}`, '--clear-groups', '--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-all', '--no-new-privs', process.execPath, '-e', bind53]);
  assert.equal(noCap.trim(), 'EACCES');
});

test('why MemoryDenyWriteExecute=no: under kernel W^X (PR_SET_MDWE) V8\'s JIT aborts, --jitless runs', { skip: have('python3') ? false : 'needs python3' }, () => {
  // PR_SET_MDWE = 65, PR_MDWE_REFUSE_EXEC_GAIN = 1 (Linux ≥ 6.3); systemd's MemoryDenyWriteExecute= has the same effect.
  const run = (nodeArgs: string[]) => spawnSync('python3', ['-c', `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0:
    print('NO_MDWE', flush=True); sys.exit(0)
os.execv(sys.argv[1], [sys.argv[1]] + sys.argv[2:])
`, process.execPath, ...nodeArgs], { encoding: 'utf8', timeout: 60_000 });
  const hot = 'let s = 0; for (let i = 0; i < 3e6; i++) s += i % 7; console.log("ran", s)';
  const jit = run(['-e', hot]);
  if (jit.stdout.includes('NO_MDWE')) return; // kernel older than 6.3: nothing to show
  assert.notEqual(jit.status, 0, 'node with its JIT cannot run under W^X');
  assert.doesNotMatch(jit.stdout, /^ran /m);
  const jitless = run(['--jitless', '-e', hot]);
  assert.equal(jitless.status, 0, jitless.stderr);
  assert.match(jitless.stdout, /^ran /m);
});
