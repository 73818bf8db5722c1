// Router export (issue 6): every format from one model, against config/example.yaml; lease import parsers.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { buildInventory } from '../../src/inventory/index.js';
import type { Lease } from '../../src/store/ports.js';
import {
  exportRouterConfig, EXPORT_FORMATS, KEA_LEASE4_HEADER, KEA_DEFAULT_LEASE_FILE, keaClass, buildRouterModel,
  type ExportInput,
} from '../../src/authority/export/index.js';
import { parseLeaseFile, detectLeaseFormat, INFINITE_LEASE_MS } from '../../src/authority/import/index.js';
import { EXAMPLE } from '../helpers/daemon.js';

const { config } = loadConfig(EXAMPLE);
const inventory = buildInventory(config);
/** Whole seconds, so Kea's epoch-second columns round-trip exactly. */
const NOW = 1_800_000_000_000;
const subnets = config.dhcp.subnets;

/** Synthetic leases: two active dynamic ones, and four that must not be exported. */
const LEASES: Lease[] = [
  { ip: '10.99.0.150', mac: '52:54:00:bb:00:01', clientId: '0152540000bb0001', hostname: 'client1', state: 'bound', subnet: '10.99.0.0/24', start: NOW - 600_000, expires: NOW + 3_000_000, source: 'dhcp' },
  { ip: '10.99.0.151', mac: '52:54:00:bb:00:02', clientId: null, hostname: null, state: 'bound', subnet: '10.99.0.0/24', start: NOW - 60_000, expires: NOW + 3_540_000, source: 'dhcp' },
  { ip: '10.99.0.152', mac: '52:54:00:bb:00:03', clientId: null, hostname: 'gone', state: 'bound', subnet: '10.99.0.0/24', start: NOW - 7_200_000, expires: NOW - 1000, source: 'dhcp' },
  { ip: '10.99.0.153', mac: '52:54:00:bb:00:04', clientId: null, hostname: null, state: 'offered', subnet: '10.99.0.0/24', start: NOW, expires: NOW + 30_000, source: 'dhcp' },
  { ip: '10.99.0.154', mac: '52:54:00:bb:00:05', clientId: null, hostname: null, state: 'released', subnet: '10.99.0.0/24', start: NOW - 1000, expires: NOW + 1000, source: 'dhcp' },
  // hv01's own lease: a reservation, not a dynamic lease.
  { ip: '10.99.0.10', mac: '52:54:00:aa:00:10', clientId: null, hostname: 'hv01', state: 'bound', subnet: '10.99.0.0/24', start: NOW - 1000, expires: NOW + 3_599_000, source: 'dhcp' },
];
const ACTIVE = LEASES.slice(0, 2);

function input(extra: Partial<ExportInput> = {}): ExportInput {
  return { config, inventory, leases: LEASES, now: NOW, serials: { 'lab.example.net': 42 }, ...extra };
}
function file(format: (typeof EXPORT_FORMATS)[number], name: string, extra: Partial<ExportInput> = {}): string {
  const f = exportRouterConfig(format, input(extra)).files.find((x) => x.name === name);
  assert.ok(f, `${format} export has ${name}`);
  return f.content;
}
const aRecords = inventory.zones.flatMap((z) => z.records.filter((r) => r.type === 'A')) as { name: string; data: string }[];
const ptrRecords = inventory.zones.flatMap((z) => z.records.filter((r) => r.type === 'PTR')) as { name: string; data: string }[];
const cnames = inventory.zones.flatMap((z) => z.records.filter((r) => r.type === 'CNAME')) as { name: string; data: string }[];

