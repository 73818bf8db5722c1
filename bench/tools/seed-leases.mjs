// Seed a builderd SQLite store with N bound leases, through the store's own port
// (openSqliteStore from the compiled dist/store/sqlite/index.js), in batches.
// usage: node seed-leases.mjs ROOT STATE_DIR COUNT SUBNET_CIDR FIRST_IP
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

const [root, stateDir, countS, subnet, firstIp] = process.argv.slice(2);
const { openSqliteStore } = await import(pathToFileURL(join(root, 'dist/store/sqlite/index.js')).href);
const count = Number(countS);
const ipToInt = (ip) => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
const intToIp = (n) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
const hex = (n, w) => n.toString(16).padStart(w, '0');

const store = openSqliteStore({ dir: stateDir });
const now = Date.now();
const base = ipToInt(firstIp);
const t0 = performance.now();
const BATCH = 5000;
for (let i = 0; i < count; i += BATCH) {
  const batch = [];
  for (let j = i; j < Math.min(count, i + BATCH); j++) {
    batch.push({
      ip: intToIp(base + j),
      mac: `02:bb:${hex((j >> 24) & 255, 2)}:${hex((j >> 16) & 255, 2)}:${hex((j >> 8) & 255, 2)}:${hex(j & 255, 2)}`,
      clientId: null, hostname: null, state: 'bound', subnet,
      start: now - 60_000, expires: now + 86_400_000, source: 'dhcp',
    });
  }
  await store.leases.put(batch);
}
await store.close();
console.log(JSON.stringify({ leases: count, ms: Math.round(performance.now() - t0) }));
