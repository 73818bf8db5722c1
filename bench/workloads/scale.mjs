// Scale: builderd start-up time (spawn → `daemon.ready` log line) and RSS with 10,000 hosts in the
// inventory and 100,000 leases in its SQLite store, seeded through openSqliteStore before start.
// Every round starts from a fresh copy of the seeded store. netns bbe-scale (loopback only).
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { baseConfig, ROOT, rssOf, startBuilderd, stopBuilderd } from '../lib/builderd.mjs';
import { scaleHosts } from '../lib/dataset.mjs';
import { log, netnsDel, netnsNew, run, sleep, roundsWithin } from '../lib/proc.mjs';
import { median } from '../lib/stats.mjs';

const NS = 'bbe-scale';
const TOOLS = join(dirname(fileURLToPath(import.meta.url)), '../tools');
const LEASE_SUBNET = '10.104.0.0/14';

/** Run the scale workload. */
export async function scaleWorkload(ctx) {
  const { work, rounds, knobs } = ctx;
  const dir = join(work, 'scale');
  const seeded = join(dir, 'seeded');
  mkdirSync(seeded, { recursive: true });
  const res = { builderd: { label: 'builderd', runs: { readyMs: [], inProcessMs: [], rssMB: [], hwmMB: [], heapMB: [] }, notes: [] } };
  const r = res.builderd;
  const out = {
    title: 'Scale',
    setup: `${knobs.scaleHosts.toLocaleString('en-US')} hosts in the inventory, ${knobs.scaleLeases.toLocaleString('en-US')} bound leases in the SQLite store (seeded through openSqliteStore, 5,000 per put()); DNS, TFTP and HTTP listening on loopback. Ready = wall time from spawn to the daemon.ready log line (node start-up included); RSS read from /proc 1 s after ready, JS heap used from the daemon's /metrics (nodejs_heap_size_used_bytes). Absolute targets.`,
    columns: [{ key: 'readyMs', label: 'spawn → ready ms', digits: 0, lower: true }, { key: 'inProcessMs', label: 'ready line ms', digits: 0, lower: true }, { key: 'rssMB', label: 'RSS MB', digits: 1, lower: true }, { key: 'hwmMB', label: 'peak RSS MB', digits: 1, lower: true }, { key: 'heapMB', label: 'JS heap used MB', digits: 1, lower: true }],
    servers: res,
  };
  if (!existsSync(join(ROOT, 'dist/store/sqlite/index.js'))) { r.error = 'dist/store/sqlite missing (build failed)'; return out; }

  const seed = await run([process.execPath, join(TOOLS, 'seed-leases.mjs'), ROOT, seeded, String(knobs.scaleLeases), LEASE_SUBNET, '10.104.0.1'], { timeoutMs: 300_000 });
  if (seed.code !== 0) { r.error = `seeding the store failed: ${(seed.stderr || seed.stdout).trim().split('\n').slice(-2).join(' ')}`; return out; }
  log(`  scale: seeded ${knobs.scaleLeases} leases: ${seed.stdout.trim()}`);
  const seedFiles = ['builderd.db', 'builderd.db-wal', 'builderd.db-shm'].filter((f) => existsSync(join(seeded, f)));

  const base = await run([process.execPath, '-e', '0'], { cpu: 0, timeoutMs: 10_000 });
  r.notes.push(`bare \`node -e 0\` takes ${Math.round(base.ms)} ms here`);

  /** JS heap in use, from the daemon's Prometheus endpoint (prom-client default metrics). */
  const heapOf = async () => {
    const q = await run(['curl', '-s', '--max-time', '5', 'http://127.0.0.1:15590/metrics'], { ns: NS, timeoutMs: 10_000 });
    const m = /^nodejs_heap_size_used_bytes\s+([\d.e+]+)/m.exec(q.stdout);
    return m ? { heapMB: Number(m[1]) / 2 ** 20 } : {};
  };

  const once = async (round, cpuProfDir, { empty = false } = {}) => {
    const w = join(dir, `r${round}`);
    const state = join(w, 'state');
    mkdirSync(state, { recursive: true });
    if (!empty) for (const f of seedFiles) copyFileSync(join(seeded, f), join(state, f));
    const config = baseConfig(w, {
      dns: { listen: ['127.0.0.1:15501'] },
      dhcp: { interfaces: [], subnets: [{ cidr: '10.100.0.0/16' }, { cidr: LEASE_SUBNET, pool: '10.104.0.1-10.107.255.254' }] },
      tftp: { listen: ['127.0.0.1:15569'] },
      http: { listen: ['127.0.0.1:15580'], base_url: 'http://127.0.0.1:15580' },
      metrics: { listen: '127.0.0.1:15590' },
      hosts: scaleHosts(knobs.scaleHosts),
    });
    const b = await startBuilderd({ dir: w, config, ns: NS, cpu: 0, logLevel: 'info', cpuProfDir, readyMs: 60_000 });
    if (!b.ok) { r.error = b.reason; log(`  scale: not available: ${b.reason}`); return; }
    try {
      await sleep(1000);
      const m = { ...rssOf(b.pid), ...(await heapOf()) };
      if (empty) {
        r.notes.push(`the same inventory with an empty store: ready after ${Math.round(b.spawnToReadyMs)} ms, RSS ${m.rssMB?.toFixed(1)} MB, JS heap used ${m.heapMB?.toFixed(1)} MB (the leases cost the difference)`);
        log(`  scale without leases: ready after ${b.spawnToReadyMs.toFixed(0)} ms, RSS ${m.rssMB?.toFixed(1)} MB`);
        return;
      }
      if (!cpuProfDir) {
        r.runs.readyMs.push(b.spawnToReadyMs);
        r.runs.inProcessMs.push(typeof b.readyLine?.ms === 'number' ? b.readyLine.ms : undefined);
        r.runs.rssMB.push(m.rssMB);
        r.runs.hwmMB.push(m.hwmMB);
        r.runs.heapMB.push(m.heapMB);
      }
      if (round === 1) r.notes.push(`start-up timeline of round 1 (ms after spawn, from the log): ${timeline(b)}`);
      log(`  scale round ${round}: ready after ${b.spawnToReadyMs.toFixed(0)} ms (in-process ${b.readyLine?.ms} ms), RSS ${m.rssMB?.toFixed(1)} MB, peak ${m.hwmMB?.toFixed(1)} MB, JS heap ${m.heapMB?.toFixed(1)} MB`);
    } finally {
      await stopBuilderd(b);
    }
  };

  netnsNew(NS);
  try {
    await roundsWithin(ctx, rounds, async (round) => { if (!r.error) await once(round); });
    if (!r.error) await once('empty', undefined, { empty: true });
  } finally {
    netnsDel(NS);
  }
  r.metrics = Object.fromEntries(Object.entries(r.runs).map(([k, v]) => [k, median(v)]).filter(([, v]) => v !== undefined));
  out.profile = async (cpuProfDir) => {
    netnsNew(NS);
    try { await once('p', cpuProfDir); } finally { netnsDel(NS); }
  };
  return out;
}

/** ms after spawn of the first log line and of each listener / ready event (pino "time" is wall clock). */
function timeline(b) {
  const marks = [];
  let first;
  for (const line of readFileSync(b.logFile, 'utf8').split('\n')) {
    let o;
    try { o = JSON.parse(line); } catch { continue; }
    const at = Date.parse(o.time) - b.spawnWall;
    if (!Number.isFinite(at)) continue;
    if (first === undefined) { first = at; marks.push(`first log line ${at}`); }
    if (/\.listen$/.test(o.event ?? '') || o.event === 'daemon.ready') marks.push(`${o.event} ${at}`);
    if (o.event === 'daemon.ready') break;
  }
  return marks.join(', ');
}
