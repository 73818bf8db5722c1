import type { Config } from '../config/types.js';
import type { Inventory, ResourceRecord, Zone, Reservation, BootAssignment } from './types.js';
import { ipv4ToInt, cidrContains } from '../lib/net.js';

export type * from './types.js';

/** SOA timers of generated zones (RFC 1912 §2.2 ranges); serial 0 is replaced by the DNS service. */
const SOA_TIMERS = { refresh: 3600, retry: 600, expire: 1209600 } as const;

/**
 * Pure: the site's identity as data. Same config in, same output out (sorted, no clocks, no I/O).
 * Yields the site, mgmt and reverse zones, the DHCP reservations and the per-host boot assignments.
 */
export function buildInventory(config: Config): Inventory {
  const site = config.site.domain;
  const mgmt = config.site.mgmt_domain;
  const ttl = config.dns.ttl;
  const siteRecs: ResourceRecord[] = [];
  const mgmtRecs: ResourceRecord[] = [];
  const reverse = new Map<string, ResourceRecord[]>();
  const reservations: Reservation[] = [];
  const boot: BootAssignment[] = [];

  // Reverse zones derived from the subnets: one per whole octet boundary (RFC 1035 §3.5); a prefix
  // that is not a multiple of 8 is covered by the zones of the next longer octet boundary.
  for (const s of config.dhcp.subnets) {
    for (const origin of reverseZonesOf(s.network, s.prefix)) if (!reverse.has(origin)) reverse.set(origin, []);
  }
  const fqdnOfHost = new Map<string, string>();

  for (const h of config.hosts) {
    const zone = h.mgmt ? mgmt : site;
    const recs = h.mgmt ? mgmtRecs : siteRecs;
    const primary = h.interfaces.find((f) => f.name === undefined);
    fqdnOfHost.set(h.name, `${h.name}.${zone}`);
    for (const f of h.interfaces) {
      const label = f.name ? `${h.name}-${f.name}` : h.name;
      const fqdn = `${label}.${zone}`;
      recs.push({ name: fqdn, ttl, type: 'A', data: f.ip });
      if (f.ipv6) recs.push({ name: fqdn, ttl, type: 'AAAA', data: f.ipv6 });
      const ptrName = ptrNameOf(f.ip);
      const rz = [...reverse.keys()].filter((o) => ptrName.endsWith(`.${o}`)).sort((a, b) => b.length - a.length)[0];
      if (rz) reverse.get(rz)!.push({ name: ptrName, ttl, type: 'PTR', data: fqdn });
      const subnet = config.dhcp.subnets.find((s) => cidrContains({ network: s.network, mask: s.mask } as never, f.ip));
      const r: Reservation = { mac: f.mac, ip: f.ip, host: h.name, label, fqdn, subnet: subnet?.cidr ?? '' };
      if (f.name !== undefined) r.interface = f.name;
      if (h.boot !== undefined) r.boot = h.boot;
      reservations.push(r);
      const profile = h.boot ?? subnet?.boot;
      if (profile !== undefined) {
        const b: BootAssignment = { host: h.name, mac: f.mac, fqdn, profile, ip: f.ip };
        if (f.name !== undefined) b.interface = f.name;
        boot.push(b);
      }
    }
    // A host whose interfaces all have names still answers to its bare name, on its first interface.
    if (!primary) {
      const f = h.interfaces[0]!;
      recs.push({ name: `${h.name}.${zone}`, ttl, type: 'A', data: f.ip });
      if (f.ipv6) recs.push({ name: `${h.name}.${zone}`, ttl, type: 'AAAA', data: f.ipv6 });
    }
  }

  // Services: <svc>.<mgmt> CNAME the host's name; <svc>.<site> CNAME <svc>.<mgmt> (stable names).
  for (const [svc, host] of Object.entries(config.services)) {
    const target = fqdnOfHost.get(host);
    if (!target) continue;
    mgmtRecs.push({ name: `${svc}.${mgmt}`, ttl, type: 'CNAME', data: target });
    siteRecs.push({ name: `${svc}.${site}`, ttl, type: 'CNAME', data: `${svc}.${mgmt}` });
  }

  const nameservers = config.dns.nameservers?.map((n) => n.replace(/\.$/, '')) ?? defaultNameservers(config, fqdnOfHost);
  const zones: Zone[] = [
    makeZone(site, 'site', siteRecs, nameservers, ttl),
    makeZone(mgmt, 'mgmt', mgmtRecs, nameservers, ttl),
    ...[...reverse.entries()].map(([origin, recs]) => makeZone(origin, 'reverse', recs, nameservers, ttl)),
  ];
  reservations.sort((a, b) => ipv4ToInt(a.ip) - ipv4ToInt(b.ip));
  boot.sort((a, b) => (a.mac < b.mac ? -1 : a.mac > b.mac ? 1 : 0));
  return { zones, reservations, boot };
}

function defaultNameservers(config: Config, fqdnOfHost: Map<string, string>): string[] {
  const mgmtHosts = config.hosts.filter((h) => h.mgmt).map((h) => fqdnOfHost.get(h.name)!);
  if (mgmtHosts.length) return mgmtHosts;
  const first = config.hosts[0];
  return first ? [fqdnOfHost.get(first.name)!] : [`ns.${config.site.mgmt_domain}`];
}

function makeZone(origin: string, kind: Zone['kind'], recs: ResourceRecord[], ns: string[], ttl: number): Zone {
  const soa: ResourceRecord = {
    name: origin, ttl, type: 'SOA',
    data: { mname: ns[0]!, rname: `hostmaster.${origin}`, serial: 0, ...SOA_TIMERS, minimum: ttl },
  };
  const nsRecs: ResourceRecord[] = ns.map((n) => ({ name: origin, ttl, type: 'NS', data: n }));
  const rest = [...recs].sort(compareRecords);
  return { origin, kind, records: [soa, ...nsRecs, ...rest] };
}

function compareRecords(a: ResourceRecord, b: ResourceRecord): number {
  const an = a.name.split('.').reverse().join('.');
  const bn = b.name.split('.').reverse().join('.');
  if (an !== bn) return an < bn ? -1 : 1;
  if (a.type !== b.type) return a.type < b.type ? -1 : 1;
  const ad = JSON.stringify(a.data), bd = JSON.stringify(b.data);
  return ad < bd ? -1 : ad > bd ? 1 : 0;
}

/** "10.99.0.10" → "10.0.99.10.in-addr.arpa". */
export function ptrNameOf(ip: string): string {
  return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
}

/** Reverse zone origins covering network/prefix (prefix rounded up to an octet boundary, at most 256 zones). */
export function reverseZonesOf(network: number, prefix: number): string[] {
  const octets = Math.min(3, Math.max(1, Math.ceil(prefix / 8)));
  const bits = octets * 8;
  const count = bits > prefix ? 2 ** (bits - prefix) : 1;
  const out: string[] = [];
  for (let i = 0; i < Math.min(count, 256); i++) {
    const n = (network + i * 2 ** (32 - bits)) >>> 0;
    const parts = [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255].slice(0, octets);
    out.push(`${parts.reverse().join('.')}.in-addr.arpa`);
  }
  return out;
}

/** Flatten to "name TYPE data" presentation lines (for `builderd inventory`). */
export function presentRecord(r: ResourceRecord): string {
  if (r.type === 'SOA') {
    const d = r.data;
    return `${r.name} ${r.ttl} SOA ${d.mname} ${d.rname} ${d.serial} ${d.refresh} ${d.retry} ${d.expire} ${d.minimum}`;
  }
  return `${r.name} ${r.ttl} ${r.type} ${r.data}`;
}
