import { Registry, Counter, Gauge, collectDefaultMetrics } from 'prom-client';

/**
 * The process's Prometheus registry and the counters shared by every service. Metric names are
 * stable (documented in README "Operations"); services add their own to the same registry.
 */
export interface Metrics {
  registry: Registry;
  /** Every dropped bad packet or request, by protocol and reason. */
  dropped: Counter<'proto' | 'reason'>;
  /** Errors by stable code. */
  errors: Counter<'code'>;
  dnsQueries: Counter<'rcode' | 'qtype' | 'transport'>;
  dhcpMessages: Counter<'type' | 'direction'>;
  dhcpLeases: Gauge<'subnet' | 'state'>;
  tftpTransfers: Counter<'result'>;
  tftpBytes: Counter<string>;
  httpRequests: Counter<'code' | 'method'>;
  httpBytes: Counter<string>;
  authorityMode: Gauge<'mode'>;
  authorityEpoch: Gauge<string>;
}

/** A fresh registry with all shared metrics; `defaults` adds process metrics (the daemon does). */
export function createMetrics(defaults = false): Metrics {
  const registry = new Registry();
  if (defaults) collectDefaultMetrics({ register: registry });
  const r = [registry];
  return {
    registry,
    dropped: new Counter({ name: 'builderd_dropped_packets_total', help: 'Bad packets or requests dropped', labelNames: ['proto', 'reason'], registers: r }),
    errors: new Counter({ name: 'builderd_errors_total', help: 'Errors by stable code', labelNames: ['code'], registers: r }),
    dnsQueries: new Counter({ name: 'builderd_dns_queries_total', help: 'DNS queries answered', labelNames: ['rcode', 'qtype', 'transport'], registers: r }),
    dhcpMessages: new Counter({ name: 'builderd_dhcp_messages_total', help: 'DHCP messages', labelNames: ['type', 'direction'], registers: r }),
    dhcpLeases: new Gauge({ name: 'builderd_dhcp_leases', help: 'Leases by subnet and state (free = pool addresses not leased)', labelNames: ['subnet', 'state'], registers: r }),
    tftpTransfers: new Counter({ name: 'builderd_tftp_transfers_total', help: 'TFTP transfers by result', labelNames: ['result'], registers: r }),
    tftpBytes: new Counter({ name: 'builderd_tftp_bytes_total', help: 'TFTP payload bytes sent', registers: r }),
    httpRequests: new Counter({ name: 'builderd_http_requests_total', help: 'HTTP requests by status', labelNames: ['code', 'method'], registers: r }),
    httpBytes: new Counter({ name: 'builderd_http_bytes_total', help: 'HTTP body bytes sent', registers: r }),
    authorityMode: new Gauge({ name: 'builderd_authority_mode', help: '1 for the current authority mode', labelNames: ['mode'], registers: r }),
    authorityEpoch: new Gauge({ name: 'builderd_authority_epoch', help: 'Authority epoch', registers: r }),
  };
}
