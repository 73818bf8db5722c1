/*
 * Durability of the SQLite store under failure:
 * - kill -9 at random moments loses no write whose put() had resolved, and leaves a database that passes
 *   PRAGMA integrity_check (WAL recovery on the next open);
 * - a store that cannot be written (file size limit as a full disk, immutable file or WAL, SQLITE_BUSY) rejects writes with
 *   STORE_ERR_WRITE, rolls the whole batch back, and the process carries on.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { AppError, ErrorCode } from '../../src/lib/errors.js';
import type { Lease } from '../../src/store/ports.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';

const WRITER = fileURLToPath(new URL('../helpers/store-writer.ts', import.meta.url));
const FILLER = fileURLToPath(new URL('../helpers/store-filler.ts', import.meta.url));

function lease(ip: string, over: Partial<Lease> = {}): Lease {
  return { ip, mac: '52:54:00:00:00:01', clientId: null, hostname: null, state: 'bound', subnet: '10.99.0.0/24', start: 1, expires: 2, ...over };
}

const isWriteError = (e: unknown): boolean => e instanceof AppError && e.code === ErrorCode.STORE_ERR_WRITE;

function sqliteCause(e: unknown): string | undefined {
  return e instanceof AppError ? (e.details as { cause?: string } | undefined)?.cause : undefined;
}

function integrity(file: string): string {
  const db = new Database(file);
  try {
    return String(db.pragma('integrity_check', { simple: true }));
  } finally {
    db.close();
  }
}

interface Round { acked: Map<string, number>; lines: number; ms: number }

/** Run the writer, SIGKILL it `delayMs` after its first acknowledged write; resolve with what it acknowledged. */
function runAndKill(dir: string, start: number, sync: 'normal' | 'full', delayMs: number): Promise<Round> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dir, String(start), sync], { stdio: ['ignore', 'pipe', 'pipe'] });
    const acked = new Map<string, number>();
    let buf = '';
    let lines = 0;
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    let firstAt = 0;
    // Hard bound: whatever happens, the child does not outlive 15 s.
    const guard = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buf += chunk;
      const parts = buf.split('\n');
      buf = parts.pop() ?? '';
      for (const line of parts) {
        if (line === 'ready') continue;
        const [ip, v] = line.split(' ');
        if (ip === undefined || v === undefined) continue;
        lines++;
        const n = Number(v);
        if ((acked.get(ip) ?? -1) < n) acked.set(ip, n);
        if (timer === undefined) {
          firstAt = Date.now();
          timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
        }
      }
    });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      if (timer) clearTimeout(timer);
      if (signal !== 'SIGKILL') {
        reject(new Error(`writer exited with code ${code} signal ${signal} before being killed: ${stderr}`));
        return;
      }
      resolve({ acked, lines, ms: Date.now() - firstAt });
    });
  });
}

describe('SQLite store survives kill -9', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'bst-kill-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('every lease acknowledged before a kill -9 at a random moment is present after reopening (5 rounds)', { timeout: 120_000 }, async (t) => {
    const delays = [120, 300, 550, 900, 1400].map((d) => d + Math.floor(Math.random() * 200));
    const expected = new Map<string, number>();
    let total = 0;
    for (let round = 0; round < delays.length; round++) {
      const sync = round % 2 === 0 ? 'normal' : 'full';
      const r = await runAndKill(dir, round * 10_000_000, sync, delays[round]!);
      assert.ok(r.lines > 0, 'the writer acknowledged writes before it was killed');
      for (const [ip, n] of r.acked) expected.set(ip, n);
      total += r.lines;
      t.diagnostic(`round ${round + 1}: synchronous=${sync}, killed ${r.ms} ms after the first ack, ${r.lines} acknowledged puts`);

      assert.equal(integrity(join(dir, 'builderd.db')), 'ok');
      const store = openSqliteStore({ dir });
      try {
        const stored = new Map((await store.leases.all()).map((l) => [l.ip, l]));
        for (const [ip, n] of expected) {
          const l = stored.get(ip);
          assert.ok(l, `acknowledged lease ${ip} is missing after kill -9 in round ${round + 1}`);
          // The store may hold a newer, unacknowledged write of the same IP, never an older one.
          assert.ok(l.expires >= n, `lease ${ip} went back from acknowledged ${n} to ${l.expires}`);
          assert.equal(l.hostname, `h${l.expires}`, 'no torn row: hostname and expires come from the same put');
        }
      } finally {
        await store.close();
      }
    }
    t.diagnostic(`${total} acknowledged puts over ${delays.length} kills, ${expected.size} distinct IPs checked`);
  });
});