describe('kea', () => {
  type Kea = { Dhcp4: Record<string, any> };
  const kea = JSON.parse(file('kea', 'kea-dhcp4.conf')) as Kea;
  const d = kea.Dhcp4;

  test('subnet4 with stable ids, pools, option-data (RFC 2132 §3.5, §3.8, §3.17), per-subnet lifetime', () => {
    assert.deepEqual(d['subnet4'].map((s: any) => [s.id, s.subnet]), [[1, '10.99.0.0/24'], [2, '10.99.1.0/24']]);
    const s1 = d['subnet4'][0];
    assert.deepEqual(s1.pools, [{ pool: '10.99.0.100 - 10.99.0.199' }]);
    assert.deepEqual(s1['option-data'], [
      { name: 'routers', data: '10.99.0.1' },
      { name: 'domain-name-servers', data: '10.99.0.2' },
      { name: 'domain-name', data: 'lab.example.net' },
    ]);
    assert.equal(s1['valid-lifetime'], 3600);
    assert.equal(s1['next-server'], '10.99.0.2', 'the tftp service host');
    assert.equal(d['subnet4'][1].pools, undefined, 'reservation-only subnet has no pool');
    assert.equal(d['valid-lifetime'], config.dhcp.leaseTime);
  });

  test('one reservation per inventory interface with hw-address, ip-address, FQDN hostname and profile class', () => {
    const all = d['subnet4'].flatMap((s: any) => s.reservations.map((r: any) => ({ ...r, subnet: s.id })));
    assert.equal(all.length, inventory.reservations.length);
    for (const r of inventory.reservations) {
      const k = all.find((x: any) => x['hw-address'] === r.mac);
      assert.ok(k, r.mac);
      assert.equal(k['ip-address'], r.ip);
      assert.equal(k.hostname, r.fqdn);
    }
    const hv = all.find((x: any) => x['hw-address'] === '52:54:00:aa:00:10');
    assert.deepEqual(hv['client-classes'], [keaClass.profile('fedora')]);
    assert.equal(hv['next-server'], '10.99.0.2');
    assert.equal(hv['boot-file-name'], undefined, 'Kea lets a reservation boot file beat every class: files come from classes');
  });

  test('client classes: option 93 arch, iPXE user class, per-profile and per-subnet boot files', () => {
    const cls = new Map<string, any>(d['client-classes'].map((c: any) => [c.name, c]));
    assert.equal(cls.get('bd-arch-bios').test, 'option[93].hex == 0x0000');
    assert.equal(cls.get('bd-arch-uefi').test, 'option[93].hex == 0x0007 or option[93].hex == 0x0009');
    assert.equal(cls.get('bd-ipxe').test, "option[77].hex == 'iPXE'");
    assert.equal(cls.get('bd-fedora-uefi')['boot-file-name'], 'grubx64.efi');
    assert.match(cls.get('bd-fedora-uefi').test, /member\('KNOWN'\) and member\('bd-profile-fedora'\)/);
    assert.equal(cls.get('bd-default-bios')['boot-file-name'], 'undionly.kpxe');
    assert.equal(cls.get('bd-ipxe-525400aa0001')['boot-file-name'], 'http://pxe.mgmt.example.net:10080/boot/52:54:00:aa:00:01.ipxe');
    assert.equal(cls.get('bd-s1-uefi')['only-if-required'], true);
    assert.deepEqual(d['subnet4'][0]['require-client-classes'], ['bd-s1-bios', 'bd-s1-uefi', 'bd-s1-ipxe']);
    // Every member() names a class defined before it (Kea rejects forward references).
    const names = d['client-classes'].map((c: any) => c.name);
    d['client-classes'].forEach((c: any, i: number) => {
      for (const m of String(c.test ?? '').matchAll(/member\('([^']+)'\)/g)) {
        if (m[1] === 'KNOWN') continue;
        assert.ok(names.indexOf(m[1]) >= 0 && names.indexOf(m[1]) < i, `${c.name} refers to ${m[1]} defined earlier`);
      }
    });
  });

  test('lease-database memfile: default Debian path, configurable path and interfaces', () => {
    assert.deepEqual(d['lease-database'], { type: 'memfile', persist: true, name: KEA_DEFAULT_LEASE_FILE, 'lfc-interval': 3600 });
    assert.equal(KEA_DEFAULT_LEASE_FILE, '/var/lib/kea/kea-leases4.csv');
    assert.deepEqual(d['interfaces-config'], { interfaces: ['*'] });
    const k2 = JSON.parse(file('kea', 'kea-dhcp4.conf', { kea: { leaseFile: '/tmp/x.csv', interfaces: ['eth1'] } })).Dhcp4;
    assert.equal(k2['lease-database'].name, '/tmp/x.csv');
    assert.deepEqual(k2['interfaces-config'].interfaces, ['eth1']);
  });

  test('memfile CSV: Kea 2.2 header, only bound unexpired dynamic leases, expire = cltt + valid_lifetime', () => {
    const csv = file('kea', 'kea-leases4.csv').trimEnd().split('\n');
    assert.equal(csv[0], 'address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context');
    assert.equal(csv[0], KEA_LEASE4_HEADER.join(','));
    assert.deepEqual(csv.slice(1), [
      `10.99.0.150,52:54:00:bb:00:01,01:52:54:00:00:bb:00:01,3600,${NOW / 1000 + 3000},1,0,0,client1,0,`,
      `10.99.0.151,52:54:00:bb:00:02,,3600,${NOW / 1000 + 3540},1,0,0,,0,`,
    ]);
    for (const row of csv.slice(1)) assert.equal(row.split(',').length, KEA_LEASE4_HEADER.length);
  });
});

