// Router export (issue 6): every export passes its target's own checker (kea-dhcp4 -t, unbound-checkconf,
// named-checkzone, dnsmasq --test), and a real kea-dhcp4 started on the export loads the exported leases.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { buildInventory } from '../../src/inventory/index.js';
import type { Lease } from '../../src/store/ports.js';
import { exportRouterConfig, EXPORT_FORMATS, type ExportInput } from '../../src/authority/export/index.js';
import { parseLeaseFile } from '../../src/authority/import/index.js';
import { EXAMPLE } from '../helpers/daemon.js';
import { createNetnsPair, have, needsRoot, type NetnsPair } from '../helpers/netns.js';

const tmp = mkdtempSync(join(tmpdir(), 'bex-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

/** Whole seconds: Kea keeps epoch seconds. */
const NOW = Math.floor(Date.now() / 1000) * 1000;

function leasesAt(now: number): Lease[] {
  return [
    { ip: '10.99.0.150', mac: '52:54:00:bb:00:01', clientId: '0152540000bb0001', hostname: 'client1', state: 'bound', subnet: '10.99.0.0/24', start: now - 600_000, expires: now + 3_000_000, source: 'dhcp' },
    { ip: '10.99.0.151', mac: '52:54:00:bb:00:02', clientId: null, hostname: null, state: 'bound', subnet: '10.99.0.0/24', start: now - 60_000, expires: now + 3_540_000, source: 'dhcp' },
    { ip: '10.99.0.152', mac: '52:54:00:bb:00:03', clientId: null, hostname: null, state: 'bound', subnet: '10.99.0.0/24', start: now - 7_200_000, expires: now - 1000, source: 'dhcp' },
  ];
}

/** A second site that reaches the corners: arm64, host without an unnamed interface, IPv6, a /23, no boot default. */
const RICH = `
site: { name: rich, domain: rich.example.org, mgmt_domain: ops.example.org }
paths: { state: /tmp/bex-state, artifacts: /tmp/bex-artifacts, templates: /tmp/bex-templates }
authority: { router: { dns: 192.168.10.1:53 } }
dns: { ttl: 120 }
dhcp:
  lease_time: 2h
  subnets:
    - { cidr: 192.168.10.0/23, pool: 192.168.11.10-192.168.11.250, gateway: 192.168.10.1, dns: [192.168.10.2, 192.168.10.3], boot: arm, lease_time: 30m }
    - { cidr: 172.16.5.0/24, gateway: 172.16.5.1, domain: lab5.rich.example.org }
tftp: { listen: ["192.168.10.2:69"] }
http: { base_url: "http://boot.ops.example.org" }
control: { socket: /tmp/bex.sock }
boot_profiles:
  arm: { arm64: snp-arm64.efi, ipxe: arm.ipxe }
  mixed: { bios: pxelinux.0, uefi: shimx64.efi, arm64: grubaa64.efi }
hosts:
  - { name: ns1, mgmt: true, interfaces: [ { mac: "02:00:00:00:01:02", ip: 192.168.10.2 } ] }
  - { name: edge, interfaces: [ { mac: "02:00:00:00:01:01", ip: 192.168.10.1 } ] }
  - name: multi
    boot: mixed
    interfaces:
      - { name: a, mac: "02:00:00:00:02:01", ip: 192.168.11.5, ipv6: "fd00::5" }
      - { name: b, mac: "02:00:00:00:02:02", ip: 172.16.5.5 }
services: { tftp: ns1, pxe: ns1 }
`;

interface Site { name: string; config: Config; leases: Lease[] }
const sites: Site[] = [
  { name: 'example', config: loadConfig(EXAMPLE).config, leases: leasesAt(NOW) },
  { name: 'rich', config: parseConfig(RICH, '<rich>').config, leases: [] },
];

/** Write one export under tmp/<site>-<variant>/<format>/ and return that directory. */
function writeExport(site: Site, format: (typeof EXPORT_FORMATS)[number], extra: Partial<ExportInput>, variant: string): { dir: string; names: string[] } {
  const dir = join(tmp, `${site.name}-${variant}`, format);
  mkdirSync(dir, { recursive: true });
  const { files } = exportRouterConfig(format, { config: site.config, inventory: buildInventory(site.config), leases: site.leases, now: NOW, ...extra });
  for (const f of files) writeFileSync(join(dir, f.name), f.content);
  return { dir, names: files.map((f) => f.name) };
}

function run(cmd: string, args: string[]): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

const variants: { name: string; extra: Partial<ExportInput> }[] = [
  { name: 'snapshot', extra: {} },
  { name: 'axfr', extra: { dnsPrimary: '10.99.0.2:10053', serials: { 'lab.example.net': 2026112601 } } },
];

for (const site of sites) {
  for (const v of variants) {
    describe(`checkers accept the ${site.name} export (${v.name})`, () => {
      test('kea-dhcp4 -t accepts the Kea configuration alone', { skip: !have('kea-dhcp4') && 'kea-dhcp4 not installed (kea-dhcp4-server)' }, () => {
        const { dir } = writeExport(site, 'kea', v.extra, v.name);
        const r = run('kea-dhcp4', ['-t', join(dir, 'kea-dhcp4.conf')]);
        assert.equal(r.status, 0, r.out);
        assert.doesNotMatch(r.out, /ERROR|FATAL/);
      });
      test('unbound-checkconf accepts the Unbound configuration', { skip: !have('unbound-checkconf') && 'unbound-checkconf not installed (unbound)' }, () => {
        const { dir } = writeExport(site, 'unbound', v.extra, v.name);
        const r = run('unbound-checkconf', [join(dir, 'unbound-builderd.conf')]);
        assert.equal(r.status, 0, r.out);
        assert.match(r.out, /no errors/);
      });
      test('named-checkzone accepts every zone file (and named-checkconf the fragment)', { skip: !have('named-checkzone') && 'named-checkzone not installed (bind9-utils)' }, () => {
        const { dir, names } = writeExport(site, 'bind', v.extra, v.name);
        const zones = names.filter((n) => n.startsWith('db.'));
        assert.equal(zones.length, buildInventory(site.config).zones.length);
        for (const z of zones) {
          const origin = z.slice(3);
          const r = run('named-checkzone', ['-k', 'fail', '-n', 'fail', origin, join(dir, z)]);
          assert.equal(r.status, 0, `${origin}: ${r.out}`);
          assert.match(r.out, new RegExp(`zone ${origin.replace(/\./g, '\\.')}/IN: loaded serial \\d+\\nOK`));
        }
        if (have('named-checkconf')) {
          const r = run('named-checkconf', [join(dir, 'named.conf.builderd')]);
          assert.equal(r.status, 0, r.out);
        }
      });
      test('dnsmasq --test accepts the dnsmasq configuration', { skip: !have('dnsmasq') && 'dnsmasq not installed (dnsmasq-base)' }, () => {
        const { dir } = writeExport(site, 'dnsmasq', v.extra, v.name);
        const r = run('dnsmasq', ['--test', '-C', join(dir, 'dnsmasq-builderd.conf')]);
        assert.equal(r.status, 0, r.out);
        assert.match(r.out, /syntax check OK/);
      });
    });
  }
}

/*
 * A relay-style DHCP probe (RFC 2131 §4.1: the server answers a relay at giaddr, port 67) run inside the
 * client namespace: DISCOVER (optionally option 93 and user class), then REQUEST the offered address.
 */
const PROBE = `
import dgram from 'node:dgram';
const [,, giaddr, server, port, mac, arch, userClass, doRequest] = process.argv;
const xid = Math.floor(Math.random() * 2 ** 32);
function packet(type, extra) {
  const b = Buffer.alloc(548);
  b[0] = 1; b[1] = 1; b[2] = 6; b[3] = 1; b.writeUInt32BE(xid, 4);
  Buffer.from(giaddr.split('.').map(Number)).copy(b, 24);
  Buffer.from(mac.split(':').map((h) => parseInt(h, 16))).copy(b, 28);
  b.writeUInt32BE(0x63825363, 236);
  let o = 240;
  const opt = (c, d) => { b[o++] = c; b[o++] = d.length; Buffer.from(d).copy(b, o); o += d.length; };
  opt(53, [type]);
  if (arch !== 'none') opt(93, [0, Number(arch)]);
  if (userClass !== '-') opt(77, Buffer.from(userClass));
  for (const [c, d] of extra) opt(c, d);
  b[o++] = 255;
  return b;
}
function parse(m) {
  const opts = {}; let o = 240;
  while (o < m.length && m[o] !== 255) { if (m[o] === 0) { o++; continue; } opts[m[o]] = [...m.subarray(o + 2, o + 2 + m[o + 1])]; o += 2 + m[o + 1]; }
  return { type: opts[53]?.[0], yiaddr: [...m.subarray(16, 20)].join('.'), siaddr: [...m.subarray(20, 24)].join('.'),
    file: m.subarray(108, 236).toString('latin1').replace(/\\0[\\s\\S]*$/, ''), serverId: opts[54], lease: opts[51] ? Buffer.from(opts[51]).readUInt32BE(0) : undefined };
}
const s = dgram.createSocket('udp4');
const out = {};
const timer = setTimeout(() => { console.log(JSON.stringify({ ...out, timeout: true })); process.exit(0); }, 4000);
s.on('message', (m) => {
  if (m.readUInt32BE(4) !== xid) return;
  const p = parse(m);
  if (p.type === 2 && !out.offer) {
    out.offer = p;
    if (doRequest !== '1') { clearTimeout(timer); console.log(JSON.stringify(out)); process.exit(0); }
    s.send(packet(3, [[50, p.yiaddr.split('.').map(Number)], [54, p.serverId]]), Number(port), server);
  } else if (p.type === 5 || p.type === 6) {
    out.ack = p; clearTimeout(timer); console.log(JSON.stringify(out)); process.exit(0);
  }
});
s.bind(67, giaddr, () => s.send(packet(1, []), Number(port), server));
`;

interface Reply { type: number; yiaddr: string; siaddr: string; file: string; lease?: number }
interface ProbeResult { offer?: Reply; ack?: Reply; timeout?: boolean }

describe('a real kea-dhcp4 loads the exported configuration and memfile', () => {
  const skip = needsRoot('starts kea-dhcp4 in a network namespace') || (!have('kea-dhcp4') && 'kea-dhcp4 not installed (kea-dhcp4-server)');
  let ns: NetnsPair | undefined;
  let kea: ChildProcess | undefined;
  let log = '';
  const dir = join(tmp, 'kea-live');
  const leaseFile = join(dir, 'kea-leases4.csv');
  const site = sites[0]!;
  const probe = (mac: string, arch: number | 'none', userClass = '-', request = false): ProbeResult => {
    const out = ns!.exec(ns!.b, [process.execPath, join(dir, 'probe.mjs'), '10.99.0.50', '10.99.0.1', '10067', mac, String(arch), userClass, request ? '1' : '0'], { timeoutMs: 10_000 });
    return JSON.parse(out.trim()) as ProbeResult;
  };

  before(async () => {
    if (skip) return;
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'probe.mjs'), PROBE);
    // Router namespace bex-a holds the router address (10.99.0.1); bex-b plays a relay at 10.99.0.50.
    ns = createNetnsPair('bex', '10.99.0.1/24', '10.99.0.50/24');
    const { files } = exportRouterConfig('kea', {
      config: site.config, inventory: buildInventory(site.config), leases: site.leases, now: NOW,
      kea: { leaseFile, interfaces: [ns.ifA] },
    });
    const conf = JSON.parse(files.find((f) => f.name === 'kea-dhcp4.conf')!.content) as { Dhcp4: Record<string, any> };
    // Test-only adjustments: UDP sockets (relayed traffic needs no raw socket), no background LFC, log to stdout.
    conf.Dhcp4['interfaces-config']['dhcp-socket-type'] = 'udp';
    conf.Dhcp4['lease-database']['lfc-interval'] = 0;
    conf.Dhcp4['loggers'] = [{ name: 'kea-dhcp4', output_options: [{ output: 'stdout' }], severity: 'INFO' }];
    writeFileSync(join(dir, 'kea-dhcp4.conf'), JSON.stringify(conf, null, 2));
    writeFileSync(leaseFile, files.find((f) => f.name === 'kea-leases4.csv')!.content);
    kea = ns.spawn(ns.a, ['kea-dhcp4', '-c', join(dir, 'kea-dhcp4.conf'), '-p', '10067'], {
      env: { ...process.env, KEA_LOCKFILE_DIR: dir, KEA_PIDFILE_DIR: dir, KEA_LOGGER_DESTINATION: 'stdout' },
    });
    kea.stdout!.on('data', (d: Buffer) => { log += d.toString(); });
    kea.stderr!.on('data', (d: Buffer) => { log += d.toString(); });
    const until = Date.now() + 10_000;
    while (!/DHCP4_STARTED/.test(log) && kea.exitCode === null && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    assert.match(log, /DHCP4_STARTED/, `kea-dhcp4 did not start:\n${log}`);
  });

  after(() => {
    if (kea?.pid && kea.exitCode === null) { try { process.kill(kea.pid, 'SIGTERM'); } catch { /* gone */ } }
    ns?.cleanup();
  });

  test('Kea reads the exported memfile at start without errors', { skip }, () => {
    assert.match(log, new RegExp(`DHCPSRV_MEMFILE_LEASE_FILE_LOAD loading leases from file ${leaseFile.replace(/[.]/g, '\\.')}`));
    assert.doesNotMatch(log, /DHCPSRV_MEMFILE_NEEDS_(UP|DOWN)GRADING/, 'the header is the schema this Kea writes');
    assert.doesNotMatch(log, /ERROR|FATAL|LEASE_LOAD_ROW_ERROR|READ_HWADDR_FAIL/, log);
  });

  test('a client with an exported lease is offered and acked its own address (not the first free one)', { skip }, () => {
    const r = probe('52:54:00:bb:00:01', 'none', '-', true);
    assert.equal(r.offer?.yiaddr, '10.99.0.150', JSON.stringify(r));
    assert.equal(r.ack?.type, 5, 'DHCPACK');
    assert.equal(r.ack?.yiaddr, '10.99.0.150');
    assert.equal(probe('52:54:00:bb:00:02', 'none').offer?.yiaddr, '10.99.0.151');
    const fresh = probe('52:54:00:cc:00:01', 'none', '-', true);
    assert.ok(fresh.ack && !['10.99.0.150', '10.99.0.151'].includes(fresh.ack.yiaddr), JSON.stringify(fresh));
    assert.equal(fresh.ack.lease, 3600, 'valid-lifetime from the config');
  });

  test('boot files by profile and architecture: reservation classes, subnet defaults, iPXE', { skip }, () => {
    const hvUefi = probe('52:54:00:aa:00:10', 7).offer!;
    assert.deepEqual([hvUefi.yiaddr, hvUefi.siaddr, hvUefi.file], ['10.99.0.10', '10.99.0.2', 'grubx64.efi']);
    const phBios = probe('52:54:00:aa:00:02', 0).offer!;
    assert.deepEqual([phBios.yiaddr, phBios.file], ['10.99.0.2', 'undionly.kpxe']);
    assert.equal(probe('52:54:00:aa:00:02', 7).offer!.file, 'ipxe.efi');
    assert.equal(probe('52:54:00:aa:00:02', 0, 'iPXE').offer!.file, 'http://pxe.mgmt.example.net:10080/boot/52:54:00:aa:00:02.ipxe');
    assert.equal(probe('52:54:00:dd:00:01', 7).offer!.file, 'ipxe.efi', 'unknown UEFI client: subnet default profile');
    assert.equal(probe('52:54:00:dd:00:01', 0).offer!.file, 'undionly.kpxe');
    assert.equal(probe('52:54:00:dd:00:01', 0, 'iPXE').offer!.file, 'http://pxe.mgmt.example.net:10080/boot/${mac}.ipxe');
    assert.equal(probe('52:54:00:dd:00:02', 'none').offer!.file, '', 'no option 93: no boot file');
  });

  test("parseLeaseFile reads the file Kea itself wrote: exported leases kept, new ones added", { skip }, () => {
    assert.ok(kea?.pid);
    process.kill(kea.pid, 'SIGTERM');
    const text = readFileSync(leaseFile, 'utf8');
    const r = parseLeaseFile(text, { subnets: site.config.dhcp.subnets, now: Date.now() });
    const byIp = new Map(r.leases.map((l) => [l.ip, l]));
    assert.equal(byIp.get('10.99.0.150')?.mac, '52:54:00:bb:00:01');
    assert.equal(byIp.get('10.99.0.150')?.clientId, null, 'Kea rewrote the row for a client that sent no option 61');
    assert.equal(byIp.get('10.99.0.151')?.mac, '52:54:00:bb:00:02');
    assert.ok(r.leases.some((l) => l.mac === '52:54:00:cc:00:01'), text);
    assert.ok(!byIp.has('10.99.0.152'), 'the expired lease was never exported');
    assert.ok(existsSync(leaseFile));
  });
});

/*
 * The DNS exports answer what builderd's inventory says: a real Unbound and a real dnsmasq, each in a
 * namespace of ours on loopback, loaded with the snapshot export and asked for every inventory record.
 */
describe('real Unbound and dnsmasq answer every inventory record from the export', () => {
  const skip = needsRoot('starts DNS servers in a network namespace') || (!have('dig') && 'dig not installed (dnsutils)');
  let ns: NetnsPair | undefined;
  const procs: ChildProcess[] = [];
  let log = '';
  const dir = join(tmp, 'dns-live');
  const site = sites[0]!;
  const inventory = buildInventory(site.config);
  const serials = { 'lab.example.net': 2026112601 };
  const records = inventory.zones.flatMap((z) => z.records).filter((r) => ['A', 'AAAA', 'CNAME', 'PTR'].includes(r.type)) as { name: string; type: string; data: string }[];
  const dig = (port: number, name: string, type: string): string =>
    ns!.exec(ns!.a, ['dig', '@127.0.0.1', '-p', String(port), '+short', '+norec', '+time=2', '+tries=2', name, type], { timeoutMs: 10_000 }).trim();
  async function waitFor(port: number) {
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      try { if (dig(port, 'hv01.lab.example.net', 'A') !== '') return; } catch { /* not yet */ }
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail(`no DNS answer on port ${port}:\n${log}`);
  }

  const start = (cmd: string[]) => {
    const p = ns!.spawn(ns!.a, cmd);
    p.stdout!.on('data', (d: Buffer) => { log += d.toString(); });
    p.stderr!.on('data', (d: Buffer) => { log += d.toString(); });
    procs.push(p);
  };

  before(async () => {
    if (skip) return;
    mkdirSync(dir, { recursive: true });
    ns = createNetnsPair('bexd', '10.99.0.1/24', '10.99.0.50/24');
    const input = { config: site.config, inventory, leases: site.leases, now: NOW, serials };
    if (have('unbound')) {
      writeFileSync(join(dir, 'unbound-builderd.conf'), exportRouterConfig('unbound', input).files[0]!.content);
      writeFileSync(join(dir, 'unbound.conf'), [
        'server:', '    interface: 127.0.0.1@10153', '    access-control: 127.0.0.0/8 allow', '    username: ""', '    chroot: ""',
        `    directory: "${dir}"`, '    pidfile: ""', '    do-daemonize: no', '    use-syslog: no', '    module-config: "iterator"',
        `include: "${join(dir, 'unbound-builderd.conf')}"`, '',
      ].join('\n'));
      start(['unbound', '-d', '-c', join(dir, 'unbound.conf')]);
      await waitFor(10153);
    }
    if (have('dnsmasq')) {
      const files = exportRouterConfig('dnsmasq', input).files;
      for (const f of files) writeFileSync(join(dir, f.name), f.content);
      start(['dnsmasq', '--keep-in-foreground', '--conf-file=' + join(dir, 'dnsmasq-builderd.conf'), '--port=10253',
        '--listen-address=127.0.0.1', '--bind-interfaces', '--no-resolv', '--no-hosts', '--pid-file=' + join(dir, 'dnsmasq.pid'),
        '--dhcp-leasefile=' + join(dir, 'dnsmasq.leases'), '--log-facility=-']);
      await waitFor(10253);
    }
  });

  after(() => {
    for (const p of procs) if (p.pid && p.exitCode === null) { try { process.kill(p.pid, 'SIGTERM'); } catch { /* gone */ } }
    ns?.cleanup();
  });

  for (const [server, port, bin] of [['unbound', 10153, 'unbound'], ['dnsmasq', 10253, 'dnsmasq']] as const) {
    test(`${server}: every A, AAAA, CNAME and PTR of the inventory`, { skip: skip || (!have(bin) && `${bin} not installed`) }, () => {
      assert.ok(records.length >= 10);
      for (const r of records) {
        const answer = dig(port, r.name, r.type).split('\n');
        const want = r.type === 'A' || r.type === 'AAAA' ? r.data : `${r.data}.`;
        assert.ok(answer.includes(want), `${server}: ${r.name} ${r.type} → ${JSON.stringify(answer)}, want ${want}`);
      }
    });
  }
  test('unbound: SOA carries the serial passed, and names outside the inventory are NXDOMAIN', { skip: skip || (!have('unbound') && 'unbound not installed') }, () => {
    assert.match(dig(10153, 'lab.example.net', 'SOA'), / 2026112601 3600 600 1209600 300$/);
    const full = ns!.exec(ns!.a, ['dig', '@127.0.0.1', '-p', '10153', '+norec', 'nothere.lab.example.net', 'A'], { timeoutMs: 10_000 });
    assert.match(full, /status: NXDOMAIN/);
  });
});
