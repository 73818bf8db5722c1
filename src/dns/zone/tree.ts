import { QTYPE } from '../codec/constants.js';
import { isSubdomain, makeName, type DnsName } from '../codec/name.js';
import { isNamePart, soaFields, type WireRR } from '../codec/rr.js';

/** The records of one owner and type. */
export interface RRset { type: number; rrs: WireRR[] }

/** One owner name with its RRsets. */
export interface ZoneNode { name: DnsName; rrsets: Map<number, RRset> }

/** Which authority answers a zone: site and reverse zones follow the authority state; mgmt always. */
export type ZoneClass = 'site' | 'mgmt' | 'reverse';

/** A zone ready to answer from: an index by lowercase owner, built once per change. */
export interface ZoneData {
  origin: DnsName;
  kind: ZoneClass;
  soa: WireRR;
  serial: number;
  /** RFC 2308 §3: negative answers use min(SOA TTL, SOA minimum). */
  negativeTtl: number;
  nodes: Map<string, ZoneNode>;
  /** Every owner name and every empty non-terminal between it and the apex (RFC 4592 §2.2.2). */
  exists: Set<string>;
  /** Delegation points: owners of NS below the apex (RFC 1034 §4.2.1). */
  cuts: Set<string>;
  /** All records, SOA first, in AXFR order (RFC 5936 §2.2). */
  records: WireRR[];
}

/** Build the index of a zone from its records (the SOA must be among them, at the apex). */
export function buildZone(origin: DnsName, kind: ZoneClass, records: readonly WireRR[]): ZoneData {
  const nodes = new Map<string, ZoneNode>();
  const exists = new Set<string>([origin.key]);
  const cuts = new Set<string>();
  let soa: WireRR | undefined;
  const rest: WireRR[] = [];
  const seen = new Set<string>();
  for (const rr of records) {
    if (!isSubdomain(rr.owner, origin)) continue;
    if (rr.type === QTYPE.SOA) {
      if (rr.owner.key === origin.key && !soa) soa = rr;
      continue;
    }
    let node = nodes.get(rr.owner.key);
    if (!node) {
      node = { name: rr.owner, rrsets: new Map() };
      nodes.set(rr.owner.key, node);
      const depth = rr.owner.labels.length - origin.labels.length;
      for (let i = 0; i < depth; i++) exists.add(rr.owner.keys[i]!);
    }
    let set = node.rrsets.get(rr.type);
    if (!set) { set = { type: rr.type, rrs: [] }; node.rrsets.set(rr.type, set); }
    // RFC 2181 §5: an RRset holds no duplicate records.
    const dup = `${rr.owner.key}|${rr.type}|${rdataKey(rr)}`;
    if (seen.has(dup)) continue;
    seen.add(dup);
    set.rrs.push(rr);
    rest.push(rr);
    if (rr.type === QTYPE.NS && rr.owner.key !== origin.key) cuts.add(rr.owner.key);
  }
  if (!soa) throw new Error(`zone ${origin.key} has no SOA at its apex`);
  let apex = nodes.get(origin.key);
  if (!apex) { apex = { name: origin, rrsets: new Map() }; nodes.set(origin.key, apex); }
  apex.rrsets.set(QTYPE.SOA, { type: QTYPE.SOA, rrs: [soa] });
  const f = soaFields(soa);
  return {
    origin, kind, soa, serial: f.serial, negativeTtl: Math.min(soa.ttl, f.minimum),
    nodes, exists, cuts, records: [soa, ...rest],
  };
}

function rdataKey(rr: WireRR): string {
  return rr.rdata.map((p) => (isNamePart(p) ? `n:${p.key}` : `b:${p.toString('hex')}`)).join(',');
}

/** A record placed in a response; `owner` replaces the record's owner (wildcard synthesis, RFC 4592 §3.3). */
export interface Placed { rr: WireRR; owner?: DnsName; ttl?: number }

/**
 * What a lookup decided (RFC 1034 §4.3.2). The handler turns `kind` into an rcode in one place:
 * answer/nodata/referral → NOERROR, nxdomain → NXDOMAIN, refused → REFUSED.
 */
