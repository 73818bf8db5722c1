// The whole daemon in a namespace: a dhclient lease publishes its hostname in builderd's DNS (A + PTR),
// the reserved MAC gets its reservation, release removes the name (issue 4 "must show"), and leases /
// hosts show on the CLI.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { needsRoot, have, createNetnsPair, type NetnsPair } from '../helpers/netns.js';
import { scratch, exampleYaml, spawnServe, ROOT, type DaemonProcess } from '../helpers/daemon.js';

const skip = needsRoot('DHCP in network namespaces') || (!have('dhclient') ? 'needs dhclient (isc-dhcp-client)' : false) || (!have('dig') ? 'needs dig' : false);
const cli = join(ROOT, 'dist/cli/index.js');
let net: NetnsPair;
let d: DaemonProcess;
let dir = '';
let cleanupDir = () => {};
let file = '';

before(async () => {
  if (skip) return;
  const s = scratch('bd-site');
  dir = s.dir; cleanupDir = s.cleanup;
  net = createNetnsPair('bsd', '10.99.0.2/24');
  file = join(dir, 'builderd.yaml');
  writeFileSync(file, exampleYaml(dir, (y) => y
    .replace('interfaces: []', `interfaces: [${net.ifA}]`)
    .replace('port: 10067', 'port: 67')
    .replace('listen: ["127.0.0.1:0"]', 'listen: ["10.99.0.2:53"]')
    .replace('lease_time: 1h', 'lease_time: 20s')
    .replace(`  hooks: ${dir}/hooks`, `  hooks: ${dir}/hooks\n  transition_lease_time: 12s`)));
  d = spawnServe(file, [], {}, net.a);
  await d.waitFor((l) => l['event'] === 'daemon.ready', 15_000);
});

after(async () => {
  if (skip) return;
  if (d && d.child.exitCode !== null) console.error('builderd exited early:', d.child.exitCode, JSON.stringify(d.lines.slice(-10)));
  await d?.stop();
  net?.cleanup();
  cleanupDir();
});

function dig(name: string, type = 'A'): string {
  return net.exec(net.a, ['dig', '+short', '+time=1', '+tries=2', '@10.99.0.2', name, type]).trim();
}
function digStatus(name: string): string {
  const out = net.exec(net.a, ['dig', '+time=1', '+tries=2', '@10.99.0.2', name, 'A']);
  return /status: (\w+)/.exec(out)?.[1] ?? '?';
}

