import { isIPv4 } from 'node:net';
import type { Config, SubnetConfig } from '../../config/types.js';
import type { Lease } from '../../store/ports.js';
import { cidrContains, normaliseMac } from '../../lib/net.js';

/*
 * Parsers for the router's lease files, so that a revert to builderd loses no client address.
 *
 * Kea memfile (lease4 CSV): an append log. The first line is the header (column names; Kea 2.2 has
 * 11 columns, later versions add pool_id), then one row per lease change: the last row for an address
 * wins, and a row with valid_lifetime 0 records a deleted lease. expire is cltt + valid_lifetime in
 * epoch seconds. state: 0 default (assigned), 1 declined, 2 expired-reclaimed, 3 released.
 * dnsmasq lease file: "<expiry> <mac> <ip> <hostname|*> <client-id|*>" per line, expiry in epoch
 * seconds, 0 meaning an infinite lease; "duid ..." and IPv6 lines belong to DHCPv6 and are skipped.
 */

export type LeaseFileFormat = 'kea' | 'dnsmasq';

export interface ParseLeaseOptions {
  /** Default 'auto': a first line starting "address," is Kea, anything else dnsmasq. */
  format?: LeaseFileFormat | 'auto';
  subnets: Config['dhcp']['subnets'];
  /** Wall ms. */
  now: number;
  /** Inventory reservations: a lease on an address reserved for another MAC is skipped. */
  reservations?: readonly { mac: string; ip: string }[];
}

export interface SkippedLine {
  /** 1-based line number in the file. */
  line: number;
  reason: string;
}

export interface ParsedLeases {
  format: LeaseFileFormat;
  /** Bound, unexpired leases inside our subnets, one per address, sorted by address. */
  leases: Lease[];
  skipped: SkippedLine[];
}

/**
 * An infinite lease (dnsmasq expiry 0) is given the longest finite lifetime DHCP can express:
 * 0xffffffff seconds is "infinity" on the wire (RFC 2131 §3.3), so the lease never runs out.
 */
export const INFINITE_LEASE_MS = 0xffffffff * 1000;

/** Kea lease4 states (src/lib/dhcpsrv/lease.h). */
const KEA_STATE = { 0: 'default', 1: 'declined', 2: 'expired-reclaimed', 3: 'released' } as Record<number, string>;

/** Detect the format of a lease file from its first non-empty line. */
export function detectLeaseFormat(text: string): LeaseFileFormat {
  const first = text.split(/\r?\n/).find((l) => l.trim() !== '') ?? '';
  return /^\s*address\s*,/.test(first) ? 'kea' : 'dnsmasq';
}

/** Parse a router lease file into the leases builderd must honour. Bad lines are skipped, never thrown. */
export function parseLeaseFile(text: string, opts: ParseLeaseOptions): ParsedLeases {
  const format = opts.format === undefined || opts.format === 'auto' ? detectLeaseFormat(text) : opts.format;
  return format === 'kea' ? parseKea(text, opts) : parseDnsmasq(text, opts);
}

function subnetOf(subnets: readonly SubnetConfig[], ip: string): SubnetConfig | undefined {
  return subnets.find((s) => cidrContains({ network: s.network, mask: s.mask, prefix: s.prefix, last: s.broadcast, text: s.cidr }, ip));
}

/** Why a lease of ip to mac must not be honoured because the inventory reserves ip for another MAC. */
function reservedFor(opts: ParseLeaseOptions, ip: string, mac: string): string | undefined {
  const r = opts.reservations?.find((x) => x.ip === ip);
  return r && r.mac !== mac ? `${ip} is reserved for ${r.mac}` : undefined;
}

/** A client's hostname as builderd keeps it: the first label, lowercase, RFC 1123 characters only. */
function sanitiseHostname(raw: string): string | null {
  const label = raw.trim().toLowerCase().replace(/\.$/, '').split('.')[0] ?? '';
  return /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(label) ? label : null;
}

