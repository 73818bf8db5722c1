import type { ModelProfile, PxeArch, RouterModel } from './model.js';
import { PXE_ARCH, colonHex, plainHex } from './model.js';

/*
 * Kea DHCPv4 (kea-dhcp4, Debian 12 ships 2.2.0) configuration and memfile lease file.
 *
 * Boot files. Kea lets a host reservation's next-server/boot-file-name override every client class
 * (measured with kea-dhcp4 2.2.0: a reservation's boot-file-name is sent even when an option-93
 * class also sets one), so reservations carry next-server and a class membership, and the boot file
 * comes from classes, one decision per (profile, architecture):
 *   bd-arch-bios | bd-arch-uefi | bd-arch-arm64   option[93].hex (RFC 4578 §2.1: 0, 7 or 9, 11)
 *   bd-ipxe                                       option[77].hex == 'iPXE' (iPXE's user class)
 *   bd-profile-<P>                                no test; assigned by the host's reservation
 *   bd-<P>-<arch>   member('KNOWN') and member('bd-profile-<P>') and member('bd-arch-<arch>')
 *                   [and not member('bd-ipxe') when <P> has an iPXE template]  → boot-file-name
 *   bd-ipxe-<mac>   member('bd-ipxe') and pkt4.mac == 0x<mac>  → <base_url>/boot/<mac>.ipxe
 *   bd-s<id>-<arch> / bd-s<id>-ipxe  only-if-required, listed in subnet <id>'s
 *                   require-client-classes: the subnet's default profile for clients with no
 *                   reservation (not member('KNOWN')); iPXE gets <base_url>/boot/${mac}.ipxe, which
 *                   iPXE expands itself.
 * Classes testing KNOWN are evaluated after the reservation lookup, which is what lets them see the
 * reservation's class. The tests are mutually exclusive, so class order never decides a file.
 */

/** Kea 2.2 memfile lease4 header (schema 2.1). Later Kea versions upgrade this schema on load. */
export const KEA_LEASE4_HEADER = ['address', 'hwaddr', 'client_id', 'valid_lifetime', 'expire', 'subnet_id', 'fqdn_fwd', 'fqdn_rev', 'hostname', 'state', 'user_context'] as const;

/** Client-class names used in the Kea export (stable: tests and operators grep for them). */
export const keaClass = {
  arch: (a: PxeArch) => `bd-arch-${a}`,
  ipxe: 'bd-ipxe',
  profile: (p: string) => `bd-profile-${p}`,
  profileArch: (p: string, a: PxeArch) => `bd-${p}-${a}`,
  hostIpxe: (mac: string) => `bd-ipxe-${mac.replace(/:/g, '')}`,
  subnetArch: (id: number, a: PxeArch) => `bd-s${id}-${a}`,
  subnetIpxe: (id: number) => `bd-s${id}-ipxe`,
} as const;

type Json = Record<string, unknown>;

