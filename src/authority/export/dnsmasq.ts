import { PXE_ARCH, colonHex, plainHex, type PxeArch, type RouterModel } from './model.js';
import { ipOfPtrName } from './unbound.js';

/*
 * dnsmasq configuration (dnsmasq(8), 2.90 in Debian 12) and lease file.
 *
 * DHCP: one tagged dhcp-range per subnet ("s<id>"; "static" for reservation-only subnets), options
 * per tag, one dhcp-host per reservation tagged "bd-h-<mac>". PXE architecture and iPXE are tags
 * set by dhcp-match on option 93 (RFC 4578 §2.1) and dhcp-userclass iPXE; every dhcp-boot line
 * carries tags that exclude the others (arch, ipxe/!ipxe, host or !known), so line order never
 * decides a boot file.
 * DNS: all zones as a snapshot. host-record gives A/AAAA and the PTR of its first name, so the name
 * a PTR points at goes first and other names of the same address follow it; PTRs no host-record
 * covers become ptr-record; CNAMEs become cname.
 */

const tag = {
  subnet: (id: number) => `s${id}`,
  arch: (a: PxeArch) => `bd-arch-${a}`,
  ipxe: 'bd-ipxe',
  host: (mac: string) => `bd-h-${mac.replace(/:/g, '')}`,
} as const;

/** The dnsmasq configuration text. */
export function renderDnsmasq(m: RouterModel): string {
  const out: string[] = [`# builderd export for site ${m.site}: dnsmasq configuration.`];
  const profiles = new Map(m.profiles.map((p) => [p.name, p]));
  const archs = (Object.keys(PXE_ARCH) as PxeArch[]).filter((a) => m.profiles.some((p) => p.files[a] !== undefined));

  out.push('', '# DHCP (RFC 2131) per subnet');
  for (const s of m.subnets) {
    const t = tag.subnet(s.id);
    out.push(s.pool ? `dhcp-range=set:${t},${s.pool.first},${s.pool.last},${s.netmask},${s.leaseTime}` : `dhcp-range=set:${t},${s.network},static,${s.netmask},${s.leaseTime}`);
    if (s.gateway !== undefined) out.push(`dhcp-option=tag:${t},option:router,${s.gateway}`);
    if (s.dns.length) out.push(`dhcp-option=tag:${t},option:dns-server,${s.dns.join(',')}`);
    out.push(`dhcp-option=tag:${t},option:domain-name,${s.domain}`);
    out.push(`domain=${s.domain},${s.cidr}`);
  }

  if (archs.length || m.profiles.some((p) => p.ipxe)) {
    out.push('', '# PXE: architecture (option 93) and iPXE (user class) tags');
    for (const a of archs) for (const v of PXE_ARCH[a]) out.push(`dhcp-match=set:${tag.arch(a)},option:client-arch,${v}`);
    if (m.profiles.some((p) => p.ipxe)) out.push(`dhcp-userclass=set:${tag.ipxe},iPXE`);
  }

  out.push('', '# Reservations');
  for (const r of m.reservations) {
    const s = m.subnets[r.subnetId - 1]!;
    // dnsmasq also publishes <name>.<domain> for a dhcp-host name; give the label only where that is the host's real name.
    const name = r.fqdn === `${r.label}.${s.domain}` ? `,${r.label}` : '';
    const hostTag = r.profile !== undefined ? `set:${tag.host(r.mac)},` : '';
    out.push(`dhcp-host=${r.mac},${hostTag}${r.ip}${name},${s.leaseTime}`);
  }

  const bootLines: string[] = [];
  for (const r of m.reservations) {
    const p = r.profile !== undefined ? profiles.get(r.profile) : undefined;
    if (!p) continue;
    const next = m.subnets[r.subnetId - 1]!.nextServer;
    const ht = `tag:${tag.host(r.mac)}`;
    for (const a of archs) {
      const file = p.files[a];
      if (file === undefined) continue;
      bootLines.push(`dhcp-boot=${ht},tag:${tag.arch(a)}${p.ipxe ? `,tag:!${tag.ipxe}` : ''},${file}${next ? `,,${next}` : ''}`);
    }
    if (r.ipxeUrl !== undefined) bootLines.push(`dhcp-boot=${ht},tag:${tag.ipxe},${r.ipxeUrl}`);
  }
  for (const s of m.subnets) {
    const p = s.boot !== undefined ? profiles.get(s.boot) : undefined;
    if (!p) continue;
    const st = `tag:${tag.subnet(s.id)},tag:!known`;
    for (const a of archs) {
      const file = p.files[a];
      if (file === undefined) continue;
      bootLines.push(`dhcp-boot=${st},tag:${tag.arch(a)}${p.ipxe ? `,tag:!${tag.ipxe}` : ''},${file}${s.nextServer ? `,,${s.nextServer}` : ''}`);
    }
    // iPXE expands ${mac} in the filename it is given.
    if (p.ipxe) bootLines.push(`dhcp-boot=${st},tag:${tag.ipxe},${m.httpBaseUrl}/boot/\${mac}.ipxe`);
  }
  if (bootLines.length) out.push('', '# Boot files (RFC 2131 §2 file/siaddr)', ...bootLines);

  out.push('', '# DNS (snapshot of every zone builderd serves)');
  const v4 = new Map<string, string[]>(); // ip -> names
  const ptrOf = new Map<string, string>(); // ip -> PTR target
  const ptrs: { ip: string | undefined; name: string; target: string; ttl: number }[] = [];
  const dnsLines: string[] = [];
  for (const z of m.zones) {
    for (const r of z.records) {
      if (r.type === 'A') v4.set(r.data, [...(v4.get(r.data) ?? []), r.name]);
      else if (r.type === 'AAAA') dnsLines.push(`host-record=${r.name},${r.data},${r.ttl}`);
      else if (r.type === 'CNAME') dnsLines.push(`cname=${r.name},${r.data},${r.ttl}`);
      else if (r.type === 'PTR') {
        const ip = ipOfPtrName(r.name);
        if (ip !== undefined && !ptrOf.has(ip)) ptrOf.set(ip, r.data);
        ptrs.push({ ip, name: r.name, target: r.data, ttl: r.ttl });
      }
    }
  }
  for (const [ip, names] of v4) {
    const uniq = [...new Set(names)];
    const first = ptrOf.get(ip);
    const ordered = first !== undefined && uniq.includes(first) ? [first, ...uniq.filter((n) => n !== first)] : uniq;
    dnsLines.push(`host-record=${ordered.join(',')},${ip},${m.ttl}`);
  }
  for (const p of ptrs) {
    const covered = p.ip !== undefined && (v4.get(p.ip) ?? []).includes(p.target) && ptrOf.get(p.ip) === p.target;
    if (!covered) dnsLines.push(`ptr-record=${p.name},${p.target}`);
  }
  out.push(...dnsLines);
  return `${out.join('\n')}\n`;
}

/** dnsmasq lease file lines: "<expiry epoch s> <mac> <ip> <hostname|*> <client-id|*>". */
export function renderDnsmasqLeases(m: RouterModel): string {
  return m.leases.map((l) => {
    const cid = plainHex(l.clientId);
    return `${Math.floor(l.expires / 1000)} ${l.mac} ${l.ip} ${l.hostname || '*'} ${cid ? colonHex(cid) : '*'}\n`;
  }).join('');
}
