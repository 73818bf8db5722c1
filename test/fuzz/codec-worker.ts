/*
 * Runs one codec's fuzz loop in a worker thread. Before each input, its bytes and a counter go into
 * shared memory, so the main thread can see a hang (the counter stops) and save the input that hung.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { Rng, nextInput } from './mutate.js';
import { targets, loadSeeds, Finding } from './targets.js';
import { properties } from './properties.js';

export interface WorkerJob { codec: string; n: number; seconds: number; seed: number; sab: SharedArrayBuffer; slowMs: number; fcRuns: number }
/** Messages from the worker. */
export type WorkerMsg =
  | { t: 'finding'; kind: 'crash' | 'property' | 'slow'; message: string; hex: string; ms?: number }
  | { t: 'progress'; done: number }
  | { t: 'done'; done: number; ms: number; fcRuns: number; fcMs: number };

const job = workerData as WorkerJob;
const i32 = new Int32Array(job.sab, 0, 2);
const bytes = new Uint8Array(job.sab, 8);
const t = targets[job.codec]!;
const seeds = loadSeeds(job.codec);
const rng = new Rng(job.seed);
const seen = new Set<string>();
const post = (m: WorkerMsg): void => parentPort!.postMessage(m);

function report(kind: 'crash' | 'property' | 'slow', e: unknown, input: Buffer, ms?: number): void {
  const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  const key = `${kind}:${message.replace(/[0-9a-f]{16,}/g, '…').slice(0, 160)}`;
  if (seen.has(key) || seen.size > 50) return;
  seen.add(key);
  post({ t: 'finding', kind, message: e instanceof Error && kind === 'crash' ? `${message}\n${e.stack ?? ''}` : message, hex: input.toString('hex'), ...(ms !== undefined ? { ms } : {}) });
}

const t0 = performance.now();
const deadline = t0 + job.seconds * 1000;
let done = 0;
for (; done < job.n; done++) {
  const input = nextInput(rng, seeds, t.max);
  bytes.set(input.subarray(0, bytes.length));
  Atomics.store(i32, 1, Math.min(input.length, bytes.length));
  Atomics.add(i32, 0, 1);
  const s = performance.now();
  try {
    t.check(input);
  } catch (e) {
    report(e instanceof Finding ? 'property' : 'crash', e, input);
  }
  let dt = performance.now() - s;
  // A slow first run may be JIT or GC; the input counts as slow only if it stays slow.
  if (dt > job.slowMs) {
    for (let k = 0; k < 3 && dt > job.slowMs; k++) {
      const s2 = performance.now();
      try { t.check(input); } catch { /* reported above */ }
      dt = Math.min(dt, performance.now() - s2);
    }
  }
  if (dt > job.slowMs) report('slow', new Error(`one input took ${dt.toFixed(1)} ms (bound ${job.slowMs} ms)`), input, dt);
  if ((done & 0x3fff) === 0) {
    post({ t: 'progress', done });
    if (performance.now() > deadline) break;
  }
}
const ms = performance.now() - t0;
// Structure-aware properties (fast-check): generated packets that must round-trip exactly.
const f0 = performance.now();
let fcRuns = 0;
for (const prop of properties[job.codec] ?? []) {
  const left = deadline + 60_000 - performance.now();
  if (left <= 0) break;
  const r = prop.run(job.fcRuns, job.seed, left, (input) => {
    bytes.set(input.subarray(0, bytes.length));
    Atomics.store(i32, 1, Math.min(input.length, bytes.length));
    Atomics.add(i32, 0, 1);
  });
  fcRuns += r.runs;
  if (r.failure) report('property', new Finding(`${prop.name}: ${r.failure.message}`), r.failure.input);
}
post({ t: 'done', done, ms, fcRuns, fcMs: performance.now() - f0 });
