// Issue 10, faults: the wall clock jumping forwards and backwards. Lease expiry, offer holds and
// DECLINE quarantine (RFC 2131 §4.3.1-§4.3.3) run on the monotonic clock: a wall-clock step (NTP
// correction, a builder booting with a dead RTC) neither expires a lease early nor keeps it late.
// The wall clock only stamps what goes into the store (start/expires) and converts stored leases on load.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { LeaseAllocator } from '../../src/dhcp4/allocator.js';
import { ResponseRateLimiter } from '../../src/dns/rrl.js';
import { loadConfig } from '../../src/config/load.js';
import type { Clock } from '../../src/lib/clock.js';

const { config } = loadConfig(join(import.meta.dirname, '../../config/example.yaml'));
const subnet = config.dhcp.subnets.find((s) => s.pool)!;

/** A clock whose wall and monotonic parts the test moves independently. */
function fakeClock(): Clock & { wall: number; m: number } {
  const c = { wall: Date.UTC(2026, 0, 1), m: 1_000_000, now: () => c.wall, mono: () => c.m };
  return c;
}

function allocator(clock: Clock): LeaseAllocator {
  const a = new LeaseAllocator({ clock, offerHoldMs: 30_000, declineHoldMs: 600_000, maxPendingOffers: 1000 });
  a.setInventory(config.dhcp.subnets, [], []);
  return a;
}

const A = { mac: '52:54:00:ff:00:01', clientId: null };
const B = { mac: '52:54:00:ff:00:02', clientId: null };

function bindA(a: LeaseAllocator, seconds = 3600): string {
  const o = a.offer(subnet, A);
  assert.ok('ip' in o);
  a.bind(subnet, A, o.ip, seconds, null);
  return o.ip;
}

describe('wall clock jumps: DHCP lease expiry uses the monotonic clock', () => {
  it('wall clock +2 days (monotonic +10 s): the 1 h lease stays bound, its address is not offered to another client', () => {
    const c = fakeClock();
    const a = allocator(c);
    const ip = bindA(a);
    c.wall += 2 * 86_400_000;
    c.m += 10_000;
    assert.deepEqual(a.reclaim(), []);
    assert.equal(a.get(ip)?.state, 'bound');
    assert.equal(a.canAssign(subnet, B, ip), false);
    const o = a.offer(subnet, B);
    assert.ok('ip' in o && o.ip !== ip);
  });

  it('wall clock -1 day: the lease still expires after its 3600 monotonic seconds, not a day late', () => {
    const c = fakeClock();
    const a = allocator(c);
    const ip = bindA(a);
    c.wall -= 86_400_000;
    c.m += 3_599_000;
    assert.deepEqual(a.reclaim(), [], 'not before its time');
    c.m += 2_000;
    const expired = a.reclaim();
    assert.deepEqual(expired.map((l) => [l.ip, l.state]), [[ip, 'expired']]);
    assert.equal(a.canAssign(subnet, B, ip), true, 'the address is free again');
  });

  it('offer holds (offerHold 30 s) ignore the wall clock: +1 h of wall time does not free a held address', () => {
    const c = fakeClock();
    const a = allocator(c);
    const o = a.offer(subnet, A);
    assert.ok('ip' in o);
    c.wall += 3_600_000;
    c.m += 1_000;
    assert.equal(a.canAssign(subnet, B, o.ip), false, 'still held for A');
    c.wall -= 7_200_000;
    c.m += 30_000;
    assert.equal(a.canAssign(subnet, B, o.ip), true, 'hold over after 30 monotonic seconds');
  });

  it('DECLINE quarantine (600 s) runs on the monotonic clock in both directions', () => {
    const c = fakeClock();
    const a = allocator(c);
    const ip = bindA(a);
    assert.ok(a.decline(subnet, A, ip));
    c.wall += 86_400_000;
    c.m += 1_000;
    assert.deepEqual(a.reclaim(), []);
    assert.equal(a.canAssign(subnet, B, ip), false, 'quarantined');
    c.wall -= 2 * 86_400_000;
    c.m += 600_000;
    assert.equal(a.reclaim().length, 1);
    assert.equal(a.canAssign(subnet, B, ip), true);
  });

  it('stored leases are converted with the wall clock once, at load; afterwards only the monotonic clock counts', () => {
    const c = fakeClock();
    const a = allocator(c);
    const ip = bindA(a, 600);
    const rows = a.leases();
    // A restart 100 s later (wall), then the wall clock jumps forward a week.
    const c2 = fakeClock();
    c2.wall = c.wall + 100_000;
    const b = allocator(c2);
    b.load(rows);
    c2.wall += 7 * 86_400_000;
    c2.m += 400_000;
    assert.deepEqual(b.reclaim(), [], '500 s of lease were left at load; 400 s passed');
    c2.m += 101_000;
    assert.deepEqual(b.reclaim().map((l) => l.ip), [ip]);
  });

  it('DNS RRL buckets refill on the monotonic time the service passes (clock.mono)', () => {
    const rrl = new ResponseRateLimiter({ responsesPerSecond: 5, slip: 2, window: 15 });
    let t = 1_000;
    const verdicts = Array.from({ length: 20 }, () => rrl.check('k', t));
    assert.equal(verdicts.filter((v) => v === 'send').length, 5);
    t += 1_000;
    assert.notEqual(rrl.check('k', t), 'send', 'in debt: one second refills 5 of the 15 owed');
    t += 4_000;
    assert.equal(rrl.check('k', t), 'send');
  });
});
