/*
 * The embedded store: SQLite through better-sqlite3@12, WAL mode, one connection per process.
 * better-sqlite3 is synchronous, so every statement runs on the event loop; each is prepared once at open,
 * and writes are grouped per event-loop turn (see ../group-commit.ts) so one commit (and, with
 * synchronous=FULL, one fsync) covers a whole burst. Durability semantics are in ../README.md.
 */
import { chmodSync, closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { AppError, ErrorCode } from '../../lib/errors.js';
import { GroupCommit, type BatchObserver } from '../group-commit.js';
import type { AuthorityState, BootEvent, DynamicRecord, JournalEntry, Lease, Store, ZoneDiff } from '../ports.js';
import {
  authorityToRow, bootEventToRow, checkArray, checkEpoch, checkKey, checkLimit, checkSerial, diffToRow,
  dynamicToRows, journalToRow, leaseToRow, rowToAuthority, rowToBootEvent, rowToDiff, rowToDynamic,
  rowToJournal, rowToLease,
  type AuthorityRow, type BootEventRow, type DynamicRecordRow, type JournalRow, type LeaseRow, type ZoneDiffRow,
} from '../rows.js';
import { APPLICATION_ID, checkIdentity, loadMigrations, migrate } from './migrate.js';

/** File name of the store inside the state directory. */
export const DEFAULT_STORE_FILE = 'builderd.db';

/** Options of openSqliteStore. */
export interface SqliteStoreOptions {
  /** State directory (config `paths.state`); created with mode 0700 when missing. */
  dir: string;
  /**
   * 'normal' (default): a committed write survives the process being killed (kill -9, crash, OOM); on power
   * loss the last commits before the latest WAL checkpoint may be lost, never corrupted. 'full': also survives
   * power loss (fsync of the WAL on every commit).
   */
  synchronous?: 'normal' | 'full';
  /** File name inside `dir` (default builderd.db). */
  file?: string;
  /**
   * How long a write waits for another connection's write lock before failing with SQLITE_BUSY (default
   * 100 ms). The wait blocks the event loop (better-sqlite3 is synchronous): DNS, TFTP and HTTP stall
   * for it, so it is short. Only a foreign writer (an operator's sqlite3 shell) can hold the lock; a
   * write that fails is not acknowledged (DHCP sends no ACK, the client retries).
   */
  busyTimeoutMs?: number;
  /** Open an existing, up-to-date store read-only (inspection while the daemon runs); every write rejects. */
  readonly?: boolean;
  /** Called after each group-commit batch (metrics). */
  onBatch?: BatchObserver;
}

function openError(file: string, e: unknown): AppError {
  if (e instanceof AppError) return e;
  const code = (e as { code?: unknown }).code;
  const reason = (e as Error).message;
  const hint = code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT'
    ? ' (the file is damaged or not an SQLite database; restore a backup with `restoreSqliteStore` or move the file away)'
    : '';
  return new AppError(ErrorCode.STORE_ERR_OPEN, `cannot open store ${file}: ${reason}${hint}`, { cause: typeof code === 'string' ? code : undefined });
}

/** Open (creating and migrating if needed) the SQLite store `<dir>/builderd.db`; throws AppError STORE_ERR_OPEN. */
export function openSqliteStore(opts: SqliteStoreOptions): Store {
  const file = join(opts.dir, opts.file ?? DEFAULT_STORE_FILE);
  const readonly = opts.readonly ?? false;
  const migrations = loadMigrations();
  let db: Database.Database | undefined;
  try {
    if (!readonly) mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
    // An empty file is an empty SQLite database. Creating it 0600 first makes SQLite create the -wal and
    // -shm files with the same mode (it copies the database file's permissions).
    if (!readonly && !existsSync(file)) closeSync(openSync(file, 'a', 0o600));
    db = new Database(file, { readonly, fileMustExist: readonly });
    db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(opts.busyTimeoutMs ?? 100))}`);
    if (readonly) {
      const { version } = checkIdentity(db, migrations.length, file);
      if (version !== migrations.length) {
        throw new AppError(ErrorCode.STORE_ERR_OPEN, `${file} has schema version ${version}; a read-only open needs ${migrations.length} (open it read-write once to migrate)`);
      }
    } else {
      // Reads the header: a damaged or foreign file fails here with SQLITE_NOTADB.
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new AppError(ErrorCode.STORE_ERR_OPEN, `cannot open store ${file}: WAL mode refused (journal_mode is ${String(mode)})`);
      db.pragma(`synchronous = ${opts.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
      migrate(db, migrations, file);
    }
    return sqliteStore(db, opts.onBatch);
  } catch (e) {
    try { db?.close(); } catch { /* already failing */ }
    throw openError(file, e);
  }
}

