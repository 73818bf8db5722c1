import { fork, type ChildProcess } from 'node:child_process';
import type dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../lib/logger.js';
import type { FromWorker, ToWorker, WorkerInit } from './worker-protocol.js';
import { encodeZone, type ZonePayload } from './zone/zone-wire.js';
import type { ZoneData } from './zone/tree.js';

/** A UDP socket the workers share: a node:dgram socket (its handle goes over IPC) or a plain fd (inherited). */
export type PoolSocket = { kind: 'dgram'; sock: dgram.Socket } | { kind: 'fd'; fd: number };

/** What the pool reports back to the service. */
export interface PoolDeps {
  count: number;
  sockets: PoolSocket[];
  init: Omit<WorkerInit, 't' | 'sockets'>;
  logger: Logger;
  /** A worker's query that needs the full path; answer it on `sockets[i]`. */
  onRelay(i: number, msg: Buffer, peer: { address: string; port: number }): void;
  onCounts(q: [number, number][], d: [string, number][], errors: number): void;
}

/** UDP worker processes that share the primary's sockets (dns.workers). */
export interface UdpWorkerPool {
  /** Ship the zones (only those whose serial changed since the last call) and the authority mode; resolves when every worker has them (or after 1 s). */
  sync(zones: readonly ZoneData[], site: boolean): Promise<void>;
  /** Ship an authority change; resolves when every worker has it (or after 1 s). */
  setAuthority(site: boolean): Promise<void>;
  /** Ask every worker for its counts now. */
  flush(): void;
  pids(): number[];
  close(): Promise<void>;
}

/**
 * Our own node flags for a worker, without the test runner's (`--test-name-pattern x` and the like,
 * whose separate value would otherwise become the worker's script).
 */
export function workerExecArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--test')) {
      const next = argv[i + 1];
      if (!a.includes('=') && next !== undefined && !next.startsWith('-')) i++;
      continue;
    }
    out.push(a);
  }
  return out;
}

/** The worker entry: udp-worker.js next to this file (udp-worker.ts when run from source with tsx). */
function workerPath(): string {
  const here = fileURLToPath(import.meta.url);
  const ext = here.endsWith('.ts') ? '.ts' : '.js';
  const p = here.replace(/workers\.[jt]s$/, `udp-worker${ext}`);
  if (!existsSync(p)) throw new Error(`UDP worker entry not found: ${p}`);
  return p;
}

/**
 * Fork `count` workers with child_process and send each the bound UDP sockets (Node 20's dgram has no
 * reusePort, but a dgram handle can be passed over IPC: every process then reads the same socket, and
 * the kernel hands each datagram to one of them). Resolves once every worker has its zones and sockets.
 */
