import type { Config, SubnetConfig } from '../../config/types.js';
import type { Inventory, ResourceRecord, Zone } from '../../inventory/types.js';
import type { DynamicRecord, Lease } from '../../store/ports.js';
import { cidrContains, intToIpv4, ipv4ToInt, parseHostPort } from '../../lib/net.js';

/*
 * The router model: everything every export format renders, computed once from the config, the
 * inventory and the live leases. Each renderer reads only this value, so a name, an address or a
 * boot file is derived in one place and never typed twice.
 */

/** What exportRouterConfig receives. */
export interface ExportInput {
  config: Config;
  inventory: Inventory;
  /** Live leases from the store (any state; only bound, unexpired, dynamic ones are exported). */
  leases: Lease[];
  /** SOA serial per zone origin; zones missing here get a serial derived from `now`. */
  serials?: Record<string, number>;
  /** Wall ms. */
  now: number;
  /** builderd's DNS address as the router sees it ("10.99.0.2" or "10.99.0.2:53"): AXFR source and mgmt stub. */
  dnsPrimary?: string;
  /** Dynamic DNS records builderd serves (ZoneStore.dynamicRecords()), merged into their zones. */
  dynamic?: DynamicRecord[];
  /** Kea specifics: memfile path (default /var/lib/kea/kea-leases4.csv), interfaces (default ["*"]). */
  kea?: { leaseFile?: string; interfaces?: string[] };
}

/** PXE architectures builderd distinguishes (RFC 4578 §2.1 option 93 values). */
export const PXE_ARCH = {
  bios: [0],
  uefi: [7, 9],
  arm64: [11],
} as const;
export type PxeArch = keyof typeof PXE_ARCH;

/** One boot profile as the router must hand it out. */
export interface ModelProfile {
  name: string;
  /** Boot file per architecture (paths.artifacts-relative TFTP names). */
  files: Partial<Record<PxeArch, string>>;
  /** The profile has an iPXE template: iPXE clients get <base_url>/boot/<mac>.ipxe. */
  ipxe: boolean;
}

export interface ModelSubnet {
  /** Stable subnet id (1-based config order): Kea subnet-id, dnsmasq tag "s<id>". */
  id: number;
  cidr: string;
  network: string;
  prefix: number;
  netmask: string;
  pool?: { first: string; last: string };
  gateway?: string;
  dns: string[];
  domain: string;
  leaseTime: number;
  /** Boot profile for PXE clients not in the inventory. */
  boot?: string;
  /** TFTP server (siaddr, RFC 2131 §2) for this subnet, when builderd's address here is known. */
  nextServer?: string;
}

export interface ModelReservation {
  mac: string;
  ip: string;
  /** DNS label of the interface ("hv01", "hv01-mgmt"): DHCP hostname option (RFC 2132 §3.14). */
  label: string;
  fqdn: string;
  subnetId: number;
  /** Boot profile: the host's own, else its subnet's default (the inventory's boot assignment). */
  profile?: string;
  /** iPXE script URL for this host, when its profile has an iPXE template. */
  ipxeUrl?: string;
}

export interface ModelLease {
  ip: string;
  mac: string;
  clientId: string | null;
  hostname: string | null;
  subnetId: number;
  subnet: string;
  /** Wall ms. */
  start: number;
  expires: number;
}

export interface ModelZone {
  origin: string;
  kind: Zone['kind'];
  serial: number;
  /** SOA first, then NS, then the rest (inventory order, dynamic records appended sorted). */
  records: ResourceRecord[];
}

/** Everything a renderer needs. */
export interface RouterModel {
  site: string;
  domain: string;
  mgmtDomain: string;
  ttl: number;
  leaseTime: number;
  httpBaseUrl: string;
  subnets: ModelSubnet[];
  reservations: ModelReservation[];
  profiles: ModelProfile[];
  leases: ModelLease[];
  zones: ModelZone[];
  /** builderd's DNS as host + port, when given. */
  dnsPrimary?: { host: string; port: number };
  kea: { leaseFile: string; interfaces: string[] };
  now: number;
}

/** Default Kea memfile path on Debian (kea-dhcp4-server package). */
export const KEA_DEFAULT_LEASE_FILE = '/var/lib/kea/kea-leases4.csv';