function hexOrNull(raw: string): string | null {
  const hex = raw.toLowerCase().replace(/[:\-\s]/g, '');
  return /^(?:[0-9a-f]{2})+$/.test(hex) ? hex : null;
}

interface Candidate {
  line: number;
  lease: Lease;
}

/** Keep candidates that are unexpired and inside our subnets; last one per address wins. */
function finish(format: LeaseFileFormat, candidates: Map<string, Candidate | { line: number; reason: string }>, skipped: SkippedLine[]): ParsedLeases {
  // One address per client and subnet: a client that moved keeps the lease that runs longest.
  const byClient = new Map<string, Candidate>();
  for (const c of candidates.values()) {
    if ('reason' in c) { skipped.push({ line: c.line, reason: c.reason }); continue; }
    const key = `${c.lease.mac}|${c.lease.subnet}`;
    const other = byClient.get(key);
    if (!other) { byClient.set(key, c); continue; }
    const [keep, drop] = c.lease.expires > other.lease.expires || (c.lease.expires === other.lease.expires && c.line > other.line) ? [c, other] : [other, c];
    byClient.set(key, keep);
    skipped.push({ line: drop.line, reason: `${drop.lease.mac} also holds ${keep.lease.ip} (line ${keep.line}), which runs longer` });
  }
  const leases = [...byClient.values()].map((c) => c.lease);
  leases.sort((a, b) => compareIp(a.ip, b.ip));
  skipped.sort((a, b) => a.line - b.line);
  return { format, leases, skipped };
}

function compareIp(a: string, b: string): number {
  const pa = a.split('.').map(Number), pb = b.split('.').map(Number);
  for (let i = 0; i < 4; i++) if (pa[i] !== pb[i]) return pa[i]! - pb[i]!;
  return 0;
}

function parseKea(text: string, opts: ParseLeaseOptions): ParsedLeases {
  const lines = text.split(/\r?\n/);
  const skipped: SkippedLine[] = [];
  const byIp = new Map<string, Candidate | { line: number; reason: string }>();
  let header: string[] | undefined;
  const nowSec = Math.floor(opts.now / 1000);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i]!.trim();
    if (raw === '') continue;
    const cols = raw.split(',');
    if (!header) {
      if (cols[0]?.trim() !== 'address') {
        skipped.push({ line: lineNo, reason: 'no Kea lease4 header ("address,hwaddr,...") before data' });
        return finish('kea', byIp, skipped);
      }
      header = cols.map((c) => c.trim());
      for (const need of ['hwaddr', 'valid_lifetime', 'expire']) {
        if (!header.includes(need)) {
          skipped.push({ line: lineNo, reason: `Kea header lacks column ${need}` });
          return finish('kea', byIp, skipped);
        }
      }
      continue;
    }
    if (cols[0] === 'address') continue; // a repeated header (files concatenated by hand)
    if (cols.length < header.length) { skipped.push({ line: lineNo, reason: `${cols.length} columns, header has ${header.length}` }); continue; }
    const col = (name: string) => { const j = header!.indexOf(name); return j >= 0 ? (cols[j] ?? '').trim() : ''; };
    const ip = col('address');
    if (!isIPv4(ip)) { skipped.push({ line: lineNo, reason: `not an IPv4 address: ${ip}` }); continue; }
    const valid = Number(col('valid_lifetime'));
    const expire = Number(col('expire'));
    if (!Number.isInteger(valid) || valid < 0 || !Number.isInteger(expire) || expire < 0) {
      skipped.push({ line: lineNo, reason: 'valid_lifetime/expire are not whole seconds' });
      continue;
    }
    // From here on the row is Kea's latest word on this address: it replaces any earlier row.
    const stateNum = col('state') === '' ? 0 : Number(col('state'));
    if (valid === 0) { byIp.set(ip, { line: lineNo, reason: 'lease deleted (valid_lifetime 0)' }); continue; }
    if (stateNum !== 0) { byIp.set(ip, { line: lineNo, reason: `state ${KEA_STATE[stateNum] ?? stateNum}, not assigned` }); continue; }
    const subnet = subnetOf(opts.subnets, ip);
    if (!subnet) { byIp.set(ip, { line: lineNo, reason: `${ip} is in none of our subnets` }); continue; }
    if (expire <= nowSec) { byIp.set(ip, { line: lineNo, reason: `expired at ${new Date(expire * 1000).toISOString()}` }); continue; }
    const mac = normaliseMac(col('hwaddr'));
    if (!mac) { byIp.set(ip, { line: lineNo, reason: `no usable hardware address: "${col('hwaddr')}"` }); continue; }
    const clash = reservedFor(opts, ip, mac);
    if (clash) { byIp.set(ip, { line: lineNo, reason: clash }); continue; }
    byIp.set(ip, {
      line: lineNo,
      lease: {
        ip, mac,
        clientId: hexOrNull(col('client_id')),
        hostname: sanitiseHostname(col('hostname')),
        state: 'bound',
        subnet: subnet.cidr,
        start: (expire - valid) * 1000,
        expires: expire * 1000,
        source: 'import',
      },
    });
  }
  if (!header) skipped.push({ line: 1, reason: 'empty Kea lease file' });
  return finish('kea', byIp, skipped);
}

