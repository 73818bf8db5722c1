import type { SubnetConfig } from '../../config/types.js';
import { ipv4ToInt } from '../../lib/net.js';

/** Where a request came from, as far as subnet selection cares (RFC 2131 §4.3.1). */
export interface SubnetSelectInput {
  giaddr: string;
  ciaddr: string;
  /** IPv4 addresses of the interface the packet arrived on; empty when unknown (one wildcard socket). */
  ifaceAddresses: readonly string[];
}

/** The configured subnet containing ip, if any. */
export function subnetOf(subnets: readonly SubnetConfig[], ip: string | number): SubnetConfig | undefined {
  const n = typeof ip === 'number' ? ip : ipv4ToInt(ip);
  return subnets.find((s) => ((n & s.mask) >>> 0) === s.network);
}

/**
 * Pick the subnet for a request. RFC 2131 §4.3.1: a relayed message (giaddr ≠ 0) is served from the
 * subnet containing giaddr; a direct one from the subnet of the receiving interface. With no interface
 * known (a wildcard socket), ciaddr decides (RENEWING unicast), else the only configured subnet that
 * holds a local address, else nothing.
 */
export function selectSubnet(subnets: readonly SubnetConfig[], req: SubnetSelectInput): SubnetConfig | undefined {
  if (req.giaddr !== '0.0.0.0') return subnetOf(subnets, req.giaddr);
  for (const a of req.ifaceAddresses) {
    const s = subnetOf(subnets, a);
    if (s) return s;
  }
  if (req.ifaceAddresses.length === 0 && req.ciaddr !== '0.0.0.0') return subnetOf(subnets, req.ciaddr);
  return undefined;
}
