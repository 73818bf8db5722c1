import { buildRouterModel, type ExportInput } from './model.js';
import { renderKeaConfig, renderKeaLeases } from './kea.js';
import { renderUnbound } from './unbound.js';
import { bindZoneFileName, renderBindConf, renderBindZone } from './bind.js';
import { renderDnsmasq, renderDnsmasqLeases } from './dnsmasq.js';
import { renderJson } from './json.js';

export type { ExportInput, RouterModel } from './model.js';
export { buildRouterModel, KEA_DEFAULT_LEASE_FILE } from './model.js';
export { KEA_LEASE4_HEADER, keaClass, keaConfig } from './kea.js';

/** Formats `builderd export --format` accepts. */
export const EXPORT_FORMATS = ['kea', 'unbound', 'bind', 'dnsmasq', 'json'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** One file of an export: a bare file name (no directories) and its text. */
export interface ExportFile {
  name: string;
  content: string;
}

/** File names each format writes (bind adds one db.<origin> per zone). */
export const EXPORT_FILE_NAMES = {
  kea: { config: 'kea-dhcp4.conf', leases: 'kea-leases4.csv' },
  unbound: { config: 'unbound-builderd.conf' },
  bind: { config: 'named.conf.builderd' },
  dnsmasq: { config: 'dnsmasq-builderd.conf', leases: 'dnsmasq.leases' },
  json: { config: 'builderd-export.json' },
} as const;

/**
 * Pure: the router's configuration in one format, from the inventory and the live leases. Every
 * format renders the same router model (buildRouterModel), so nothing is derived twice.
 */
export function exportRouterConfig(format: ExportFormat, input: ExportInput): { files: ExportFile[] } {
  const m = buildRouterModel(input);
  const n = EXPORT_FILE_NAMES;
  switch (format) {
    case 'kea':
      return { files: [{ name: n.kea.config, content: renderKeaConfig(m) }, { name: n.kea.leases, content: renderKeaLeases(m) }] };
    case 'unbound':
      return { files: [{ name: n.unbound.config, content: renderUnbound(m) }] };
    case 'bind':
      return {
        files: [
          { name: n.bind.config, content: renderBindConf(m) },
          ...m.zones.map((z) => ({ name: bindZoneFileName(z.origin), content: renderBindZone(z, m.ttl) })),
        ],
      };
    case 'dnsmasq':
      return { files: [{ name: n.dnsmasq.config, content: renderDnsmasq(m) }, { name: n.dnsmasq.leases, content: renderDnsmasqLeases(m) }] };
    case 'json':
      return { files: [{ name: n.json.config, content: renderJson(m) }] };
    default: {
      const never: never = format;
      throw new Error(`unknown export format: ${String(never)}`);
    }
  }
}