describe('unbound', () => {
  const conf = file('unbound', 'unbound-builderd.conf');
  test('local-zone static per zone, local-data for A/CNAME/SOA/NS, local-data-ptr for PTR', () => {
    for (const z of inventory.zones) assert.ok(conf.includes(`local-zone: "${z.origin}." static`), z.origin);
    for (const a of aRecords) assert.ok(conf.includes(`local-data: "${a.name}. 300 IN A ${a.data}"`), a.name);
    for (const c of cnames) assert.ok(conf.includes(`local-data: "${c.name}. 300 IN CNAME ${c.data}."`), c.name);
    for (const p of ptrRecords) {
      const ip = p.name.replace('.in-addr.arpa', '').split('.').reverse().join('.');
      assert.ok(conf.includes(`local-data-ptr: "${ip} 300 ${p.data}."`), p.name);
    }
    assert.ok(conf.includes('local-data: "lab.example.net. 300 IN SOA provisioner-ph01.mgmt.example.net. hostmaster.lab.example.net. 42 3600 600 1209600 300"'));
    assert.ok(!conf.includes('auth-zone:'));
  });
  test('with dnsPrimary: auth-zone pulling site and reverse zones by AXFR, stub-zone for mgmt', () => {
    const c = file('unbound', 'unbound-builderd.conf', { dnsPrimary: '10.99.0.2:10053' });
    assert.match(c, /auth-zone:\n {4}name: "lab\.example\.net\."\n {4}primary: 10\.99\.0\.2@10053/);
    assert.match(c, /auth-zone:\n {4}name: "0\.99\.10\.in-addr\.arpa\."\n {4}primary: 10\.99\.0\.2@10053/);
    assert.match(c, /stub-zone:\n {4}name: "mgmt\.example\.net\."\n {4}stub-addr: 10\.99\.0\.2@10053/);
    assert.ok(c.includes('local-zone: "0.99.10.in-addr.arpa." transparent'));
    assert.ok(!c.includes('local-data:'), 'nothing typed twice: pulled zones carry no local-data');
    const d53 = file('unbound', 'unbound-builderd.conf', { dnsPrimary: '10.99.0.2' });
    assert.match(d53, /primary: 10\.99\.0\.2\n/);
  });
});

