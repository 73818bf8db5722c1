// Runs the DNS service alone on ADDR:PORT with the given zone files (bench/harness SERVER_CMD helper):
//   node --import tsx scripts/dns-serve.ts 127.0.0.1 15301 zone1 [zone2 ...]
// DNS_WORKERS=N adds N UDP worker processes (dns.workers).
import { createDnsService } from '../src/dns/service.js';
import { fixedAuthority } from '../src/lib/authority-view.js';
import { createMetrics } from '../src/lib/metrics.js';
import { silentLogger } from '../src/lib/logger.js';
import { systemClock } from '../src/lib/clock.js';
import { dnsConfig, memoryZoneStore } from '../test/helpers/dns.js';

const [addr = '127.0.0.1', port = '15301', ...files] = process.argv.slice(2);
const svc = await createDnsService({
  config: dnsConfig({ listen: [`${addr}:${port}`], zone_files: files, workers: process.env['DNS_WORKERS'] === 'auto' ? 'auto' : Number(process.env['DNS_WORKERS'] ?? 0) }), zones: [], store: memoryZoneStore(),
  authority: fixedAuthority('bootstrap'), logger: silentLogger(), metrics: createMetrics(), clock: systemClock,
});
await svc.listen();
await svc.workersReady();
process.stderr.write(`dns-serve ready on ${addr}:${svc.addresses().udp[0]?.port ?? port} (workers: ${svc.workerPids().join(' ') || 'none'})\n`);
process.on('SIGTERM', () => { void svc.close().then(() => process.exit(0)); });
