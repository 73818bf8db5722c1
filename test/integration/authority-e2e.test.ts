/*
 * Authority transition end to end (issue 6), with real software on one L2 segment (a bridge in bau-sw):
 *   bau-bld  10.99.0.2  builderd (DHCP :67, DNS :53)
 *   bau-rtr  10.99.0.1  the "router": Kea (kea-dhcp4, memfile) + Unbound, loaded from `builderd export`
 *   bau-c1   dhclient (hostname dyn01)      bau-c2  udhcpc (hostname dyn02)      bau-c3  DISCOVER probes
 * bootstrap leases → export → router loads it → promote passes its checks → clients rebind to Kea keeping
 * their addresses and resolve from the router; a new DISCOVER gets an offer from the router only → revert
 * is refused while Kea answers → the router is killed → revert (importing Kea's lease file) succeeds with
 * the router down → the clients rebind to builderd keeping their addresses.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync, chmodSync, mkdirSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { needsRoot, have } from '../helpers/netns.js';
import { scratch, exampleYaml, spawnServe, ROOT, type DaemonProcess } from '../helpers/daemon.js';

const skip = needsRoot('network namespaces')
  || (['dhclient', 'udhcpc', 'kea-dhcp4', 'unbound', 'dig'].find((b) => !have(b)) ? `needs ${['dhclient', 'udhcpc', 'kea-dhcp4', 'unbound', 'dig'].filter((b) => !have(b)).join(', ')}` : false);
const cli = join(ROOT, 'dist/cli/index.js');
const NS = { sw: 'bau-sw', bld: 'bau-bld', rtr: 'bau-rtr', c1: 'bau-c1', c2: 'bau-c2', c3: 'bau-c3' } as const;
const LEASE = 16; // seconds: T1 8 s, T2 14 s — clients move between servers within a test's patience

let dir = '', file = '', cleanupDir = () => {};
let d: DaemonProcess;
const procs: ChildProcess[] = [];

const ipc = (...a: string[]) => execFileSync('ip', a, { stdio: ['ignore', 'pipe', 'pipe'] });
const inNs = (ns: string, cmd: string[], timeout = 20_000) => execFileSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8', timeout, stdio: ['ignore', 'pipe', 'pipe'] });
function spawnIn(ns: string, cmd: string[], env: NodeJS.ProcessEnv = {}): ChildProcess & { out: () => string } {
  const c = spawn('ip', ['netns', 'exec', ns, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } }) as ChildProcess & { out: () => string };
  let out = '';
  c.stdout!.on('data', (b: Buffer) => { out = (out + b.toString()).slice(-100_000); });
  c.stderr!.on('data', (b: Buffer) => { out = (out + b.toString()).slice(-100_000); });
  c.out = () => out;
  procs.push(c);
  return c;
}
function killNs(ns: string) {
  try { for (const p of execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split(/\s+/).filter(Boolean)) { try { process.kill(Number(p), 'SIGKILL'); } catch { /* gone */ } } } catch { /* no ns */ }
}
function teardown() {
  for (const ns of Object.values(NS)) { killNs(ns); try { ipc('netns', 'del', ns); } catch { /* gone */ } }
}
async function until(pred: () => boolean, ms: number, what: string, info: () => string = () => '') {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms: ${what}\n${info()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
function cliRun(args: string[], timeout = 60_000) {
  return spawnSync(process.execPath, [cli, ...args, '--config', file], { encoding: 'utf8', timeout });
}
function probe(): { serverId: string; yiaddr: string }[] {
  const out = inNs(NS.c3, [process.execPath, '--import', 'tsx', join(ROOT, 'test/helpers/probe-main.ts'), '68', '67', '2500', 'e-c3'], 30_000);
  return JSON.parse(out.trim().split('\n').at(-1)!) as { serverId: string; yiaddr: string }[];
}

// Client event logs: "<reason> ip=<addr> server=<id>".
const events = (name: string) => { try { return readFileSync(join(dir, `${name}.events`), 'utf8').split('\n').filter(Boolean); } catch { return []; } };
const lastBound = (name: string) => events(name).filter((l) => /^(BOUND|RENEW|REBIND|REBOOT|bound|renew)/.test(l)).at(-1) ?? '';

before(async () => {
  if (skip) return;
  teardown();
  const s = scratch('bd-auth');
  dir = s.dir; cleanupDir = s.cleanup;
  for (const ns of Object.values(NS)) { ipc('netns', 'add', ns); ipc('-n', ns, 'link', 'set', 'lo', 'up'); }
  ipc('-n', NS.sw, 'link', 'add', 'br0', 'type', 'bridge');
  ipc('-n', NS.sw, 'link', 'set', 'br0', 'up');
  const legs: [string, string | null][] = [[NS.bld, '10.99.0.2/24'], [NS.rtr, '10.99.0.1/24'], [NS.c1, null], [NS.c2, null], [NS.c3, null]];
  for (const [ns, addr] of legs) {
    const port = `p-${ns.slice(4)}`, leg = `e-${ns.slice(4)}`;
    ipc('-n', NS.sw, 'link', 'add', port, 'type', 'veth', 'peer', 'name', leg, 'netns', ns);
    ipc('-n', NS.sw, 'link', 'set', port, 'master', 'br0');
    ipc('-n', NS.sw, 'link', 'set', port, 'up');
    if (addr) ipc('-n', ns, 'addr', 'add', addr, 'dev', leg);
    ipc('-n', ns, 'link', 'set', leg, 'up');
  }
  file = join(dir, 'builderd.yaml');
  writeFileSync(file, exampleYaml(dir, (y) => y
    .replace('interfaces: []', 'interfaces: [e-bld]')
    .replace('port: 10067', 'port: 67')
    .replace('dns: 10.99.0.1:53', 'dns: 10.99.0.1:53')
    .replace(/dns:\n  listen: \["127\.0\.0\.1:0"\]/, 'dns:\n  listen: ["10.99.0.2:53"]')
    .replace('transfer_allow: ["127.0.0.0/8"]', 'transfer_allow: ["127.0.0.0/8", "10.99.0.0/24"]')
    .replace('lease_time: 1h', `lease_time: ${LEASE}s`)));
  d = spawnServe(file, [], {}, NS.bld);
  await d.waitFor((l) => l['event'] === 'daemon.ready', 15_000);
});

after(async () => {
  if (skip) return;
  await d?.stop().catch(() => undefined);
  for (const c of procs) if (c.exitCode === null && c.pid) { try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ } }
  teardown();
  cleanupDir();
});

test('bootstrap → promote to a real Kea + Unbound router → router dies → revert; clients keep their addresses', { skip, timeout: 240_000 }, async () => {
  // 1. Bootstrap: builderd leases to dhclient and udhcpc.
  // dhclient runs its script with a clean environment, so each client gets its own copy naming it.
  const hookFor = (client: string) => {
    const p = join(dir, `hook-${client}.sh`);
    writeFileSync(p, `#!/bin/sh
# dhclient passes $reason/$new_ip_address; udhcpc passes $1/$ip/$serverid.
if [ -n "$reason" ]; then r=$reason; a=$new_ip_address; s=$new_dhcp_server_identifier; else r=$1; a=$ip; s=$serverid; fi
echo "$r ip=$a server=$s" >> "${dir}/${client}.events"
case "$r" in BOUND|RENEW|REBIND|REBOOT|bound|renew) ip addr replace $a/24 dev e-${client} ;; esac
exit 0
`);
    chmodSync(p, 0o755);
    return p;
  };
  writeFileSync(join(dir, 'dh.conf'), 'send host-name "dyn01";\nrequest subnet-mask, routers, domain-name-servers, domain-name;\n');
  spawnIn(NS.c1, ['dhclient', '-4', '-d', '-cf', join(dir, 'dh.conf'), '-sf', hookFor('c1'), '-lf', join(dir, 'dh.leases'), '-pf', join(dir, 'dh.pid'), 'e-c1']);
  spawnIn(NS.c2, ['udhcpc', '-f', '-i', 'e-c2', '-s', hookFor('c2'), '-x', 'hostname:dyn02', '-t', '20', '-T', '1', '-A', '1']);
  await until(() => /ip=10\.99\.0\.\d+ server=10\.99\.0\.2/.test(lastBound('c1')) && /ip=10\.99\.0\.\d+ server=10\.99\.0\.2/.test(lastBound('c2')), 30_000, 'both clients bound by builderd', () => events('c1').concat(events('c2')).join('\n'));
  const ip1 = /ip=(\S+)/.exec(lastBound('c1'))![1]!;
  const ip2 = /ip=(\S+)/.exec(lastBound('c2'))![1]!;
  assert.notEqual(ip1, ip2);

  // 2. Export the router's configuration from the same inventory and the live leases.
  const exp = join(dir, 'export');
  for (const f of ['kea', 'unbound']) { const r = cliRun(['export', '--format', f, '--out', exp]); assert.equal(r.status, 0, r.stderr); }
  const kea = JSON.parse(readFileSync(join(exp, 'kea-dhcp4.conf'), 'utf8')) as { Dhcp4: Record<string, any> };
  const keaDir = join(dir, 'kea');
  mkdirSync(keaDir, { recursive: true });
  kea.Dhcp4['interfaces-config'] = { interfaces: ['e-rtr'] };
  kea.Dhcp4['lease-database'] = { type: 'memfile', name: join(keaDir, 'leases4.csv'), 'lfc-interval': 0 };
  kea.Dhcp4['loggers'] = [{ name: 'kea-dhcp4', output_options: [{ output: 'stdout' }], severity: 'INFO' }];
  writeFileSync(join(keaDir, 'kea.conf'), JSON.stringify(kea, null, 2));
  copyFileSync(join(exp, 'kea-leases4.csv'), join(keaDir, 'leases4.csv'));
  assert.match(readFileSync(join(keaDir, 'leases4.csv'), 'utf8'), new RegExp(ip1.replace(/\./g, '\\.')), 'the export carries the live leases');
  writeFileSync(join(dir, 'unbound.conf'), [
    'server:', '    interface: 10.99.0.1@53', '    access-control: 10.99.0.0/24 allow', '    access-control: 127.0.0.0/8 allow',
    '    username: ""', '    chroot: ""', `    directory: "${exp}"`, '    pidfile: ""', '    do-daemonize: no', '    use-syslog: no',
    `include: "${join(exp, 'unbound-builderd.conf')}"`, '',
  ].join('\n'));
  const keaProc = spawnIn(NS.rtr, ['kea-dhcp4', '-c', join(keaDir, 'kea.conf')], { KEA_LOCKFILE_DIR: keaDir, KEA_PIDFILE_DIR: keaDir, KEA_LOGGER_DESTINATION: 'stdout' });
  const unbound = spawnIn(NS.rtr, ['unbound', '-d', '-c', join(dir, 'unbound.conf')]);
  await until(() => /DHCP4_STARTED/.test(keaProc.out()), 15_000, 'kea started', () => keaProc.out());
  await until(() => { try { return inNs(NS.rtr, ['dig', '+short', '+time=1', '+tries=1', '@10.99.0.1', 'hv01.lab.example.net']).trim() === '10.99.0.10'; } catch { return false; } }, 20_000, 'unbound serves the site zone (AXFR from builderd)', () => unbound.out());

  // 3. Promote: the checks pass against the real router; DHCP and site-zone answers stop at once.
  const dry = cliRun(['authority', 'promote', '--dry-run']);
  assert.equal(dry.status, 0, dry.stdout + dry.stderr);
  const pr = cliRun(['authority', 'promote', '--json']);
  assert.equal(pr.status, 0, pr.stdout + pr.stderr);
  const report = JSON.parse(pr.stdout) as { ok: boolean; forced: boolean; checks: { name: string; ok: boolean }[]; to: { mode: string; epoch: number } };
  assert.deepEqual([report.ok, report.forced, report.to.mode, report.to.epoch], [true, false, 'production', 2]);
  assert.ok(report.checks.every((c) => c.ok), JSON.stringify(report.checks));
  const refused = inNs(NS.bld, ['dig', '+time=1', '+tries=1', '@10.99.0.2', 'hv01.lab.example.net']);
  assert.match(refused, /status: REFUSED/, 'builderd no longer answers the site zone');
  assert.match(inNs(NS.bld, ['dig', '+short', '+time=1', '@10.99.0.2', 'pxe.mgmt.example.net']), /provisioner-ph01/, 'the mgmt zone stays');

  // 4. Clients move to Kea at rebind (builderd ignores their renewals), keeping their addresses.
  await until(() => lastBound('c1').includes(`ip=${ip1} server=10.99.0.1`) && lastBound('c2').includes(`ip=${ip2} server=10.99.0.1`), 40_000, 'clients rebound to the router with the same addresses', () => events('c1').concat(events('c2')).join('\n'));
  assert.equal(inNs(NS.c1, ['dig', '+short', '+time=1', '@10.99.0.1', 'hv01-mgmt.lab.example.net']).trim(), '10.99.1.10', 'names resolve from the router');
  const offers = probe();
  assert.ok(offers.length >= 1, 'the router offers');
  assert.deepEqual([...new Set(offers.map((o) => o.serverId))], ['10.99.0.1'], `only the router offers: ${JSON.stringify(offers)}`);

  // 5. Revert while Kea still answers: refused, nothing changed.
  const rival = cliRun(['authority', 'revert']);
  assert.equal(rival.status, 3, rival.stdout + rival.stderr);
  assert.match(rival.stdout, /rival-dhcp.*10\.99\.0\.1/);
  assert.match(cliRun(['authority', 'status']).stdout, /mode: +production/);

  // 6. The router dies. Revert with Kea's lease file (the operator's copy) succeeds with the router down.
  for (const p of [keaProc, unbound]) if (p.pid) process.kill(p.pid, 'SIGKILL');
  killNs(NS.rtr);
  const keaLeases = join(dir, 'kea-leases-copy.csv');
  copyFileSync(join(keaDir, 'leases4.csv'), keaLeases);
  const rv = cliRun(['authority', 'revert', '--import-leases', keaLeases, '--json']);
  assert.equal(rv.status, 0, rv.stdout + rv.stderr);
  const rvr = JSON.parse(rv.stdout) as { ok: boolean; to: { mode: string; epoch: number }; imported: { leases: number } };
  assert.deepEqual([rvr.ok, rvr.to.mode, rvr.to.epoch], [true, 'bootstrap', 3]);
  assert.ok(rvr.imported.leases >= 2, `imported ${rvr.imported.leases} leases`);

  // 7. The clients rebind to builderd, keeping their addresses; names resolve from builderd again.
  await until(() => lastBound('c1').includes(`ip=${ip1} server=10.99.0.2`) && lastBound('c2').includes(`ip=${ip2} server=10.99.0.2`), 40_000, 'clients rebound to builderd with the same addresses', () => events('c1').concat(events('c2')).join('\n'));
  assert.equal(inNs(NS.bld, ['dig', '+short', '+time=1', '@10.99.0.2', 'hv01.lab.example.net']).trim(), '10.99.0.10');
  const log = cliRun(['authority', 'log', '--json']);
  const kinds = (JSON.parse(log.stdout) as { kind: string }[]).map((e) => e.kind);
  assert.deepEqual(kinds.filter((k) => k === 'authority.promote' || k === 'authority.revert'), ['authority.promote', 'authority.revert']);
});
