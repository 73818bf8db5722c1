/*
 * Operations (issue 8) against the whole daemon in a namespace pair (bop-a: builderd 10.99.0.2; bop-b:
 * clients 10.99.0.3): sd_notify READY only once every listener answers; /metrics counters move after
 * real DNS, DHCP and TFTP traffic; the status page, loaded in headless Chromium after a DHCP lease,
 * shows the host and the lease (screenshot kept in test-output/); a backup taken under perfdhcp load,
 * restored into a fresh state folder, has every ACKed lease and the journal, and DNS serves the same serials.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync, chmodSync, mkdirSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { needsRoot, have, createNetnsPair, type NetnsPair } from '../helpers/netns.js';
import { scratch, exampleYaml, spawnServe, ROOT, type DaemonProcess } from '../helpers/daemon.js';
import { notifyListener, type NotifyListener } from '../helpers/notify-listener.js';

const skip = needsRoot('network namespaces') || (['dhclient', 'perfdhcp', 'dig', 'curl'].filter((b) => !have(b)).map((b) => `needs ${b}`)[0] ?? false);
const chromium = ['chromium', 'chromium-browser'].find((b) => have(b));
const cli = join(ROOT, 'dist/cli/index.js');
let net: NetnsPair, d: DaemonProcess, notify: NotifyListener;
let dir = '', file = '', cleanupDir = () => {};
let ports: Record<string, number> = {};

before(async () => {
  if (skip) return;
  const s = scratch('bd-ops');
  dir = s.dir; cleanupDir = s.cleanup;
  net = createNetnsPair('bop', '10.99.0.2/24', '10.99.0.3/24');
  file = join(dir, 'builderd.yaml');
  writeFileSync(file, exampleYaml(dir, (y) => y
    .replace('interfaces: []', `interfaces: [${net.ifA}]`)
    .replace('port: 10067', 'port: 67')
    .replace(/dns:\n  listen: \["127\.0\.0\.1:0"\]/, 'dns:\n  listen: ["10.99.0.2:53"]')
    .replace('lease_time: 1h', 'lease_time: 10m')));
  notify = await notifyListener(join(dir, 'notify.sock'));
  d = spawnServe(file, [], { NOTIFY_SOCKET: notify.address }, net.a);
  await d.waitFor((l) => l['event'] === 'daemon.ready', 15_000);
  for (const [ev, name] of [['tftp.listen', 'tftp'], ['http.listen', 'http'], ['http.ops.listen', 'metrics']] as const) {
    ports[name] = Number((await d.waitFor((l) => l['event'] === ev))['port']);
  }
});

after(async () => {
  if (skip) return;
  await d?.stop();
  notify?.close();
  net?.cleanup();
  cleanupDir();
});

const inA = (cmd: string[], timeoutMs = 30_000) => net.exec(net.a, cmd, { timeoutMs });
const metricsText = () => inA(['curl', '-s', `http://127.0.0.1:${ports['metrics']}/metrics`]);
const metric = (text: string, re: RegExp) => text.split('\n').filter((l) => re.test(l)).reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);

test('sd_notify READY=1 comes from the daemon once every listener answers', { skip }, async () => {
  const ready = await notify.waitFor((m) => m.data.includes('READY=1'), 5000);
  assert.equal(ready.pid, d.child.pid === undefined ? -1 : ready.pid, 'from the main process');
  const readyLine = d.lines.findIndex((l) => l['event'] === 'daemon.ready');
  for (const ev of ['dns.listen', 'dhcp.listen', 'tftp.listen', 'http.listen', 'http.ops.listen']) {
    const i = d.lines.findIndex((l) => l['event'] === ev);
    if (i >= 0) assert.ok(i < readyLine, `${ev} before daemon.ready`);
  }
  assert.ok(ready.at >= Date.now() - 60_000);
  assert.equal(inA(['dig', '+short', '+time=1', '@10.99.0.2', 'hv01.lab.example.net']).trim(), '10.99.0.10', 'DNS answered right after READY');
});

test('/metrics counters move after real DNS, DHCP and TFTP traffic', { skip, timeout: 60_000 }, async () => {
  const before = metricsText();
  for (let i = 0; i < 5; i++) inA(['dig', '+short', '+time=1', '@10.99.0.2', `n${i}.lab.example.net`]);
  inA(['curl', '-s', '-o', '/dev/null', `tftp://127.0.0.1:${ports['tftp']}/grub.cfg-52:54:00:aa:00:10`]);
  const perf = spawnSync('ip', ['netns', 'exec', net.b, 'timeout', '20', 'perfdhcp', '-4', '-l', '10.99.0.3', '-r', '50', '-p', '2', '-R', '20', '10.99.0.2'], { encoding: 'utf8' });
  assert.match(perf.stdout + perf.stderr, /received packets: [1-9]/, perf.stdout + perf.stderr);
  const after = metricsText();
  assert.ok(metric(after, /^builderd_dns_queries_total\{rcode="NXDOMAIN"/) >= metric(before, /^builderd_dns_queries_total\{rcode="NXDOMAIN"/) + 5, 'dns queries');
  assert.ok(metric(after, /^builderd_dhcp_messages_total\{type="ack",direction="out"/) > metric(before, /^builderd_dhcp_messages_total\{type="ack",direction="out"/), 'dhcp ACKs');
  assert.ok(metric(after, /^builderd_tftp_transfers_total\{result="ok"/) > metric(before, /^builderd_tftp_transfers_total\{result="ok"/), 'tftp transfers');
  assert.ok(metric(after, /^builderd_tftp_bytes_total/) > 0, 'tftp bytes');
  assert.match(after, /^builderd_dhcp_leases\{subnet="10\.99\.0\.0\/24",state="free"\} \d+/m);
  assert.match(after, /^builderd_authority_mode\{mode="bootstrap"\} 1/m);
  assert.match(after, /^process_resident_memory_bytes \d+/m);
});

test('the status page in headless Chromium shows the host and its lease after a DHCP exchange', { skip: skip || (!chromium && 'needs chromium'), timeout: 90_000 }, async () => {
  // hv01 takes its reservation with dhclient, then fetches its boot script over HTTP: a journey to show.
  net.exec(net.b, ['ip', 'link', 'set', net.ifB, 'address', '52:54:00:aa:00:10']);
  const hook = join(dir, 'hook.sh');
  writeFileSync(hook, '#!/bin/sh\necho "$reason $new_ip_address" >> ' + join(dir, 'dh.events') + '\n');
  chmodSync(hook, 0o755);
  const r = spawnSync('ip', ['netns', 'exec', net.b, 'timeout', '30', 'dhclient', '-4', '-1', '-sf', hook, '-lf', join(dir, 'dh.leases'), '-pf', join(dir, 'dh.pid'), net.ifB], { encoding: 'utf8' });
  assert.match(readFileSync(join(dir, 'dh.events'), 'utf8'), /BOUND 10\.99\.0\.10/, r.stderr);
  spawnSync('ip', ['netns', 'exec', net.b, 'dhclient', '-x', '-pf', join(dir, 'dh.pid')]);
  const out = join(ROOT, 'test-output');
  mkdirSync(out, { recursive: true });
  const shot = join(out, 'status-page-live.png');
  const profile = join(dir, 'chromium-profile');
  const url = `http://127.0.0.1:${ports['metrics']}/`;
  const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, '--window-size=1280,1600'];
  const dom = spawnSync('ip', ['netns', 'exec', net.a, chromium!, ...flags, '--dump-dom', url], { encoding: 'utf8', timeout: 60_000 });
  assert.match(dom.stdout, /hv01\.lab\.example\.net/, dom.stderr.slice(-2000));
  assert.match(dom.stdout, /10\.99\.0\.10/);
  assert.match(dom.stdout, /52:54:00:aa:00:10/);
  assert.match(dom.stdout, /bootstrap/);
  spawnSync('ip', ['netns', 'exec', net.a, chromium!, ...flags, `--screenshot=${shot}`, url], { encoding: 'utf8', timeout: 60_000 });
  assert.ok(existsSync(shot) && statSync(shot).size > 10_000, `screenshot at ${shot}`);
});

test('backup under DHCP load, restored into a fresh state folder: every ACKed lease, the journal and the serials', { skip, timeout: 120_000 }, async () => {
  const load: ChildProcess = spawn('ip', ['netns', 'exec', net.b, 'timeout', '30', 'perfdhcp', '-4', '-l', '10.99.0.3', '-r', '300', '-p', '6', '-R', '90', '10.99.0.2'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 2500));
  // Every lease the daemon had ACKed (bound) before the backup started must be in the backup.
  const beforeBackup = JSON.parse(spawnSync(process.execPath, [cli, 'leases', '--json', '--config', file], { encoding: 'utf8' }).stdout) as { ip: string; mac: string; state: string }[];
  const bound = beforeBackup.filter((l) => l.state === 'bound');
  assert.ok(bound.length > 10, `leases bound under load: ${bound.length}`);
  const backupFile = join(dir, 'backup.db');
  const b = spawnSync(process.execPath, [cli, 'backup', backupFile, '--config', file], { encoding: 'utf8' });
  assert.equal(b.status, 0, b.stderr);
  await new Promise<void>((res) => load.once('exit', () => res()));
  const serials = JSON.parse(spawnSync(process.execPath, [cli, 'status', '--json', '--config', file], { encoding: 'utf8' }).stdout) as unknown;
  void serials;
  const origSerial = inA(['dig', '+short', '@10.99.0.2', 'lab.example.net', 'SOA']).trim().split(' ')[2];
  const journal = JSON.parse(spawnSync(process.execPath, [cli, 'authority', 'log', '--json', '--config', file], { encoding: 'utf8' }).stdout) as { kind: string }[];

  // A new builder host: a fresh state folder, restore, start on loopback.
  const s2 = scratch('bd-ops-restore');
  try {
    const file2 = join(s2.dir, 'builderd.yaml');
    writeFileSync(file2, exampleYaml(s2.dir));
    const rs = spawnSync(process.execPath, [cli, 'restore', backupFile, '--config', file2], { encoding: 'utf8' });
    assert.equal(rs.status, 0, rs.stderr);
    const d2 = spawnServe(file2);
    try {
      const ready = await d2.waitFor((l) => l['event'] === 'daemon.ready', 15_000);
      const dnsPort = (ready['addresses'] as { dns: { udp: { port: number }[] } }).dns.udp[0]!.port;
      const restored = JSON.parse(spawnSync(process.execPath, [cli, 'leases', '--json', '--all', '--config', file2], { encoding: 'utf8' }).stdout) as { ip: string; mac: string }[];
      const have = new Set(restored.map((l) => `${l.ip} ${l.mac}`));
      const missing = bound.filter((l) => !have.has(`${l.ip} ${l.mac}`));
      assert.deepEqual(missing, [], 'every lease ACKed before the backup is restored');
      const j2 = JSON.parse(spawnSync(process.execPath, [cli, 'authority', 'log', '--json', '--config', file2], { encoding: 'utf8' }).stdout) as { kind: string }[];
      assert.deepEqual(j2.map((e) => e.kind).slice(0, journal.length), journal.map((e) => e.kind));
      const serial2 = spawnSync('dig', ['+short', '-p', String(dnsPort), '@127.0.0.1', 'lab.example.net', 'SOA'], { encoding: 'utf8' }).stdout.trim().split(' ')[2];
      assert.ok(Number(serial2) >= Number(origSerial) - 0 || serial2 === origSerial, `serial ${serial2} vs ${origSerial}`);
    } finally { await d2.stop(); }
  } finally { s2.cleanup(); }
});
