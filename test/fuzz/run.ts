/*
 * `npm run fuzz`: mutation + property fuzzing of the DNS, DHCP and TFTP codecs (each in a worker
 * thread with a hang watchdog), then packet fuzzing of the live servers (DNS UDP+TCP, DHCP, TFTP),
 * each checked to still answer a valid request afterwards with bounded memory.
 *
 * Environment (defaults are the bounds):
 *   FUZZ_N=1000000        inputs per codec          FUZZ_LIVE_N=100000   packets per live server
 *   FUZZ_SECONDS=600      time bound per target     FUZZ_SEED=<n>        PRNG seed (default: time)
 *   FUZZ_TARGETS=dns,dhcp,tftp,live-dns,live-dhcp,live-tftp   which targets
 *   FUZZ_SLOW_MS=100      one codec input slower than this is a finding; FUZZ_HANG_S=5: watchdog
 *   FUZZ_FC_N=N/20        fast-check runs per property
 * Findings are written to test/fixtures/fuzz/<target>/ and make the exit status 1.
 */
import { Worker } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import type { WorkerJob, WorkerMsg } from './codec-worker.js';
import { saveFinding, type SavedFinding } from './findings.js';
import { liveTargets } from './live.js';

const env = (k: string, d: number): number => (process.env[k] ? Number(process.env[k]) : d);
const N = env('FUZZ_N', 1_000_000);
const LIVE_N = env('FUZZ_LIVE_N', 100_000);
const SECONDS = env('FUZZ_SECONDS', 600);
const SEED = env('FUZZ_SEED', Date.now() % 0x7fffffff);
const SLOW_MS = env('FUZZ_SLOW_MS', 100);
const HANG_S = env('FUZZ_HANG_S', 5);
const FC_N = env('FUZZ_FC_N', Math.max(100, Math.floor(N / 20)));
const wanted = (process.env['FUZZ_TARGETS'] ?? 'dns,dhcp,tftp,live-dns,live-dhcp,live-tftp').split(',').map((s) => s.trim());

const findings: SavedFinding[] = [];
const harnessErrors: string[] = [];
const rows: string[] = [];
const tsxApi = import.meta.resolve('tsx/esm/api');
const workerUrl = new URL('./codec-worker.ts', import.meta.url).href;

/** One codec: a worker per attempt; a hang terminates it, saves the input and starts a fresh one. */
async function fuzzCodec(codec: string): Promise<void> {
  let left = N;
  let seed = SEED;
  let total = 0, ms = 0, fcRuns = 0, fcMs = 0;
  const t0 = performance.now();
  while (left > 0 && performance.now() - t0 < SECONDS * 1000) {
    const sab = new SharedArrayBuffer(8 + 70_000);
    const job: WorkerJob = { codec, n: left, seconds: SECONDS - (performance.now() - t0) / 1000, seed, sab, slowMs: SLOW_MS, fcRuns: FC_N };
    const w = new Worker(`import { register } from ${JSON.stringify(tsxApi)}; register(); await import(${JSON.stringify(workerUrl)});`, { eval: true, workerData: job });
    const i32 = new Int32Array(sab, 0, 2);
    const r = await new Promise<{ hung: boolean; done: number }>((resolve) => {
      let last = -1, lastAt = performance.now(), progress = 0, hung = false;
      const watch = setInterval(() => {
        const c = Atomics.load(i32, 0);
        if (c !== last) { last = c; lastAt = performance.now(); return; }
        // The first input waits for the worker to load (tsx compiles the sources): a longer grace.
        if (performance.now() - lastAt > (c === 0 ? 60 : HANG_S) * 1000) {
          clearInterval(watch);
          hung = true;
          const len = Atomics.load(i32, 1);
          const hex = Buffer.from(new Uint8Array(sab, 8, len)).toString('hex');
          findings.push(saveFinding(codec, 'hang', `no progress for ${HANG_S} s on one input`, hex, { seed }));
          void w.terminate().then(() => resolve({ hung: true, done: c }));
        }
      }, 250);
      w.on('message', (m: WorkerMsg) => {
        if (m.t === 'progress') progress = m.done;
        else if (m.t === 'finding') findings.push(saveFinding(codec, m.kind, m.message, m.hex, { seed, ...(m.ms !== undefined ? { ms: m.ms } : {}) }));
        else if (m.t === 'done') { total += m.done; ms += m.ms; fcRuns += m.fcRuns; fcMs += m.fcMs; }
      });
      w.on('error', (e) => { clearInterval(watch); harnessErrors.push(`${codec}: worker died: ${e.stack ?? e.message}`); resolve({ hung: false, done: progress }); });
      w.on('exit', () => { clearInterval(watch); if (!hung) resolve({ hung: false, done: N }); });
    });
    if (!r.hung) break;
    total += r.done; left -= r.done; seed = (seed * 7919 + 1) % 0x7fffffff;
  }
  const rate = ms > 0 ? Math.round(total / (ms / 1000)) : 0;
  rows.push(`${codec.padEnd(10)} ${String(total).padStart(9)} inputs  ${String(rate).padStart(8)}/s  ${(ms / 1000).toFixed(1).padStart(6)} s   + ${fcRuns} fast-check runs in ${(fcMs / 1000).toFixed(1)} s`);
  console.log(rows.at(-1));
}

console.log(`fuzz: seed ${SEED}, ${N} inputs per codec, ${LIVE_N} packets per live server, ${SECONDS} s per target`);
for (const codec of ['dns', 'dhcp', 'tftp']) if (wanted.includes(codec)) await fuzzCodec(codec);
for (const [name, run] of Object.entries(liveTargets)) {
  if (!wanted.includes(name)) continue;
  const r = await run({ n: LIVE_N, seconds: SECONDS, seed: SEED });
  for (const f of r.findings) findings.push(saveFinding(name, f.kind, f.message, f.hex, { seed: SEED }));
  rows.push(`${name.padEnd(10)} ${String(r.sent).padStart(9)} packets ${String(Math.round(r.sent / (r.ms / 1000))).padStart(8)}/s  ${(r.ms / 1000).toFixed(1).padStart(6)} s   ${r.summary}`);
  console.log(rows.at(-1));
}
console.log('\n' + rows.join('\n'));
const fresh = findings.filter((f) => f.isNew);
console.log(`\n${findings.length} findings (${fresh.length} new)`);
for (const f of findings) console.log(`  ${f.kind} ${f.file}\n    ${f.message.split('\n')[0]}`);
for (const e of harnessErrors) console.error(`harness error: ${e}`);
process.exit(findings.length || harnessErrors.length ? 1 : 0);
