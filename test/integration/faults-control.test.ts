// Issue 10: the control socket accepts only its owner. `builderd serve` (in a namespace, so its DHCP
// socket cannot collide with other tests) creates the socket mode 0600 in a 0700 directory; a client
// running as `nobody` (setpriv) cannot connect, through either protection alone.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { spawnSync } from 'node:child_process';
import { faultSite, type FaultSite } from '../helpers/fault-site.js';
import { needsRoot, have } from '../helpers/netns.js';

const skip = needsRoot('runs builderd in a namespace and a client as nobody') || (!have('setpriv') ? 'needs setpriv (util-linux)' : false);

/** Connect to the socket as `nobody` and ask for status; returns what happened. */
function asNobody(sock: string): { code: number | null; out: string } {
  const script = `const s = require('node:net').connect(${JSON.stringify(sock)});
s.on('connect', () => s.write(JSON.stringify({ id: 1, cmd: 'status' }) + '\\n'));
s.on('data', (d) => { process.stdout.write('ANSWER ' + d); s.destroy(); });
s.on('error', (e) => { process.stdout.write('ERROR ' + e.code); process.exitCode = 3; });`;
  const r = spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, '-e', script], { encoding: 'utf8', timeout: 10_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** The same request as root (the owner). */
function asRoot(sock: string): string {
  const script = `const s = require('node:net').connect(${JSON.stringify(sock)});
s.on('connect', () => s.write(JSON.stringify({ id: 1, cmd: 'status' }) + '\\n'));
s.on('data', (d) => { process.stdout.write(String(d)); s.destroy(); });`;
  return spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000 }).stdout;
}

describe('control socket: owner only', { skip, timeout: 60_000 }, () => {
  let site: FaultSite;
  let sock = '';
  before(async () => {
    // A socket directory the daemon has to create (so it is made 0700 by builderd itself).
    site = await faultSite('bfz-ctl', (y) => y.replace(/socket: (\S+)\/var\/builderd\.sock/, 'socket: $1/var/run/bd/builderd.sock'));
    sock = (/socket: (\S+)/.exec(readFileSync(site.file, 'utf8')) ?? [])[1] ?? '';
  });
  after(async () => { await site?.cleanup(); });

  it('the socket is mode 0600 owned by the daemon user, its directory 0700', () => {
    const st = statSync(sock);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(st.uid, process.getuid!());
    assert.equal(statSync(dirname(sock)).mode & 0o777, 0o700);
    assert.match(asRoot(sock), /"ok":true/, 'the owner is answered');
  });

  it('nobody cannot connect: the 0700 directory alone refuses it (EACCES)', () => {
    const r = asNobody(sock);
    assert.match(r.out, /ERROR EACCES/);
    assert.doesNotMatch(r.out, /ANSWER/);
  });

  it('nobody cannot connect: the 0600 socket alone refuses it (directories opened to 0755)', () => {
    for (let d = dirname(sock); d.startsWith(site.dir) || d === site.dir; d = dirname(d)) { chmodSync(d, 0o755); if (d === site.dir) break; }
    const r = asNobody(sock);
    assert.match(r.out, /ERROR EACCES/);
    assert.doesNotMatch(r.out, /ANSWER/);
  });

  it('a connection from another uid that reaches the socket is refused by its peer credentials (SO_PEERCRED)', () => {
    chmodSync(sock, 0o666);
    try {
      const r = asNobody(sock);
      assert.doesNotMatch(r.out, /"ok":true/, `answered another uid: ${r.out}`);
      assert.match(r.out, /may not use this control socket/, r.out);
    } finally {
      chmodSync(sock, 0o600);
    }
  });

  it('the daemon keeps serving its owner after the refused attempts', () => {
    assert.match(asRoot(sock), /"ok":true/);
    assert.equal(site.d.child.exitCode, null);
  });
});
