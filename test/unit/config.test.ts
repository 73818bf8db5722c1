// Config contract: shared/spec/site.example.yaml accepted as is; every broken config exits 2 naming file:line:col and key path.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { parseConfig, loadConfig, ConfigError } from '../../src/config/load.js';
import { ROOT, EXAMPLE } from '../helpers/daemon.js';

const example = readFileSync(EXAMPLE, 'utf8');
const cli = join(ROOT, 'dist/cli/index.js');
const tmp = mkdtempSync(join(tmpdir(), 'bd-config-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

function check(text: string, name: string) {
  const file = join(tmp, `${name}.yaml`);
  writeFileSync(file, text);
  const r = spawnSync(process.execPath, [cli, 'check', '--config', file], { encoding: 'utf8' });
  return { file, ...r };
}

function sub(from: string | RegExp, to: string) {
  return (y: string) => {
    const out = y.replace(from, to);
    assert.notEqual(out, y, `mutation ${String(from)} did not apply`);
    return out;
  };
}

/** [name, mutation, expected key path, text on the line the error must point at, expected message fragment] */
const broken: [string, (y: string) => string, string, string, RegExp][] = [
  ['typo key', sub('ttl: 300', 'ttll: 300'), 'dns.ttll', 'ttll: 300', /did you mean "ttl"/],
  ['typo top-level key', sub('hosts:\n', 'hostz:\n'), 'hostz', 'hostz:', /did you mean "hosts"/],
  ['bad CIDR prefix', sub('cidr: 10.99.0.0/24', 'cidr: 10.99.0.0/33'), 'dhcp.subnets.0.cidr', 'cidr: 10.99.0.0/33', /prefix length/],
  ['CIDR with host bits', sub('cidr: 10.99.1.0/24', 'cidr: 10.99.1.7/24'), 'dhcp.subnets.1.cidr', 'cidr: 10.99.1.7/24', /host bits/],
  ['IP outside every subnet', sub('ip: 10.99.0.10 }', 'ip: 10.98.0.10 }'), 'hosts.2.interfaces.0.ip', 'ip: 10.98.0.10', /not inside any dhcp.subnets/],
  ['duplicate MAC', sub('"52:54:00:aa:00:01"', '"52:54:00:aa:00:02"'), 'hosts.1.interfaces.0.mac', 'mac: "52:54:00:aa:00:02", ip: 10.99.0.1', /duplicate MAC/],
  ['duplicate IP', sub('ip: 10.99.0.1 }', 'ip: 10.99.0.2 }'), 'hosts.1.interfaces.0.ip', 'ip: 10.99.0.2 }\n  - name: hv01', /duplicate IP/],
  ['uppercase hostname', sub('name: hv01\n', 'name: HV01\n'), 'hosts.2.name', 'name: HV01', /RFC 1123/],
  ['hostname with underscore', sub('name: core-rt01', 'name: core_rt01'), 'hosts.1.name', 'name: core_rt01', /RFC 1123/],
  ['pool overlapping a reservation', sub('pool: 10.99.0.100-10.99.0.199', 'pool: 10.99.0.5-10.99.0.199'), 'hosts.2.interfaces.0.ip', 'ip: 10.99.0.10 }', /inside the dynamic pool/],
  ['pool outside its subnet', sub('pool: 10.99.0.100-10.99.0.199', 'pool: 10.99.0.100-10.99.2.199'), 'dhcp.subnets.0.pool', 'pool: 10.99.0.100-10.99.2.199', /not inside subnet/],
  ['service on an unknown host', sub('tftp: provisioner-ph01', 'tftp: provisioner-ph02'), 'services.tftp', 'tftp: provisioner-ph02', /unknown host/],
  ['YAML syntax error', sub('  name: lab ', '  name: [lab '), '(top)', 'domain: lab.example.net', /YAML syntax error/],
  ['unknown boot profile', sub('boot: fedora', 'boot: fedorra'), 'hosts.2.boot', 'boot: fedorra', /did you mean "fedora"/],
  ['bad MAC', sub('"52:54:00:aa:00:10"', '"52:54:00:aa:00:1g"'), 'hosts.2.interfaces.0.mac', '52:54:00:aa:00:1g', /MAC address/],
  ['bad listen port', sub('listen: ["127.0.0.1:10069"]', 'listen: ["127.0.0.1:100690"]'), 'tftp.listen.0', '127.0.0.1:100690', /port/],
  ['bad duration', sub('lease_time: 1h', 'lease_time: 1x'), 'dhcp.lease_time', 'lease_time: 1x', /bad duration/],
  ['bad enum', sub('initial: bootstrap', 'initial: bootstrapp'), 'authority.initial', 'initial: bootstrapp', /bootstrap/],
  ['missing required key', sub(/  domain: lab.example.net.*\n/, ''), 'site.domain', 'name: lab', /missing required key/],
  ['overlapping subnets', sub('cidr: 10.99.1.0/24', 'cidr: 10.99.0.128/25'), 'dhcp.subnets.1.cidr', 'cidr: 10.99.0.128/25', /overlaps/],
  ['gateway outside subnet', sub('gateway: 10.99.1.1', 'gateway: 10.99.2.1'), 'dhcp.subnets.1.gateway', 'gateway: 10.99.2.1', /outside subnet/],
  ['duplicate host name', sub('- name: core-rt01', '- name: hv01'), 'hosts.2.name', '  - name: hv01\n    boot', /duplicate/],
  ['two unnamed interfaces', sub('{ name: mgmt, mac', '{ mac'), 'hosts.2.interfaces', '- { mac: "52:54:00:aa:00:10"', /without a name/],
  ['bad dns server', sub('dns: [10.99.0.2]', 'dns: [10.99.0.300]'), 'dhcp.subnets.0.dns.0', 'dns: [10.99.0.300]', /IPv4/],
  ['negative ttl', sub('ttl: 300', 'ttl: -5'), 'dns.ttl', 'ttl: -5', />=|too small/i],
];

function lineOf(text: string, needle: string): number {
  const i = text.indexOf(needle);
  assert.ok(i >= 0, `needle ${JSON.stringify(needle)} not in mutated text`);
  return text.slice(0, i).split('\n').length;
}

describe('broken configs: exit 2, file:line:col, key path, expectation', () => {
  for (const [name, mutate, path, needle, msg] of broken) {
    test(name, () => {
      const text = mutate(example);
      const r = check(text, name.replace(/\W+/g, '-'));
      assert.equal(r.status, 2, `exit code; stderr: ${r.stderr}`);
      const line = lineOf(text, needle);
      const want = `${r.file}:${line}:`;
      const hit = r.stderr.split('\n').find((l) => l.startsWith(want) && l.includes(`: ${path}: `));
      assert.ok(hit, `expected a line starting "${want}" with key path "${path}"; got:\n${r.stderr}`);
      assert.match(hit!, msg);
    });
  }
});

test('every error is reported at once', () => {
  const text = sub('"52:54:00:aa:00:01"', '"52:54:00:aa:00:02"')(sub('tftp: provisioner-ph01', 'tftp: nobody')(sub('boot: fedora', 'boot: nope')(example)));
  assert.throws(() => parseConfig(text, '/x/site.yaml'), (e: unknown) => e instanceof ConfigError && e.issues.length >= 3);
});

test('config/example.yaml is valid: builderd check exits 0 with a summary', () => {
  const r = spawnSync(process.execPath, [cli, 'check', '--config', EXAMPLE], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /zones: 4/);
  assert.match(r.stdout, /reservations: 4/);
  assert.match(r.stdout, /10\.99\.0\.0\/24: 10\.99\.0\.100-10\.99\.0\.199 \(100 addresses\)/);
});

test('the contract file shared/spec/site.example.yaml is accepted as is', { skip: existsSync(join(ROOT, '../shared/spec/site.example.yaml')) ? false : 'shared/ is not beside this checkout' }, () => {
  const { config } = loadConfig(join(ROOT, '../shared/spec/site.example.yaml'));
  assert.equal(config.site.domain, 'lab.example.net');
  assert.equal(config.dhcp.port, 10067);
  assert.equal(config.dhcp.leaseTime, 3600);
});

test('config/example.yaml is the contract file plus nothing that changes a meaning', { skip: existsSync(join(ROOT, '../shared/spec/site.example.yaml')) ? false : 'shared/ is not beside this checkout' }, () => {
  assert.equal(example, readFileSync(join(ROOT, '../shared/spec/site.example.yaml'), 'utf8'));
});

test('MACs in other forms are accepted, normalised, with a warning naming the line', () => {
  const text = example.replace('"52:54:00:aa:00:10"', '"5254.00AA.0010"');
  const { config, warnings } = parseConfig(text, '/x/site.yaml');
  assert.equal(config.hosts[2]!.interfaces[0]!.mac, '52:54:00:aa:00:10');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /^\/x\/site\.yaml:\d+:\d+: hosts\.2\.interfaces\.0\.mac: MAC "5254\.00AA\.0010" accepted as "52:54:00:aa:00:10"/);
});

test('relative paths resolve against the config file', () => {
  const { config } = parseConfig(example, '/etc/builderd/site.yaml');
  assert.equal(config.paths.state, '/etc/var');
  assert.equal(config.paths.templates, '/etc/builderd/templates');
  assert.equal(config.control.socket, '/etc/var/builderd.sock');
});

test('the published JSON Schema lists the top-level keys and rejects unknown ones', () => {
  const r = spawnSync(process.execPath, [cli, 'schema'], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  const s = JSON.parse(r.stdout) as { properties: Record<string, unknown>; additionalProperties: boolean };
  for (const k of ['site', 'paths', 'authority', 'dns', 'dhcp', 'tftp', 'http', 'control', 'metrics', 'boot_profiles', 'hosts', 'services']) assert.ok(k in s.properties, k);
  assert.equal(s.additionalProperties, false);
  const committed = JSON.parse(readFileSync(join(ROOT, 'config/builderd.schema.json'), 'utf8')) as unknown;
  assert.deepEqual(committed, s, 'config/builderd.schema.json is stale: run npm run schema');
});
