/*
 * The in-memory store: the same contract as the SQLite store (test/contract runs one battery on both), for
 * unit tests of services. Values are kept as the same rows the SQLite adapter writes (../rows.ts), so a value
 * read back is a fresh copy and callers cannot mutate stored state; writes go through the same group commit,
 * so a write is visible only once its promise resolves. Nothing survives the process; `backup` writes JSON
 * that `loadMemoryStore` reads back.
 */
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { AppError, ErrorCode } from '../../lib/errors.js';
import { GroupCommit, type BatchObserver } from '../group-commit.js';
import type { AuthorityState, BootEvent, DynamicRecord, JournalEntry, Lease, Store, ZoneDiff } from '../ports.js';
import {
  authorityToRow, bootEventToRow, checkArray, checkEpoch, checkKey, checkLimit, checkSerial, diffToRow,
  dynamicToRows, journalToRow, leaseToRow, rowToAuthority, rowToBootEvent, rowToDiff, rowToDynamic,
  rowToJournal, rowToLease, serialGte,
  type AuthorityRow, type BootEventRow, type DynamicRecordRow, type JournalRow, type LeaseRow, type ZoneDiffRow,
} from '../rows.js';

interface State {
  leases: Map<string, LeaseRow>;
  dynamic: Map<string, DynamicRecordRow[]>;
  serials: Map<string, { serial: number; hash: string }>;
  diffs: Array<{ id: number; row: ZoneDiffRow }>;
  authority: AuthorityRow | undefined;
  journal: Array<{ id: number; row: JournalRow }>;
  bootEvents: Array<{ id: number; row: BootEventRow }>;
  nextId: { diff: number; journal: number; boot: number };
}

/** The JSON document `backup` writes. */
interface MemoryBackup {
  format: 'builderd-memory-store';
  version: 1;
  leases: LeaseRow[];
  dynamic: DynamicRecordRow[];
  serials: Array<{ zone: string; serial: number; hash: string }>;
  diffs: Array<{ id: number; row: ZoneDiffRow }>;
  authority: AuthorityRow | null;
  journal: Array<{ id: number; row: JournalRow }>;
  bootEvents: Array<{ id: number; row: BootEventRow }>;
  nextId: { diff: number; journal: number; boot: number };
}

