/*
 * Test-only launcher: runs the DHCP service alone from a config file (the lead later swaps in
 * `builderd serve`). Usage:
 *   node --import tsx test/helpers/dhcp-launcher.ts --config site.yaml [--store memory|sqlite] [--state dir] [--mode bootstrap|production]
 * Prints "READY <json>" on stdout once listening. Reads commands on stdin, one per line:
 *   dump  → one JSON line {leases, dynamic, dropped} on stdout.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../src/config/load.js';
import { buildInventory } from '../../src/inventory/index.js';
import { createDhcpService } from '../../src/dhcp4/index.js';
import { fixedAuthority } from '../../src/lib/authority-view.js';
import { createMetrics } from '../../src/lib/metrics.js';
import { createLogger } from '../../src/lib/logger.js';
import { systemClock } from '../../src/lib/clock.js';
import type { LeaseStore, ZoneStore } from '../../src/store/ports.js';
import { createStubStores } from './dhcp-stub-store.js';

const { values } = parseArgs({
  options: {
    config: { type: 'string' },
    store: { type: 'string', default: 'memory' },
    state: { type: 'string' },
    mode: { type: 'string', default: 'bootstrap' },
  },
});
if (!values.config) { console.error('--config required'); process.exit(2); }
const { config } = loadConfig(values.config);
const inv = buildInventory(config);
const logger = createLogger({ destination: 2, level: process.env['BUILDERD_LOG_LEVEL'] ?? 'info' });
const metrics = createMetrics();
let leases: LeaseStore;
let zones: ZoneStore;
let closeStore = async (): Promise<void> => {};
if (values.store === 'sqlite') {
  const mod = await import('./dhcp-sqlite-store.js');
  const s = mod.openTestSqliteStore(values.state ?? config.paths.state);
  leases = s.leases; zones = s.zones; closeStore = s.close;
} else {
  const s = createStubStores();
  leases = s.leases; zones = s.zones;
}
const svc = await createDhcpService({
  config, reservations: inv.reservations, leases, zones,
  authority: fixedAuthority(values.mode === 'production' ? 'production' : 'bootstrap'),
  logger, metrics, clock: systemClock,
});
await svc.listen();
process.stdout.write(`READY ${JSON.stringify(svc.addresses())}\n`);

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  void (async () => {
    if (line.trim() === 'dump') {
      const dropped = (await metrics.dropped.get()).values.map((v) => ({ reason: v.labels['reason'], n: v.value }));
      process.stdout.write(`${JSON.stringify({ leases: svc.leases(), dynamic: await zones.dynamicRecords(), dropped })}\n`);
    }
  })();
});
const stop = async (): Promise<void> => { await svc.close(); await closeStore(); process.exit(0); };
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
rl.on('close', () => void stop());
