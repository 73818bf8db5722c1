import { readFileSync } from 'node:fs';
import { resolve, dirname, isAbsolute } from 'node:path';
import { isIPv4 } from 'node:net';
import { parseDocument, LineCounter, isMap, isScalar, type Document, type Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { configSchema, type RawConfig } from './schema.js';
import type { Config, SubnetConfig } from './types.js';
import { didYouMean } from './did-you-mean.js';
import { fastYaml } from './fast-yaml.js';
import { AppError, ErrorCode } from '../lib/errors.js';
import { ipv4ToInt, intToIpv4, parseCidr4, cidrContains, normaliseMac } from '../lib/net.js';
import { parseDuration } from '../lib/duration.js';

/** One problem found in a config file, located by line and column (1-based). */
export interface ConfigIssue {
  file: string;
  line: number;
  col: number;
  /** Dotted key path, e.g. "hosts.2.interfaces.0.mac". */
  path: string;
  message: string;
}

/** Thrown when a config is invalid; carries every issue found, not just the first. */
export class ConfigError extends AppError {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[]) {
    super(ErrorCode.CONFIG_ERR_INVALID, issues.map(formatIssue).join('\n'), issues);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** "file:line:col: path: message" — the one format every config error is shown in. */
export function formatIssue(i: ConfigIssue): string {
  return `${i.file}:${i.line}:${i.col}: ${i.path || '(top)'}: ${i.message}`;
}

export interface LoadedConfig {
  config: Config;
  /** Accepted but worth fixing (e.g. MAC written as 5254.00aa.0001), formatted like issues. */
  warnings: string[];
}

/** Read, parse and validate a config file. Throws ConfigError listing every problem. */
export function loadConfig(file: string): LoadedConfig {
  const abs = resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (e) {
    throw new ConfigError([{ file: abs, line: 1, col: 1, path: '', message: `cannot read config: ${(e as Error).message}` }]);
  }
  return parseConfig(text, abs);
}

type Path = (string | number)[];

/** Parse and validate config text. `file` names the source in errors and anchors relative paths. */
export function parseConfig(text: string, file: string): LoadedConfig {
  return parseConfigFast(text, file) ?? parseConfigPositioned(text, file);
}

/**
 * The fast path: the plain-YAML reader (src/config/fast-yaml.ts), then the same schema and cross
 * checks. It answers only when the config is valid and draws no warning; anything else (text
 * outside the subset, an error, a warning) returns undefined and the positioned parse reports it
 * with file:line:col. Both paths give the same Config (test/unit/config-fast-yaml.test.ts).
 */
export function parseConfigFast(text: string, file: string): LoadedConfig | undefined {
  const raw = fastYaml(text);
  if (raw === undefined) return undefined;
  const parsed = configSchema.safeParse(raw ?? {});
  if (!parsed.success) return undefined;
  let clean = true;
  const config = crossCheck(parsed.data, file, () => { clean = false; }, () => { clean = false; });
  return clean && config ? { config, warnings: [] } : undefined;
}

/** The full parse with positions (the `yaml` Document): every issue and warning located by line:col. */
export function parseConfigPositioned(text: string, file: string): LoadedConfig {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const issues: ConfigIssue[] = [];
  const at = (pos: number | undefined, path: Path, message: string) => {
    const { line, col } = pos === undefined ? { line: 1, col: 1 } : lc.linePos(pos);
    issues.push({ file, line, col, path: path.join('.'), message });
  };
  for (const err of doc.errors) {
    at(err.pos[0], [], `YAML syntax error: ${err.message.split('\n')[0]}`);
  }
  if (issues.length) throw new ConfigError(issues);
  const raw: unknown = doc.toJS() ?? {};
  const locate = (path: Path) => nodeRange(doc, path);

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    for (const iss of parsed.error.issues) {
      const path = iss.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
      if (iss.code === 'unrecognized_keys') {
        for (const key of iss.keys) {
          const allowed = allowedKeys(path);
          const hint = didYouMean(key, allowed);
          const keyPos = keyRange(doc, path, key);
          at(keyPos, [...path, key], `unknown key "${key}"${hint ? ` — did you mean "${hint}"?` : ''} (allowed: ${allowed.join(', ')})`);
        }
        continue;
      }
      const exists = doc.hasIn(path);
      let message = iss.message;
      if (!exists && iss.code === 'invalid_type') message = `missing required key (${iss.message.replace(/^Invalid input: /, '')})`;
      else message = message.replace(/^Invalid input: /, '');
      at(exists ? locate(path) : locate(path.slice(0, -1)), path, message);
    }
    throw new ConfigError(issues);
  }
  const warnings: string[] = [];
  const warn = (path: Path, message: string) => {
    const { line, col } = lc.linePos(locate(path) ?? 0);
    warnings.push(formatIssue({ file, line, col, path: path.join('.'), message }));
  };
  const config = crossCheck(parsed.data, file, (path, msg) => at(locate(path), path, msg), warn);
  if (issues.length) throw new ConfigError(issues);
  return { config: config!, warnings };
}

function nodeRange(doc: Document, path: Path): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as YamlNode | undefined;
    if (node && typeof node === 'object' && 'range' in node && node.range) return node.range[0];
  }
  return undefined;
}