describe('SQLite store that cannot be written', () => {
  let dir: string;
  const immutable: string[] = [];
  before(() => { dir = mkdtempSync(join(tmpdir(), 'bst-ro-')); });
  after(() => {
    for (const f of immutable) spawnSync('chattr', ['-i', f]);
    rmSync(dir, { recursive: true, force: true });
  });

  /** Set the ext2/3/4 immutable flag, which stops writes even by root; false when unsupported (tmpfs, overlay). */
  function makeImmutable(file: string): boolean {
    const r = spawnSync('chattr', ['+i', file]);
    if (r.status !== 0) return false;
    immutable.push(file);
    return true;
  }
  function makeMutable(file: string): void {
    execFileSync('chattr', ['-i', file]);
    immutable.splice(immutable.indexOf(file), 1);
  }

  it('an immutable store file (what a read-only filesystem looks like, even to root) still opens for reading and put() rejects with STORE_ERR_WRITE', async (t) => {
    if (process.getuid?.() !== 0) { t.skip('needs root: chattr +i'); return; }
    const d = join(dir, 'immutable-file');
    let store = openSqliteStore({ dir: d });
    await store.leases.put([lease('10.99.0.1')]);
    await store.close();
    const file = join(d, 'builderd.db');
    if (!makeImmutable(file)) { t.skip(`chattr +i not supported on the filesystem of ${tmpdir()}`); return; }
    store = openSqliteStore({ dir: d });
    try {
      assert.equal((await store.leases.get('10.99.0.1'))?.ip, '10.99.0.1', 'reads still work');
      const results = await Promise.allSettled([store.leases.put([lease('10.99.0.2')]), store.bootEvents.record([{ at: 1, mac: 'aa', kind: 'dhcp.ack' }])]);
      for (const r of results) assert.ok(r.status === 'rejected' && isWriteError(r.reason), `expected STORE_ERR_WRITE, got ${r.status}`);
      assert.deepEqual((await store.leases.all()).map((l) => l.ip), ['10.99.0.1']);
    } finally {
      await store.close();
      makeMutable(file);
    }
  });

  it('when the WAL becomes unwritable while open (I/O error), the whole batch rejects, nothing of it is visible, and writes resume once it is writable', async (t) => {
    if (process.getuid?.() !== 0) { t.skip('needs root: chattr +i'); return; }
    const d = join(dir, 'immutable-wal');
    const store = openSqliteStore({ dir: d });
    try {
      await store.leases.put([lease('10.99.0.1')]);
      const wal = join(d, 'builderd.db-wal');
      if (!makeImmutable(wal)) { t.skip(`chattr +i not supported on the filesystem of ${tmpdir()}`); return; }
      const results = await Promise.allSettled([
        store.leases.put([lease('10.99.0.2'), lease('10.99.0.3')]),
        store.leases.delete(['10.99.0.1']),
        store.journal.append({ at: 1, kind: 'x', operator: 'o', host: 'h', detail: null }),
      ]);
      for (const r of results) assert.ok(r.status === 'rejected' && isWriteError(r.reason), `expected STORE_ERR_WRITE, got ${r.status}`);
      assert.deepEqual((await store.leases.all()).map((l) => l.ip), ['10.99.0.1'], 'nothing of the failed batch is visible');
      assert.deepEqual(await store.journal.list(), []);
      makeMutable(wal);
      await store.leases.put([lease('10.99.0.4')]);
      assert.deepEqual((await store.leases.all()).map((l) => l.ip), ['10.99.0.1', '10.99.0.4']);
    } finally {
      await store.close();
    }
    assert.equal(integrity(join(d, 'builderd.db')), 'ok');
  });

  it('a full disk (RLIMIT_FSIZE: files cannot grow) rejects the whole batch with STORE_ERR_WRITE, the process carries on, and every acknowledged lease is kept', { timeout: 60_000 }, async (t) => {
    const prlimit = spawnSync('prlimit', ['--version']);
    if (prlimit.status !== 0) { t.skip('needs prlimit (util-linux)'); return; }
    const d = join(dir, 'disk-full');
    const r = spawnSync('prlimit', ['--fsize=1000000', '--', process.execPath, '--import', 'tsx', FILLER, d], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, `filler crashed (signal ${r.signal}): ${r.stderr}`);
    const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { acked: number; failed: Array<{ code: string; cause?: string }>; visible: number };
    t.diagnostic(`${out.acked} puts acknowledged before the file size limit; failed turn: ${JSON.stringify(out.failed)}`);
    assert.ok(out.acked > 0);
    assert.equal(out.failed.length, 3);
    for (const f of out.failed) assert.equal(f.code, ErrorCode.STORE_ERR_WRITE);
    assert.equal(out.visible, out.acked, 'nothing of the failed turn is visible');
    assert.equal(integrity(join(d, 'builderd.db')), 'ok');
    const store = openSqliteStore({ dir: d });
    try {
      const all = await store.leases.all();
      assert.equal(all.length, out.acked, 'after reopening: exactly the acknowledged leases');
      assert.deepEqual(new Set(all.map((l) => l.start)), new Set(Array.from({ length: out.acked }, (_, i) => i)));
    } finally {
      await store.close();
    }
  });

  it('a store opened with readonly: true rejects every write with STORE_ERR_WRITE and keeps serving reads', async () => {
    const d = join(dir, 'readonly-open');
    const rw = openSqliteStore({ dir: d });
    await rw.leases.put([lease('10.99.0.1')]);
    const ro = openSqliteStore({ dir: d, readonly: true });
    try {
      await assert.rejects(ro.leases.put([lease('10.99.0.2')]), isWriteError);
      await assert.rejects(ro.authority.set(undefined, { mode: 'bootstrap', epoch: 1, since: 1, by: 'x' }), isWriteError);
      assert.deepEqual((await ro.leases.all()).map((l) => l.ip), ['10.99.0.1']);
    } finally {
      await ro.close();
      await rw.close();
    }
  });

  it('SQLITE_BUSY after busy_timeout (another connection holds the write lock) rejects the whole batch; the next batch succeeds', async () => {
    const d = join(dir, 'busy');
    const store = openSqliteStore({ dir: d, busyTimeoutMs: 150 });
    const other = new Database(join(d, 'builderd.db'));
    try {
      await store.leases.put([lease('10.99.0.1')]);
      other.exec('BEGIN IMMEDIATE');
      const t0 = Date.now();
      const results = await Promise.allSettled([
        store.leases.put([lease('10.99.0.2')]),
        store.bootEvents.record([{ at: 1, mac: 'aa', kind: 'dhcp.ack' }]),
        store.authority.set(undefined, { mode: 'bootstrap', epoch: 1, since: 1, by: 'x' }),
      ]);
      assert.ok(Date.now() - t0 >= 140, 'waited for busy_timeout');
      for (const r of results) {
        assert.ok(r.status === 'rejected' && isWriteError(r.reason), `expected STORE_ERR_WRITE, got ${r.status}`);
        assert.equal(sqliteCause(r.reason), 'SQLITE_BUSY');
      }
      other.exec('ROLLBACK');
      assert.deepEqual((await store.leases.all()).map((l) => l.ip), ['10.99.0.1']);
      assert.equal(await store.authority.get(), undefined);
      await store.leases.put([lease('10.99.0.5')]);
      assert.deepEqual((await store.leases.all()).map((l) => l.ip), ['10.99.0.1', '10.99.0.5']);
    } finally {
      other.close();
      await store.close();
    }
  });
});
