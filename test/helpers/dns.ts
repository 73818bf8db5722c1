import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Config } from '../../src/config/types.js';
import type { Zone, ResourceRecord } from '../../src/inventory/types.js';
import type { DynamicRecord, ZoneDiff, ZoneStore } from '../../src/store/ports.js';
import { fixedAuthority, type AuthorityView } from '../../src/lib/authority-view.js';
import { createMetrics, type Metrics } from '../../src/lib/metrics.js';
import { silentLogger } from '../../src/lib/logger.js';
import { systemClock } from '../../src/lib/clock.js';
import { createDnsService, type DnsService } from '../../src/dns/service.js';
import { loadConfig } from '../../src/config/load.js';
import { buildInventory } from '../../src/inventory/index.js';
import { createMemoryStore } from '../../src/store/memory/index.js';
import { join } from 'node:path';

/** config/example.yaml as loaded by the real loader, with `dns` overridden (listen on port 0). */
export function exampleConfig(dns: Partial<Config['dns']> = {}): Config {
  const { config } = loadConfig(join(import.meta.dirname, '../../config/example.yaml'));
  return { ...config, dns: { ...config.dns, listen: ['127.0.0.1:0'], ...dns } };
}

/** The zones the real inventory builds from config/example.yaml. */
export function exampleInventoryZones(): Zone[] {
  return buildInventory(exampleConfig()).zones;
}

/** The ZoneStore port of a fresh memory store (src/store/memory). */
export function memoryStoreZones(): ZoneStore {
  return createMemoryStore().zones;
}

const run = promisify(execFile);

/** A small in-memory ZoneStore (until src/store/memory lands). */
export function memoryZoneStore(): ZoneStore & { dyn: Map<string, DynamicRecord[]> } {
  const dyn = new Map<string, DynamicRecord[]>();
  const serials = new Map<string, { serial: number; hash: string }>();
  const diffs: ZoneDiff[] = [];
  return {
    dyn,
    async dynamicRecords() { return [...dyn.values()].flat(); },
    async setDynamic(owner, records) { if (records.length) dyn.set(owner, [...records]); else dyn.delete(owner); },
    async getSerial(zone) { return serials.get(zone); },
    async setSerial(zone, serial, hash, diff) { serials.set(zone, { serial, hash }); if (diff) diffs.push(JSON.parse(JSON.stringify(diff)) as ZoneDiff); },
    async diffsSince(zone, since) { return diffs.filter((d) => d.zone === zone && d.fromSerial >= since); },
  };
}

/** A Config for DNS tests (the config loader is the lead's; only `dns` matters here). */
export function dnsConfig(dns: Partial<Config['dns']> = {}): Config {
  return {
    file: '<test>',
    site: { name: 'lab', domain: 'lab.example.net', mgmt_domain: 'mgmt.example.net' },
    paths: { state: '/tmp', artifacts: '/tmp', templates: '/tmp' },
    authority: { initial: 'bootstrap', router: { dns: '10.99.0.1:53', dhcpProbe: false }, transitionLeaseTime: 300 },
    dns: {
      listen: ['127.0.0.1:0'], ttl: 300, zone_files: [], transfer_allow: ['127.0.0.0/8'], notify: [], forwarders: [],
      forward_clients: ['10.99.0.0/16'], udp_size: 1232, tcp_idle: 10, tcp_max: 256, tsig_keys: [],
      rrl: { responses_per_second: 0, slip: 2, window: 15 }, workers: 0,
      ...dns,
    } as Config['dns'],
    dhcp: { interfaces: [], port: 10067, leaseTime: 3600, offerHold: 30, declineHold: 600, proxy: false, maxPacketsPerMac: 20, subnets: [] },
    tftp: { listen: [], max_transfers: 200, max_per_client: 16, max_blksize: 1468, max_windowsize: 64 },
    http: { listen: [], base_url: 'http://pxe.mgmt.example.net:10080' },
    control: { socket: '/tmp/x.sock' },
    metrics: {},
    store: { synchronous: 'normal' },
    bootProfiles: {},
    hosts: [],
    services: {},
  } as unknown as Config;
}

function soa(origin: string, ttl = 300): ResourceRecord {
  return { name: origin, ttl, type: 'SOA', data: { mname: 'provisioner-ph01.mgmt.example.net', rname: 'hostmaster.mgmt.example.net', serial: 0, refresh: 3600, retry: 600, expire: 604800, minimum: 60 } };
}

