import { buildInventory, presentRecord } from '../inventory/index.js';
import { loadOrExit, EXIT } from './common.js';

export const help = `builderd inventory --config FILE [--json]
  Print the records, DHCP reservations and boot assignments the config yields.`;

export function run(flags: Record<string, string | boolean>, configFile: string): number {
  const { config } = loadOrExit(configFile);
  const inv = buildInventory(config);
  if (flags['json']) {
    const records = inv.zones.flatMap((z) => z.records.map((r) => ({ zone: z.origin, ...r })));
    process.stdout.write(JSON.stringify({ zones: inv.zones, records, reservations: inv.reservations, boot: inv.boot }, null, 2) + '\n');
    return EXIT.OK;
  }
  const out: string[] = [];
  for (const z of inv.zones) {
    out.push(`; zone ${z.origin} (${z.kind})`);
    for (const r of z.records) out.push(presentRecord(r));
    out.push('');
  }
  out.push('; reservations: mac ip fqdn profile');
  for (const r of inv.reservations) out.push(`${r.mac} ${r.ip} ${r.fqdn} ${r.boot ?? '-'}`);
  out.push('', '; boot assignments: mac host profile');
  for (const b of inv.boot) out.push(`${b.mac} ${b.host} ${b.profile}`);
  process.stdout.write(out.join('\n') + '\n');
  return EXIT.OK;
}
