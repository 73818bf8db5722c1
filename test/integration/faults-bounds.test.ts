// Issue 10, resource bounds of DHCP: packets per MAC per second (dhcp.max_packets_per_mac) against
// `builderd serve`, and the pending-offer bound of the allocator. (TFTP max_transfers/max_per_client:
// tftp-clients.test.ts "caps"; DNS tcp_max and tcp_idle: dns/answers.test.ts; both count refusals.)
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { MessageType, Opt, encodeDhcp } from '../../src/dhcp4/codec/index.js';
import { LeaseAllocator } from '../../src/dhcp4/allocator.js';
import { loadConfig } from '../../src/config/load.js';
import type { Clock } from '../../src/lib/clock.js';
import { faultSite, CLIENT, SERVER, PROBE, type FaultSite } from '../helpers/fault-site.js';
import { needsRoot } from '../helpers/netns.js';
import { relaySend } from '../helpers/relay-client.js';
import { clientPacket } from '../helpers/dhcp-packets.js';
import { ROOT } from '../helpers/daemon.js';

const PORT = 10067;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('DHCP packets per MAC per second (max_packets_per_mac: 20)', { skip: needsRoot('namespaces'), timeout: 60_000 }, () => {
  let site: FaultSite;
  before(async () => { site = await faultSite('bfz-rate', undefined, { args: ['--log-level', 'debug'] }); });
  after(async () => { await site?.cleanup(); });

  const discovers = (mac: string, n: number, xid0: number) =>
    Array.from({ length: n }, (_, i) => clientPacket({ type: MessageType.DISCOVER, mac, giaddr: CLIENT, hops: 1, xid: xid0 + i }));

  it('60 DISCOVERs from one MAC in a burst: at most 20 answered, the rest dropped and logged; another MAC in the same burst is answered', async () => {
    const flood = discovers('52:54:00:aa:00:10', 60, 0x6000);
    const other = discovers('52:54:00:bf:0a:01', 1, 0x7000);
    const replies = relaySend(site.ns.a, CLIENT, SERVER, PORT, [...flood.slice(0, 30), ...other, ...flood.slice(30)], 1500);
    const offers = replies.filter((r) => r.type === MessageType.OFFER);
    const mine = offers.filter((r) => r.p.xid >= 0x6000 && r.p.xid < 0x7000).length;
    assert.ok(mine <= 20 && mine >= 15, `OFFERs to the flooding MAC: ${mine}`);
    assert.equal(offers.filter((r) => r.p.xid === 0x7000).length, 1, 'the other MAC is answered');
    // (relaySend blocks this process: the daemon's log lines are read once it returns.)
    const count = (): number => site.d.lines.filter((l) => l['event'] === 'dhcp.drop' && l['reason'] === 'rate-limit' && l['mac'] === '52:54:00:aa:00:10').length;
    for (let i = 0; i < 40 && count() < 60 - mine; i++) await sleep(50);
    const limited = count();
    assert.equal(limited, 60 - mine, 'every refusal logged with its reason');
    assert.equal(site.metric('builderd_dropped_packets_total', 'proto="dhcp",reason="rate-limit"'), 60 - mine, 'and counted');
  });

  it('one second later the MAC is answered again', async () => {
    await sleep(1100);
    const r = relaySend(site.ns.a, CLIENT, SERVER, PORT, discovers('52:54:00:aa:00:10', 1, 0x8000), 800, 1);
    assert.equal(r.filter((x) => x.type === MessageType.OFFER).length, 1);
  });

  it('a DISCOVER with hlen 0 (no hardware address, no client id) is dropped, not given a lease identity shared by every such client', () => {
    const p = clientPacket({ type: MessageType.DISCOVER, mac: '52:54:00:bf:0b:01', giaddr: CLIENT, hops: 1, xid: 0x9000 });
    p.hlen = 0;
    const r = relaySend(site.ns.a, CLIENT, SERVER, PORT, [p], 800, 1);
    assert.equal(r.filter((x) => x.type === MessageType.OFFER).length, 0, 'no OFFER for a client without an identity');
    // (Before the fix every such client had the key "hw:", so one could RELEASE or DECLINE another's lease.)
  });
});

