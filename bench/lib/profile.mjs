// Summarise a V8 .cpuprofile (node --cpu-prof): self time per function and per area.
import { readdirSync, readFileSync, renameSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { ROOT } from './builderd.mjs';

function area(url, fn) {
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(idle)' || fn === '(program)' || fn === '(root)') return fn.slice(1, -1);
  if (!url) return 'native/V8';
  if (url.startsWith('node:')) return 'node internals';
  if (url.includes('/node_modules/')) return `dep ${/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1]}`;
  if (url.includes('/dist/')) return `builderd ${(/\/dist\/([^/]+)\//.exec(url) ?? [])[1] ?? ''}`.trim();
  return 'other';
}

/**
 * Read the newest .cpuprofile in dir; returns { key, file, totalMs, areas, top } or undefined.
 * windows: [[startUs, endUs], ...] on CLOCK_MONOTONIC; when given, only samples inside them count
 * (the load, not start-up and shutdown).
 */
export function summarizeProfile(dir, key, windows, topN = 18) {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort();
  if (!files.length) return undefined;
  const f = join(dir, files[files.length - 1]);
  const named = join(dir, `${key.replace(':', '-')}.cpuprofile`);
  renameSync(f, named);
  const p = JSON.parse(readFileSync(named, 'utf8'));
  const hits = new Map();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  let t = p.startTime, kept = 0;
  const inWindow = (ts) => !windows?.length || windows.some(([a, b]) => ts >= a && ts <= b);
  for (let i = 0; i < samples.length; i++) {
    t += deltas[i] ?? 0;
    if (!inWindow(t)) continue;
    kept++;
    hits.set(samples[i], (hits.get(samples[i]) ?? 0) + 1);
  }
  const dt = (p.endTime - p.startTime) / 1000 / Math.max(1, samples.length); // ms per sample
  const byFn = new Map();
  const byArea = new Map();
  let total = 0, busy = 0;
  for (const n of p.nodes) {
    const h = hits.get(n.id) ?? 0;
    if (!h) continue;
    total += h;
    const cf = n.callFrame;
    const fn = cf.functionName || '(anonymous)';
    const a = area(cf.url, fn);
    byArea.set(a, (byArea.get(a) ?? 0) + h);
    if (a === 'idle') continue;
    busy += h;
    const path = cf.url.startsWith('file://') ? cf.url.slice(7) : cf.url;
    const nm = path.lastIndexOf('/node_modules/');
    const shown = nm >= 0 ? path.slice(nm + 1) : path.startsWith('/') ? relative(ROOT, path) : basename(path);
    const where = cf.url ? `${shown}:${cf.lineNumber + 1}` : '';
    const k = `${fn}\u0000${where}`;
    byFn.set(k, (byFn.get(k) ?? 0) + h);
  }
  const top = [...byFn.entries()].sort((a, b) => b[1] - a[1]).slice(0, topN)
    .map(([k, h]) => { const [fn, where] = k.split('\u0000'); return { fn, where, pct: (100 * h) / Math.max(1, busy) }; });
  const areas = [...byArea.entries()].sort((a, b) => b[1] - a[1]).map(([a, h]) => ({ area: a, pct: (100 * h) / Math.max(1, total) }));
  return { key, file: relative(join(ROOT, 'bench/results'), named), window: windows?.length ? 'load only' : 'whole process', samples: kept, totalMs: total * dt, busyMs: busy * dt, areas, top };
}
