// Inventory: one source of identity → records, reservations, boot assignments (pure and deterministic).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { buildInventory, reverseZonesOf } from '../../src/inventory/index.js';
import { ipv4ToInt } from '../../src/lib/net.js';
import { ROOT, EXAMPLE } from '../helpers/daemon.js';

test('builderd inventory --json yields the names the spec promises', () => {
  const r = spawnSync(process.execPath, [join(ROOT, 'dist/cli/index.js'), 'inventory', '--config', EXAMPLE, '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const inv = JSON.parse(r.stdout) as { records: { name: string; type: string; data: unknown }[] };
  const has = (name: string, type: string, data: string) =>
    assert.ok(inv.records.some((x) => x.name === name && x.type === type && x.data === data), `${name} ${type} ${data}`);
  has('hv01.lab.example.net', 'A', '10.99.0.10');
  has('hv01-mgmt.lab.example.net', 'A', '10.99.1.10');
  has('10.0.99.10.in-addr.arpa', 'PTR', 'hv01.lab.example.net');
  has('10.1.99.10.in-addr.arpa', 'PTR', 'hv01-mgmt.lab.example.net');
  has('pxe.mgmt.example.net', 'CNAME', 'provisioner-ph01.mgmt.example.net');
  has('pxe.lab.example.net', 'CNAME', 'pxe.mgmt.example.net');
  has('provisioner-ph01.mgmt.example.net', 'A', '10.99.0.2');
});

test('zones: site, mgmt and one reverse zone per /24, each with SOA then NS first', () => {
  const inv = buildInventory(loadConfig(EXAMPLE).config);
  assert.deepEqual(inv.zones.map((z) => `${z.origin}:${z.kind}`),
    ['lab.example.net:site', 'mgmt.example.net:mgmt', '0.99.10.in-addr.arpa:reverse', '1.99.10.in-addr.arpa:reverse']);
  for (const z of inv.zones) {
    assert.equal(z.records[0]!.type, 'SOA');
    assert.equal(z.records[0]!.name, z.origin);
    assert.equal(z.records[1]!.type, 'NS');
    for (const r of z.records) assert.ok(r.name === z.origin || r.name.endsWith(`.${z.origin}`), `${r.name} in ${z.origin}`);
  }
});

test('reservations and boot assignments carry MAC, IP, names and profile', () => {
  const inv = buildInventory(loadConfig(EXAMPLE).config);
  const hv = inv.reservations.find((r) => r.mac === '52:54:00:aa:01:10')!;
  assert.deepEqual(hv, { mac: '52:54:00:aa:01:10', ip: '10.99.1.10', host: 'hv01', interface: 'mgmt', label: 'hv01-mgmt', fqdn: 'hv01-mgmt.lab.example.net', boot: 'fedora', subnet: '10.99.1.0/24' });
  assert.equal(inv.boot.find((b) => b.mac === '52:54:00:aa:00:10')!.profile, 'fedora');
  assert.equal(inv.boot.find((b) => b.mac === '52:54:00:aa:00:01')!.profile, 'default', 'subnet default profile');
  assert.deepEqual(inv.reservations.map((r) => ipv4ToInt(r.ip)), [...inv.reservations.map((r) => ipv4ToInt(r.ip))].sort((a, b) => a - b));
});

test('same config, same output (order of hosts in the file does not matter)', () => {
  const text = loadText();
  const a = buildInventory(parseConfig(text, '/x/a.yaml').config);
  const b = buildInventory(parseConfig(text, '/x/a.yaml').config);
  assert.deepEqual(a, b);
  const swapped = text.replace(/(  - name: provisioner-ph01[\s\S]*?)(  - name: core-rt01[\s\S]*?)(  - name: hv01)/, '$2$1$3');
  assert.notEqual(swapped, text);
  assert.deepEqual(buildInventory(parseConfig(swapped, '/x/a.yaml').config).zones, a.zones);
});

test('a host whose interfaces all have names keeps its bare name on the first', () => {
  const text = loadText().replace('{ mac: "52:54:00:aa:00:10"', '{ name: data, mac: "52:54:00:aa:00:10"');
  const inv = buildInventory(parseConfig(text, '/x/a.yaml').config);
  const site = inv.zones[0]!.records;
  assert.ok(site.some((r) => r.name === 'hv01-data.lab.example.net' && r.type === 'A'));
  assert.ok(site.some((r) => r.name === 'hv01.lab.example.net' && r.type === 'A' && r.data === '10.99.0.10'));
});

test('reverse zones of non-octet prefixes (RFC 1035 §3.5 names)', () => {
  assert.deepEqual(reverseZonesOf(ipv4ToInt('10.99.0.0'), 16), ['99.10.in-addr.arpa']);
  assert.deepEqual(reverseZonesOf(ipv4ToInt('10.99.4.0'), 23), ['4.99.10.in-addr.arpa', '5.99.10.in-addr.arpa']);
  assert.deepEqual(reverseZonesOf(ipv4ToInt('10.99.0.64'), 26), ['0.99.10.in-addr.arpa']);
});

function loadText(): string {
  return spawnSync('cat', [EXAMPLE], { encoding: 'utf8' }).stdout;
}