export interface Outcome {
  kind: 'answer' | 'nodata' | 'nxdomain' | 'referral' | 'refused';
  /** AA (RFC 1034 §4.3.2 step 3): false only for a referral from the start of the chain. */
  aa: boolean;
  answer: Placed[];
  authority: Placed[];
  additional: Placed[];
  /** The zone that answered (first link of a chain). */
  zone?: ZoneData;
}

/** Zones we may answer from, found by longest suffix. */
export interface ZoneSet {
  /** The zone holding `name`, or undefined. */
  find(name: DnsName): ZoneData | undefined;
}

/** Index of zones by origin key. */
export function makeZoneSet(zones: readonly ZoneData[]): ZoneSet & { all: readonly ZoneData[]; byOrigin: Map<string, ZoneData> } {
  const byOrigin = new Map(zones.map((z) => [z.origin.key, z] as const));
  return {
    all: zones,
    byOrigin,
    find(name: DnsName): ZoneData | undefined {
      for (let i = 0; i <= name.labels.length; i++) {
        const z = byOrigin.get(name.keys[i] ?? '');
        if (z) return z;
      }
      return undefined;
    },
  };
}

/** Lookup options. */
export interface LookupOptions {
  /** Whether a zone may be answered from (authority state); a chain stops at a zone that may not. */
  answerable(z: ZoneData): boolean;
  /** RFC 1034 §4.3.2 step 3.a: how many CNAMEs to follow. */
  maxChain?: number;
}

type Step =
  | { t: 'answer'; set: RRset; owner?: DnsName }
  | { t: 'cname'; set: RRset; owner?: DnsName; target: DnsName }
  | { t: 'nodata' }
  | { t: 'nxdomain' }
  | { t: 'referral'; cut: ZoneNode };

/** One step of RFC 1034 §4.3.2 inside one zone: cuts, exact match, wildcard (RFC 4592 §3.3.1). */
function step(z: ZoneData, name: DnsName, qtype: number): Step {
  const depth = name.labels.length - z.origin.labels.length;
  // Step 3.b: a zone cut on the way down. The DS at a cut belongs to the parent (RFC 4035 §3.1.4.1).
  for (let i = depth - 1; i >= 0; i--) {
    const k = name.keys[i]!;
    if (z.cuts.has(k) && !(i === 0 && qtype === QTYPE.DS)) return { t: 'referral', cut: z.nodes.get(k)! };
  }
  const node = z.nodes.get(name.key);
  if (node) return fromNode(node, qtype);
  if (z.exists.has(name.key)) return { t: 'nodata' }; // empty non-terminal (RFC 4592 §2.2.2)
  // Step 3.c: closest encloser, then its wildcard (RFC 4592 §3.3.1).
  for (let i = 1; i <= depth; i++) {
    const ce = name.keys[i]!;
    if (!z.exists.has(ce)) continue;
    const w = z.nodes.get(`*.${ce}`);
    if (!w) return { t: 'nxdomain' };
    return fromNode(w, qtype, name);
  }
  return { t: 'nxdomain' };
}

function fromNode(node: ZoneNode, qtype: number, owner?: DnsName): Step {
  if (qtype === QTYPE.ANY) {
    // RFC 8482 §4.2: answer ANY with one RRset (the lowest type present).
    let best: RRset | undefined;
    for (const s of node.rrsets.values()) if (!best || s.type < best.type) best = s;
    return best ? { t: 'answer', set: best, owner } : { t: 'nodata' };
  }
  const exact = node.rrsets.get(qtype);
  if (exact) return { t: 'answer', set: exact, owner };
  const cname = node.rrsets.get(QTYPE.CNAME);
  if (cname) return { t: 'cname', set: cname, owner, target: cname.rrs[0]!.rdata[0] as DnsName };
  return { t: 'nodata' };
}

function place(set: RRset, owner?: DnsName): Placed[] {
  return set.rrs.map((rr) => (owner ? { rr, owner } : { rr }));
}

