/*
 * Numbered schema migrations: src/store/sqlite/migrations/NNN-name.sql, applied in order, each in its own
 * transaction together with `PRAGMA user_version = NNN`, so a crash leaves the schema at a whole version.
 * `PRAGMA application_id` marks the file as a builderd store (checked on open and on restore).
 */
import { readdirSync, readFileSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { AppError, ErrorCode } from '../../lib/errors.js';

/** `PRAGMA application_id` of a builderd store: ASCII "bldd". */
export const APPLICATION_ID = 0x626c6464;

/** One migration file. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const FILE_RE = /^(\d{3})-([a-z0-9][a-z0-9-]*)\.sql$/;

/** Read the migration files from `dir` (default: the migrations folder next to this module), in order. */
export function loadMigrations(dir: URL = new URL('./migrations/', import.meta.url)): Migration[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    throw new AppError(ErrorCode.STORE_ERR_OPEN, `cannot read store migrations in ${dir.pathname}: ${(e as Error).message}`);
  }
  const out: Migration[] = [];
  for (const file of names.sort()) {
    const m = FILE_RE.exec(file);
    if (!m) continue;
    out.push({ version: Number(m[1]), name: m[2] ?? file, sql: readFileSync(new URL(file, dir), 'utf8') });
  }
  out.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new AppError(ErrorCode.STORE_ERR_OPEN, `store migrations must be numbered 001, 002, ... without gaps; found ${String(m.version).padStart(3, '0')}-${m.name}.sql at position ${i + 1}`);
    }
  });
  if (out.length === 0) throw new AppError(ErrorCode.STORE_ERR_OPEN, `no store migrations found in ${dir.pathname}`);
  return out;
}

/** The schema version and identity of an open database. */
export function schemaInfo(db: Database.Database): { version: number; applicationId: number; tables: number } {
  return {
    version: Number(db.pragma('user_version', { simple: true })),
    applicationId: Number(db.pragma('application_id', { simple: true })),
    tables: Number((db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table'").get() as { n: number }).n),
  };
}

/**
 * Check the file is a builderd store (or empty) no newer than `latest`; throws STORE_ERR_OPEN otherwise.
 */
export function checkIdentity(db: Database.Database, latest: number, file: string): { version: number } {
  const info = schemaInfo(db);
  const empty = info.version === 0 && info.applicationId === 0 && info.tables === 0;
  if (!empty && info.applicationId !== APPLICATION_ID) {
    throw new AppError(ErrorCode.STORE_ERR_OPEN, `${file} is an SQLite database but not a builderd store (application_id ${info.applicationId})`);
  }
  if (info.version > latest) {
    throw new AppError(ErrorCode.STORE_ERR_OPEN, `${file} has schema version ${info.version}, newer than this builderd knows (${latest}); upgrade builderd or restore an older backup`);
  }
  return { version: info.version };
}

/** Apply every migration newer than the file's user_version; returns the versions before and after. */
export function migrate(db: Database.Database, migrations: readonly Migration[], file: string): { from: number; to: number } {
  const latest = migrations.length;
  const { version: from } = checkIdentity(db, latest, file);
  for (const m of migrations) {
    if (m.version <= from) continue;
    const apply = db.transaction(() => {
      db.exec(m.sql);
      // Both pragmas write page 1 of the file, so they commit or roll back with the migration.
      db.pragma(`application_id = ${APPLICATION_ID}`);
      db.pragma(`user_version = ${m.version}`);
    });
    try {
      apply.immediate();
    } catch (e) {
      throw new AppError(ErrorCode.STORE_ERR_OPEN, `store migration ${String(m.version).padStart(3, '0')}-${m.name} failed on ${file}: ${(e as Error).message}`);
    }
  }
  return { from, to: latest };
}