/** Kea DHCPv4 configuration document for the router, as a JSON value. */
export function keaConfig(m: RouterModel): { Dhcp4: Json } {
  const profiles = new Map(m.profiles.map((p) => [p.name, p]));
  const classes: Json[] = [];
  const archs = Object.keys(PXE_ARCH) as PxeArch[];
  const usedArchs = archs.filter((a) => m.profiles.some((p) => p.files[a] !== undefined));
  const needIpxe = m.profiles.some((p) => p.ipxe);
  for (const a of usedArchs) {
    classes.push({ name: keaClass.arch(a), test: PXE_ARCH[a].map((v) => `option[93].hex == 0x${v.toString(16).padStart(4, '0')}`).join(' or ') });
  }
  if (needIpxe) classes.push({ name: keaClass.ipxe, test: "option[77].hex == 'iPXE'" });

  const hostProfiles = [...new Set(m.reservations.flatMap((r) => (r.profile ? [r.profile] : [])))].sort();
  for (const name of hostProfiles) {
    const p = profiles.get(name)!;
    classes.push({ name: keaClass.profile(name) });
    for (const a of usedArchs) {
      const file = p.files[a];
      if (file === undefined) continue;
      classes.push({
        name: keaClass.profileArch(name, a),
        test: `member('KNOWN') and member('${keaClass.profile(name)}') and member('${keaClass.arch(a)}')${p.ipxe ? ` and not member('${keaClass.ipxe}')` : ''}`,
        'boot-file-name': file,
      });
    }
  }
  for (const r of m.reservations) {
    if (r.ipxeUrl === undefined) continue;
    classes.push({ name: keaClass.hostIpxe(r.mac), test: `member('${keaClass.ipxe}') and pkt4.mac == 0x${r.mac.replace(/:/g, '')}`, 'boot-file-name': r.ipxeUrl });
  }
  const subnetRequired = new Map<number, string[]>();
  for (const s of m.subnets) {
    const p = s.boot !== undefined ? profiles.get(s.boot) : undefined;
    if (!p) continue;
    const names: string[] = [];
    for (const a of usedArchs) {
      const file = p.files[a];
      if (file === undefined) continue;
      const name = keaClass.subnetArch(s.id, a);
      classes.push({ name, test: `not member('KNOWN') and member('${keaClass.arch(a)}')${p.ipxe ? ` and not member('${keaClass.ipxe}')` : ''}`, 'only-if-required': true, 'boot-file-name': file });
      names.push(name);
    }
    if (p.ipxe) {
      const name = keaClass.subnetIpxe(s.id);
      classes.push({ name, test: `not member('KNOWN') and member('${keaClass.ipxe}')`, 'only-if-required': true, 'boot-file-name': `${m.httpBaseUrl}/boot/\${mac}.ipxe` });
      names.push(name);
    }
    subnetRequired.set(s.id, names);
  }

  const subnet4 = m.subnets.map((s) => {
    const optionData: Json[] = [];
    // RFC 2132 §3.5 routers, §3.8 domain name servers, §3.17 domain name.
    if (s.gateway !== undefined) optionData.push({ name: 'routers', data: s.gateway });
    if (s.dns.length) optionData.push({ name: 'domain-name-servers', data: s.dns.join(', ') });
    optionData.push({ name: 'domain-name', data: s.domain });
    const out: Json = { id: s.id, subnet: s.cidr };
    if (s.pool) out['pools'] = [{ pool: `${s.pool.first} - ${s.pool.last}` }];
    out['valid-lifetime'] = s.leaseTime;
    out['option-data'] = optionData;
    if (s.nextServer !== undefined) out['next-server'] = s.nextServer;
    const required = subnetRequired.get(s.id);
    if (required?.length) out['require-client-classes'] = required;
    out['reservations'] = m.reservations.filter((r) => r.subnetId === s.id).map((r) => {
      const rv: Json = { 'hw-address': r.mac, 'ip-address': r.ip, hostname: r.fqdn };
      if (r.profile !== undefined) {
        if (s.nextServer !== undefined && hasBootFile(profiles.get(r.profile))) rv['next-server'] = s.nextServer;
        rv['client-classes'] = [keaClass.profile(r.profile)];
      }
      return rv;
    });
    return out;
  });

  const dhcp4: Json = {
    'interfaces-config': { interfaces: m.kea.interfaces },
    'lease-database': { type: 'memfile', persist: true, name: m.kea.leaseFile, 'lfc-interval': 3600 },
    'valid-lifetime': m.leaseTime,
    // RFC 2131 §4.3.2: a server that knows the client is on the wrong network NAKs it.
    authoritative: true,
    'user-context': { generator: 'builderd export', site: m.site },
  };
  if (classes.length) dhcp4['client-classes'] = classes;
  dhcp4['subnet4'] = subnet4;
  return { Dhcp4: dhcp4 };
}

function hasBootFile(p: ModelProfile | undefined): boolean {
  return p !== undefined && (Object.keys(p.files).length > 0 || p.ipxe);
}

/** The Kea configuration file text (kea-dhcp4.conf). */
export function renderKeaConfig(m: RouterModel): string {
  return `${JSON.stringify(keaConfig(m), null, 2)}\n`;
}

/**
 * Kea memfile CSV (lease4, schema 2.1) of the active dynamic leases. expire is cltt + valid_lifetime
 * in epoch seconds; state 0 is Kea's "default" (assigned) state.
 */
export function renderKeaLeases(m: RouterModel): string {
  const rows = [KEA_LEASE4_HEADER.join(',')];
  for (const l of m.leases) {
    const expire = Math.floor(l.expires / 1000);
    const valid = Math.max(1, expire - Math.floor(l.start / 1000));
    const cid = plainHex(l.clientId);
    rows.push([l.ip, l.mac, cid ? colonHex(cid) : '', valid, expire, l.subnetId, 0, 0, csvSafe(l.hostname ?? ''), 0, ''].join(','));
  }
  return `${rows.join('\n')}\n`;
}

/** Kea's CSV has no quoting: drop what would break a row (hostnames are sanitised labels anyway). */
function csvSafe(s: string): string {
  return s.replace(/[,\r\n]/g, '');
}
