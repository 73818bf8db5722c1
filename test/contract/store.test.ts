/*
 * One battery for the Store ports (src/store/ports.ts), run against every adapter: memory and SQLite.
 * Zone diffs follow RFC 1995 (IXFR) and RFC 1982 (serial number arithmetic).
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError, ErrorCode } from '../../src/lib/errors.js';
import type { BatchObserver } from '../../src/store/group-commit.js';
import type { AuthorityState, BootEvent, DynamicRecord, JournalEntry, Lease, Store, ZoneDiff } from '../../src/store/ports.js';
import { createMemoryStore, loadMemoryStore } from '../../src/store/memory/index.js';
import { openSqliteStore, restoreSqliteStore } from '../../src/store/sqlite/index.js';

/** How the battery gets stores of one adapter. */
interface Harness {
  /** A fresh, empty store. */
  open(onBatch?: BatchObserver): Store;
  /** A store restored from a file written by `Store.backup`. */
  restore(backupFile: string): Promise<Store>;
  /** A scratch directory removed by cleanup(). */
  dir: string;
  cleanup(): void;
}

type Factory = () => Harness;

const memoryHarness: Factory = () => {
  const dir = mkdtempSync(join(tmpdir(), 'bst-contract-mem-'));
  return {
    dir,
    open: (onBatch) => createMemoryStore(onBatch ? { onBatch } : {}),
    restore: (file) => loadMemoryStore(file),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
};

const sqliteHarness: Factory = () => {
  const dir = mkdtempSync(join(tmpdir(), 'bst-contract-sqlite-'));
  let n = 0;
  return {
    dir,
    open: (onBatch) => openSqliteStore({ dir: join(dir, `store-${++n}`), ...(onBatch ? { onBatch } : {}) }),
    restore: async (file) => {
      const target = join(dir, `restored-${++n}`);
      await restoreSqliteStore(file, target);
      return openSqliteStore({ dir: target });
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
};

function lease(ip: string, over: Partial<Lease> = {}): Lease {
  return {
    ip, mac: '52:54:00:00:00:01', clientId: null, hostname: null, state: 'bound', subnet: '10.99.0.0/24',
    start: 1_700_000_000_000, expires: 1_700_000_600_000, ...over,
  };
}

function entry(kind: string, at: number, detail: unknown = { n: at }): JournalEntry {
  return { at, kind, operator: 'root', host: 'builder01', detail };
}

function diff(zone: string, fromSerial: number, toSerial: number, at = 1): ZoneDiff {
  return { zone, fromSerial, toSerial, removed: [{ name: `old${fromSerial}.${zone}`, type: 'A', data: '10.0.0.1' }], added: [{ name: `new${toSerial}.${zone}`, type: 'A', data: '10.0.0.2' }], at };
}

function isCode(code: string) {
  return (e: unknown): boolean => e instanceof AppError && e.code === code;
}

/** Everything readable through the ports, for comparing two stores. */
async function snapshot(s: Store, zones: string[], macs: string[]) {
  return {
    leases: await s.leases.all(),
    dynamic: await s.zones.dynamicRecords(),
    serials: await Promise.all(zones.map((z) => s.zones.getSerial(z))),
    diffs: await Promise.all(zones.map((z) => s.zones.diffsSince(z, 0))),
    authority: await s.authority.get(),
    journal: await s.journal.list(),
    boot: await Promise.all(macs.map((m) => s.bootEvents.forMac(m))),
  };
}

function storeBattery(name: string, factory: Factory): void {
  describe(`Store contract: ${name}`, () => {
    let h: Harness;
    let store: Store;
    const extra: Store[] = [];
    beforeEach(() => {
      h = factory();
      store = h.open();
    });
    afterEach(async () => {
      await store.close();
      for (const s of extra.splice(0)) await s.close();
      h.cleanup();
    });

    describe('leases', () => {
      it('get returns what put stored, and undefined for an unknown ip', async () => {
        const l = lease('10.99.0.50', { clientId: '01525400000001', hostname: 'hv01', source: 'dhcp' });
        await store.leases.put([l]);
        assert.deepEqual(await store.leases.get('10.99.0.50'), l);
        assert.equal(await store.leases.get('10.99.0.51'), undefined);
      });

      it('put with an existing ip replaces the whole lease', async () => {
        await store.leases.put([lease('10.99.0.50', { source: 'dhcp', hostname: 'a' })]);
        const next = lease('10.99.0.50', { mac: '52:54:00:00:00:02', state: 'released', expires: 5 });
        await store.leases.put([next]);
        assert.deepEqual(await store.leases.get('10.99.0.50'), next);
        assert.equal((await store.leases.all()).length, 1);
      });

      it('a lease without source comes back without the key', async () => {
        await store.leases.put([lease('10.99.0.50')]);
        const got = await store.leases.get('10.99.0.50');
        assert.ok(got);
        assert.equal('source' in got, false);
        assert.equal(got.clientId, null);
        assert.equal(got.hostname, null);
      });

      it('all returns every lease in any state, ordered by ip text', async () => {
        const states = ['offered', 'bound', 'released', 'declined', 'expired'] as const;
        const ls = states.map((state, i) => lease(`10.99.0.${60 - i}`, { state }));
        await store.leases.put(ls);
        const all = await store.leases.all();
        assert.deepEqual(all.map((l) => l.ip), ['10.99.0.56', '10.99.0.57', '10.99.0.58', '10.99.0.59', '10.99.0.60']);
        assert.deepEqual(new Set(all.map((l) => l.state)), new Set(states));
      });

      it('delete removes the given ips and ignores unknown ones', async () => {
        await store.leases.put([lease('10.99.0.1'), lease('10.99.0.2'), lease('10.99.0.3')]);
        await store.leases.delete(['10.99.0.1', '10.99.0.3', '10.99.0.200']);
        assert.deepEqual((await store.leases.all()).map((l) => l.ip), ['10.99.0.2']);
      });

      it('callers cannot change stored leases through the objects they passed or received', async () => {
        const l = lease('10.99.0.50');
        await store.leases.put([l]);
        l.state = 'expired';
        const got = await store.leases.get('10.99.0.50');
        assert.ok(got);
        got.mac = 'ff:ff:ff:ff:ff:ff';
        const again = await store.leases.get('10.99.0.50');
        assert.equal(again?.state, 'bound');
        assert.equal(again?.mac, '52:54:00:00:00:01');
      });

      it('an invalid lease is refused with STORE_ERR_WRITE and nothing of that put is stored', async () => {
        const bad = { ...lease('10.99.0.2'), state: 'weird' } as unknown as Lease;
        await assert.rejects(store.leases.put([lease('10.99.0.1'), bad]), isCode(ErrorCode.STORE_ERR_WRITE));
        await assert.rejects(store.leases.put([lease('10.99.0.3', { start: 1.5 })]), isCode(ErrorCode.STORE_ERR_WRITE));
        assert.deepEqual(await store.leases.all(), []);
      });
    });

    describe('group commit', () => {
      it('writes of one turn become visible only when their promises resolve, all together', async () => {
        const p1 = store.leases.put([lease('10.99.0.1')]);
        const p2 = store.leases.put([lease('10.99.0.2')]);
        const p3 = store.bootEvents.record([{ at: 1, mac: 'aa', kind: 'dhcp.ack' }]);
        assert.equal(await store.leases.get('10.99.0.1'), undefined, 'not visible before commit');
        await Promise.all([p1, p2, p3]);
        assert.equal((await store.leases.all()).length, 2);
        assert.equal((await store.bootEvents.forMac('aa')).length, 1);
      });

      it('1000 puts issued in one turn are committed in one batch', async () => {
        await store.close();
        const batches: number[] = [];
        store = h.open(({ size, ok }) => { if (ok) batches.push(size); });
        const ps: Promise<void>[] = [];
        for (let i = 0; i < 1000; i++) ps.push(store.leases.put([lease(`10.${(i >> 8) & 255}.${i & 255}.1`)]));
        await Promise.all(ps);
        assert.deepEqual(batches, [1000]);
        assert.equal((await store.leases.all()).length, 1000);
        await store.leases.put([lease('10.200.0.1')]);
        assert.deepEqual(batches, [1000, 1], 'a later turn is a new batch');
      });

      it('a refused put in a batch does not stop the other writes of the same turn', async () => {
        const bad = { ...lease('10.99.0.9'), ip: '' } as Lease;
        const results = await Promise.allSettled([
          store.leases.put([lease('10.99.0.1')]), store.leases.put([bad]), store.leases.put([lease('10.99.0.2')]),
        ]);
        assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
        assert.deepEqual((await store.leases.all()).map((l) => l.ip), ['10.99.0.1', '10.99.0.2']);
      });

      it('puts and deletes of one turn apply in call order', async () => {
        await store.leases.put([lease('10.99.0.3')]);
        await Promise.all([
          store.leases.put([lease('10.99.0.1')]),
          store.leases.delete(['10.99.0.1', '10.99.0.3']),
          store.leases.put([lease('10.99.0.2')]),
          store.leases.put([lease('10.99.0.3', { state: 'released' })]),
        ]);
        const all = await store.leases.all();
        assert.deepEqual(all.map((l) => [l.ip, l.state]), [['10.99.0.2', 'bound'], ['10.99.0.3', 'released']]);
      });

      it('writes after close are refused with STORE_ERR_WRITE; a write issued before close still commits', async () => {
        const p = store.leases.put([lease('10.99.0.1')]);
        await store.close();
        await p;
        await assert.rejects(store.leases.put([lease('10.99.0.2')]), isCode(ErrorCode.STORE_ERR_WRITE));
        await store.close();
      });
    });

    describe('zones', () => {
      const rec = (owner: string, name: string, type: DynamicRecord['type'], data: string): DynamicRecord => ({ owner, name, type, data, ttl: 300 });

      it('setDynamic replaces only the records of its owner, keeping their order', async () => {
        await store.zones.setDynamic('10.99.0.50', [rec('10.99.0.50', 'a.lab.', 'A', '10.99.0.50'), rec('10.99.0.50', '50.0.99.10.in-addr.arpa.', 'PTR', 'a.lab.')]);
        await store.zones.setDynamic('10.99.0.51', [rec('10.99.0.51', 'b.lab.', 'A', '10.99.0.51')]);
        await store.zones.setDynamic('10.99.0.50', [rec('10.99.0.50', 'c.lab.', 'A', '10.99.0.50')]);
        assert.deepEqual(await store.zones.dynamicRecords(), [
          rec('10.99.0.50', 'c.lab.', 'A', '10.99.0.50'),
          rec('10.99.0.51', 'b.lab.', 'A', '10.99.0.51'),
        ]);
      });

      it('setDynamic with no records removes the owner', async () => {
        await store.zones.setDynamic('10.99.0.50', [rec('10.99.0.50', 'a.lab.', 'A', '10.99.0.50')]);
        await store.zones.setDynamic('10.99.0.50', []);
        assert.deepEqual(await store.zones.dynamicRecords(), []);
      });

      it('setDynamic refuses a record owned by someone else', async () => {
        await assert.rejects(store.zones.setDynamic('10.99.0.50', [rec('10.99.0.51', 'a.lab.', 'A', '10.99.0.51')]), isCode(ErrorCode.STORE_ERR_WRITE));
        assert.deepEqual(await store.zones.dynamicRecords(), []);
      });

      it('getSerial returns the last setSerial of the zone, undefined before', async () => {
        assert.equal(await store.zones.getSerial('lab.example.net'), undefined);
        await store.zones.setSerial('lab.example.net', 2024010101, 'h1');
        await store.zones.setSerial('lab.example.net', 2024010102, 'h2');
        await store.zones.setSerial('mgmt.example.net', 7, 'm');
        assert.deepEqual(await store.zones.getSerial('lab.example.net'), { serial: 2024010102, hash: 'h2' });
        assert.deepEqual(await store.zones.getSerial('mgmt.example.net'), { serial: 7, hash: 'm' });
      });

      it('diffsSince returns the zone diffs with fromSerial >= since, oldest first (RFC 1995 §4)', async () => {
        const z = 'lab.example.net';
        await store.zones.setSerial(z, 2, 'a', diff(z, 1, 2));
        await store.zones.setSerial('other.net', 9, 'o', diff('other.net', 1, 9));
        await store.zones.setSerial(z, 3, 'b', diff(z, 2, 3));
        await store.zones.setSerial(z, 4, 'c', diff(z, 3, 4));
        assert.deepEqual(await store.zones.diffsSince(z, 2), [diff(z, 2, 3), diff(z, 3, 4)]);
        assert.deepEqual((await store.zones.diffsSince(z, 0)).map((d) => d.fromSerial), [1, 2, 3]);
        assert.deepEqual(await store.zones.diffsSince(z, 4), []);
        assert.deepEqual(await store.zones.getSerial(z), { serial: 4, hash: 'c' });
      });

      it('diffsSince compares serials modulo 2^32 so IXFR survives a serial wrap (RFC 1982 §3.2)', async () => {
        const z = 'wrap.example.net';
        await store.zones.setSerial(z, 4294967295, 'a', diff(z, 4294967290, 4294967295));
        await store.zones.setSerial(z, 3, 'b', diff(z, 4294967295, 3));
        await store.zones.setSerial(z, 10, 'c', diff(z, 3, 10));
        assert.deepEqual((await store.zones.diffsSince(z, 4294967295)).map((d) => [d.fromSerial, d.toSerial]), [[4294967295, 3], [3, 10]]);
        assert.deepEqual((await store.zones.diffsSince(z, 3)).map((d) => d.fromSerial), [3]);
      });

      it('setSerial refuses a serial outside 32 bits and a diff of another zone, writing nothing', async () => {
        await assert.rejects(store.zones.setSerial('z.net', 2 ** 32, 'h'), isCode(ErrorCode.STORE_ERR_WRITE));
        await assert.rejects(store.zones.setSerial('z.net', 5, 'h', diff('y.net', 4, 5)), isCode(ErrorCode.STORE_ERR_WRITE));
        assert.equal(await store.zones.getSerial('z.net'), undefined);
        assert.deepEqual(await store.zones.diffsSince('y.net', 0), []);
      });
    });

    describe('authority', () => {
      const state = (epoch: number, mode: AuthorityState['mode'] = 'bootstrap', over: Partial<AuthorityState> = {}): AuthorityState => ({
        mode, epoch, since: 1_700_000_000_000 + epoch, by: 'root@builder01', ...over,
      });

      it('get is undefined on a fresh store', async () => {
        assert.equal(await store.authority.get(), undefined);
      });

      it('set with the expected epoch stores the state and its journal entry together', async () => {
        await store.authority.set(undefined, state(1), entry('authority.init', 1));
        const promote = state(2, 'production', { pending: { direction: 'promote', step: 'check', startedAt: 5 }, lastChecks: { dns: 'ok' } });
        await store.authority.set(1, promote, entry('authority.promote', 2));
        assert.deepEqual(await store.authority.get(), promote);
        assert.deepEqual((await store.journal.list()).map((e) => e.kind), ['authority.init', 'authority.promote']);
      });

      it('set with a stale epoch throws STORE_ERR_CONFLICT and writes neither state nor journal entry', async () => {
        await store.authority.set(undefined, state(1), entry('authority.init', 1));
        await assert.rejects(store.authority.set(undefined, state(2), entry('authority.promote', 2)), isCode(ErrorCode.STORE_ERR_CONFLICT));
        await assert.rejects(store.authority.set(0, state(2), entry('authority.promote', 3)), isCode(ErrorCode.STORE_ERR_CONFLICT));
        assert.deepEqual(await store.authority.get(), state(1));
        assert.deepEqual((await store.journal.list()).map((e) => e.at), [1]);
      });

      it('of two sets racing on the same epoch in one turn exactly the first wins', async () => {
        await store.authority.set(undefined, state(1));
        const results = await Promise.allSettled([
          store.authority.set(1, state(2, 'production'), entry('authority.promote', 10)),
          store.authority.set(1, state(2, 'bootstrap'), entry('authority.revert', 11)),
        ]);
        assert.equal(results[0]?.status, 'fulfilled');
        assert.ok(results[1]?.status === 'rejected' && isCode(ErrorCode.STORE_ERR_CONFLICT)(results[1].reason));
        assert.equal((await store.authority.get())?.mode, 'production');
        assert.deepEqual((await store.journal.list()).map((e) => e.kind), ['authority.promote']);
      });
    });

    describe('journal', () => {
      it('append returns increasing ids and list returns entries oldest first', async () => {
        const ids = [await store.journal.append(entry('a', 1)), await store.journal.append(entry('b', 2)), await store.journal.append(entry('c', 3))];
        assert.ok(ids[0]! < ids[1]! && ids[1]! < ids[2]!);
        const list = await store.journal.list();
        assert.deepEqual(list.map((e) => e.id), ids);
        assert.deepEqual(list[1], { ...entry('b', 2), id: ids[1] });
      });

      it('list(limit) returns the newest limit entries, newest last', async () => {
        for (let i = 1; i <= 10; i++) await store.journal.append(entry(`k${i}`, i));
        assert.deepEqual((await store.journal.list(3)).map((e) => e.kind), ['k8', 'k9', 'k10']);
        assert.deepEqual(await store.journal.list(0), []);
        assert.equal((await store.journal.list(100)).length, 10);
      });

      it('entries appended in one turn keep their call order', async () => {
        const ids = await Promise.all([1, 2, 3, 4].map((i) => store.journal.append(entry(`k${i}`, 100 - i))));
        assert.deepEqual([...ids].sort((a, b) => a - b), ids);
        assert.deepEqual((await store.journal.list()).map((e) => e.kind), ['k1', 'k2', 'k3', 'k4']);
      });

      it('detail round-trips as JSON (undefined becomes null)', async () => {
        await store.journal.append(entry('x', 1, { nested: { list: [1, 'two', null, true] } }));
        await store.journal.append({ ...entry('y', 2), detail: undefined });
        const [a, b] = await store.journal.list();
        assert.deepEqual(a?.detail, { nested: { list: [1, 'two', null, true] } });
        assert.equal(b?.detail, null);
      });
    });

    describe('boot events', () => {
      const mac = '52:54:00:aa:bb:01';
      it('forMac returns only that MAC, ordered by time (newest last), optional fields absent when unset', async () => {
        const evs: BootEvent[] = [
          { at: 30, mac, kind: 'tftp.transfer.done', ip: '10.99.0.50', file: 'undionly.kpxe', bytes: 70000, durationMs: 12.5 },
          { at: 10, mac, kind: 'dhcp.offer', ip: '10.99.0.50' },
          { at: 20, mac: '52:54:00:aa:bb:02', kind: 'dhcp.ack' },
          { at: 20, mac, kind: 'dhcp.ack', ip: '10.99.0.50', detail: { xid: 'abcd' } },
        ];
        await store.bootEvents.record(evs);
        const got = await store.bootEvents.forMac(mac);
        assert.deepEqual(got, [evs[1], evs[3], evs[0]]);
        assert.equal('file' in got[0]!, false);
        assert.deepEqual(await store.bootEvents.forMac('52:54:00:00:00:99'), []);
      });

      it('forMac(limit) returns the newest limit events; ties on time keep record order', async () => {
        await store.bootEvents.record([1, 2, 3, 4, 5].map((i) => ({ at: 100, mac, kind: `k${i}` })));
        await store.bootEvents.record([{ at: 50, mac, kind: 'early' }]);
        assert.deepEqual((await store.bootEvents.forMac(mac, 2)).map((e) => e.kind), ['k4', 'k5']);
        assert.deepEqual((await store.bootEvents.forMac(mac)).map((e) => e.kind), ['early', 'k1', 'k2', 'k3', 'k4', 'k5']);
      });
    });

    describe('backup', () => {
      it('backup then restore yields a store with the same content that keeps working', async () => {
        const zones = ['lab.example.net', 'mgmt.example.net'];
        const macs = ['52:54:00:00:00:01', '52:54:00:00:00:02'];
        await store.leases.put([lease('10.99.0.1', { source: 'dhcp' }), lease('10.99.0.2', { mac: macs[1]!, state: 'offered' })]);
        await store.zones.setDynamic('10.99.0.1', [{ owner: '10.99.0.1', name: 'a.lab.', type: 'A', data: '10.99.0.1', ttl: 60 }]);
        await store.zones.setSerial(zones[0]!, 5, 'h5', diff(zones[0]!, 4, 5));
        await store.zones.setSerial(zones[1]!, 1, 'm1');
        await store.authority.set(undefined, { mode: 'bootstrap', epoch: 1, since: 1, by: 'x', pending: null }, entry('authority.init', 1));
        await store.journal.append(entry('lease.import', 2));
        await store.bootEvents.record([{ at: 1, mac: macs[0]!, kind: 'dhcp.ack', ip: '10.99.0.1' }, { at: 2, mac: macs[1]!, kind: 'http.get', file: 'x', bytes: 3 }]);
        const before = await snapshot(store, zones, macs);

        const file = join(h.dir, 'backup.bin');
        await store.backup(file);
        await store.leases.put([lease('10.99.0.3')]); // after the backup: must not be in it
        const restored = await h.restore(file);
        extra.push(restored);
        assert.deepEqual(await snapshot(restored, zones, macs), before);

        const id = await restored.journal.append(entry('after.restore', 3));
        assert.ok(id > Math.max(...before.journal.map((e) => e.id ?? 0)), 'journal ids continue after a restore');
        await restored.authority.set(1, { mode: 'production', epoch: 2, since: 2, by: 'x' });
      });
    });
  });
}

storeBattery('memory', memoryHarness);
storeBattery('sqlite', sqliteHarness);

