import { z } from 'zod';
import { isIPv4, isIPv6 } from 'node:net';
import { parseCidr4, parseHostPort } from '../lib/net.js';
import { parseDuration } from '../lib/duration.js';

/*
 * The site configuration format. shared/spec/site.example.yaml is the contract: every key there keeps
 * the meaning its comment gives. Keys added here are optional with defaults, so that file stays valid.
 */

const ipv4 = z.string().refine((s) => isIPv4(s), { message: 'expected an IPv4 address (a.b.c.d)' });
const ipv6 = z.string().refine((s) => isIPv6(s), { message: 'expected an IPv6 address' });
const ipAny = z.string().refine((s) => isIPv4(s) || isIPv6(s), { message: 'expected an IP address' });
const cidr4 = z.string().superRefine((s, ctx) => {
  try { parseCidr4(s); } catch (e) { ctx.addIssue({ code: 'custom', message: `expected an IPv4 CIDR: ${(e as Error).message}` }); }
});
const aclEntry = z.string().superRefine((s, ctx) => {
  const [addr, len, ...rest] = s.split('/');
  const ok = rest.length === 0 && addr !== undefined && (
    (isIPv4(addr) && (len === undefined || (/^\d+$/.test(len) && Number(len) <= 32))) ||
    (isIPv6(addr) && (len === undefined || (/^\d+$/.test(len) && Number(len) <= 128))));
  if (!ok) ctx.addIssue({ code: 'custom', message: `expected an address or CIDR (10.0.0.0/8, ::1/128), got "${s}"` });
});
const listen = z.string().superRefine((s, ctx) => {
  try { parseHostPort(s); } catch (e) { ctx.addIssue({ code: 'custom', message: `expected "address:port": ${(e as Error).message}` }); }
});
const duration = z.union([z.string(), z.number()]).superRefine((s, ctx) => {
  try { parseDuration(s); } catch (e) { ctx.addIssue({ code: 'custom', message: (e as Error).message }); }
});
const label = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const hostname = z.string().superRefine((s, ctx) => {
  if (!label.test(s)) ctx.addIssue({ code: 'custom', message: `expected a lowercase RFC 1123 label (a-z, 0-9, inner "-", at most 63): "${s}"` });
});
const domain = z.string().superRefine((s, ctx) => {
  const d = s.endsWith('.') ? s.slice(0, -1) : s;
  if (d.length > 253 || !d.split('.').every((l) => label.test(l))) {
    ctx.addIssue({ code: 'custom', message: `expected a lowercase domain name of RFC 1123 labels: "${s}"` });
  }
});
const mac = z.string().superRefine((s, ctx) => {
  if (!/^[0-9a-fA-F]{2}([:-]?[0-9a-fA-F]{2}){5}$/.test(s) && !/^[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}$/.test(s)) {
    ctx.addIssue({ code: 'custom', message: `expected a MAC address (52:54:00:aa:00:01): "${s}"` });
  }
});
const range4 = z.string().superRefine((s, ctx) => {
  const m = /^\s*([0-9.]+)\s*-\s*([0-9.]+)\s*$/.exec(s);
  if (!m || !isIPv4(m[1]!) || !isIPv4(m[2]!)) ctx.addIssue({ code: 'custom', message: `expected "first-last" IPv4 range: "${s}"` });
});
const hostport = z.string().superRefine((s, ctx) => {
  try { parseHostPort(s, 53); } catch (e) { ctx.addIssue({ code: 'custom', message: `expected "address:port": ${(e as Error).message}` }); }
});

export const bootProfileSchema = z.strictObject({
  bios: z.string().optional().describe('BIOS PXE file over TFTP (option 93 = 0)'),
  uefi: z.string().optional().describe('x86-64 UEFI file (option 93 = 7 or 9); over HTTP for UEFI HTTP boot'),
  arm64: z.string().optional().describe('ARM64 UEFI file (option 93 = 11)'),
  ipxe: z.string().optional().describe('template; iPXE clients are sent <base_url>/boot/<mac>.ipxe'),
  grub: z.string().optional().describe('template; TFTP serves it as grub.cfg-<mac>, lower and upper case'),
  pxelinux: z.string().optional().describe('template; TFTP serves it as pxelinux.cfg/01-<mac>'),
  kickstart: z.string().optional().describe('template; HTTP serves it as /ks/<host>.ks'),
  vars: z.record(z.string(), z.string()).optional().describe('extra template variables'),
});

export const interfaceSchema = z.strictObject({
  name: hostname.optional().describe('interface name; the DNS name becomes <host>-<name>'),
  mac: mac.describe('hardware address; normalised to lowercase colon form'),
  ip: ipv4.describe('reserved IPv4 address; must lie in a declared subnet'),
  ipv6: ipv6.optional().describe('optional IPv6 address (AAAA record)'),
});

export const hostSchema = z.strictObject({
  name: hostname.describe('host name (RFC 1123 label)'),
  mgmt: z.boolean().optional().describe('lives in the management zone'),
  boot: z.string().optional().describe('boot profile name'),
  interfaces: z.array(interfaceSchema).min(1),
});

