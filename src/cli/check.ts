import { buildInventory } from '../inventory/index.js';
import { loadOrExit, EXIT } from './common.js';
import { intToIpv4 } from '../lib/net.js';

export const help = `builderd check --config FILE [--json]
  Validate the configuration and print a summary: zones, records, reservations, pools.
  Exit 0 when valid; 2 with every error (file:line:col: key.path: problem) when not.`;

export function run(flags: Record<string, string | boolean>, configFile: string): number {
  const { config } = loadOrExit(configFile);
  const inv = buildInventory(config);
  const summary = {
    file: config.file,
    site: config.site,
    zones: inv.zones.map((z) => ({ origin: z.origin, kind: z.kind, records: z.records.length })),
    records: inv.zones.reduce((n, z) => n + z.records.length, 0),
    reservations: inv.reservations.length,
    pools: config.dhcp.subnets.map((s) => ({
      subnet: s.cidr,
      pool: s.pool ? `${intToIpv4(s.pool.first)}-${intToIpv4(s.pool.last)}` : null,
      size: s.pool ? s.pool.last - s.pool.first + 1 : 0,
    })),
    boot_profiles: Object.keys(config.bootProfiles),
  };
  if (flags['json']) {
    process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
    return EXIT.OK;
  }
  const lines = [
    `${config.file}: OK`,
    `site ${config.site.name}: ${config.site.domain} (mgmt ${config.site.mgmt_domain})`,
    `zones: ${summary.zones.length}`,
    ...summary.zones.map((z) => `  ${z.origin} (${z.kind}): ${z.records} records`),
    `records: ${summary.records}`,
    `reservations: ${summary.reservations}`,
    `pools: ${summary.pools.filter((p) => p.pool).length}`,
    ...summary.pools.map((p) => `  ${p.subnet}: ${p.pool ? `${p.pool} (${p.size} addresses)` : 'reservations only'}`),
    `boot profiles: ${summary.boot_profiles.join(', ') || 'none'}`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  return EXIT.OK;
}
