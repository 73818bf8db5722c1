import type { ResourceRecord } from '../../inventory/types.js';
import type { ModelZone, RouterModel } from './model.js';

/*
 * BIND: one RFC 1035 §5 master file per zone (db.<origin>) and a named.conf fragment declaring them.
 * Names are written relative to $ORIGIN where they lie inside the zone, absolute (trailing dot)
 * otherwise. With dnsPrimary the mgmt zone, which builderd keeps serving, is declared a secondary
 * of builderd instead of a primary from the snapshot.
 */

/** File name of a zone's master file. */
export function bindZoneFileName(origin: string): string {
  return `db.${origin}`;
}

/** One zone as RFC 1035 master-file text. */
export function renderBindZone(z: ModelZone, ttl: number): string {
  const out = [
    `; builderd export: zone ${z.origin}, serial ${z.serial}`,
    `$ORIGIN ${z.origin}.`,
    `$TTL ${ttl}`,
  ];
  for (const r of z.records) out.push(recordLine(r, z.origin));
  return `${out.join('\n')}\n`;
}

/** named.conf fragment declaring every exported zone. */
export function renderBindConf(m: RouterModel, dir = '/etc/bind/builderd'): string {
  const out = [`// builderd export for site ${m.site}: include from named.conf.local.`];
  const primary = m.dnsPrimary;
  for (const z of m.zones) {
    if (z.kind === 'mgmt' && primary !== undefined) {
      out.push(`zone "${z.origin}" {`, '    type secondary;', `    primaries { ${primary.host} port ${primary.port}; };`,
        `    file "${dir}/${bindZoneFileName(z.origin)}.secondary";`, '};');
      continue;
    }
    out.push(`zone "${z.origin}" {`, '    type primary;', `    file "${dir}/${bindZoneFileName(z.origin)}";`, '};');
  }
  return `${out.join('\n')}\n`;
}

function owner(name: string, origin: string): string {
  if (name === origin) return '@';
  if (name.endsWith(`.${origin}`)) return name.slice(0, -(origin.length + 1));
  return `${name}.`;
}

function target(name: string, origin: string): string {
  return owner(name, origin) === '@' ? '@' : name.endsWith(`.${origin}`) ? owner(name, origin) : `${name}.`;
}

function recordLine(r: ResourceRecord, origin: string): string {
  const head = `${owner(r.name, origin)}\t${r.ttl}\tIN\t${r.type}\t`;
  switch (r.type) {
    case 'A':
    case 'AAAA':
      return head + r.data;
    case 'CNAME':
    case 'NS':
    case 'PTR':
      return head + target(r.data, origin);
    case 'SOA': {
      const d = r.data;
      // RFC 1035 §3.3.13 field order: MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM.
      return `${head}${target(d.mname, origin)} ${target(d.rname, origin)} ${d.serial} ${d.refresh} ${d.retry} ${d.expire} ${d.minimum}`;
    }
  }
}
