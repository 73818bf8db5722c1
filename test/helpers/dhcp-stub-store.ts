import type { DynamicRecord, Lease, LeaseStore, ZoneStore, ZoneDiff } from '../../src/store/ports.js';

/**
 * Test-only in-memory LeaseStore + ZoneStore (until src/store/memory lands). put() resolves on the
 * next macrotask, after every put of the same event-loop turn, like the real store's group commit.
 */
export function createStubStores(): { leases: LeaseStore & { rows: Map<string, Lease>; puts: number; failNext: boolean }; zones: ZoneStore & { records: Map<string, DynamicRecord[]> } } {
  const rows = new Map<string, Lease>();
  const records = new Map<string, DynamicRecord[]>();
  const serials = new Map<string, { serial: number; hash: string }>();
  const diffs: ZoneDiff[] = [];
  const leases = {
    rows,
    puts: 0,
    failNext: false,
    async all() { return [...rows.values()].map((l) => ({ ...l })); },
    async get(ip: string) { const l = rows.get(ip); return l ? { ...l } : undefined; },
    async put(ls: readonly Lease[]) {
      if (leases.failNext) { leases.failNext = false; throw new Error('disk full (test)'); }
      await new Promise((r) => setImmediate(r));
      for (const l of ls) rows.set(l.ip, { ...l });
      leases.puts++;
    },
    async delete(ips: readonly string[]) { for (const ip of ips) rows.delete(ip); },
  };
  const zones = {
    records,
    async dynamicRecords() { return [...records.values()].flat(); },
    async setDynamic(owner: string, recs: readonly DynamicRecord[]) {
      if (recs.length) records.set(owner, [...recs]); else records.delete(owner);
    },
    async getSerial(zone: string) { return serials.get(zone); },
    async setSerial(zone: string, serial: number, hash: string, diff?: ZoneDiff) { serials.set(zone, { serial, hash }); if (diff) diffs.push(diff); },
    async diffsSince(zone: string, since: number) { return diffs.filter((d) => d.zone === zone && d.fromSerial >= since); },
  };
  return { leases, zones };
}
