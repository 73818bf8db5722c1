import { QTYPE } from '../codec/constants.js';
import { isSubdomain, type DnsName } from '../codec/name.js';
import type { WireRR } from '../codec/rr.js';
import type { ZoneClass } from './tree.js';

/** The records of one zone before serials are assigned. */
export interface ZoneSource { origin: DnsName; kind: ZoneClass; records: WireRR[] }

/** Result of merging the three sources. */
export interface Assembled { zones: ZoneSource[]; warnings: string[] }

/**
 * Merge inventory zones, zone-file records and dynamic (lease) records. A zone file SOA makes a new
 * zone (kind "site": it is handed over with the site); other file records join the deepest zone
 * holding them. Dynamic records are dropped when their owner already has static data: an inventory
 * (or zone-file) name always wins a clash.
 */
export function assembleZones(inventory: readonly ZoneSource[], fileRecords: readonly WireRR[], dynamic: readonly WireRR[]): Assembled {
  const warnings: string[] = [];
  const zones = new Map<string, ZoneSource>();
  for (const z of inventory) zones.set(z.origin.key, { origin: z.origin, kind: z.kind, records: [...z.records] });
  for (const rr of fileRecords) {
    if (rr.type === QTYPE.SOA && !zones.has(rr.owner.key)) zones.set(rr.owner.key, { origin: rr.owner, kind: 'site', records: [] });
  }
  const find = (n: DnsName): ZoneSource | undefined => {
    for (let i = 0; i <= n.labels.length; i++) {
      const z = zones.get(n.keys[i] ?? '');
      if (z) return z;
    }
    return undefined;
  };
  for (const rr of fileRecords) {
    const z = find(rr.owner);
    if (!z) { warnings.push(`zone file record ${rr.owner.key} is outside every zone; ignored`); continue; }
    if (rr.type === QTYPE.SOA && z.records.some((r) => r.type === QTYPE.SOA)) {
      if (rr.owner.key === z.origin.key) warnings.push(`zone ${z.origin.key}: a second SOA in a zone file is ignored`);
      continue;
    }
    z.records.push(rr);
  }
  const staticOwners = new Set<string>();
  for (const z of zones.values()) for (const rr of z.records) staticOwners.add(rr.owner.key);
  for (const rr of dynamic) {
    if (staticOwners.has(rr.owner.key)) continue;
    const z = find(rr.owner);
    if (!z || !isSubdomain(rr.owner, z.origin)) continue;
    z.records.push(rr);
  }
  return { zones: [...zones.values()], warnings };
}