function keyRange(doc: Document, path: Path, key: string): number | undefined {
  const parent = path.length ? doc.getIn(path, true) : doc.contents;
  if (isMap(parent)) {
    for (const pair of parent.items) {
      if (isScalar(pair.key) && pair.key.value === key && pair.key.range) return pair.key.range[0];
    }
  }
  return nodeRange(doc, path);
}

/** Keys the schema allows for the object at `path` (for "did you mean"). */
function allowedKeys(path: Path): string[] {
  let s = configSchema as unknown as z.ZodType;
  for (const p of path) {
    s = unwrap(s);
    const def = (s as unknown as { _zod: { def: Record<string, unknown> } })._zod.def;
    if (def['type'] === 'object') s = (def['shape'] as Record<string, z.ZodType>)[String(p)]!;
    else if (def['type'] === 'array') s = def['element'] as z.ZodType;
    else if (def['type'] === 'record') s = def['valueType'] as z.ZodType;
    else return [];
    if (!s) return [];
  }
  s = unwrap(s);
  const def = (s as unknown as { _zod: { def: Record<string, unknown> } })._zod.def;
  return def['type'] === 'object' ? Object.keys(def['shape'] as object) : [];
}

function unwrap(s: z.ZodType): z.ZodType {
  for (;;) {
    const def = (s as unknown as { _zod: { def: Record<string, unknown> } })._zod.def;
    if ((def['type'] === 'optional' || def['type'] === 'default' || def['type'] === 'nullable' || def['type'] === 'prefault') && def['innerType']) {
      s = def['innerType'] as z.ZodType;
    } else if (def['type'] === 'pipe' && def['in']) {
      s = def['in'] as z.ZodType;
    } else return s;
  }
}

type Report = (path: Path, message: string) => void;