function emptyState(): State {
  return {
    leases: new Map(), dynamic: new Map(), serials: new Map(), diffs: [], authority: undefined,
    journal: [], bootEvents: [], nextId: { diff: 1, journal: 1, boot: 1 },
  };
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Options of createMemoryStore and loadMemoryStore. */
export interface MemoryStoreOptions {
  /** Called after each group-commit batch (tests observe batching with it). */
  onBatch?: BatchObserver;
}

/** A fresh, empty in-memory store. */
export function createMemoryStore(opts: MemoryStoreOptions = {}): Store {
  return memoryStore(emptyState(), opts.onBatch);
}

/** An in-memory store holding what a memory store's `backup` wrote to `file`. */
export async function loadMemoryStore(file: string, opts: MemoryStoreOptions = {}): Promise<Store> {
  let doc: MemoryBackup;
  try {
    doc = JSON.parse(await readFile(file, 'utf8')) as MemoryBackup;
  } catch (e) {
    throw new AppError(ErrorCode.STORE_ERR_OPEN, `cannot read memory store backup ${file}: ${(e as Error).message}`);
  }
  if (doc?.format !== 'builderd-memory-store' || doc.version !== 1) {
    throw new AppError(ErrorCode.STORE_ERR_OPEN, `${file} is not a builderd memory store backup`);
  }
  const state = emptyState();
  for (const r of doc.leases) state.leases.set(r.ip, r);
  for (const r of doc.dynamic) {
    const list = state.dynamic.get(r.owner) ?? [];
    list.push(r);
    state.dynamic.set(r.owner, list);
  }
  for (const s of doc.serials) state.serials.set(s.zone, { serial: s.serial, hash: s.hash });
  state.diffs = doc.diffs;
  state.authority = doc.authority ?? undefined;
  state.journal = doc.journal;
  state.bootEvents = doc.bootEvents;
  state.nextId = doc.nextId;
  return memoryStore(state, opts.onBatch);
}

function memoryStore(st: State, onBatch?: BatchObserver): Store {
  // Undo log of the running batch: a batch that throws is rolled back, as an SQLite transaction would be.
  let undo: Array<() => void> | undefined;
  const log = (f: () => void): void => { undo?.push(f); };
  const mapSet = <K, V>(m: Map<K, V>, k: K, v: V): void => {
    const had = m.has(k);
    const prev = m.get(k);
    log(() => { if (had) m.set(k, prev as V); else m.delete(k); });
    m.set(k, v);
  };
  const mapDelete = <K, V>(m: Map<K, V>, k: K): void => {
    if (!m.has(k)) return;
    const prev = m.get(k) as V;
    log(() => m.set(k, prev));
    m.delete(k);
  };
  const push = <T>(list: T[], v: T): void => {
    log(() => { list.pop(); });
    list.push(v);
  };
  const nextId = (k: keyof State['nextId']): number => {
    const id = st.nextId[k];
    log(() => { st.nextId[k] = id; });
    st.nextId[k] = id + 1;
    return id;
  };

  const queue = new GroupCommit((body) => {
    undo = [];
    try {
      body();
    } catch (e) {
      for (const f of undo.reverse()) f();
      throw e;
    } finally {
      undo = undefined;
    }
  }, onBatch);
  let closed = false;
  const read = async <T>(f: () => T): Promise<T> => {
    if (closed) throw new AppError(ErrorCode.STORE_ERR_OPEN, 'store is closed');
    return f();
  };
  const journalInsert = (row: JournalRow): number => {
    const id = nextId('journal');
    push(st.journal, { id, row });
    return id;
  };

  return {
    leases: {
      all: () => read(() => [...st.leases.values()].sort((a, b) => byString(a.ip, b.ip)).map(rowToLease)),
      get: (ip) => read(() => {
        const r = st.leases.get(checkKey('lease ip', ip));
        return r === undefined ? undefined : rowToLease(r);
      }),
      put: async (leases: readonly Lease[]) => {
        const rows = checkArray('leases', leases).map(leaseToRow);
        return queue.submit(() => { for (const r of rows) mapSet(st.leases, r.ip, r); });
      },
      delete: async (ips: readonly string[]) => {
        const keys = checkArray('lease ips', ips).map((ip) => checkKey('lease ip', ip));
        return queue.submit(() => { for (const ip of keys) mapDelete(st.leases, ip); });
      },
    },
    zones: {
      dynamicRecords: () => read(() => [...st.dynamic.keys()].sort(byString)
        .flatMap((owner) => (st.dynamic.get(owner) ?? []).map(rowToDynamic))),
      setDynamic: async (owner: string, records: readonly DynamicRecord[]) => {
        const rows = dynamicToRows(owner, records);
        return queue.submit(() => {
          if (rows.length === 0) mapDelete(st.dynamic, owner);
          else mapSet(st.dynamic, owner, rows);
        });
      },
      getSerial: (zone) => read(() => {
        const r = st.serials.get(checkKey('zone', zone));
        return r === undefined ? undefined : { serial: r.serial, hash: r.hash };
      }),
      setSerial: async (zone: string, serial: number, hash: string, diff?: ZoneDiff) => {
        const v = checkSerial(zone, serial, hash);
        const d = diff === undefined ? undefined : diffToRow(v.zone, diff);
        return queue.submit(() => {
          mapSet(st.serials, v.zone, { serial: v.serial, hash: v.hash });
          if (d) push(st.diffs, { id: nextId('diff'), row: d });
        });
      },
      diffsSince: (zone, since) => read(() => {
        const z = checkKey('zone', zone);
        return st.diffs.filter((d) => d.row.zone === z && serialGte(d.row.from_serial, since >>> 0)).map((d) => rowToDiff(d.row));
      }),
    },
    authority: {
      get: () => read(() => (st.authority === undefined ? undefined : rowToAuthority(st.authority))),
      set: async (expectedEpoch: number | undefined, next: AuthorityState, entry?: JournalEntry) => {
        const row = authorityToRow(next);
        const j = entry === undefined ? undefined : journalToRow(entry);
        return queue.submit(() => {
          checkEpoch(st.authority?.epoch, expectedEpoch);
          const prev = st.authority;
          log(() => { st.authority = prev; });
          st.authority = row;
          if (j) journalInsert(j);
        });
      },
    },
    journal: {
      append: async (entry: JournalEntry) => {
        const row = journalToRow(entry);
        return queue.submit(() => journalInsert(row));
      },
      list: (limit) => read(() => {
        const n = checkLimit(limit) ?? st.journal.length;
        return (n === 0 ? [] : st.journal.slice(-n)).map((e) => rowToJournal(e.id, e.row));
      }),
    },
    bootEvents: {
      record: async (events: readonly BootEvent[]) => {
        const rows = checkArray('boot events', events).map(bootEventToRow);
        return queue.submit(() => { for (const r of rows) push(st.bootEvents, { id: nextId('boot'), row: r }); });
      },
      forMac: (mac, limit) => read(() => {
        const m = checkKey('mac', mac);
        const list = st.bootEvents.filter((e) => e.row.mac === m).sort((a, b) => a.row.at - b.row.at || a.id - b.id);
        const n = checkLimit(limit) ?? list.length;
        return (n === 0 ? [] : list.slice(-n)).map((e) => rowToBootEvent(e.row));
      }),
    },
    backup: async (file: string) => {
      if (closed) throw new AppError(ErrorCode.STORE_ERR_OPEN, 'store is closed');
      queue.flush();
      const doc: MemoryBackup = {
        format: 'builderd-memory-store', version: 1,
        leases: [...st.leases.values()],
        dynamic: [...st.dynamic.values()].flat(),
        serials: [...st.serials.entries()].map(([zone, v]) => ({ zone, ...v })),
        diffs: st.diffs, authority: st.authority ?? null, journal: st.journal, bootEvents: st.bootEvents,
        nextId: st.nextId,
      };
      const tmp = `${file}.tmp-${process.pid}`;
      try {
        await writeFile(tmp, JSON.stringify(doc), { mode: 0o600 });
        await rename(tmp, file);
      } catch (e) {
        await rm(tmp, { force: true });
        throw new AppError(ErrorCode.STORE_ERR_WRITE, `store backup to ${file} failed: ${(e as Error).message}`);
      }
    },
    close: async () => {
      if (closed) return;
      queue.close();
      closed = true;
    },
  };
}
