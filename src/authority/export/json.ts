import type { RouterModel } from './model.js';

/** Version of the JSON export document; bumped when a field changes meaning. */
export const JSON_EXPORT_VERSION = 1;

/**
 * The whole router model as one JSON document: what every other format is rendered from, for tools
 * that want the data rather than a server's configuration. Times are wall ms and ISO strings.
 */
export function renderJson(m: RouterModel): string {
  const doc = {
    format: 'builderd-router-export',
    version: JSON_EXPORT_VERSION,
    generatedAt: new Date(m.now).toISOString(),
    site: m.site,
    domain: m.domain,
    mgmtDomain: m.mgmtDomain,
    ttl: m.ttl,
    leaseTime: m.leaseTime,
    httpBaseUrl: m.httpBaseUrl,
    dnsPrimary: m.dnsPrimary ?? null,
    subnets: m.subnets,
    reservations: m.reservations,
    bootProfiles: m.profiles,
    leases: m.leases.map((l) => ({ ...l, startIso: new Date(l.start).toISOString(), expiresIso: new Date(l.expires).toISOString() })),
    zones: m.zones,
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