describe('bind', () => {
  const files = exportRouterConfig('bind', input()).files;
  test('one RFC 1035 master file per zone, with the serial passed (else one from now)', () => {
    assert.deepEqual(files.map((f) => f.name).sort(), ['db.0.99.10.in-addr.arpa', 'db.1.99.10.in-addr.arpa', 'db.lab.example.net', 'db.mgmt.example.net', 'named.conf.builderd']);
    const site = files.find((f) => f.name === 'db.lab.example.net')!.content;
    assert.match(site, /^\$ORIGIN lab\.example\.net\.$/m);
    assert.match(site, /^@\t300\tIN\tSOA\tprovisioner-ph01\.mgmt\.example\.net\. hostmaster 42 3600 600 1209600 300$/m);
    assert.match(site, /^hv01\t300\tIN\tA\t10\.99\.0\.10$/m);
    assert.match(site, /^pxe\t300\tIN\tCNAME\tpxe\.mgmt\.example\.net\.$/m);
    const rev = files.find((f) => f.name === 'db.0.99.10.in-addr.arpa')!.content;
    assert.match(rev, new RegExp(`hostmaster ${Math.floor(NOW / 1000)} `));
    assert.match(rev, /^10\t300\tIN\tPTR\thv01\.lab\.example\.net\.$/m);
  });
  test('named.conf fragment: primaries, mgmt as a secondary of builderd when dnsPrimary is given', () => {
    const conf = files.find((f) => f.name === 'named.conf.builderd')!.content;
    assert.equal((conf.match(/type primary;/g) ?? []).length, 4);
    const c2 = exportRouterConfig('bind', input({ dnsPrimary: '10.99.0.2:10053' })).files.find((f) => f.name === 'named.conf.builderd')!.content;
    assert.match(c2, /zone "mgmt\.example\.net" \{\n {4}type secondary;\n {4}primaries \{ 10\.99\.0\.2 port 10053; \};/);
  });
});

describe('dnsmasq', () => {
  const conf = file('dnsmasq', 'dnsmasq-builderd.conf');
  test('dhcp-range per subnet (static for reservation-only), options router/dns/domain', () => {
    assert.ok(conf.includes('dhcp-range=set:s1,10.99.0.100,10.99.0.199,255.255.255.0,3600\n'));
    assert.ok(conf.includes('dhcp-range=set:s2,10.99.1.0,static,255.255.255.0,3600\n'));
    assert.ok(conf.includes('dhcp-option=tag:s1,option:router,10.99.0.1\n'));
    assert.ok(conf.includes('dhcp-option=tag:s1,option:dns-server,10.99.0.2\n'));
    assert.ok(conf.includes('dhcp-option=tag:s1,option:domain-name,lab.example.net\n'));
  });
  test('dhcp-host per reservation; PXE tags by option 93 and iPXE user class; dhcp-boot per tag', () => {
    for (const r of inventory.reservations) assert.match(conf, new RegExp(`^dhcp-host=${r.mac},[^\\n]*${r.ip.replace(/\./g, '\\.')}`, 'm'));
    assert.ok(conf.includes('dhcp-host=52:54:00:aa:00:10,set:bd-h-525400aa0010,10.99.0.10,hv01,3600\n'));
    assert.ok(conf.includes('dhcp-host=52:54:00:aa:00:02,set:bd-h-525400aa0002,10.99.0.2,3600\n'), 'mgmt host: no site-domain name');
    assert.ok(conf.includes('dhcp-match=set:bd-arch-uefi,option:client-arch,7\n'));
    assert.ok(conf.includes('dhcp-match=set:bd-arch-uefi,option:client-arch,9\n'));
    assert.ok(conf.includes('dhcp-userclass=set:bd-ipxe,iPXE\n'));
    assert.ok(conf.includes('dhcp-boot=tag:bd-h-525400aa0010,tag:bd-arch-uefi,grubx64.efi,,10.99.0.2\n'));
    assert.ok(conf.includes('dhcp-boot=tag:s1,tag:!known,tag:bd-arch-bios,tag:!bd-ipxe,undionly.kpxe,,10.99.0.2\n'));
  });
  test('host-record (PTR target first), cname; every A, PTR and CNAME covered', () => {
    for (const a of aRecords) assert.match(conf, new RegExp(`^host-record=[^\\n]*\\b${a.name.replace(/\./g, '\\.')}\\b[^\\n]*,${a.data.replace(/\./g, '\\.')},300$`, 'm'), a.name);
    for (const c of cnames) assert.ok(conf.includes(`cname=${c.name},${c.data},300\n`), c.name);
    for (const p of ptrRecords) {
      const ip = p.name.replace('.in-addr.arpa', '').split('.').reverse().join('.');
      assert.ok(conf.includes(`host-record=${p.data},`) && conf.includes(`,${ip},300`), `${ip} → ${p.data}`);
    }
  });
  test('a name that is not its address\'s PTR target goes after the target, or into ptr-record', () => {
    const { config: c } = parseConfig(`
site: { name: t, domain: t.example, mgmt_domain: m.example }
paths: { state: /tmp/s, artifacts: /tmp/a, templates: /tmp/t }
authority: { router: { dns: 10.0.0.1:53 } }
http: { base_url: http://h.m.example }
control: { socket: /tmp/s.sock }
dhcp: { subnets: [ { cidr: 10.0.0.0/24 } ] }
hosts:
  - { name: box, interfaces: [ { name: a, mac: "02:00:00:00:00:01", ip: 10.0.0.5 }, { name: b, mac: "02:00:00:00:00:02", ip: 10.0.0.6 } ] }
`, '<string>');
    const out = exportRouterConfig('dnsmasq', { config: c, inventory: buildInventory(c), leases: [], now: NOW }).files[0]!.content;
    assert.ok(out.includes('host-record=box-a.t.example,box.t.example,10.0.0.5,300\n'), out);
    assert.ok(out.includes('host-record=box-b.t.example,10.0.0.6,300\n'));
  });
  test('lease file lines: expiry mac ip hostname client-id', () => {
    assert.equal(file('dnsmasq', 'dnsmasq.leases'),
      `${NOW / 1000 + 3000} 52:54:00:bb:00:01 10.99.0.150 client1 01:52:54:00:00:bb:00:01\n${NOW / 1000 + 3540} 52:54:00:bb:00:02 10.99.0.151 * *\n`);
  });
});

describe('json and the one model', () => {
  test('json: the whole model, the same reservations, zones with serials and the active leases', () => {
    const doc = JSON.parse(file('json', 'builderd-export.json'));
    assert.equal(doc.format, 'builderd-router-export');
    assert.equal(doc.version, 1);
    assert.equal(doc.reservations.length, inventory.reservations.length);
    assert.deepEqual(doc.zones.map((z: any) => [z.origin, z.serial]), inventory.zones.map((z) => [z.origin, z.origin === 'lab.example.net' ? 42 : NOW / 1000]));
    assert.deepEqual(doc.leases.map((l: any) => l.ip), ['10.99.0.150', '10.99.0.151']);
    assert.equal(doc.generatedAt, new Date(NOW).toISOString());
  });
  test('pure and deterministic: same input, same bytes, for every format', () => {
    for (const f of EXPORT_FORMATS) assert.deepEqual(exportRouterConfig(f, input()), exportRouterConfig(f, input()), f);
  });
  test('dynamic DNS records builderd serves are merged into their zone in every DNS format', () => {
    const dynamic = [
      { name: 'client1.lab.example.net', type: 'A' as const, data: '10.99.0.150', ttl: 60, owner: '10.99.0.150' },
      { name: '150.0.99.10.in-addr.arpa', type: 'PTR' as const, data: 'client1.lab.example.net', ttl: 60, owner: '10.99.0.150' },
    ];
    assert.ok(file('unbound', 'unbound-builderd.conf', { dynamic }).includes('local-data: "client1.lab.example.net. 60 IN A 10.99.0.150"'));
    assert.ok(file('unbound', 'unbound-builderd.conf', { dynamic }).includes('local-data-ptr: "10.99.0.150 60 client1.lab.example.net."'));
    assert.match(file('bind', 'db.lab.example.net', { dynamic }), /^client1\t60\tIN\tA\t10\.99\.0\.150$/m);
    assert.ok(file('dnsmasq', 'dnsmasq-builderd.conf', { dynamic }).includes('host-record=client1.lab.example.net,10.99.0.150,300'));
  });
  test('model: reservations take the inventory boot assignment (host profile, else subnet default)', () => {
    const m = buildRouterModel(input());
    assert.equal(m.reservations.find((r) => r.mac === '52:54:00:aa:00:10')!.profile, 'fedora');
    assert.equal(m.reservations.find((r) => r.mac === '52:54:00:aa:00:01')!.profile, 'default');
    assert.equal(m.reservations.find((r) => r.mac === '52:54:00:aa:01:10')!.profile, 'fedora');
    assert.deepEqual(m.leases.map((l) => l.ip), ACTIVE.map((l) => l.ip));
  });
});

describe('lease import', () => {
  const strip = (l: Lease) => ({ ...l, source: 'import' });

  test('round trip: export Kea CSV → parseLeaseFile → the same leases', () => {
    const csv = file('kea', 'kea-leases4.csv');
    const r = parseLeaseFile(csv, { subnets, now: NOW });
    assert.equal(r.format, 'kea');
    assert.deepEqual(r.skipped, []);
    assert.deepEqual(r.leases, ACTIVE.map(strip));
  });

  test('round trip: dnsmasq lease file keeps address, client, name and expiry', () => {
    const r = parseLeaseFile(file('dnsmasq', 'dnsmasq.leases'), { subnets, now: NOW });
    assert.equal(r.format, 'dnsmasq');
    assert.deepEqual(r.leases.map(({ ip, mac, clientId, hostname, expires, state, source, subnet }) => ({ ip, mac, clientId, hostname, expires, state, source, subnet })),
      ACTIVE.map(({ ip, mac, clientId, hostname, expires, subnet }) => ({ ip, mac, clientId, hostname, expires, state: 'bound', source: 'import', subnet })));
    for (const l of r.leases) assert.ok(l.start <= NOW && l.start < l.expires);
  });

  test('Kea: last row per address wins; deletions, declined, expired and foreign rows are skipped with reasons', () => {
    const s = NOW / 1000;
    const csv = [
      'address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context,pool_id',
      `10.99.0.120,52:54:00:cc:00:01,,3600,${s + 100},1,0,0,old,0,,0`,
      `10.99.0.120,52:54:00:cc:00:01,,3600,${s + 3000},1,0,0,New.lab.example.net.,0,,0`,
      `10.99.0.121,52:54:00:cc:00:02,,3600,${s + 3000},1,0,0,,0,,0`,
      `10.99.0.121,52:54:00:cc:00:02,,0,${s + 3000},1,0,0,,0,,0`,
      `10.99.0.122,,,3600,${s + 3000},1,0,0,,1,,0`,
      `10.99.0.123,52:54:00:cc:00:04,,3600,${s - 10},1,0,0,,0,,0`,
      `192.168.5.5,52:54:00:cc:00:05,,3600,${s + 3000},9,0,0,,0,,0`,
      'garbage',
      `10.99.0.124,52:54:00:cc:00:06,ff:00:01,3600,${s + 3000},1,0,0,,2,,0`,
      `10.99.0.125,52:54:00:cc:00:07,01:52:54:00:cc:00:07,7200,${s + 7000},1,1,1,h7,0,{ "a": 1 },0`,
    ].join('\n');
    const r = parseLeaseFile(csv, { subnets, now: NOW, format: 'auto' });
    assert.deepEqual(r.leases.map((l) => [l.ip, l.mac, l.hostname, l.expires, l.start]), [
      ['10.99.0.120', '52:54:00:cc:00:01', 'new', (s + 3000) * 1000, (s - 600) * 1000],
      ['10.99.0.125', '52:54:00:cc:00:07', 'h7', (s + 7000) * 1000, (s - 200) * 1000],
    ]);
    assert.equal(r.leases[1]!.clientId, '01525400cc0007');
    assert.ok(r.leases.every((l) => l.state === 'bound' && l.source === 'import' && l.subnet === '10.99.0.0/24'));
    assert.deepEqual(r.skipped.map((x) => x.line), [5, 6, 7, 8, 9, 10]);
    assert.match(r.skipped[0]!.reason, /deleted/);
    assert.match(r.skipped[1]!.reason, /declined/);
    assert.match(r.skipped[2]!.reason, /expired/);
    assert.match(r.skipped[3]!.reason, /none of our subnets/);
    assert.match(r.skipped[5]!.reason, /expired-reclaimed/);
  });

  test('dnsmasq: expiry 0 is infinite, duid and IPv6 lines skipped, * means none', () => {
    const s = NOW / 1000;
    const text = [
      'duid 00:01:00:01:2c:00:00:00:52:54:00:00:00:01',
      `0 52:54:00:dd:00:01 10.99.0.130 forever *`,
      `${s + 500} 52:54:00:dd:00:02 10.99.0.131 * 01:52:54:00:dd:00:02`,
      `${s + 500} 1234 fd00::5 v6host 00:01:00:01`,
      `${s - 5} 52:54:00:dd:00:03 10.99.0.132 old *`,
      `${s + 500} not-a-mac 10.99.0.133 x *`,
    ].join('\n');
    assert.equal(detectLeaseFormat(text), 'dnsmasq');
    const r = parseLeaseFile(text, { subnets, now: NOW });
    assert.deepEqual(r.leases.map((l) => [l.ip, l.hostname, l.clientId]), [['10.99.0.130', 'forever', null], ['10.99.0.131', null, '01525400dd0002']]);
    assert.equal(r.leases[0]!.expires, NOW + INFINITE_LEASE_MS);
    assert.equal(r.leases[1]!.expires, (s + 500) * 1000);
    assert.deepEqual(r.skipped.map((x) => x.line), [1, 4, 5, 6]);
  });

  test('a lease on an address the inventory reserves for another MAC is skipped', () => {
    const s = NOW / 1000;
    const text = `${s + 100} 52:54:00:ee:00:09 10.99.0.10 intruder *\n${s + 100} 52:54:00:aa:00:02 10.99.0.2 provisioner-ph01 *\n`;
    assert.equal(parseLeaseFile(text, { subnets, now: NOW }).leases.length, 2, 'without reservations both pass');
    const r = parseLeaseFile(text, { subnets, now: NOW, reservations: inventory.reservations });
    assert.deepEqual(r.leases.map((l) => [l.ip, l.mac]), [['10.99.0.2', '52:54:00:aa:00:02']]);
    assert.deepEqual(r.skipped, [{ line: 1, reason: '10.99.0.10 is reserved for 52:54:00:aa:00:10' }]);
    const k = parseLeaseFile(`address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context\n10.99.0.2,52:54:00:ee:00:09,,3600,${s + 100},1,0,0,,0,\n`,
      { subnets, now: NOW, reservations: inventory.reservations });
    assert.deepEqual(k.leases, []);
    assert.match(k.skipped[0]!.reason, /reserved for 52:54:00:aa:00:02/);
  });

  test('a client holding two addresses keeps the one that runs longer', () => {
    const s = NOW / 1000;
    const text = `${s + 100} 52:54:00:ee:00:01 10.99.0.140 a *\n${s + 900} 52:54:00:ee:00:01 10.99.0.141 a *\n`;
    const r = parseLeaseFile(text, { subnets, now: NOW });
    assert.deepEqual(r.leases.map((l) => l.ip), ['10.99.0.141']);
    assert.deepEqual(r.skipped.map((x) => x.line), [1]);
  });

  test('bad input never throws: random text yields leases inside our subnets only', () => {
    fc.assert(fc.property(fc.string({ maxLength: 400 }), fc.constantFrom('kea', 'dnsmasq', 'auto') as fc.Arbitrary<'kea' | 'dnsmasq' | 'auto'>, (text, format) => {
      const r = parseLeaseFile(text, { subnets, now: NOW, format });
      for (const l of r.leases) assert.ok(l.ip.startsWith('10.99.'));
    }), { numRuns: 500 });
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 2 ** 33 }), fc.integer({ min: 0, max: 255 }), fc.constantFrom('*', 'h', 'x.y', '')), { maxLength: 20 }), (rows) => {
      const text = rows.map(([e, o, h]) => `${e} 52:54:00:00:00:${o.toString(16).padStart(2, '0')} 10.99.0.${o} ${h} *`).join('\n');
      const r = parseLeaseFile(text, { subnets, now: NOW, format: 'dnsmasq' });
      assert.equal(new Set(r.leases.map((l) => l.ip)).size, r.leases.length);
    }), { numRuns: 200 });
  });
});
