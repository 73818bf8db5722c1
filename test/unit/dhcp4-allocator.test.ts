/* Lease allocator: reservations win, pool, offer hold, DECLINE quarantine (RFC 2131 §4.3.3), monotonic expiry. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load.js';
import { buildInventory } from '../../src/inventory/index.js';
import { LeaseAllocator } from '../../src/dhcp4/allocator.js';
import { dhcpSiteYaml } from '../helpers/dhcp-config.js';
import type { Lease } from '../../src/store/ports.js';

const { config } = parseConfig(dhcpSiteYaml({ dir: '/tmp/bdh-unit', interfaces: [] }), '/tmp/bdh-unit/site.yaml');
const reservations = buildInventory(config).reservations;
const net0 = config.dhcp.subnets[0]!;
const net1 = config.dhcp.subnets[1]!;

function setup(opts: { offerHoldMs?: number; declineHoldMs?: number; maxPendingOffers?: number } = {}) {
  const clock = { wall: 1_700_000_000_000, m: 1000, now() { return this.wall; }, mono() { return this.m; } };
  const a = new LeaseAllocator({ clock, offerHoldMs: opts.offerHoldMs ?? 30_000, declineHoldMs: opts.declineHoldMs ?? 600_000, maxPendingOffers: opts.maxPendingOffers ?? 1000 });
  a.setInventory(config.dhcp.subnets, reservations);
  return { a, clock, advance: (ms: number) => { clock.wall += ms; clock.m += ms; } };
}
const c = (mac: string, clientId: string | null = null) => ({ mac, clientId });
const ipOf = (r: ReturnType<LeaseAllocator['offer']>): string => { assert.ok('ip' in r, JSON.stringify(r)); return r.ip; };

describe('LeaseAllocator', () => {
  it('a reserved MAC gets its reservation, even when asking for another address', () => {
    const { a } = setup();
    assert.deepEqual(a.offer(net0, c('52:54:00:aa:00:10'), '10.99.0.150'), { ip: '10.99.0.10', reserved: true });
    assert.equal(a.canAssign(net0, c('52:54:00:aa:00:10'), '10.99.0.150'), false, 'a reserved client gets its reservation only');
    assert.equal(a.canAssign(net0, c('52:54:00:bb:00:01'), '10.99.0.10'), false, 'nobody else gets a reserved address');
  });

  it('pool: distinct addresses; an offer holds its address until offer_hold passes', () => {
    const { a, advance } = setup({ offerHoldMs: 5000 });
    const x = ipOf(a.offer(net0, c('52:54:00:bb:00:01')));
    const y = ipOf(a.offer(net0, c('52:54:00:bb:00:02')));
    assert.notEqual(x, y);
    assert.equal(a.canAssign(net0, c('52:54:00:bb:00:02'), x), false);
    advance(5001);
    assert.equal(a.canAssign(net0, c('52:54:00:bb:00:02'), x), true);
    assert.equal(ipOf(a.offer(net0, c('52:54:00:bb:00:01'))), x, 'same client, same address');
  });

  it('requested address (option 50) honoured when free; pool exhaustion reported', () => {
    const { a } = setup();
    assert.equal(ipOf(a.offer(net1, c('52:54:00:bb:00:03'), '10.99.1.120')), '10.99.1.120');
    for (let i = 0; i < 60; i++) a.offer(net1, c(`52:54:00:cc:01:${i.toString(16).padStart(2, '0')}`));
    assert.deepEqual(a.offer(net1, c('52:54:00:dd:00:01')), { refused: 'no-address' });
  });

  it('pending-offer bound', () => {
    const { a } = setup({ maxPendingOffers: 2 });
    ipOf(a.offer(net0, c('52:54:00:bb:00:01')));
    ipOf(a.offer(net0, c('52:54:00:bb:00:02')));
    assert.deepEqual(a.offer(net0, c('52:54:00:bb:00:03')), { refused: 'offer-limit' });
    ipOf(a.offer(net0, c('52:54:00:bb:00:01')));
  });

  it('bind → bound lease; client-id identifies the client across MACs (RFC 2131 §4.2)', () => {
    const { a } = setup();
    const x = ipOf(a.offer(net0, c('52:54:00:bb:00:01', '01aabb')));
    const b = a.bind(net0, c('52:54:00:bb:00:01', '01aabb'), x, 3600, 'host1');
    assert.equal(b.lease.state, 'bound');
    assert.equal(b.lease.expires - b.lease.start, 3_600_000);
    assert.equal(a.canAssign(net0, c('52:54:00:bb:00:99', '01aabb'), x), true, 'same client id');
    assert.equal(a.canAssign(net0, c('52:54:00:bb:00:01', '01ccdd'), x), false, 'other client id');
  });

  it('moving address releases the previous one; rollback restores the index', () => {
    const { a } = setup();
    const cl = c('52:54:00:bb:00:01');
    const x = ipOf(a.offer(net0, cl));
    a.bind(net0, cl, x, 3600, null);
    const b2 = a.bind(net0, cl, '10.99.0.180', 3600, null);
    assert.deepEqual(b2.changed.map((l) => [l.ip, l.state]), [['10.99.0.180', 'bound'], [x, 'released']]);
    b2.rollback();
    assert.equal(a.get(x)?.state, 'bound');
    assert.equal(a.get('10.99.0.180'), undefined);
  });

  it('DECLINE quarantines the address for decline_hold, then it is free again', () => {
    const { a, advance } = setup({ declineHoldMs: 10_000 });
    const cl = c('52:54:00:bb:00:01');
    const x = ipOf(a.offer(net0, cl));
    assert.equal(a.decline(net0, cl, x)?.state, 'declined');
    assert.equal(a.canAssign(net0, c('52:54:00:bb:00:02'), x), false);
    assert.notEqual(ipOf(a.offer(net0, cl)), x, 'the declining client gets another address');
    advance(10_001);
    assert.deepEqual(a.reclaim().map((l) => [l.ip, l.state]), [[x, 'expired']]);
    assert.equal(a.canAssign(net0, c('52:54:00:bb:00:02'), x), true);
  });

  it('expiry runs on the monotonic clock: a wall clock jump does not expire or extend leases', () => {
    const { a, clock } = setup();
    const cl = c('52:54:00:bb:00:01');
    const x = ipOf(a.offer(net0, cl));
    a.bind(net0, cl, x, 60, null);
    clock.wall += 86_400_000; // wall jumps a day forward
    assert.deepEqual(a.reclaim(), []);
    clock.wall -= 2 * 86_400_000; // and back
    clock.m += 60_001;
    assert.deepEqual(a.reclaim().map((l) => l.ip), [x]);
  });

  it('load: stored leases come back; bound ones block others, expired ones stay with their client', () => {
    const { a, clock } = setup();
    const now = clock.now();
    const rows: Lease[] = [
      { ip: '10.99.0.150', mac: '52:54:00:bb:00:01', clientId: null, hostname: null, state: 'bound', subnet: net0.cidr, start: now - 1000, expires: now + 100_000 },
      { ip: '10.99.0.151', mac: '52:54:00:bb:00:02', clientId: null, hostname: null, state: 'expired', subnet: net0.cidr, start: now - 9000, expires: now - 1000 },
    ];
    a.load(rows);
    assert.equal(a.canAssign(net0, c('52:54:00:bb:00:09'), '10.99.0.150'), false);
    assert.equal(ipOf(a.offer(net0, c('52:54:00:bb:00:01'))), '10.99.0.150');
    assert.equal(ipOf(a.offer(net0, c('52:54:00:bb:00:02'))), '10.99.0.151');
  });

  it('RELEASE only by the owner', () => {
    const { a } = setup();
    const cl = c('52:54:00:bb:00:01');
    const x = ipOf(a.offer(net0, cl));
    a.bind(net0, cl, x, 3600, null);
    assert.equal(a.release(c('52:54:00:bb:00:02'), x), undefined);
    assert.equal(a.release(cl, x)?.state, 'released');
  });
});
