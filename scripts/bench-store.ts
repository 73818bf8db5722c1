/*
 * Lease put throughput of the SQLite store on this machine: puts awaited one by one (one transaction
 * each) vs 1000 puts issued in one event-loop turn (one group-commit transaction), for synchronous
 * NORMAL and FULL. Bounded: fixed counts, temp directory removed at the end.
 * Usage: node --import tsx scripts/bench-store.ts [sequentialCount=2000] [rounds=10]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Lease } from '../src/store/ports.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';

const seqCount = Number(process.argv[2] ?? 2000);
const rounds = Number(process.argv[3] ?? 10);
const dir = mkdtempSync(join(tmpdir(), 'bst-bench-'));

const lease = (i: number): Lease => ({
  ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, mac: `52:54:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
  clientId: null, hostname: `h${i}`, state: 'bound', subnet: '10.0.0.0/8', start: Date.now(), expires: Date.now() + 600_000, source: 'bench',
});

try {
  for (const sync of ['normal', 'full'] as const) {
    let batches = 0;
    const store = openSqliteStore({ dir: join(dir, sync), synchronous: sync, onBatch: () => { batches++; } });
    let t0 = performance.now();
    for (let i = 0; i < seqCount; i++) await store.leases.put([lease(i)]);
    const seqMs = performance.now() - t0;
    const seqBatches = batches;
    batches = 0;
    t0 = performance.now();
    for (let r = 0; r < rounds; r++) {
      const ps: Promise<void>[] = [];
      for (let i = 0; i < 1000; i++) ps.push(store.leases.put([lease(100_000 + r * 1000 + i)]));
      await Promise.all(ps);
    }
    const conMs = performance.now() - t0;
    await store.close();
    console.log(`synchronous=${sync}: sequential ${seqCount} puts: ${(seqCount / seqMs * 1000).toFixed(0)} puts/s (${(seqMs / seqCount * 1000).toFixed(0)} us/put, ${seqBatches} txns); ` +
      `1000 concurrent x ${rounds}: ${(rounds * 1000 / conMs * 1000).toFixed(0)} puts/s (${(conMs / rounds).toFixed(1)} ms per 1000, ${batches} txns)`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