/** The zones the inventory makes of config/example.yaml (built by hand until src/inventory lands). */
export function exampleZones(): Zone[] {
  const ns = (origin: string): ResourceRecord => ({ name: origin, ttl: 300, type: 'NS', data: 'provisioner-ph01.mgmt.example.net' });
  const a = (name: string, ip: string): ResourceRecord => ({ name, ttl: 300, type: 'A', data: ip });
  const cname = (name: string, t: string): ResourceRecord => ({ name, ttl: 300, type: 'CNAME', data: t });
  const ptr = (name: string, t: string): ResourceRecord => ({ name, ttl: 300, type: 'PTR', data: t });
  return [
    { origin: 'lab.example.net', kind: 'site', records: [soa('lab.example.net'), ns('lab.example.net'),
      a('core-rt01.lab.example.net', '10.99.0.1'), a('hv01.lab.example.net', '10.99.0.10'), a('hv01-mgmt.lab.example.net', '10.99.1.10'),
      cname('artifacts.lab.example.net', 'artifacts.mgmt.example.net'), cname('pxe.lab.example.net', 'pxe.mgmt.example.net'),
      cname('tftp.lab.example.net', 'tftp.mgmt.example.net')] },
    { origin: 'mgmt.example.net', kind: 'mgmt', records: [soa('mgmt.example.net'), ns('mgmt.example.net'),
      a('provisioner-ph01.mgmt.example.net', '10.99.0.2'),
      cname('artifacts.mgmt.example.net', 'provisioner-ph01.mgmt.example.net'), cname('pxe.mgmt.example.net', 'provisioner-ph01.mgmt.example.net'),
      cname('tftp.mgmt.example.net', 'provisioner-ph01.mgmt.example.net')] },
    { origin: '0.99.10.in-addr.arpa', kind: 'reverse', records: [soa('0.99.10.in-addr.arpa'), ns('0.99.10.in-addr.arpa'),
      ptr('1.0.99.10.in-addr.arpa', 'core-rt01.lab.example.net'), ptr('2.0.99.10.in-addr.arpa', 'provisioner-ph01.mgmt.example.net'),
      ptr('10.0.99.10.in-addr.arpa', 'hv01.lab.example.net')] },
    { origin: '1.99.10.in-addr.arpa', kind: 'reverse', records: [soa('1.99.10.in-addr.arpa'), ns('1.99.10.in-addr.arpa'),
      ptr('10.1.99.10.in-addr.arpa', 'hv01-mgmt.lab.example.net')] },
  ];
}

/** A running service on 127.0.0.1, port 0. */
export interface Running { svc: DnsService; port: number; store: ZoneStore; metrics: Metrics; close(): Promise<void> }

/** Start the DNS service for a test. */
export async function startDns(opts: { config?: Config; zones?: Zone[]; authority?: AuthorityView; store?: ZoneStore } = {}): Promise<Running> {
  const store = opts.store ?? memoryStoreZones();
  const metrics = createMetrics();
  const svc = await createDnsService({
    config: opts.config ?? exampleConfig(), zones: opts.zones ?? exampleInventoryZones(), store,
    authority: opts.authority ?? fixedAuthority('bootstrap'), logger: silentLogger(), metrics, clock: systemClock,
  });
  await svc.listen();
  const port = svc.addresses().udp[0]!.port;
  return { svc, port, store, metrics, close: () => svc.close() };
}

/** Run dig against 127.0.0.1:port; returns stdout. */
export async function dig(port: number, ...args: string[]): Promise<string> {
  const r = await run('dig', ['@127.0.0.1', '-p', String(port), '+time=2', '+tries=1', ...args], { timeout: 10_000 });
  return r.stdout;
}

/** Run kdig against 127.0.0.1:port; returns stdout. */
export async function kdig(port: number, ...args: string[]): Promise<string> {
  const r = await run('kdig', ['@127.0.0.1', '-p', String(port), '+time=2', '+retry=0', ...args], { timeout: 10_000 });
  return r.stdout;
}

/** Answer-section lines of `dig +noall +answer` with the TTL column removed. */
export function answers(out: string): string[] {
  return out.split('\n').filter((l) => l && !l.startsWith(';')).map((l) => l.split(/\s+/).filter((_, i) => i !== 1).join(' '));
}
