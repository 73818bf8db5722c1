/*
 * What only the SQLite adapter does: the file layout and pragmas, numbered migrations, refusing damaged or
 * foreign files, and restoring a backup.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { AppError, ErrorCode } from '../../src/lib/errors.js';
import type { Lease } from '../../src/store/ports.js';
import { APPLICATION_ID, loadMigrations } from '../../src/store/sqlite/migrate.js';
import { openSqliteStore, restoreSqliteStore } from '../../src/store/sqlite/index.js';

function lease(ip: string): Lease {
  return { ip, mac: '52:54:00:00:00:01', clientId: null, hostname: null, state: 'bound', subnet: '10.99.0.0/24', start: 1, expires: 2 };
}

const hasCode = (code: string, text?: RegExp) => (e: unknown): boolean =>
  e instanceof AppError && e.code === code && (text === undefined || text.test(e.message));

function raw<T>(file: string, f: (db: Database.Database) => T): T {
  const db = new Database(file);
  try { return f(db); } finally { db.close(); }
}

describe('SQLite store files and migrations', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'bst-sqlite-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('creates <dir>/builderd.db with the directory 0700 and the database, WAL and shm files 0600, in WAL mode', async () => {
    const d = join(dir, 'fresh', 'state');
    const store = openSqliteStore({ dir: d });
    await store.leases.put([lease('10.99.0.1')]);
    assert.equal(statSync(d).mode & 0o777, 0o700);
    assert.equal(statSync(join(d, 'builderd.db')).mode & 0o777, 0o600);
    assert.ok(existsSync(join(d, 'builderd.db-wal')), 'WAL file present while open');
    assert.equal(statSync(join(d, 'builderd.db-wal')).mode & 0o777, 0o600);
    assert.equal(statSync(join(d, 'builderd.db-shm')).mode & 0o777, 0o600);
    await store.close();
    assert.equal(raw(join(d, 'builderd.db'), (db) => db.pragma('journal_mode', { simple: true })), 'wal');
  });

  it('applies every numbered migration once: user_version = last migration, application_id marks a builderd store', async () => {
    const d = join(dir, 'migrated');
    const migrations = loadMigrations();
    assert.deepEqual(migrations.map((m) => m.version), migrations.map((_, i) => i + 1));
    await openSqliteStore({ dir: d }).close();
    await openSqliteStore({ dir: d }).close(); // a second open applies nothing
    const file = join(d, 'builderd.db');
    assert.equal(raw(file, (db) => db.pragma('user_version', { simple: true })), migrations.length);
    assert.equal(raw(file, (db) => db.pragma('application_id', { simple: true })), APPLICATION_ID);
    const tables = raw(file, (db) => (db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name));
    assert.deepEqual(tables, ['authority', 'boot_events', 'dynamic_records', 'journal', 'leases', 'zone_diffs', 'zone_serials']);
  });

  it('keeps data across close and reopen', async () => {
    const d = join(dir, 'reopen');
    const a = openSqliteStore({ dir: d, synchronous: 'full' });
    await a.leases.put([lease('10.99.0.7')]);
    await a.journal.append({ at: 1, kind: 'k', operator: 'o', host: 'h', detail: [1] });
    await a.close();
    const b = openSqliteStore({ dir: d });
    assert.deepEqual(await b.leases.get('10.99.0.7'), lease('10.99.0.7'));
    assert.equal((await b.journal.list()).length, 1);
    await b.close();
  });

  it('the journal table refuses UPDATE and DELETE even through another connection', async () => {
    const d = join(dir, 'append-only');
    const s = openSqliteStore({ dir: d });
    await s.journal.append({ at: 1, kind: 'k', operator: 'o', host: 'h', detail: null });
    await s.close();
    raw(join(d, 'builderd.db'), (db) => {
      assert.throws(() => db.exec('DELETE FROM journal'), /append-only/);
      assert.throws(() => db.exec("UPDATE journal SET kind = 'x'"), /append-only/);
    });
  });

  it('a damaged file fails to open with STORE_ERR_OPEN naming the file', () => {
    const d = join(dir, 'corrupt');
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'builderd.db'), Buffer.alloc(8192, 0x5a));
    assert.throws(() => openSqliteStore({ dir: d }), hasCode(ErrorCode.STORE_ERR_OPEN, /builderd\.db.*not a database/));
  });

  it('a store whose pages were overwritten fails to open or fails writes with a coded error, never a crash', async () => {
    const d = join(dir, 'torn');
    const s = openSqliteStore({ dir: d });
    await s.leases.put(Array.from({ length: 500 }, (_, i) => lease(`10.99.${i >> 8}.${i & 255}`)));
    await s.close();
    const file = join(d, 'builderd.db');
    const bytes = readFileSync(file);
    bytes.fill(0xff, 4096, bytes.length); // keep the header page, destroy the rest
    writeFileSync(file, bytes);
    let store;
    try {
      store = openSqliteStore({ dir: d });
    } catch (e) {
      assert.ok(hasCode(ErrorCode.STORE_ERR_OPEN)(e), String(e));
      return;
    }
    await assert.rejects(store.leases.all());
    await assert.rejects(store.leases.put([lease('10.1.1.1')]), hasCode(ErrorCode.STORE_ERR_WRITE));
    await store.close();
  });

  it('an SQLite database of another program is refused with STORE_ERR_OPEN', () => {
    const d = join(dir, 'foreign');
    mkdirSync(d, { recursive: true });
    raw(join(d, 'builderd.db'), (db) => db.exec('CREATE TABLE t (x)'));
    assert.throws(() => openSqliteStore({ dir: d }), hasCode(ErrorCode.STORE_ERR_OPEN, /not a builderd store/));
  });

  it('a store written by a newer schema version is refused with STORE_ERR_OPEN', async () => {
    const d = join(dir, 'newer');
    await openSqliteStore({ dir: d }).close();
    raw(join(d, 'builderd.db'), (db) => db.pragma('user_version = 999'));
    assert.throws(() => openSqliteStore({ dir: d }), hasCode(ErrorCode.STORE_ERR_OPEN, /schema version 999/));
  });
});

describe('SQLite backup and restore', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'bst-restore-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a backup taken while writes are in flight restores to a store passing integrity_check', async () => {
    const s = openSqliteStore({ dir: join(dir, 'live') });
    await s.leases.put([lease('10.99.0.1')]);
    const inflight = s.leases.put([lease('10.99.0.2')]);
    const file = join(dir, 'live.bak');
    await s.backup(file);
    await inflight;
    await s.close();
    assert.equal(raw(file, (db) => db.pragma('integrity_check', { simple: true })), 'ok');
    await restoreSqliteStore(file, join(dir, 'live-restored'));
    const r = openSqliteStore({ dir: join(dir, 'live-restored') });
    assert.ok((await r.leases.get('10.99.0.1')) !== undefined);
    await r.close();
  });

  it('restore refuses to overwrite an existing store unless force is given', async () => {
    const src = openSqliteStore({ dir: join(dir, 'src') });
    await src.leases.put([lease('10.99.0.1')]);
    const file = join(dir, 'src.bak');
    await src.backup(file);
    await src.close();

    const target = join(dir, 'target');
    const t = openSqliteStore({ dir: target });
    await t.leases.put([lease('10.99.0.9')]);
    await t.close();
    await assert.rejects(restoreSqliteStore(file, target), hasCode(ErrorCode.STORE_ERR_WRITE, /refusing/));
    const still = openSqliteStore({ dir: target });
    assert.deepEqual((await still.leases.all()).map((l) => l.ip), ['10.99.0.9']);
    await still.close();

    await restoreSqliteStore(file, target, { force: true });
    const replaced = openSqliteStore({ dir: target });
    assert.deepEqual((await replaced.leases.all()).map((l) => l.ip), ['10.99.0.1']);
    await replaced.close();
  });

  it('restore refuses a file that is not a builderd store and leaves the target untouched', async () => {
    const junk = join(dir, 'junk.bak');
    writeFileSync(junk, 'not a database at all'.repeat(300));
    const target = join(dir, 'junk-target');
    await assert.rejects(restoreSqliteStore(junk, target), hasCode(ErrorCode.STORE_ERR_OPEN));
    const foreign = join(dir, 'foreign.bak');
    raw(foreign, (db) => db.exec('CREATE TABLE t (x)'));
    await assert.rejects(restoreSqliteStore(foreign, target), hasCode(ErrorCode.STORE_ERR_OPEN, /not a builderd store/));
    await assert.rejects(restoreSqliteStore(join(dir, 'missing.bak'), target), hasCode(ErrorCode.STORE_ERR_OPEN));
    assert.equal(existsSync(join(target, 'builderd.db')), false);
  });
});