export async function startUdpWorkers(deps: PoolDeps, zones: readonly ZoneData[], site: boolean): Promise<UdpWorkerPool> {
  const entry = workerPath();
  // The worker runs under the same loader as we do (tsx in tests), minus the test runner's own flags.
  const execArgv = workerExecArgv(process.execArgv);
  let closing = false;
  let gen = 0;
  let shipped = new Map<string, number>();
  let lastZones: readonly ZoneData[] = zones;
  let lastSite = site;
  const workers = new Set<Live>();
  interface Live { child: ChildProcess; acked: number; waiters: { gen: number; resolve: () => void }[] }

  function payloads(all: readonly ZoneData[], since: Map<string, number>): { zones: ZonePayload[]; keep: string[] } {
    const out: ZonePayload[] = [];
    const keep: string[] = [];
    for (const z of all) {
      if (since.get(z.origin.key) === z.serial) keep.push(z.origin.key);
      else out.push(encodeZone(z));
    }
    return { zones: out, keep };
  }

  function post(w: Live, m: ToWorker, handle?: dgram.Socket): void {
    if (w.child.connected) w.child.send(m, handle as never, (err) => { if (err && !closing) deps.logger.warn({ event: 'dns.worker.ipc', err: err.message }); });
  }

  function waitAll(g: number): Promise<void> {
    return new Promise((resolve) => {
      const pending = [...workers].filter((w) => w.acked < g && w.child.connected);
      if (pending.length === 0) { resolve(); return; }
      let left = pending.length;
      const t = setTimeout(resolve, 1000);
      t.unref();
      for (const w of pending) w.waiters.push({ gen: g, resolve: () => { if (--left === 0) { clearTimeout(t); resolve(); } } });
    });
  }

  function spawn(): Promise<void> {
    // Plain fds are inherited as the child's fds 4, 5, ... (stdio entries after the IPC channel).
    const fds = deps.sockets.flatMap((s) => (s.kind === 'fd' ? [s.fd] : []));
    const child = fork(entry, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc', ...fds], serialization: 'json' });
    const w: Live = { child, acked: 0, waiters: [] };
    workers.add(w);
    return new Promise((resolve, reject) => {
      let ready = false;
      child.on('message', (m: FromWorker) => {
        switch (m.t) {
          case 'ready': ready = true; resolve(); break;
          case 'ack':
            w.acked = Math.max(w.acked, m.gen);
            w.waiters = w.waiters.filter((x) => { if (x.gen <= w.acked) { x.resolve(); return false; } return true; });
            break;
          case 'counts': deps.onCounts(m.q, m.d, m.e); break;
          case 'relay': deps.onRelay(m.i, Buffer.from(m.m, 'base64'), { address: m.a, port: m.p }); break;
        }
      });
      child.on('exit', (code, signal) => {
        workers.delete(w);
        for (const x of w.waiters) x.resolve();
        if (!ready) { reject(new Error(`DNS UDP worker exited during start (code ${code}, signal ${signal})`)); return; }
        if (closing) return;
        deps.logger.error({ event: 'dns.worker.exit', pid: child.pid, code, signal }, 'DNS UDP worker died; starting another');
        setTimeout(() => { if (!closing) spawn().catch((e: Error) => deps.logger.error({ event: 'dns.worker.failed', err: e.message })); }, 1000).unref();
      });
      // Zones before sockets: a worker never reads a query before it has data to answer from.
      post(w, { t: 'init', ...deps.init, sockets: deps.sockets.length });
      post(w, { t: 'zones', gen, ...payloads(lastZones, new Map()), site: lastSite });
      let next = 4;
      deps.sockets.forEach((s, i) => {
        if (s.kind === 'dgram') post(w, { t: 'socket', i }, s.sock);
        else post(w, { t: 'socket', i, fd: next++ });
      });
    });
  }

  gen = 1;
  await Promise.all(Array.from({ length: deps.count }, () => spawn()));
  for (const z of zones) shipped.set(z.origin.key, z.serial);

  return {
    async sync(all, s) {
      const p = payloads(all, shipped);
      lastZones = all;
      lastSite = s;
      shipped = new Map(all.map((z) => [z.origin.key, z.serial]));
      const g = ++gen;
      for (const w of workers) post(w, { t: 'zones', gen: g, ...p, site: s });
      await waitAll(g);
    },
    async setAuthority(s) {
      lastSite = s;
      const g = ++gen;
      for (const w of workers) post(w, { t: 'auth', gen: g, site: s });
      await waitAll(g);
    },
    flush() {
      for (const w of workers) post(w, { t: 'flush' });
    },
    pids: () => [...workers].map((w) => w.child.pid!).filter(Boolean),
    async close() {
      closing = true;
      await Promise.all([...workers].map((w) => new Promise<void>((resolve) => {
        if (w.child.exitCode !== null || w.child.signalCode !== null) { resolve(); return; }
        w.child.once('exit', () => resolve());
        // Closing the channel is the worker's signal to exit; SIGKILL if it does not within 2 s.
        w.child.disconnect();
        setTimeout(() => { w.child.kill('SIGKILL'); }, 2000).unref();
      })));
    },
  };
}