/** Negative answers carry the SOA with the RFC 2308 §3 TTL. */
function soaPlaced(z: ZoneData): Placed {
  return { rr: z.soa, ttl: z.negativeTtl };
}

/** A/AAAA of `target` from any answerable zone we hold (RFC 1034 §4.3.2 step 6 additional processing). */
function addressesOf(zones: ZoneSet, opts: LookupOptions, target: DnsName, out: Placed[], seen: Set<string>): void {
  if (seen.has(target.key)) return;
  seen.add(target.key);
  const z = zones.find(target);
  if (!z || !opts.answerable(z)) return;
  const node = z.nodes.get(target.key);
  if (!node) return;
  for (const t of [QTYPE.A, QTYPE.AAAA]) {
    const s = node.rrsets.get(t);
    if (s) out.push(...place(s));
  }
}

/** Names whose addresses go in the additional section (RFC 1035 §3.3.9 MX, RFC 2782 SRV, NS). */
function additionalTargets(set: RRset): DnsName[] {
  if (set.type === QTYPE.NS || set.type === QTYPE.MX || set.type === QTYPE.SRV) {
    return set.rrs.map((rr) => rr.rdata[rr.rdata.length - 1]).filter((p): p is DnsName => p !== undefined && isNamePart(p));
  }
  return [];
}

/**
 * Answer a question from our zones (RFC 1034 §4.3.2), following CNAME chains inside our answerable
 * zones, synthesising wildcards (RFC 4592), giving referrals with glue, and negative answers with
 * the SOA (RFC 2308 §3). Pure: no I/O, no clock.
 */
export function lookup(zones: ZoneSet, qname: DnsName, qtype: number, opts: LookupOptions): Outcome {
  const first = zones.find(qname);
  if (!first || !opts.answerable(first)) return { kind: 'refused', aa: false, answer: [], authority: [], additional: [] };
  const out: Outcome = { kind: 'answer', aa: true, answer: [], authority: [], additional: [], zone: first };
  const visited = new Set<string>();
  const addSeen = new Set<string>();
  let name = qname;
  let z = first;
  const max = opts.maxChain ?? 8;
  for (let hop = 0; ; hop++) {
    visited.add(name.key);
    const s = step(z, name, qtype);
    switch (s.t) {
      case 'answer':
        out.answer.push(...place(s.set, s.owner));
        for (const t of additionalTargets(s.set)) addressesOf(zones, opts, t, out.additional, addSeen);
        return out;
      case 'nodata':
        out.kind = 'nodata';
        out.authority.push(soaPlaced(z));
        return out;
      case 'nxdomain':
        // RFC 6604 §3: after a CNAME chain the rcode describes the last name.
        out.kind = 'nxdomain';
        out.authority.push(soaPlaced(z));
        return out;
      case 'referral': {
        if (hop === 0) { out.kind = 'referral'; out.aa = false; }
        const ns = s.cut.rrsets.get(QTYPE.NS)!;
        out.authority.push(...place(ns));
        // Glue: addresses of the NS targets held in this zone, occluded or not (RFC 9471 §3).
        for (const t of additionalTargets(ns)) {
          if (addSeen.has(t.key) || !isSubdomain(t, z.origin)) continue;
          addSeen.add(t.key);
          const node = z.nodes.get(t.key);
          for (const ty of [QTYPE.A, QTYPE.AAAA]) {
            const g = node?.rrsets.get(ty);
            if (g) out.additional.push(...place(g));
          }
        }
        return out;
      }
      case 'cname': {
        out.answer.push(...place(s.set, s.owner));
        const next = zones.find(s.target);
        if (hop + 1 >= max || visited.has(s.target.key) || !next || !opts.answerable(next)) return out;
        name = s.target;
        z = next;
        break;
      }
    }
  }
}

/** Copy of a DnsName (helper for tests that build names from labels). */
export function nameOf(...labels: string[]): DnsName {
  return makeName(labels.map((l) => Buffer.from(l)));
}
