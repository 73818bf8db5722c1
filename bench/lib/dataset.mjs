// One source of test data, emitted in every server's format: builderd's config (hosts, services),
// RFC 1035 master files for NSD and Knot, host-record/cname lines for dnsmasq, and the dnsperf
// query mix. The zone files mirror what builderd's inventory makes of the same hosts
// (src/inventory: A/AAAA per interface, PTR in the subnet's reverse zone, services as CNAMEs).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { prng } from './stats.mjs';

export const SITE = 'lab.example';
export const MGMT = 'mgmt.example';
export const REV = '99.10.in-addr.arpa';
const TTL = 300;

const v4 = (n) => `10.99.${1 + Math.floor((n - 1) / 250)}.${1 + ((n - 1) % 250)}`;
const v6 = (n) => `2001:db8:99::${n.toString(16)}`;
const mac = (prefix, n) => `52:54:${prefix}:${((n >> 16) & 255).toString(16).padStart(2, '0')}:${((n >> 8) & 255).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`;
const pad = (n) => String(n).padStart(4, '0');

/** The DNS inventory: `hosts` hosts with A+AAAA (+PTR), `aliases` service CNAMEs, one mgmt name server. */
export function dnsDataset(hosts = 1000, aliases = 100) {
  const list = [];
  for (let n = 1; n <= hosts; n++) list.push({ name: `host${pad(n)}`, ip: v4(n), ipv6: v6(n), mac: mac('00', n) });
  const al = [];
  for (let n = 1; n <= aliases; n++) al.push({ name: `alias${pad(n)}`, target: list[(n * 7) % hosts].name });
  return { hosts: list, aliases: al, ns: { name: 'ns1', ip: '10.99.0.1', mac: '52:54:00:ff:00:01' } };
}

/** builderd config parts for the dataset (hosts, services, the subnet that holds them). */
export function builderdDnsParts(ds) {
  return {
    dhcp: { interfaces: [], subnets: [{ cidr: '10.99.0.0/16' }] },
    hosts: [
      { name: ds.ns.name, mgmt: true, interfaces: [{ mac: ds.ns.mac, ip: ds.ns.ip }] },
      ...ds.hosts.map((h) => ({ name: h.name, interfaces: [{ mac: h.mac, ip: h.ip, ipv6: h.ipv6 }] })),
    ],
    services: Object.fromEntries(ds.aliases.map((a) => [a.name, a.target])),
  };
}

/** Master files lab.example.zone, mgmt.example.zone, 99.10.in-addr.arpa.zone in dir. Returns the record count. */
export function writeZoneFiles(ds, dir) {
  const ns = `${ds.ns.name}.${MGMT}.`;
  const head = (origin) => [
    `$ORIGIN ${origin}.`, `$TTL ${TTL}`,
    `@ ${TTL} IN SOA ${ns} hostmaster.${origin}. 1 3600 600 1209600 ${TTL}`,
    `@ ${TTL} IN NS ${ns}`,
  ];
  const site = head(SITE);
  for (const h of ds.hosts) site.push(`${h.name} ${TTL} IN A ${h.ip}`, `${h.name} ${TTL} IN AAAA ${h.ipv6}`);
  for (const a of ds.aliases) site.push(`${a.name} ${TTL} IN CNAME ${a.name}.${MGMT}.`);
  const mgmt = head(MGMT);
  mgmt.push(`${ds.ns.name} ${TTL} IN A ${ds.ns.ip}`);
  for (const a of ds.aliases) mgmt.push(`${a.name} ${TTL} IN CNAME ${a.target}.${SITE}.`);
  const rev = head(REV);
  const ptr = (ip, fqdn) => { const o = ip.split('.'); rev.push(`${o[3]}.${o[2]} ${TTL} IN PTR ${fqdn}.`); };
  ptr(ds.ns.ip, `${ds.ns.name}.${MGMT}`);
  for (const h of ds.hosts) ptr(h.ip, `${h.name}.${SITE}`);
  writeFileSync(join(dir, `${SITE}.zone`), site.join('\n') + '\n');
  writeFileSync(join(dir, `${MGMT}.zone`), mgmt.join('\n') + '\n');
  writeFileSync(join(dir, `${REV}.zone`), rev.join('\n') + '\n');
  return site.length + mgmt.length + rev.length - 6;
}

/** The same data as dnsmasq auth-zone configuration lines. */
export function dnsmasqRecords(ds) {
  const l = [
    `auth-zone=${SITE},10.99.0.0/16,2001:db8:99::/64`,
    `auth-zone=${MGMT}`,
    `auth-soa=1,hostmaster.${SITE},3600,600,1209600`,
    `auth-ttl=${TTL}`, `local-ttl=${TTL}`,
    `host-record=${ds.ns.name}.${MGMT},${ds.ns.ip}`,
  ];
  for (const h of ds.hosts) l.push(`host-record=${h.name}.${SITE},${h.ip},${h.ipv6}`);
  for (const a of ds.aliases) {
    l.push(`cname=${a.name}.${MGMT},${a.target}.${SITE}`);
    l.push(`cname=${a.name}.${SITE},${a.name}.${MGMT}`);
  }
  return l.join('\n') + '\n';
}

/**
 * dnsperf query file: 60 % A, 15 % AAAA, 10 % NXDOMAIN, 5 % CNAME (alias → host), 10 % PTR.
 * Deterministic (seeded). Returns the expected NXDOMAIN share.
 */
export function writeQueries(ds, file, count = 20000) {
  const r = prng(42);
  const out = [];
  const n = ds.hosts.length;
  for (let i = 0; i < count; i++) {
    const x = r();
    const h = ds.hosts[Math.floor(r() * n)];
    if (x < 0.60) out.push(`${h.name}.${SITE} A`);
    else if (x < 0.75) out.push(`${h.name}.${SITE} AAAA`);
    else if (x < 0.85) out.push(`missing${String(Math.floor(r() * 100000)).padStart(5, '0')}.${SITE} A`);
    else if (x < 0.90) out.push(`${ds.aliases[Math.floor(r() * ds.aliases.length)].name}.${MGMT} A`);
    else { const o = h.ip.split('.'); out.push(`${o[3]}.${o[2]}.${REV} PTR`); }
  }
  writeFileSync(file, out.join('\n') + '\n');
  return 0.10;
}

/** A scale inventory: `hosts` hosts in 10.100.0.0/16 (builderd config parts). */
export function scaleHosts(count) {
  const hosts = [];
  for (let n = 1; n <= count; n++) {
    hosts.push({ name: `node${String(n).padStart(5, '0')}`, interfaces: [{ mac: mac('01', n), ip: `10.100.${(n >> 8) & 255}.${n & 255 || 1}` }] });
  }
  // n & 255 == 0 would give .0; move those to a unique address in 10.100.250-255.x instead.
  for (let n = 256; n <= count; n += 256) {
    const k = n / 256;
    hosts[n - 1].interfaces[0].ip = `10.100.${250 + Math.floor(k / 254)}.${1 + (k % 254)}`;
  }
  return hosts;
}