type LeaseTuple = [string, string, string | null, string | null, LeaseRow['state'], string, number, number, string | null];

/**
 * Leases from raw rows. Subnet, state and source repeat on every row: one string each is shared
 * (interned) instead of one per row, which matters with 100,000 leases held in memory.
 */
function leasesFromTuples(rows: LeaseTuple[]): Lease[] {
  const intern = new Map<string, string>();
  const one = <T extends string | null>(v: T): T => {
    if (v === null) return v;
    const seen = intern.get(v);
    if (seen !== undefined) return seen as T;
    intern.set(v, v);
    return v;
  };
  const out = new Array<Lease>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const l: Lease = { ip: r[0], mac: r[1], clientId: r[2], hostname: r[3], state: one(r[4]), subnet: one(r[5]), start: r[6], expires: r[7] };
    if (r[8] !== null) l.source = one(r[8]);
    out[i] = l;
  }
  return out;
}

function sqliteStore(db: Database.Database, onBatch?: BatchObserver): Store {
  const s = {
    leaseGet: db.prepare<[string], LeaseRow>('SELECT * FROM leases WHERE ip = ?'),
    // Raw rows (arrays), read once at start-up: 100,000 leases without an intermediate row object each.
    leaseAll: db.prepare<[], LeaseTuple>('SELECT ip, mac, client_id, hostname, state, subnet, start, expires, source FROM leases ORDER BY ip').raw(true),
    leasePut: db.prepare<[LeaseRow]>(`INSERT INTO leases (ip, mac, client_id, hostname, state, subnet, start, expires, source)
      VALUES (@ip, @mac, @client_id, @hostname, @state, @subnet, @start, @expires, @source)
      ON CONFLICT (ip) DO UPDATE SET mac = excluded.mac, client_id = excluded.client_id, hostname = excluded.hostname,
        state = excluded.state, subnet = excluded.subnet, start = excluded.start, expires = excluded.expires, source = excluded.source`),
    leaseDelete: db.prepare<[string]>('DELETE FROM leases WHERE ip = ?'),
    dynAll: db.prepare<[], DynamicRecordRow>('SELECT * FROM dynamic_records ORDER BY owner, seq'),
    dynDelete: db.prepare<[string]>('DELETE FROM dynamic_records WHERE owner = ?'),
    dynInsert: db.prepare<[DynamicRecordRow]>('INSERT INTO dynamic_records (owner, seq, name, type, data, ttl) VALUES (@owner, @seq, @name, @type, @data, @ttl)'),
    serialGet: db.prepare<[string], { serial: number; hash: string }>('SELECT serial, hash FROM zone_serials WHERE zone = ?'),
    serialSet: db.prepare<[string, number, string]>(`INSERT INTO zone_serials (zone, serial, hash) VALUES (?, ?, ?)
      ON CONFLICT (zone) DO UPDATE SET serial = excluded.serial, hash = excluded.hash`),
    diffInsert: db.prepare<[ZoneDiffRow]>(`INSERT INTO zone_diffs (zone, from_serial, to_serial, removed, added, at)
      VALUES (@zone, @from_serial, @to_serial, @removed, @added, @at)`),
    // RFC 1982 §3.2 comparison (from_serial >= since, modulo 2^32), in insertion order: see rows.serialGte.
    diffsSince: db.prepare<[string, number], ZoneDiffRow>(`SELECT zone, from_serial, to_serial, removed, added, at FROM zone_diffs
      WHERE zone = ? AND ((from_serial - ?) & 4294967295) < 2147483648 ORDER BY id`),
    authGet: db.prepare<[], AuthorityRow>('SELECT mode, epoch, state FROM authority WHERE id = 1'),
    authSet: db.prepare<[AuthorityRow]>(`INSERT INTO authority (id, mode, epoch, state) VALUES (1, @mode, @epoch, @state)
      ON CONFLICT (id) DO UPDATE SET mode = excluded.mode, epoch = excluded.epoch, state = excluded.state`),
    journalInsert: db.prepare<[JournalRow]>('INSERT INTO journal (at, kind, operator, host, detail) VALUES (@at, @kind, @operator, @host, @detail)'),
    journalList: db.prepare<[number], JournalRow & { id: number }>('SELECT * FROM (SELECT * FROM journal ORDER BY id DESC LIMIT ?) ORDER BY id'),
    bootInsert: db.prepare<[BootEventRow]>(`INSERT INTO boot_events (at, mac, kind, ip, file, bytes, duration_ms, detail)
      VALUES (@at, @mac, @kind, @ip, @file, @bytes, @duration_ms, @detail)`),
    bootForMac: db.prepare<[string, number], BootEventRow>(`SELECT at, mac, kind, ip, file, bytes, duration_ms, detail FROM
      (SELECT * FROM boot_events WHERE mac = ? ORDER BY at DESC, id DESC LIMIT ?) ORDER BY at, id`),
  };

  // IMMEDIATE takes the write lock at BEGIN, so a busy database fails (after busy_timeout) before any write.
  const queue = new GroupCommit((body) => db.transaction(body).immediate(), onBatch);
  let closed = false;
  const read = async <T>(f: () => T): Promise<T> => {
    if (closed) throw new AppError(ErrorCode.STORE_ERR_OPEN, 'store is closed');
    return f();
  };

  return {
    leases: {
      all: () => read(() => {
        const out = leasesFromTuples(s.leaseAll.all());
        // all() is the start-up read of the whole table: hand the pages it cached back to the OS.
        db.pragma('shrink_memory');
        return out;
      }),
      get: (ip) => read(() => {
        const r = s.leaseGet.get(checkKey('lease ip', ip));
        return r === undefined ? undefined : rowToLease(r);
      }),
      put: async (leases: readonly Lease[]) => {
        const rows = checkArray('leases', leases).map(leaseToRow);
        return queue.submit(() => { for (const r of rows) s.leasePut.run(r); });
      },
      delete: async (ips: readonly string[]) => {
        const keys = checkArray('lease ips', ips).map((ip) => checkKey('lease ip', ip));
        return queue.submit(() => { for (const ip of keys) s.leaseDelete.run(ip); });
      },
    },
    zones: {
      dynamicRecords: () => read(() => s.dynAll.all().map(rowToDynamic)),
      setDynamic: async (owner: string, records: readonly DynamicRecord[]) => {
        const rows = dynamicToRows(owner, records);
        return queue.submit(() => {
          s.dynDelete.run(owner);
          for (const r of rows) s.dynInsert.run(r);
        });
      },
      getSerial: (zone) => read(() => {
        const r = s.serialGet.get(checkKey('zone', zone));
        return r === undefined ? undefined : { serial: r.serial, hash: r.hash };
      }),
      setSerial: async (zone: string, serial: number, hash: string, diff?: ZoneDiff) => {
        const v = checkSerial(zone, serial, hash);
        const d = diff === undefined ? undefined : diffToRow(v.zone, diff);
        return queue.submit(() => {
          s.serialSet.run(v.zone, v.serial, v.hash);
          if (d) s.diffInsert.run(d);
        });
      },
      diffsSince: (zone, since) => read(() => s.diffsSince.all(checkKey('zone', zone), since >>> 0).map(rowToDiff)),
    },
    authority: {
      get: () => read(() => {
        const r = s.authGet.get();
        return r === undefined ? undefined : rowToAuthority(r);
      }),
      set: async (expectedEpoch: number | undefined, next: AuthorityState, entry?: JournalEntry) => {
        const row = authorityToRow(next);
        const j = entry === undefined ? undefined : journalToRow(entry);
        return queue.submit(() => {
          // The CAS check throws (an AppError) before anything is written: only this call is refused.
          checkEpoch(s.authGet.get()?.epoch, expectedEpoch);
          s.authSet.run(row);
          if (j) s.journalInsert.run(j);
        });
      },
    },
    journal: {
      append: async (entry: JournalEntry) => {
        const row = journalToRow(entry);
        return queue.submit(() => Number(s.journalInsert.run(row).lastInsertRowid));
      },
      list: (limit) => read(() => s.journalList.all(checkLimit(limit) ?? -1).map((r) => rowToJournal(r.id, r))),
    },
    bootEvents: {
      record: async (events: readonly BootEvent[]) => {
        const rows = checkArray('boot events', events).map(bootEventToRow);
        return queue.submit(() => { for (const r of rows) s.bootInsert.run(r); });
      },
      forMac: (mac, limit) => read(() => s.bootForMac.all(checkKey('mac', mac), checkLimit(limit) ?? -1).map(rowToBootEvent)),
    },
    backup: async (target: string) => {
      if (closed) throw new AppError(ErrorCode.STORE_ERR_OPEN, 'store is closed');
      queue.flush();
      // Written beside the target and renamed, so a crash never leaves a half backup under the final name.
      const tmp = `${target}.tmp-${process.pid}`;
      try {
        await db.backup(tmp);
        chmodSync(tmp, 0o600);
        fsyncFile(tmp);
        renameSync(tmp, target);
      } catch (e) {
        rmSync(tmp, { force: true });
        throw new AppError(ErrorCode.STORE_ERR_WRITE, `store backup to ${target} failed: ${(e as Error).message}`);
      }
    },
    close: async () => {
      if (closed) return;
      queue.close();
      closed = true;
      db.close();
    },
  };
}