async function waitUntil(pred: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function dhclient(mac: string, hostname: string | undefined): { child: ChildProcess; events: () => string[]; release: () => void } {
  net.exec(net.b, ['ip', 'link', 'set', net.ifB, 'address', mac]);
  net.exec(net.b, ['ip', 'addr', 'flush', 'dev', net.ifB]);
  const ev = join(dir, `ev-${mac}`);
  writeFileSync(ev, '');
  const script = join(dir, 'hook.sh');
  writeFileSync(script, `#!/bin/sh\necho "$reason lease=$new_dhcp_lease_time ip=$new_ip_address router=$new_routers dns=$new_domain_name_servers domain=$new_domain_name" >> "${ev}"\ncase "$reason" in BOUND|RENEW|REBOOT|REBIND) ip addr replace $new_ip_address/24 dev $interface ;; RELEASE|EXPIRE|STOP) ip addr flush dev $interface ;; esac\n`);
  chmodSync(script, 0o755);
  const conf = join(dir, `dhclient-${mac}.conf`);
  writeFileSync(conf, `request subnet-mask, routers, domain-name-servers, domain-name;\n${hostname ? `send host-name "${hostname}";\n` : ''}`);
  const common = ['-cf', conf, '-sf', script, '-lf', join(dir, `lease-${mac}`), '-pf', join(dir, `pid-${mac}`), net.ifB];
  const child = spawn('ip', ['netns', 'exec', net.b, 'dhclient', '-4', '-d', '-1', ...common], { stdio: 'ignore' });
  return {
    child,
    events: () => readFileSync(ev, 'utf8').split('\n').filter(Boolean),
    release: () => { spawnSync('ip', ['netns', 'exec', net.b, 'dhclient', '-r', ...common], { timeout: 15_000 }); if (child.exitCode === null) child.kill('SIGTERM'); },
  };
}

test('a pool lease publishes the client hostname (A and PTR) and release removes it', { skip, timeout: 90_000 }, async () => {
  const c = dhclient('52:54:00:bb:00:01', 'dyn01');
  try {
    await waitUntil(() => c.events().some((l) => l.startsWith('BOUND')), 20_000, 'dhclient BOUND');
    const bound = c.events().find((l) => l.startsWith('BOUND'))!;
    const ip = /ip=(\S+)/.exec(bound)![1]!;
    assert.match(ip, /^10\.99\.0\.(1[0-9][0-9])$/, 'a pool address');
    assert.match(bound, /router=10\.99\.0\.1 dns=10\.99\.0\.2 domain=lab\.example\.net/);
    await waitUntil(() => dig('dyn01.lab.example.net') === ip, 5000, 'dyn01 A record');
    assert.equal(dig(`${ip.split('.').reverse().join('.')}.in-addr.arpa`, 'PTR'), 'dyn01.lab.example.net.');

    const leases = spawnSync(process.execPath, [cli, 'leases', '--json', '--config', file], { encoding: 'utf8' });
    assert.equal(leases.status, 0, leases.stderr);
    assert.ok((JSON.parse(leases.stdout) as { ip: string; mac: string; state: string }[]).some((l) => l.ip === ip && l.mac === '52:54:00:bb:00:01' && l.state === 'bound'));

    c.release();
    await waitUntil(() => digStatus('dyn01.lab.example.net') === 'NXDOMAIN', 5000, 'dyn01 removed after release');
  } finally {
    if (c.child.exitCode === null) c.child.kill('SIGKILL');
  }
});

test('the reserved MAC gets its reservation and its journey shows in builderd hosts', { skip, timeout: 60_000 }, async () => {
  const c = dhclient('52:54:00:aa:00:10', undefined);
  try {
    await waitUntil(() => c.events().some((l) => l.startsWith('BOUND')), 20_000, 'dhclient BOUND');
    assert.match(c.events().find((l) => l.startsWith('BOUND'))!, /ip=10\.99\.0\.10 /);
    assert.equal(dig('hv01.lab.example.net'), '10.99.0.10');
    await waitUntil(() => {
      const r = spawnSync(process.execPath, [cli, 'hosts', 'hv01', '--json', '--config', file], { encoding: 'utf8' });
      const h = JSON.parse(r.stdout || '[]') as { interfaces: { mac: string; journey: { kind: string }[] }[] }[];
      return !!h[0]?.interfaces.find((f) => f.mac === '52:54:00:aa:00:10')?.journey.some((e) => e.kind === 'dhcp.ack');
    }, 5000, 'dhcp.ack in the journey of hv01');
  } finally {
    c.release();
    if (c.child.exitCode === null) c.child.kill('SIGKILL');
  }
});

test('a planned transition shortens the leases handed out; cancelling restores them', { skip, timeout: 60_000 }, async () => {
  const plan = spawnSync(process.execPath, [cli, 'authority', 'plan', 'promote', '--config', file], { encoding: 'utf8' });
  assert.equal(plan.status, 0, plan.stderr);
  const c = dhclient('52:54:00:bb:00:02', undefined);
  try {
    await waitUntil(() => c.events().some((l) => l.startsWith('BOUND')), 20_000, 'dhclient BOUND');
    assert.match(c.events().find((l) => l.startsWith('BOUND'))!, /lease=12 /, 'transition_lease_time while planned');
  } finally {
    c.release();
    if (c.child.exitCode === null) c.child.kill('SIGKILL');
  }
  assert.equal(spawnSync(process.execPath, [cli, 'authority', 'plan', 'cancel', '--config', file]).status, 0);
  const c2 = dhclient('52:54:00:bb:00:03', undefined);
  try {
    await waitUntil(() => c2.events().some((l) => l.startsWith('BOUND')), 20_000, 'dhclient BOUND');
    assert.match(c2.events().find((l) => l.startsWith('BOUND'))!, /lease=20 /, 'the configured lease time again');
  } finally {
    c2.release();
    if (c2.child.exitCode === null) c2.child.kill('SIGKILL');
  }
});
