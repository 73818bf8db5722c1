import { isIPv4, isIPv6 } from 'node:net';

/** IPv4 dotted quad → unsigned 32-bit integer. Throws on a malformed address. */
export function ipv4ToInt(ip: string): number {
  if (!isIPv4(ip)) throw new Error(`not an IPv4 address: ${ip}`);
  const p = ip.split('.').map(Number);
  return ((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!;
}

/** Unsigned 32-bit integer → IPv4 dotted quad. */
export function intToIpv4(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export interface Cidr4 {
  network: number;
  prefix: number;
  mask: number;
  /** Last address (broadcast). */
  last: number;
  text: string;
}

/** Parse "10.0.0.0/24". Host bits must be zero. Throws with a reason. */
export function parseCidr4(text: string): Cidr4 {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text);
  if (!m) throw new Error(`not an IPv4 CIDR (a.b.c.d/len): ${text}`);
  const prefix = Number(m[2]);
  if (prefix > 32) throw new Error(`prefix length over 32: ${text}`);
  const addr = ipv4ToInt(m[1]!);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  if ((addr & mask) >>> 0 !== addr) throw new Error(`host bits set in ${text} (network is ${intToIpv4((addr & mask) >>> 0)}/${prefix})`);
  return { network: addr, prefix, mask, last: (addr | (~mask >>> 0)) >>> 0, text };
}

/** True when ip lies inside the CIDR. */
export function cidrContains(c: Cidr4, ip: string | number): boolean {
  const n = typeof ip === 'number' ? ip : ipv4ToInt(ip);
  return ((n & c.mask) >>> 0) === c.network;
}

/** An ACL of IPv4/IPv6 CIDRs (or single addresses). */
export function makeAcl(entries: readonly string[]): (ip: string) => boolean {
  const v4 = entries.filter((e) => !e.includes(':')).map((e) => parseCidr4(e.includes('/') ? e : `${e}/32`));
  const v6 = entries.filter((e) => e.includes(':'));
  return (ip: string) => {
    const bare = ip.startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
    if (isIPv4(bare)) return v4.some((c) => cidrContains(c, bare));
    if (isIPv6(bare)) return v6.some((e) => e === bare || e === `${bare}/128` || (e === '::1/128' && bare === '::1'));
    return false;
  };
}

export interface HostPort {
  host: string;
  port: number;
}

/** Parse "127.0.0.1:53", "[::1]:53" or ":53" (all addresses). */
export function parseHostPort(text: string, defaultPort?: number): HostPort {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (v6) {
    const port = v6[2] !== undefined ? Number(v6[2]) : defaultPort;
    if (port === undefined || !(port >= 0 && port <= 65535) || !isIPv6(v6[1]!)) throw new Error(`bad address: ${text}`);
    return { host: v6[1]!, port };
  }
  const i = text.lastIndexOf(':');
  const host = i >= 0 ? text.slice(0, i) : text;
  const portText = i >= 0 ? text.slice(i + 1) : undefined;
  const port = portText !== undefined ? Number(portText) : defaultPort;
  if (port === undefined || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad port in ${text}`);
  if (host !== '' && !isIPv4(host) && !isIPv6(host)) throw new Error(`bad address in ${text}: use an IP address`);
  return { host: host === '' ? '0.0.0.0' : host, port };
}

/** Lowercase colon-separated MAC ("52:54:00:aa:00:01") from 5254.00aa.0001 / 52-54-00-AA-00-01 / 525400aa0001. */
export function normaliseMac(text: string): string | undefined {
  const hex = text.toLowerCase().replace(/[:.\-]/g, '');
  if (!/^[0-9a-f]{12}$/.test(hex)) return undefined;
  return hex.match(/../g)!.join(':');
}
