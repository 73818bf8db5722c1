/*
 * Open artifacts kept for a moment (issue 9): a burst of Range requests for one file (installers fetch
 * an image in 1 MiB slices) would otherwise pay realpath + open + fstat + close per request, four trips
 * through the libuv thread pool. An entry is only ever made from a file the server confined and opened
 * exactly as for an uncached request; a hit re-reads its metadata with fstat on the open fd (no I/O: the
 * inode is in memory), so a file rewritten in place gets its new size and validators at once. A file
 * replaced by rename or deleted is still served, whole and consistent (its own ETag), for at most the
 * TTL; it is closed when the last transfer using it ends.
 */
import { fstatSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

/** An open artifact for one request; release() exactly once when the request is done with it. */
export interface OpenFile {
  fh: FileHandle;
  size: number;
  mtimeMs: number;
  ino: number;
  isFile: boolean;
  release(): void;
}

interface Entry { fh: FileHandle; size: number; mtimeMs: number; ino: number; expires: number; refs: number; stale: boolean }

/** Cache of open regular files keyed by the confined relative path. */
export interface OpenCache {
  /** A fresh entry for key (its refcount taken), or undefined. */
  take(key: string): OpenFile | undefined;
  /** Wrap a just-opened handle (cached when it is a regular file); the caller holds one reference. */
  put(key: string, fh: FileHandle, st: { size: number; mtimeMs: number; ino: number; isFile(): boolean }): OpenFile;
  /** Close everything not in use; entries in use close when released. */
  clear(): void;
}

/** An uncached handle: release() closes it. */
export function uncached(fh: FileHandle, st: { size: number; mtimeMs: number; ino: number; isFile(): boolean }): OpenFile {
  let released = false;
  return { fh, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, isFile: st.isFile(), release() { if (!released) { released = true; fh.close().catch(() => undefined); } } };
}

/** Create a cache holding at most `max` open files, each for `ttlMs` after it was opened. */
export function createOpenCache(ttlMs = 1000, max = 64, now: () => number = Date.now): OpenCache {
  const map = new Map<string, Entry>();
  let sweep: NodeJS.Timeout | undefined;

  const drop = (key: string, e: Entry) => {
    if (map.get(key) === e) map.delete(key);
    e.stale = true;
    if (e.refs === 0) e.fh.close().catch(() => undefined);
  };
  const schedule = () => {
    if (sweep || map.size === 0) return;
    sweep = setTimeout(() => {
      sweep = undefined;
      const t = now();
      for (const [k, e] of map) if (e.expires <= t) drop(k, e);
      schedule();
    }, ttlMs);
    sweep.unref();
  };
  const view = (e: Entry): OpenFile => {
    let released = false;
    return {
      fh: e.fh, size: e.size, mtimeMs: e.mtimeMs, ino: e.ino, isFile: true,
      release() {
        if (released) return;
        released = true;
        e.refs--;
        if (e.stale && e.refs === 0) e.fh.close().catch(() => undefined);
      },
    };
  };

  return {
    take(key) {
      const e = map.get(key);
      if (!e) return undefined;
      if (e.expires <= now()) { drop(key, e); return undefined; }
      let st;
      try { st = fstatSync(e.fh.fd); } catch { drop(key, e); return undefined; }
      if (!st.isFile()) { drop(key, e); return undefined; }
      e.size = st.size;
      e.mtimeMs = st.mtimeMs;
      e.ino = st.ino;
      e.refs++;
      return view(e);
    },
    put(key, fh, st) {
      if (!st.isFile()) return uncached(fh, st);
      const old = map.get(key);
      if (old) drop(key, old);
      if (map.size >= max) {
        const [k, e] = map.entries().next().value as [string, Entry];
        drop(k, e);
      }
      const e: Entry = { fh, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, expires: now() + ttlMs, refs: 1, stale: false };
      map.set(key, e);
      schedule();
      return view(e);
    },
    clear() {
      for (const [k, e] of map) drop(k, e);
      if (sweep) { clearTimeout(sweep); sweep = undefined; }
    },
  };
}