/** Cross-field rules zod cannot express, and resolution into the runtime Config. */
function crossCheck(raw: RawConfig, file: string, error: Report, warn: Report): Config | undefined {
  const base = dirname(file);
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const siteDomain = raw.site.domain.replace(/\.$/, '');
  const mgmtDomain = raw.site.mgmt_domain.replace(/\.$/, '');
  if (siteDomain === mgmtDomain) error(['site', 'mgmt_domain'], 'mgmt_domain must differ from domain');

  const leaseTime = parseDuration(raw.dhcp.lease_time);
  const subnets: SubnetConfig[] = [];
  raw.dhcp.subnets.forEach((s, i) => {
    const c = parseCidr4(s.cidr);
    const sub: SubnetConfig = {
      cidr: s.cidr, network: c.network, prefix: c.prefix, mask: c.mask, broadcast: c.last,
      dns: s.dns ?? [], leaseTime: s.lease_time !== undefined ? parseDuration(s.lease_time) : leaseTime,
      domain: s.domain ?? siteDomain,
    };
    if (s.gateway !== undefined) {
      if (!cidrContains(c, s.gateway)) error(['dhcp', 'subnets', i, 'gateway'], `gateway ${s.gateway} is outside subnet ${s.cidr}`);
      sub.gateway = s.gateway;
    }
    if (s.boot !== undefined) {
      if (!(s.boot in raw.boot_profiles)) error(['dhcp', 'subnets', i, 'boot'], `unknown boot profile "${s.boot}"${hint(s.boot, Object.keys(raw.boot_profiles))} (defined: ${Object.keys(raw.boot_profiles).join(', ') || 'none'})`);
      sub.boot = s.boot;
    }
    if (s.pool !== undefined) {
      const [a, b] = s.pool.split('-').map((x) => x.trim());
      const first = ipv4ToInt(a!), last = ipv4ToInt(b!);
      if (first > last) error(['dhcp', 'subnets', i, 'pool'], `pool start ${a} is after its end ${b}`);
      else if (!cidrContains(c, first) || !cidrContains(c, last)) error(['dhcp', 'subnets', i, 'pool'], `pool ${s.pool} is not inside subnet ${s.cidr}`);
      else if (first === c.network || last === c.last) error(['dhcp', 'subnets', i, 'pool'], `pool ${s.pool} includes the network or broadcast address of ${s.cidr}`);
      sub.pool = { first, last, text: s.pool };
    }
    for (let j = 0; j < i; j++) {
      const o = subnets[j]!;
      if (o.network <= c.last && c.network <= o.broadcast) error(['dhcp', 'subnets', i, 'cidr'], `subnet ${s.cidr} overlaps subnet ${o.cidr} (dhcp.subnets.${j})`);
    }
    subnets.push(sub);
  });

  // Names, MACs and addresses must each be unique across the inventory.
  const names = new Map<string, string>();
  const macs = new Map<string, string>();
  const ips = new Map<string, string>();
  const hostNames = new Set<string>();
  const hosts: Config['hosts'] = [];
  raw.hosts.forEach((h, i) => {
    if (hostNames.has(h.name)) error(['hosts', i, 'name'], `duplicate host name "${h.name}"`);
    hostNames.add(h.name);
    if (h.boot !== undefined && !(h.boot in raw.boot_profiles)) {
      error(['hosts', i, 'boot'], `unknown boot profile "${h.boot}"${hint(h.boot, Object.keys(raw.boot_profiles))} (defined: ${Object.keys(raw.boot_profiles).join(', ') || 'none'})`);
    }
    const zone = h.mgmt ? mgmtDomain : siteDomain;
    const unnamed = h.interfaces.filter((f) => f.name === undefined).length;
    if (unnamed > 1) error(['hosts', i, 'interfaces'], `host "${h.name}" has ${unnamed} interfaces without a name; give all but one a name (its DNS name becomes ${h.name}-<name>)`);
    const ifaces: Config['hosts'][number]['interfaces'] = [];
    h.interfaces.forEach((f, j) => {
      const p: Path = ['hosts', i, 'interfaces', j];
      const label = f.name ? `${h.name}-${f.name}` : h.name;
      if (label.length > 63) error([...p, 'name'], `DNS label "${label}" is longer than 63 characters`);
      const fqdn = `${label}.${zone}`;
      const prevName = names.get(fqdn);
      if (prevName) error(f.name ? [...p, 'name'] : ['hosts', i, 'name'], `duplicate name ${fqdn} (also ${prevName})`);
      names.set(fqdn, p.join('.'));
      const mac = normaliseMac(f.mac)!;
      if (mac !== f.mac) warn([...p, 'mac'], `MAC "${f.mac}" accepted as "${mac}" (write MACs in lowercase colon form)`);
      const prevMac = macs.get(mac);
      if (prevMac) error([...p, 'mac'], `duplicate MAC ${mac} (also ${prevMac})`);
      macs.set(mac, p.join('.'));
      const prevIp = ips.get(f.ip);
      if (prevIp) error([...p, 'ip'], `duplicate IP ${f.ip} (also ${prevIp})`);
      ips.set(f.ip, p.join('.'));
      const sub = subnets.find((s) => cidrContains({ network: s.network, mask: s.mask } as never, f.ip));
      if (!sub) error([...p, 'ip'], `IP ${f.ip} is not inside any dhcp.subnets (${subnets.map((s) => s.cidr).join(', ') || 'none declared'})`);
      else {
        const n = ipv4ToInt(f.ip);
        if (n === sub.network || n === sub.broadcast) error([...p, 'ip'], `IP ${f.ip} is the network or broadcast address of ${sub.cidr}`);
        if (sub.pool && n >= sub.pool.first && n <= sub.pool.last) {
          error([...p, 'ip'], `reserved IP ${f.ip} lies inside the dynamic pool ${sub.pool.text}; keep pools clear of reservations`);
        }
      }
      const out: Config['hosts'][number]['interfaces'][number] = { mac, ip: f.ip };
      if (f.name !== undefined) out.name = f.name;
      if (f.ipv6 !== undefined) out.ipv6 = f.ipv6;
      ifaces.push(out);
    });
    const host: Config['hosts'][number] = { name: h.name, mgmt: h.mgmt ?? false, interfaces: ifaces };
    if (h.boot !== undefined) host.boot = h.boot;
    hosts.push(host);
  });

  for (const [svc, host] of Object.entries(raw.services)) {
    if (!hostNames.has(host)) error(['services', svc], `service "${svc}" points at unknown host "${host}"${hint(host, [...hostNames])}`);
    if (names.has(`${svc}.${mgmtDomain}`)) error(['services', svc], `service name ${svc}.${mgmtDomain} clashes with a host name`);
    if (names.has(`${svc}.${siteDomain}`)) error(['services', svc], `service alias ${svc}.${siteDomain} clashes with a host name`);
  }

  raw.dns.zone_files.forEach((z, i) => {
    try { readFileSync(abs(z)); } catch (e) { error(['dns', 'zone_files', i], `cannot read zone file ${abs(z)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`); }
  });
  if (raw.dns.tsig_keys.length) {
    raw.dns.tsig_keys.forEach((k, i) => {
      if (!/^[A-Za-z0-9+/]+=*$/.test(k.secret)) error(['dns', 'tsig_keys', i, 'secret'], 'expected a base64 secret');
    });
  }
  const ports = new Map<string, string>();
  const claim = (proto: string, addrs: readonly string[], key: Path) => addrs.forEach((a, i) => {
    const k = `${proto}/${a}`;
    if (/:0$/.test(a)) return; // port 0: the kernel picks a free port for each (tests)
    if (ports.has(k)) error([...key, i], `${a} is already used by ${ports.get(k)}`);
    ports.set(k, [...key, i].join('.'));
  });
  claim('udp', raw.dns.listen, ['dns', 'listen']);
  claim('tcp', raw.dns.listen, ['dns', 'listen']);
  claim('udp', raw.tftp.listen, ['tftp', 'listen']);
  claim('tcp', raw.http.listen, ['http', 'listen']);
  if (raw.metrics.listen) claim('tcp', [raw.metrics.listen], ['metrics', 'listen']);
  const router = raw.authority.router.dns;
  if (!isIPv4(router.split(':')[0] ?? '') && !router.startsWith('[')) error(['authority', 'router', 'dns'], 'expected an IP address and port');

  return {
    file,
    site: { name: raw.site.name, domain: siteDomain, mgmt_domain: mgmtDomain },
    paths: { state: abs(raw.paths.state), artifacts: abs(raw.paths.artifacts), templates: abs(raw.paths.templates) },
    authority: {
      initial: raw.authority.initial,
      router: { dns: raw.authority.router.dns, dhcpProbe: raw.authority.router.dhcp_probe },
      ...(raw.authority.hooks !== undefined ? { hooks: abs(raw.authority.hooks) } : {}),
      transitionLeaseTime: parseDuration(raw.authority.transition_lease_time),
    },
    dns: { ...raw.dns, tcp_idle: parseDuration(raw.dns.tcp_idle), zone_files: raw.dns.zone_files.map(abs) },
    dhcp: {
      interfaces: raw.dhcp.interfaces, port: raw.dhcp.port, leaseTime,
      offerHold: parseDuration(raw.dhcp.offer_hold), declineHold: parseDuration(raw.dhcp.decline_hold),
      proxy: raw.dhcp.proxy, maxPacketsPerMac: raw.dhcp.max_packets_per_mac, subnets,
    },
    tftp: raw.tftp,
    http: raw.http,
    control: { socket: abs(raw.control.socket) },
    metrics: raw.metrics.listen !== undefined ? { listen: raw.metrics.listen } : {},
    store: raw.store,
    bootProfiles: raw.boot_profiles,
    hosts,
    services: raw.services,
  };
}

function hint(word: string, candidates: string[]): string {
  const d = didYouMean(word, candidates);
  return d ? ` — did you mean "${d}"?` : '';
}

export { intToIpv4 };