function fsyncFile(file: string): void {
  const fd = openSync(file, 'r+');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

/** Options of restoreSqliteStore. */
export interface RestoreOptions {
  /** Replace an existing store (stop the daemon first). */
  force?: boolean;
  /** File name inside `dir` (default builderd.db). */
  file?: string;
}

/**
 * Restore a backup made by `Store.backup` into `dir` (as builderd.db). The backup is validated first (a
 * builderd store no newer than this code, passing `PRAGMA integrity_check`); an existing store is refused
 * unless `force`. Throws AppError STORE_ERR_OPEN (bad backup) or STORE_ERR_WRITE (target exists, I/O).
 */
export async function restoreSqliteStore(backupFile: string, dir: string, opts: RestoreOptions = {}): Promise<void> {
  const target = join(dir, opts.file ?? DEFAULT_STORE_FILE);
  if (!existsSync(backupFile) || !statSync(backupFile).isFile()) {
    throw new AppError(ErrorCode.STORE_ERR_OPEN, `backup ${backupFile} does not exist or is not a file`);
  }
  if (existsSync(target) && !opts.force) {
    throw new AppError(ErrorCode.STORE_ERR_WRITE, `refusing to restore over the existing store ${target} (stop builderd and pass force to replace it)`);
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${target}.restore-${process.pid}`;
  const cleanTmp = (): void => { for (const f of [tmp, `${tmp}-wal`, `${tmp}-shm`]) rmSync(f, { force: true }); };
  cleanTmp();
  try {
    // Validate a private copy, never the operator's backup file itself.
    copyFileSync(backupFile, tmp);
    let db: Database.Database | undefined;
    try {
      db = new Database(tmp, { fileMustExist: true });
      checkIdentity(db, loadMigrations().length, backupFile);
      if (Number(db.pragma('application_id', { simple: true })) !== APPLICATION_ID) {
        throw new AppError(ErrorCode.STORE_ERR_OPEN, `${backupFile} is not a builderd store (empty database)`);
      }
      const check = db.pragma('integrity_check', { simple: true });
      if (check !== 'ok') throw new AppError(ErrorCode.STORE_ERR_OPEN, `${backupFile} fails integrity_check: ${String(check)}`);
    } catch (e) {
      throw openError(backupFile, e);
    } finally {
      db?.close();
    }
    chmodSync(tmp, 0o600);
    fsyncFile(tmp);
    for (const f of [`${target}-wal`, `${target}-shm`]) rmSync(f, { force: true });
    renameSync(tmp, target);
  } catch (e) {
    cleanTmp();
    if (e instanceof AppError) throw e;
    throw new AppError(ErrorCode.STORE_ERR_WRITE, `restore of ${backupFile} into ${target} failed: ${(e as Error).message}`);
  }
}
