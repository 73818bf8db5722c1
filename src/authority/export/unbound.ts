import type { ResourceRecord } from '../../inventory/types.js';
import type { ModelZone, RouterModel } from './model.js';

/*
 * Unbound configuration (unbound.conf(5), Unbound 1.17 in Debian 12).
 *
 * Without dnsPrimary: a snapshot. Every zone becomes `local-zone: <origin> static` with its records
 * as local-data (A, AAAA, CNAME, NS, SOA) and local-data-ptr (PTR), so the router answers exactly
 * what builderd answers today, and NXDOMAIN inside the zone.
 * With dnsPrimary: the site and reverse zones become `auth-zone` stanzas that pull the zone from
 * builderd by AXFR (RFC 5936) and keep it fresh by SOA refresh and NOTIFY; the mgmt zone, which
 * builderd keeps serving, becomes a `stub-zone` pointing at builderd.
 */

/** The Unbound configuration text. */
export function renderUnbound(m: RouterModel): string {
  const out: string[] = [
    `# builderd export for site ${m.site}: Unbound configuration.`,
    '# Include from unbound.conf (include: "/etc/unbound/unbound.conf.d/builderd.conf") or use as is.',
    'server:',
  ];
  const primary = m.dnsPrimary;
  const pulled = (z: ModelZone) => primary !== undefined && z.kind !== 'mgmt';
  const stubbed = (z: ModelZone) => primary !== undefined && z.kind === 'mgmt';
  for (const z of m.zones) {
    if (pulled(z) || stubbed(z)) {
      // Private reverse zones (RFC 6303) are answered locally by default; a transparent local-zone
      // lets queries through to the auth-zone. The validator must not expect signatures here.
      if (z.kind === 'reverse') out.push(`    local-zone: "${z.origin}." transparent`);
      out.push(`    domain-insecure: "${z.origin}."`);
      continue;
    }
    out.push(`    local-zone: "${z.origin}." static`);
    for (const r of z.records) out.push(`    ${localData(r)}`);
  }
  if (primary !== undefined) {
    // Unbound refuses to query loopback upstreams unless told (tests run builderd on 127.0.0.1).
    if (primary.host.startsWith('127.') || primary.host === '::1') out.push('    do-not-query-localhost: no');
    const addr = primary.port === 53 ? primary.host : `${primary.host}@${primary.port}`;
    for (const z of m.zones) {
      if (z.kind === 'mgmt') {
        out.push('', 'stub-zone:', `    name: "${z.origin}."`, `    stub-addr: ${addr}`);
      } else {
        out.push('', 'auth-zone:', `    name: "${z.origin}."`, `    primary: ${addr}`,
          '    fallback-enabled: no', '    for-downstream: yes', '    for-upstream: yes',
          `    zonefile: "builderd-${z.origin}.zone"`);
        out.push(`    allow-notify: ${primary.host}`);
      }
    }
  }
  return `${out.join('\n')}\n`;
}

/** One record as an Unbound local-data / local-data-ptr line, absolute names with trailing dots. */
function localData(r: ResourceRecord): string {
  const n = `${r.name}.`;
  switch (r.type) {
    case 'A':
    case 'AAAA':
      return `local-data: "${n} ${r.ttl} IN ${r.type} ${r.data}"`;
    case 'CNAME':
    case 'NS':
      return `local-data: "${n} ${r.ttl} IN ${r.type} ${r.data}."`;
    case 'SOA': {
      const d = r.data;
      return `local-data: "${n} ${r.ttl} IN SOA ${d.mname}. ${d.rname}. ${d.serial} ${d.refresh} ${d.retry} ${d.expire} ${d.minimum}"`;
    }
    case 'PTR': {
      const ip = ipOfPtrName(r.name);
      return ip !== undefined ? `local-data-ptr: "${ip} ${r.ttl} ${r.data}."` : `local-data: "${n} ${r.ttl} IN PTR ${r.data}."`;
    }
  }
}

/** "10.0.99.10.in-addr.arpa" → "10.99.0.10" (RFC 1035 §3.5); anything else → undefined. */
export function ipOfPtrName(name: string): string | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa$/.exec(name);
  return m ? `${m[4]}.${m[3]}.${m[2]}.${m[1]}` : undefined;
}
