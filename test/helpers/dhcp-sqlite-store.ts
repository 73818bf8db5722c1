/*
 * Test-only SQLite LeaseStore/ZoneStore for the DHCP launcher until src/store/sqlite lands on main:
 * WAL, synchronous=NORMAL (survives a process crash), group commit of every put of one event-loop turn.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { DynamicRecord, Lease, LeaseStore, ZoneStore } from '../../src/store/ports.js';

export function openTestSqliteStore(dir: string): { leases: LeaseStore; zones: ZoneStore; close: () => Promise<void>; file: string } {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'dhcp-test.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`CREATE TABLE IF NOT EXISTS leases (ip TEXT PRIMARY KEY, json TEXT NOT NULL);
           CREATE TABLE IF NOT EXISTS dyn (owner TEXT NOT NULL, json TEXT NOT NULL);`);
  const ins = db.prepare('INSERT OR REPLACE INTO leases (ip, json) VALUES (?, ?)');
  const del = db.prepare('DELETE FROM leases WHERE ip = ?');
  let queue: { ls: readonly Lease[]; resolve: () => void; reject: (e: unknown) => void }[] = [];
  const flush = (): void => {
    const q = queue; queue = [];
    try {
      db.transaction(() => { for (const op of q) for (const l of op.ls) ins.run(l.ip, JSON.stringify(l)); })();
      for (const op of q) op.resolve();
    } catch (e) {
      for (const op of q) op.reject(e);
    }
  };
  const leases: LeaseStore = {
    async all() { return (db.prepare('SELECT json FROM leases').all() as { json: string }[]).map((r) => JSON.parse(r.json) as Lease); },
    async get(ip) { const r = db.prepare('SELECT json FROM leases WHERE ip = ?').get(ip) as { json: string } | undefined; return r ? JSON.parse(r.json) as Lease : undefined; },
    put(ls) {
      return new Promise<void>((resolve, reject) => {
        if (queue.length === 0) setImmediate(flush);
        queue.push({ ls, resolve, reject });
      });
    },
    async delete(ips) { db.transaction(() => { for (const ip of ips) del.run(ip); })(); },
  };
  const zones: ZoneStore = {
    async dynamicRecords() { return (db.prepare('SELECT json FROM dyn').all() as { json: string }[]).map((r) => JSON.parse(r.json) as DynamicRecord); },
    async setDynamic(owner, records) {
      db.transaction(() => {
        db.prepare('DELETE FROM dyn WHERE owner = ?').run(owner);
        for (const r of records) db.prepare('INSERT INTO dyn (owner, json) VALUES (?, ?)').run(owner, JSON.stringify(r));
      })();
    },
    async getSerial() { return undefined; },
    async setSerial() { /* not used by DHCP */ },
    async diffsSince() { return []; },
  };
  return { leases, zones, close: async () => { db.close(); }, file };
}
