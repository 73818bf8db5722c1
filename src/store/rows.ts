/*
 * Row shapes shared by the store adapters, and the checks and conversions between port values and rows.
 * Both adapters go through these functions, so a value read back is the same whichever adapter stored it:
 * `unknown` payloads (journal detail, zone diff records, authority state) are stored as JSON text, optional
 * fields stored as NULL come back absent, and bad input is refused before it reaches a transaction.
 */
import { AppError, ErrorCode } from '../lib/errors.js';
import type {
  AuthorityState, BootEvent, DynamicRecord, JournalEntry, Lease, LeaseState, ZoneDiff,
} from './ports.js';

/** A `leases` row. */
export interface LeaseRow {
  ip: string;
  mac: string;
  client_id: string | null;
  hostname: string | null;
  state: LeaseState;
  subnet: string;
  start: number;
  expires: number;
  source: string | null;
}

/** A `dynamic_records` row; `seq` keeps the order the owner gave. */
export interface DynamicRecordRow {
  owner: string;
  seq: number;
  name: string;
  type: DynamicRecord['type'];
  data: string;
  ttl: number;
}

/** A `zone_diffs` row (without its id). */
export interface ZoneDiffRow {
  zone: string;
  from_serial: number;
  to_serial: number;
  removed: string;
  added: string;
  at: number;
}

/** A `journal` row (without its id). */
export interface JournalRow {
  at: number;
  kind: string;
  operator: string;
  host: string;
  detail: string;
}

/** A `boot_events` row (without its id). */
export interface BootEventRow {
  at: number;
  mac: string;
  kind: string;
  ip: string | null;
  file: string | null;
  bytes: number | null;
  duration_ms: number | null;
  detail: string | null;
}

/** The single `authority` row. */
export interface AuthorityRow {
  mode: AuthorityState['mode'];
  epoch: number;
  state: string;
}

const LEASE_STATES: ReadonlySet<string> = new Set<LeaseState>(['offered', 'bound', 'released', 'declined', 'expired']);
const RECORD_TYPES: ReadonlySet<string> = new Set<DynamicRecord['type']>(['A', 'PTR', 'AAAA']);
const MAX_SERIAL = 0xffff_ffff;

function invalid(what: string, why: string): AppError {
  return new AppError(ErrorCode.STORE_ERR_WRITE, `invalid ${what}: ${why}`);
}

function str(what: string, key: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0) throw invalid(what, `${key} must be a non-empty string`);
  return v;
}

function optStr(what: string, key: string, v: unknown): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw invalid(what, `${key} must be a string or null`);
  return v;
}

function int(what: string, key: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw invalid(what, `${key} must be an integer`);
  return v;
}

function optInt(what: string, key: string, v: unknown): number | null {
  if (v === undefined || v === null) return null;
  return int(what, key, v);
}

function serial(what: string, key: string, v: unknown): number {
  const n = int(what, key, v);
  // RFC 1982 §2: serial numbers are unsigned 32-bit.
  if (n < 0 || n > MAX_SERIAL) throw invalid(what, `${key} must be in 0..${MAX_SERIAL}`);
  return n;
}

/** JSON text of any JSON-able value; `undefined` becomes `null`. */
export function toJson(what: string, v: unknown): string {
  let s: string | undefined;
  try {
    s = JSON.stringify(v ?? null);
  } catch (e) {
    throw invalid(what, `not JSON-serialisable (${(e as Error).message})`);
  }
  return s ?? 'null';
}

/** Check a lease and turn it into a row. */
export function leaseToRow(l: Lease): LeaseRow {
  const w = 'lease';
  if (typeof l !== 'object' || l === null) throw invalid(w, 'not an object');
  if (typeof l.state !== 'string' || !LEASE_STATES.has(l.state)) throw invalid(w, `state must be one of ${[...LEASE_STATES].join(', ')}`);
  return {
    ip: str(w, 'ip', l.ip),
    mac: str(w, 'mac', l.mac),
    client_id: optStr(w, 'clientId', l.clientId),
    hostname: optStr(w, 'hostname', l.hostname),
    state: l.state,
    subnet: str(w, 'subnet', l.subnet),
    start: int(w, 'start', l.start),
    expires: int(w, 'expires', l.expires),
    source: optStr(w, 'source', l.source),
  };
}