/** Pure: the router model of a site. */
export function buildRouterModel(input: ExportInput): RouterModel {
  const { config, inventory, now } = input;
  const subnets = config.dhcp.subnets.map((s, i) => modelSubnet(config, s, i + 1));
  const subnetIdOf = (cidr: string, ip: string): number | undefined => {
    const byCidr = subnets.find((s) => s.cidr === cidr);
    if (byCidr && inSubnet(config.dhcp.subnets[byCidr.id - 1]!, ip)) return byCidr.id;
    const i = config.dhcp.subnets.findIndex((s) => inSubnet(s, ip));
    return i >= 0 ? i + 1 : undefined;
  };
  const base = config.http.base_url.replace(/\/+$/, '');

  const reservations: ModelReservation[] = [];
  for (const r of inventory.reservations) {
    const subnetId = subnetIdOf(r.subnet, r.ip);
    if (subnetId === undefined) continue;
    const m: ModelReservation = { mac: r.mac, ip: r.ip, label: r.label, fqdn: r.fqdn, subnetId };
    // The inventory's boot assignment: the host's profile, else its subnet's default.
    const profile = inventory.boot.find((b) => b.mac === r.mac && b.ip === r.ip)?.profile;
    if (profile !== undefined && config.bootProfiles[profile] !== undefined) {
      m.profile = profile;
      if (config.bootProfiles[profile]!.ipxe !== undefined) m.ipxeUrl = `${base}/boot/${r.mac}.ipxe`;
    }
    reservations.push(m);
  }

  // Only profiles something refers to: a host, or a subnet default for unknown clients.
  const used = new Set<string>([...reservations.flatMap((r) => (r.profile ? [r.profile] : [])), ...subnets.flatMap((s) => (s.boot ? [s.boot] : []))]);
  const profiles: ModelProfile[] = [...used].sort().flatMap((name) => {
    const p = config.bootProfiles[name];
    if (!p) return [];
    const files: ModelProfile['files'] = {};
    if (p.bios !== undefined) files.bios = p.bios;
    if (p.uefi !== undefined) files.uefi = p.uefi;
    if (p.arm64 !== undefined) files.arm64 = p.arm64;
    return [{ name, files, ipxe: p.ipxe !== undefined }];
  });

  const reservedIps = new Set(reservations.map((r) => r.ip));
  const reservedMacs = new Set(reservations.map((r) => r.mac));
  const leases: ModelLease[] = [];
  for (const l of input.leases) {
    if (l.state !== 'bound' || l.expires <= now) continue;
    if (reservedIps.has(l.ip) || reservedMacs.has(l.mac)) continue;
    const subnetId = subnetIdOf(l.subnet, l.ip);
    if (subnetId === undefined) continue;
    leases.push({
      ip: l.ip, mac: l.mac, clientId: l.clientId, hostname: l.hostname,
      subnetId, subnet: subnets[subnetId - 1]!.cidr, start: l.start, expires: l.expires,
    });
  }
  leases.sort((a, b) => ipv4ToInt(a.ip) - ipv4ToInt(b.ip));

  const defaultSerial = serialFromTime(now);
  const zones: ModelZone[] = inventory.zones.map((z) => {
    const serial = input.serials?.[z.origin] ?? defaultSerial;
    const records = z.records.map((r) => (r.type === 'SOA' ? { ...r, data: { ...r.data, serial } } : r));
    return { origin: z.origin, kind: z.kind, serial, records };
  });
  for (const d of [...(input.dynamic ?? [])].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const name = d.name.replace(/\.$/, '').toLowerCase();
    const zone = zones.filter((z) => name === z.origin || name.endsWith(`.${z.origin}`)).sort((a, b) => b.origin.length - a.origin.length)[0];
    if (!zone) continue;
    const rec = { name, ttl: d.ttl, type: d.type, data: d.data } as ResourceRecord;
    if (!zone.records.some((r) => r.name === rec.name && r.type === rec.type && r.data === rec.data)) zone.records.push(rec);
  }

  const model: RouterModel = {
    site: config.site.name,
    domain: config.site.domain,
    mgmtDomain: config.site.mgmt_domain,
    ttl: config.dns.ttl,
    leaseTime: config.dhcp.leaseTime,
    httpBaseUrl: base,
    subnets, reservations, profiles, leases, zones,
    kea: {
      leaseFile: input.kea?.leaseFile ?? KEA_DEFAULT_LEASE_FILE,
      interfaces: input.kea?.interfaces?.length ? [...input.kea.interfaces] : ['*'],
    },
    now,
  };
  if (input.dnsPrimary !== undefined) model.dnsPrimary = parseHostPort(input.dnsPrimary, 53);
  return model;
}

/** A zone serial from wall time: seconds since the epoch (RFC 1982 arithmetic tolerates the u32 wrap). */
export function serialFromTime(nowMs: number): number {
  return Math.floor(nowMs / 1000) % 2 ** 32;
}

function inSubnet(s: SubnetConfig, ip: string): boolean {
  return cidrContains({ network: s.network, mask: s.mask, prefix: s.prefix, last: s.broadcast, text: s.cidr }, ip);
}

function modelSubnet(config: Config, s: SubnetConfig, id: number): ModelSubnet {
  const m: ModelSubnet = {
    id, cidr: s.cidr, network: intToIpv4(s.network), prefix: s.prefix, netmask: intToIpv4(s.mask),
    dns: [...s.dns], domain: s.domain, leaseTime: s.leaseTime,
  };
  if (s.pool) m.pool = { first: intToIpv4(s.pool.first), last: intToIpv4(s.pool.last) };
  if (s.gateway !== undefined) m.gateway = s.gateway;
  if (s.boot !== undefined) m.boot = s.boot;
  const next = tftpAddressIn(config, s);
  if (next !== undefined) m.nextServer = next;
  return m;
}

/**
 * builderd's TFTP address on a subnet: the host the `tftp` service names, on its interface in that
 * subnet (else its first); failing that, a routable tftp.listen address. Loopback and wildcard
 * listen addresses say nothing about where the router's clients reach builderd, so they are skipped.
 */
function tftpAddressIn(config: Config, s: SubnetConfig): string | undefined {
  const hostName = config.services['tftp'];
  const host = hostName !== undefined ? config.hosts.find((h) => h.name === hostName) : undefined;
  if (host) {
    const here = host.interfaces.find((f) => inSubnet(s, f.ip));
    return (here ?? host.interfaces[0]!).ip;
  }
  for (const l of config.tftp.listen) {
    try {
      const { host: addr } = parseHostPort(l, 69);
      if (addr.includes(':') || addr === '0.0.0.0' || addr.startsWith('127.')) continue;
      return addr;
    } catch { /* schema-validated; unreachable */ }
  }
  return undefined;
}

/** Hex digits only, lowercase ("01:52:54..." and "0152 54" both → "015254..."). Empty → null. */
export function plainHex(text: string | null | undefined): string | null {
  if (!text) return null;
  const hex = text.toLowerCase().replace(/[^0-9a-f]/g, '');
  return hex.length ? hex : null;
}

/** "015254" → "01:52:54" (Kea and dnsmasq write client identifiers this way). */
export function colonHex(hex: string): string {
  return (hex.match(/../g) ?? []).join(':');
}
