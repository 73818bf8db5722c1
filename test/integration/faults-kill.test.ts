// Issue 10, faults: the process killed at random points of a lease storm. `builderd serve` (SQLite
// store, DHCP on port 67 in a namespace) is killed with SIGKILL 20 times, each at a random moment
// 0.3-1.5 s after it is ready, while perfdhcp (Kea) runs DORA through a relay address.
// tcpdump on the client side records every ACK that left the server. Afterwards the store opens
// cleanly, passes integrity_check, and holds every ACKed lease: the last ACK of every address names
// the MAC the store has, and every client's last ACKed address is bound to it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MessageType, chaddrMac, decodeDhcp, readMessageType } from '../../src/dhcp4/codec/index.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { udpFromPcap } from '../fuzz/pcap.js';
import { faultSite, CLIENT, SERVER, type FaultSite } from '../helpers/fault-site.js';
import { needsRoot, have } from '../helpers/netns.js';

const KILLS = Number(process.env['BFZ_KILLS'] ?? 20);
const skip = needsRoot('namespaces') || (!have('perfdhcp') || !have('tcpdump') ? 'needs perfdhcp (kea-admin) and tcpdump (.ci/apt.d/fuzz.txt)' : false);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe(`kill -9 at random points of a perfdhcp storm (${KILLS} kills)`, { skip, timeout: 150_000 }, () => {
  let site: FaultSite;
  let tcpdump: ChildProcess | undefined;
  let perf: ChildProcess | undefined;
  const pcap = (): string => join(site.dir, 'acks.pcap');
  before(async () => {
    site = await faultSite('bfz-kill', (y) => y
      .replace('port: 10067', 'port: 67')
      .replace('lease_time: 1h', 'lease_time: 1h\n  max_packets_per_mac: 0')
      // One /16 with a pool large enough that perfdhcp's clients never exhaust it (the /24 behind a relay goes).
      .replace('cidr: 10.99.0.0/24', 'cidr: 10.99.0.0/16').replace('pool: 10.99.0.100-10.99.0.199', 'pool: 10.99.2.1-10.99.255.254')
      .replace(/\n    - cidr: 10\.99\.1\.0\/24.*\n.*gateway: 10\.99\.1\.1\n.*dns: \[10\.99\.0\.2\]/, ''), { start: false });
  });
  after(async () => {
    for (const c of [perf, tcpdump]) if (c && c.exitCode === null && c.pid) { try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ } }
    await site?.cleanup();
  });

  it('every ACK seen on the wire is in the store after the last kill; the store opens cleanly', async () => {
    let tdErr = '';
    tcpdump = site.ns.spawn(site.ns.a, ['tcpdump', '-i', site.ns.ifA, '-n', '-U', '--immediate-mode', '-s', '600', '-w', pcap(), 'udp', 'src', 'port', '67']);
    tcpdump.stderr!.on('data', (d: Buffer) => { tdErr += d.toString(); });
    for (let i = 0; i < 100 && !tdErr.includes('listening on'); i++) await sleep(100);
    let perfOut = '';
    const readyMs: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      const t0 = Date.now();
      const d = await site.start();
      readyMs.push(Date.now() - t0);
      // perfdhcp per round (it exits on the ICMP errors of a dead server): relay mode (giaddr 10.99.0.50),
      // 300 DORA/s offered, fresh client MACs each round (seed k).
      perf = site.ns.spawn(site.ns.a, ['perfdhcp', '-4', '-l', CLIENT, '-r', '300', '-p', '10', '-R', '50000', '-s', String(k + 1), '-d', '1', SERVER]);
      perf.stdout!.on('data', (x: Buffer) => { if (k === 0) perfOut += x.toString(); });
      await sleep(300 + Math.floor(Math.random() * 1200));
      d.child.kill('SIGKILL');
      await new Promise((r) => (d.child.exitCode !== null || d.child.signalCode !== null ? r(null) : d.child.once('exit', r)));
      const p = perf;
      if (p.exitCode === null) { p.kill('SIGKILL'); await new Promise((r) => p.once('exit', r)); }
    }
    await sleep(300);
    process.kill(tcpdump.pid!, 'SIGINT');
    await new Promise((r) => (tcpdump!.exitCode !== null ? r(null) : tcpdump!.once('exit', r)));

    // Every ACK, in wire order.
    const acks: { ip: string; mac: string }[] = [];
    for (const u of udpFromPcap(readFileSync(pcap()))) {
      try {
        const p = decodeDhcp(u.payload);
        if (readMessageType(p.options) === MessageType.ACK) acks.push({ ip: p.yiaddr, mac: chaddrMac(p) });
      } catch { /* a capture cut short */ }
    }
    assert.ok(acks.length > 200, `ACKs captured: ${acks.length} (perfdhcp: ${perfOut.slice(0, 700)})`);

    const state = join(site.dir, 'var');
    const db = new Database(join(state, 'builderd.db'), { readonly: true });
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    db.close();
    const store = openSqliteStore({ dir: state });
    const rows = await store.leases.all();
    await store.close();
    const byIp = new Map(rows.map((l) => [l.ip, l]));
    const lastByIp = new Map<string, string>();
    const lastByMac = new Map<string, string>();
    for (const a of acks) { lastByIp.set(a.ip, a.mac); lastByMac.set(a.mac, a.ip); }
    const lostIp = [...lastByIp].filter(([ip, mac]) => byIp.get(ip)?.mac !== mac);
    const lostMac = [...lastByMac].filter(([mac, ip]) => { const l = byIp.get(ip); return !l || l.mac !== mac || l.state !== 'bound'; });
    console.log(`# ${KILLS} kills, ready in ${Math.min(...readyMs)}-${Math.max(...readyMs)} ms: ${acks.length} ACKs on the wire (${lastByIp.size} addresses, ${lastByMac.size} clients), store ${rows.length} rows; lost ${lostIp.length + lostMac.length}`);
    assert.deepEqual(lostIp.slice(0, 5), [], `${lostIp.length} addresses whose last ACK is not in the store`);
    assert.deepEqual(lostMac.slice(0, 5), [], `${lostMac.length} clients whose last ACKed address is not bound to them`);
  });
});