/** A fresh lease from a row (`source` absent when NULL). */
export function rowToLease(r: LeaseRow): Lease {
  const l: Lease = {
    ip: r.ip, mac: r.mac, clientId: r.client_id, hostname: r.hostname, state: r.state,
    subnet: r.subnet, start: r.start, expires: r.expires,
  };
  if (r.source !== null) l.source = r.source;
  return l;
}

/** Check one owner's records and turn them into rows; every record's `owner` must equal `owner`. */
export function dynamicToRows(owner: string, records: readonly DynamicRecord[]): DynamicRecordRow[] {
  const w = 'dynamic record';
  str(w, 'owner', owner);
  if (!Array.isArray(records)) throw invalid(w, 'records must be an array');
  return records.map((d, seq) => {
    if (typeof d !== 'object' || d === null) throw invalid(w, 'not an object');
    if (d.owner !== owner) throw invalid(w, `owner ${String(d.owner)} differs from ${owner}`);
    if (typeof d.type !== 'string' || !RECORD_TYPES.has(d.type)) throw invalid(w, 'type must be A, AAAA or PTR');
    const ttl = int(w, 'ttl', d.ttl);
    if (ttl < 0) throw invalid(w, 'ttl must not be negative');
    return { owner, seq, name: str(w, 'name', d.name), type: d.type, data: str(w, 'data', d.data), ttl };
  });
}

/** A fresh record from a row. */
export function rowToDynamic(r: DynamicRecordRow): DynamicRecord {
  return { name: r.name, type: r.type, data: r.data, ttl: r.ttl, owner: r.owner };
}

/** Check setSerial's arguments. */
export function checkSerial(zone: string, s: number, hash: string): { zone: string; serial: number; hash: string } {
  const w = 'zone serial';
  return { zone: str(w, 'zone', zone), serial: serial(w, 'serial', s), hash: str(w, 'hash', hash) };
}

/** Check a zone diff (its zone must be `zone`) and turn it into a row. */
export function diffToRow(zone: string, d: ZoneDiff): ZoneDiffRow {
  const w = 'zone diff';
  if (typeof d !== 'object' || d === null) throw invalid(w, 'not an object');
  if (d.zone !== zone) throw invalid(w, `zone ${String(d.zone)} differs from ${zone}`);
  if (!Array.isArray(d.removed) || !Array.isArray(d.added)) throw invalid(w, 'removed and added must be arrays');
  return {
    zone,
    from_serial: serial(w, 'fromSerial', d.fromSerial),
    to_serial: serial(w, 'toSerial', d.toSerial),
    removed: toJson(w, d.removed),
    added: toJson(w, d.added),
    at: int(w, 'at', d.at),
  };
}

/** A fresh diff from a row. */
export function rowToDiff(r: ZoneDiffRow): ZoneDiff {
  return {
    zone: r.zone, fromSerial: r.from_serial, toSerial: r.to_serial,
    removed: JSON.parse(r.removed) as unknown[], added: JSON.parse(r.added) as unknown[], at: r.at,
  };
}

/**
 * RFC 1982 §3.2: `a` is equal to or greater than `b` in serial number arithmetic (32-bit). This is what
 * `diffsSince` filters with, so IXFR keeps working when a zone's serial wraps.
 */
export function serialGte(a: number, b: number): boolean {
  return ((a - b) >>> 0) < 0x8000_0000;
}

