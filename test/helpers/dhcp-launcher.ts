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
import type { Store } from '../../src/store/ports.js';
import { createMemoryStore } from '../../src/store/memory/index.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';

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
const store: Store = values.store === 'sqlite'
  ? openSqliteStore({ dir: values.state ?? config.paths.state, synchronous: config.store.synchronous })
  : createMemoryStore();
const { leases, zones } = store;
const closeStore = (): Promise<void> => store.close();
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
      const messages = (await metrics.dhcpMessages.get()).values.map((v) => ({ type: v.labels['type'], direction: v.labels['direction'], n: v.value }));
      process.stdout.write(`${JSON.stringify({ leases: svc.leases(), dynamic: await zones.dynamicRecords(), dropped, messages })}\n`);
    }
  })();
});
const stop = async (): Promise<void> => { await svc.close(); await closeStore(); process.exit(0); };
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
rl.on('close', () => void stop());