describe('pending-offer bound (allocator maxPendingOffers)', () => {
  const { config } = loadConfig(join(ROOT, 'config/example.yaml'));
  const subnet = config.dhcp.subnets.find((s) => s.pool)!;
  const clock: Clock & { m: number } = { m: 0, now: () => 1_700_000_000_000 + clock.m, mono: () => clock.m };

  it('offers beyond the bound are refused with "offer-limit" (the service counts it as dropped{reason="offer-limit"}); held clients still get theirs; expired holds free room', () => {
    const a = new LeaseAllocator({ clock, offerHoldMs: 30_000, declineHoldMs: 600_000, maxPendingOffers: 5 });
    a.setInventory(config.dhcp.subnets, [], []);
    const c = (i: number) => ({ mac: `52:54:00:bf:0c:${i.toString(16).padStart(2, '0')}`, clientId: null });
    for (let i = 0; i < 5; i++) assert.ok('ip' in a.offer(subnet, c(i)), `offer ${i}`);
    assert.deepEqual(a.offer(subnet, c(5)), { refused: 'offer-limit' });
    assert.equal(a.pendingOffers(), 5);
    assert.ok('ip' in a.offer(subnet, c(2)), 'a client already holding an offer is answered again');
    clock.m += 30_001;
    assert.ok('ip' in a.offer(subnet, c(5)), 'expired holds are swept when the bound is reached');
  });
});

describe('DHCP replies to unresolvable addresses do not hold up other clients', { skip: needsRoot('namespaces'), timeout: 60_000 }, () => {
  let site: FaultSite;
  before(async () => { site = await faultSite('bfz-arp'); });
  after(async () => { await site?.cleanup(); });

  it('after 600 relayed REQUESTs naming 150 absent on-link relays (giaddr), a real relay\'s DISCOVER is answered within 1 s (forged relays are dropped)', () => {
    const flood = Array.from({ length: 600 }, (_, i) => encodeDhcp(clientPacket({
      type: MessageType.REQUEST, mac: `52:54:00:77:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
      giaddr: `10.99.0.${100 + (i % 150)}`, hops: 1, xid: 0x770000 + i, options: [[Opt.REQUESTED_IP, Buffer.from([10, 99, 0, 3])]],
    })).toString('hex'));
    const probe = encodeDhcp(clientPacket({ type: MessageType.DISCOVER, mac: '52:54:00:aa:00:10', giaddr: PROBE, hops: 1, xid: 0xabc })).toString('hex');
    const js = `const d = require('node:dgram');
const f = d.createSocket({ type: 'udp4', reuseAddr: true }), p = d.createSocket({ type: 'udp4', reuseAddr: true });
f.bind(${PORT}, '${CLIENT}', () => p.bind(${PORT}, '${PROBE}', async () => {
  const flood = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
  for (let i = 0; i < flood.length; i++) { f.send(Buffer.from(flood[i], 'hex'), ${PORT}, '${SERVER}'); if (i % 100 === 99) await new Promise((r) => setTimeout(r, 5)); }
  await new Promise((r) => setTimeout(r, 300));
  const t0 = Date.now();
  p.on('message', (m) => { if (m.readUInt32BE(4) === 0xabc) { console.log(Date.now() - t0); process.exit(0); } });
  p.send(Buffer.from('${probe}', 'hex'), ${PORT}, '${SERVER}');
  setTimeout(() => { console.log(-1); process.exit(0); }, 3000);
}));`;
    const ms = Number(execFileSync('ip', ['netns', 'exec', site.ns.a, process.execPath, '-e', js], { input: JSON.stringify(flood), encoding: 'utf8', timeout: 20_000 }).trim());
    assert.ok(ms >= 0 && ms < 1000, `the OFFER took ${ms < 0 ? 'over 3000' : ms} ms`);
  });
});