export const subnetSchema = z.strictObject({
  cidr: cidr4.describe('IPv4 subnet'),
  pool: range4.optional().describe('dynamic range for machines not in the inventory'),
  gateway: ipv4.optional().describe('router option (3)'),
  dns: z.array(ipv4).optional().describe('DNS servers option (6)'),
  boot: z.string().optional().describe('boot profile for unknown PXE clients here'),
  lease_time: duration.optional().describe('overrides dhcp.lease_time for this subnet'),
  domain: domain.optional().describe('domain name option (15); default site.domain'),
});

export const tsigKeySchema = z.strictObject({
  name: domain,
  algorithm: z.enum(['hmac-sha256']).default('hmac-sha256'),
  secret: z.string().min(1).describe('base64 shared secret'),
});

export const configSchema = z.strictObject({
  site: z.strictObject({
    name: z.string().min(1).describe('site identifier'),
    domain: domain.describe('site zone: hosts and site-scoped service names'),
    mgmt_domain: domain.describe('management zone: always served by builderd'),
  }),
  paths: z.strictObject({
    state: z.string().min(1).describe('embedded store (SQLite) and authority journal'),
    artifacts: z.string().min(1).describe('served read-only over TFTP and HTTP'),
    templates: z.string().min(1).describe('per-host boot file templates'),
  }),
  authority: z.strictObject({
    initial: z.enum(['bootstrap', 'production']).default('bootstrap').describe('authority on a fresh store'),
    router: z.strictObject({
      dns: hostport.describe("the router's DNS; promote checks it serves the site zone"),
      dhcp_probe: z.boolean().default(false).describe('promote also checks the router answers a DHCP DISCOVER'),
    }),
    hooks: z.string().optional().describe('optional executables run before/after each transition'),
    transition_lease_time: duration.default('5m').describe('lease time handed out while a transition is planned'),
  }),
  dns: z.strictObject({
    listen: z.array(listen).default([]).describe('UDP and TCP on each'),
    ttl: z.number().int().min(0).max(2147483647).default(300).describe('TTL of inventory records'),
    zone_files: z.array(z.string()).default([]).describe('extra RFC 1035 master files'),
    transfer_allow: z.array(aclEntry).default([]).describe('AXFR/IXFR ACL'),
    notify: z.array(hostport).default([]).describe('secondaries sent NOTIFY on every change'),
    forwarders: z.array(hostport).default([]).describe('upstreams for names outside our zones; empty: REFUSED'),
    forward_clients: z.array(aclEntry).default([]).describe('who may use the forwarders'),
    nameservers: z.array(domain).optional().describe('NS names of our zones; default: the mgmt hosts'),
    udp_size: z.number().int().min(512).max(65535).default(1232).describe('EDNS0 UDP payload size we offer'),
    tcp_idle: duration.default('10s').describe('idle timeout of a DNS TCP connection'),
    tcp_max: z.number().int().min(1).default(256).describe('concurrent DNS TCP connections'),
    tsig_keys: z.array(tsigKeySchema).default([]).describe('TSIG keys; when set, transfers and NOTIFY are signed/required'),
    rrl: z.strictObject({
      responses_per_second: z.number().int().min(0).default(0).describe('0 disables RRL'),
      slip: z.number().int().min(0).default(2),
      window: z.number().int().min(1).default(15),
    }).prefault({}),
    workers: z.union([z.number().int().min(0).max(64), z.literal('auto')]).default(0).describe("UDP worker processes sharing the DNS sockets; 0 = in-process only; 'auto' = one when there are 2+ CPUs"),
  }).prefault({}),
  dhcp: z.strictObject({
    interfaces: z.array(z.string()).default([]).describe('interfaces to serve; empty: every non-loopback one'),
    port: z.number().int().min(1).max(65534).default(67).describe('server port; clients use port + 1'),
    lease_time: duration.default('1h'),
    offer_hold: duration.default('30s').describe('how long an OFFER reserves its address'),
    decline_hold: duration.default('10m').describe('quarantine of a DECLINEd address'),
    proxy: z.boolean().default(false).describe('answer PXE as proxyDHCP (no addresses) on port and 4011'),
    max_packets_per_mac: z.number().int().min(0).default(20).describe('per-MAC packets per second; 0 = no limit'),
    subnets: z.array(subnetSchema).default([]),
  }).prefault({}),
  tftp: z.strictObject({
    listen: z.array(listen).default([]),
    max_transfers: z.number().int().min(1).default(200),
    max_per_client: z.number().int().min(1).default(16),
    max_blksize: z.number().int().min(8).max(65464).default(1468),
    max_windowsize: z.number().int().min(1).max(65535).default(64),
  }).prefault({}),
  http: z.strictObject({
    listen: z.array(listen).default([]),
    base_url: z.string().url().describe('written into boot files: names, not addresses'),
  }),
  control: z.strictObject({
    socket: z.string().min(1).describe('CLI <-> daemon, mode 0600'),
  }),
  metrics: z.strictObject({
    listen: listen.optional().describe('Prometheus /metrics and /healthz'),
  }).prefault({}),
  store: z.strictObject({
    synchronous: z.enum(['normal', 'full']).default('normal').describe('SQLite synchronous: normal survives a crash, full also a power loss'),
  }).prefault({}),
  boot_profiles: z.record(z.string(), bootProfileSchema).default({}),
  hosts: z.array(hostSchema).default([]),
  services: z.record(hostname, hostname).default({}).describe('<svc>.<mgmt_domain> CNAME the host'),
});

/** The validated configuration as written (paths not yet resolved). */
export type RawConfig = z.infer<typeof configSchema>;

export { ipAny };