/** Check a journal entry and turn it into a row (`id` is ignored: the store assigns it). */
export function journalToRow(e: JournalEntry): JournalRow {
  const w = 'journal entry';
  if (typeof e !== 'object' || e === null) throw invalid(w, 'not an object');
  return {
    at: int(w, 'at', e.at), kind: str(w, 'kind', e.kind), operator: str(w, 'operator', e.operator),
    host: str(w, 'host', e.host), detail: toJson(w, e.detail),
  };
}

/** A fresh entry from a row. */
export function rowToJournal(id: number, r: JournalRow): JournalEntry {
  return { id, at: r.at, kind: r.kind, operator: r.operator, host: r.host, detail: JSON.parse(r.detail) as unknown };
}

/** Check a boot event and turn it into a row. */
export function bootEventToRow(e: BootEvent): BootEventRow {
  const w = 'boot event';
  if (typeof e !== 'object' || e === null) throw invalid(w, 'not an object');
  let durationMs: number | null = null;
  if (e.durationMs !== undefined && e.durationMs !== null) {
    if (typeof e.durationMs !== 'number' || !Number.isFinite(e.durationMs)) throw invalid(w, 'durationMs must be a finite number');
    durationMs = e.durationMs;
  }
  return {
    at: int(w, 'at', e.at), mac: str(w, 'mac', e.mac), kind: str(w, 'kind', e.kind),
    ip: optStr(w, 'ip', e.ip), file: optStr(w, 'file', e.file), bytes: optInt(w, 'bytes', e.bytes),
    duration_ms: durationMs, detail: e.detail === undefined ? null : toJson(w, e.detail),
  };
}

/** A fresh event from a row (NULL columns come back absent). */
export function rowToBootEvent(r: BootEventRow): BootEvent {
  const e: BootEvent = { at: r.at, mac: r.mac, kind: r.kind };
  if (r.ip !== null) e.ip = r.ip;
  if (r.file !== null) e.file = r.file;
  if (r.bytes !== null) e.bytes = r.bytes;
  if (r.duration_ms !== null) e.durationMs = r.duration_ms;
  if (r.detail !== null) e.detail = JSON.parse(r.detail) as unknown;
  return e;
}

/** Check an authority state and turn it into the row (the whole state is kept as JSON). */
export function authorityToRow(s: AuthorityState): AuthorityRow {
  const w = 'authority state';
  if (typeof s !== 'object' || s === null) throw invalid(w, 'not an object');
  if (s.mode !== 'bootstrap' && s.mode !== 'production') throw invalid(w, 'mode must be bootstrap or production');
  return { mode: s.mode, epoch: int(w, 'epoch', s.epoch), state: toJson(w, s) };
}

/** A fresh state from the row. */
export function rowToAuthority(r: AuthorityRow): AuthorityState {
  return JSON.parse(r.state) as AuthorityState;
}

/** The CAS rule of AuthorityStore.set: throws STORE_ERR_CONFLICT when the stored epoch is not the expected one. */
export function checkEpoch(stored: number | undefined, expected: number | undefined): void {
  if (stored !== expected) {
    throw new AppError(ErrorCode.STORE_ERR_CONFLICT,
      `authority epoch conflict: expected ${expected === undefined ? 'no state' : `epoch ${expected}`}, store has ${stored === undefined ? 'no state' : `epoch ${stored}`}`,
      { expected, stored });
  }
}

/** `limit` as a row count: undefined means all, anything else must be a non-negative integer (RangeError: a caller bug). */
export function checkLimit(limit: number | undefined): number | undefined {
  if (limit === undefined) return undefined;
  if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError('limit must be a non-negative integer');
  return limit;
}

/** Check an array argument. */
export function checkArray<T>(what: string, v: readonly T[]): readonly T[] {
  if (!Array.isArray(v)) throw invalid(what, 'expected an array');
  return v;
}

/** Check a key argument (ip, mac, zone). */
export function checkKey(what: string, v: string): string {
  return str(what, 'key', v);
}