function parseDnsmasq(text: string, opts: ParseLeaseOptions): ParsedLeases {
  const lines = text.split(/\r?\n/);
  const skipped: SkippedLine[] = [];
  const byIp = new Map<string, Candidate | { line: number; reason: string }>();
  const nowSec = Math.floor(opts.now / 1000);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i]!.trim();
    if (raw === '') continue;
    const f = raw.split(/\s+/);
    if (f[0] === 'duid') { skipped.push({ line: lineNo, reason: 'DHCPv6 server DUID line' }); continue; }
    if (f.length < 4) { skipped.push({ line: lineNo, reason: `expected "expiry mac ip hostname [client-id]", got ${f.length} fields` }); continue; }
    const [expiryText, macText, ip, host, cid] = f as [string, string, string, string, string | undefined];
    if (!isIPv4(ip)) { skipped.push({ line: lineNo, reason: ip.includes(':') ? 'DHCPv6 lease' : `not an IPv4 address: ${ip}` }); continue; }
    if (!/^\d+$/.test(expiryText)) { skipped.push({ line: lineNo, reason: `expiry is not epoch seconds: ${expiryText}` }); continue; }
    const expiry = Number(expiryText);
    const subnet = subnetOf(opts.subnets, ip);
    if (!subnet) { byIp.set(ip, { line: lineNo, reason: `${ip} is in none of our subnets` }); continue; }
    if (expiry !== 0 && expiry <= nowSec) { byIp.set(ip, { line: lineNo, reason: `expired at ${new Date(expiry * 1000).toISOString()}` }); continue; }
    const mac = normaliseMac(macText);
    if (!mac) { byIp.set(ip, { line: lineNo, reason: `no usable hardware address: "${macText}"` }); continue; }
    const clash = reservedFor(opts, ip, mac);
    if (clash) { byIp.set(ip, { line: lineNo, reason: clash }); continue; }
    // dnsmasq keeps only the expiry: the lease began at most one lease time before it.
    const start = expiry === 0 ? opts.now : Math.min(opts.now, (expiry - subnet.leaseTime) * 1000);
    byIp.set(ip, {
      line: lineNo,
      lease: {
        ip, mac,
        clientId: cid === undefined || cid === '*' ? null : hexOrNull(cid),
        hostname: host === '*' ? null : sanitiseHostname(host),
        state: 'bound',
        subnet: subnet.cidr,
        start,
        expires: expiry === 0 ? start + INFINITE_LEASE_MS : expiry * 1000,
        source: 'import',
      },
    });
  }
  return finish('dnsmasq', byIp, skipped);
}
