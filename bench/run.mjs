#!/usr/bin/env node
// builderd benchmark: every workload against builderd and the reference servers, alternately
// (A B A B ..., medians of the rounds), in one run on this machine. Writes results/latest.{md,json}
// (results/quick.{md,json} with BENCH_QUICK=1). See README.md for the knobs.
import { cpus, loadavg, totalmem } from 'node:os';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePackages, pkgVersion } from './lib/apt.mjs';
import { buildProject, gitDescribe } from './lib/builderd.mjs';
import { lockAndReap, log, onExit } from './lib/proc.mjs';
import { evaluateTargets, ratiosOf, renderMarkdown, renderSummary } from './lib/report.mjs';
import { summarizeProfile } from './lib/profile.mjs';
import { dnsWorkload } from './workloads/dns.mjs';
import { dhcpWorkload } from './workloads/dhcp.mjs';
import { tftpWorkload } from './workloads/tftp.mjs';
import { httpWorkload } from './workloads/http.mjs';
import { pxeWorkload } from './workloads/pxe.mjs';
import { scaleWorkload } from './workloads/scale.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const env = process.env;
const QUICK = env.BENCH_QUICK === '1';
const num = (k, d) => (env[k] !== undefined && env[k] !== '' && Number.isFinite(Number(env[k])) ? Number(env[k]) : d);
const list = (k, d) => (env[k] ? env[k].split(/[\s,]+/).filter(Boolean) : d);

/** Every knob, with its BENCH_* variable. Full defaults fit in 15 minutes on 2 cores; QUICK in about 3. */
const knobs = {
  rounds: Math.max(1, num('BENCH_ROUNDS', 3)),
  only: list('BENCH_ONLY', ['dns', 'dhcp', 'tftp', 'http', 'scale', 'pxe']),
  logLevel: env.BENCH_LOG_LEVEL ?? 'warn',
  profile: env.BENCH_PROFILE !== undefined ? env.BENCH_PROFILE !== '0' : !QUICK,
  // The whole run must end within this many seconds: PXE boots and profiles stop starting before it.
  budgetS: num('BENCH_BUDGET_S', QUICK ? 300 : 840),
  // DNS
  dnsSeconds: Math.min(60, num('BENCH_DNS_SECONDS', QUICK ? 2 : 10)),
  dnsClients: num('BENCH_DNS_CLIENTS', 10),
  dnsMaxOut: num('BENCH_DNS_MAXOUT', 100),
  dnsHosts: num('BENCH_DNS_HOSTS', 1000),
  dnsWorkers: env.BENCH_DNS_WORKERS !== undefined ? num('BENCH_DNS_WORKERS', 0) : undefined,
  dnsRefs: list('BENCH_DNS_REFS', ['nsd', 'knot', 'dnsmasq']),
  // DHCP
  dhcpSeconds: Math.min(30, num('BENCH_DHCP_SECONDS', QUICK ? 2 : 3)),
  dhcpClients: num('BENCH_DHCP_CLIENTS', 5000),
  dhcpRates: list('BENCH_DHCP_RATES', ['50', '100', '250', '500', '1000', '2000', '4000', '8000', '12000', '16000', '20000', '24000', '28000']).map(Number).filter((r) => r > 0 && r <= 40000),
  dhcpMaxDropPct: num('BENCH_DHCP_MAX_DROP', 1),
  dhcpRefs: list('BENCH_DHCP_REFS', ['kea', 'dnsmasq']),
  // TFTP
  tftpMB: Math.min(256, num('BENCH_TFTP_MB', QUICK ? 16 : 64)),
  tftpDelayMB: Math.min(64, num('BENCH_TFTP_DELAY_MB', QUICK ? 1 : 4)),
  tftpDelayMs: num('BENCH_TFTP_DELAY_MS', 1),
  tftpTimeoutS: Math.min(300, num('BENCH_TFTP_TIMEOUT', 120)),
  // HTTP
  httpMB: Math.min(4096, num('BENCH_HTTP_MB', QUICK ? 256 : 1024)),
  httpParallel: num('BENCH_HTTP_PARALLEL', 16),
  httpParSeconds: Math.min(60, num('BENCH_HTTP_PAR_SECONDS', QUICK ? 3 : 8)),
  // Scale
  scaleHosts: num('BENCH_SCALE_HOSTS', QUICK ? 2000 : 10000),
  scaleLeases: num('BENCH_SCALE_LEASES', QUICK ? 20000 : 100000),
  // PXE
  pxeFirmwares: list('BENCH_PXE_FIRMWARES', QUICK ? ['bios'] : ['bios', 'uefi']),
  pxeTimeoutS: Math.min(300, num('BENCH_PXE_TIMEOUT', 90)),
  pxeRounds: Math.max(1, num('BENCH_PXE_ROUNDS', QUICK ? 1 : 3)),  // cut short by BENCH_BUDGET_S
};
if (QUICK && env.BENCH_ROUNDS === undefined) knobs.rounds = 2;

function machine() {
  let model = cpus()[0]?.model;
  try { model = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? model; } catch { /* keep */ }
  let kernel = '';
  try { kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(); } catch { /* keep */ }
  let os = '';
  try { os = /PRETTY_NAME="([^"]*)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? ''; } catch { /* keep */ }
  return { nproc: cpus().length, model, kernel, os, node: process.version, memGB: Math.round(totalmem() / 2 ** 30), loadavgStart: loadavg().map((x) => +x.toFixed(2)) };
}

async function main() {
  const t0 = Date.now();
  if (process.getuid?.() !== 0) { log('the bench needs root (network namespaces, taskset, port 67/69)'); process.exit(2); }
  lockAndReap();
  const results = {
    date: new Date().toISOString(), quick: QUICK, machine: machine(), knobs,
    note: 'Absolute figures drift on shared machines; the ratios were measured side by side in this run. Other work running on the machine at the same time distorts both.',
    workloads: {}, targets: [], profiles: [],
  };
  log(`machine: ${results.machine.nproc} CPU ${results.machine.model}, kernel ${results.machine.kernel}, node ${results.machine.node}; ${QUICK ? 'QUICK' : 'full'} run, ${knobs.rounds} rounds, workloads ${knobs.only.join(' ')}`);

  const missing = env.BENCH_NO_INSTALL === '1' ? [] : ensurePackages();
  if (missing.length) log(`could not install: ${missing.join(' ')} (their workloads report "not available")`);
  results.references = Object.fromEntries(['nsd', 'knot', 'dnsmasq-base', 'kea-dhcp4-server', 'kea-admin', 'tftpd-hpa', 'atftp', 'nginx-light', 'nginx', 'dnsperf', 'curl', 'qemu-system-x86']
    .map((p) => [p, pkgVersion(p)]).filter(([, v]) => v));

  results.builderd = { commit: await gitDescribe() };
  if (env.BENCH_NO_BUILD === '1') results.builderd.build = 'skipped (BENCH_NO_BUILD=1)';
  else {
    log('building builderd (npm run build)');
    const b = await buildProject();
    results.builderd.build = b.ok ? b.detail : `FAILED: ${b.detail}`;
    if (!b.ok) log(`build failed; builderd lines will read "not available":\n${b.detail}`);
  }

  const work = mkdtempSync('/tmp/bbe-bench-');
  const shm = mkdtempSync('/dev/shm/bbe-bench-');
  // Servers that drop privileges (atftpd runs as nobody) must reach the served files.
  chmodSync(work, 0o755); chmodSync(shm, 0o755);
  onExit(() => { if (env.BENCH_KEEP !== '1') { rmSync(work, { recursive: true, force: true }); rmSync(shm, { recursive: true, force: true }); } });
  // Throughput workloads leave time for the profiles and the PXE boots that run after them.
  const reserveS = (knobs.profile ? 60 : 0) + (knobs.only.includes('pxe') ? (QUICK ? 40 : 150) : 0);
  const ctx = { work, shm, rounds: knobs.rounds, knobs, quick: QUICK, deadline: t0 + knobs.budgetS * 1000, mainDeadline: t0 + Math.max(knobs.budgetS / 2, knobs.budgetS - reserveS) * 1000 };
  const table = { dns: dnsWorkload, dhcp: dhcpWorkload, tftp: tftpWorkload, http: httpWorkload, scale: scaleWorkload, pxe: pxeWorkload };
  const outDir = join(HERE, 'results');
  mkdirSync(outDir, { recursive: true });
  const base = QUICK ? 'quick' : 'latest';
  const write = () => {
    results.durationS = Math.round((Date.now() - t0) / 1000);
    results.machine.loadavgEnd = loadavg().map((x) => +x.toFixed(2));
    results.targets = evaluateTargets(results.workloads);
    for (const w of Object.values(results.workloads)) w.ratios = ratiosOf(w);
    const json = JSON.stringify(results, (k, v) => (typeof v === 'function' ? undefined : v), 1);
    writeFileSync(join(outDir, `${base}.json`), json + '\n');
    writeFileSync(join(outDir, `${base}.md`), renderMarkdown(results));
  };

  const runWorkload = async (name) => {
    const fn = table[name];
    if (!fn) { log(`unknown workload ${name}`); return; }
    const w0 = Date.now();
    if (w0 > (name === 'pxe' ? ctx.deadline : ctx.mainDeadline)) {
      log(`== ${name}: skipped, the time budget (BENCH_BUDGET_S=${knobs.budgetS}) is spent`);
      results.workloads[name] = { title: name, error: `skipped: time budget of ${knobs.budgetS} s spent`, servers: {} };
      return;
    }
    log(`== ${name}`);
    ctx.cutRounds = undefined;
    try {
      results.workloads[name] = await fn(ctx);
      if (ctx.cutRounds) (results.workloads[name].footnotes ??= []).push(`only ${ctx.cutRounds.done} of ${ctx.cutRounds.of} rounds: the next would have overrun the time budget (BENCH_BUDGET_S=${knobs.budgetS})`);
    } catch (e) {
      log(`${name} failed: ${e.stack ?? e}`);
      results.workloads[name] = { title: name, error: String(e.message ?? e), servers: {} };
    }
    results.workloads[name].seconds = Math.round((Date.now() - w0) / 1000);
    results.workloads[name].loadavg = +loadavg()[0].toFixed(2);
    log(`== ${name} done in ${results.workloads[name].seconds} s`);
    write();
  };

  // PXE (slow QEMU boots, no profile) runs last, with whatever time the budget leaves.
  for (const name of knobs.only.filter((n) => n !== 'pxe')) await runWorkload(name);

  // Where builderd misses a target: one more builderd round under --cpu-prof, summarised.
  if (knobs.profile) {
    const missed = [...new Set(evaluateTargets(results.workloads).filter((t) => t.pass === false && t.profile).map((t) => t.profile))];
    const profDir = join(outDir, QUICK ? 'profiles-quick' : 'profiles');
    if (missed.length) rmSync(profDir, { recursive: true, force: true });
    for (const key of missed) {
      const [wl, variant] = key.split(':');
      const w = results.workloads[wl];
      if (!w?.profile) continue;
      if (Date.now() + 30_000 > ctx.deadline) { log(`profile ${key}: skipped, time budget spent`); results.profilesSkipped = [...(results.profilesSkipped ?? []), key]; continue; }
      const dir = join(profDir, key.replace(':', '-'));
      mkdirSync(dir, { recursive: true });
      log(`== profiling builderd on ${key}`);
      try {
        ctx.windows = [];
        await w.profile(dir, variant);
        const s = summarizeProfile(dir, key, ctx.windows);
        ctx.windows = undefined;
        if (s) { results.profiles.push(s); log(`profile ${key}: ${s.top.slice(0, 3).map((x) => `${x.pct.toFixed(1)}% ${x.fn}`).join(', ')}`); }
      } catch (e) { log(`profile ${key} failed: ${e.message}`); }
    }
    write();
  }
  if (knobs.only.includes('pxe')) await runWorkload('pxe');
  if (!QUICK && knobs.only.length >= 5) updateReadme(results);
  log(`wrote results/${base}.md and results/${base}.json in ${Math.round((Date.now() - t0) / 1000)} s`);
  process.stdout.write(readFileSync(join(outDir, `${base}.md`), 'utf8'));
}

/** Replace the generated block in README.md (the section the top-level README copies). */
function updateReadme(results) {
  const file = join(HERE, 'README.md');
  let text;
  try { text = readFileSync(file, 'utf8'); } catch { return; }
  const a = '<!-- bench:latest:start -->', b = '<!-- bench:latest:end -->';
  const i = text.indexOf(a), j = text.indexOf(b);
  if (i < 0 || j < i) return;
  writeFileSync(file, `${text.slice(0, i + a.length)}\n${renderSummary(results)}${text.slice(j)}`);
}

main().then(() => process.exit(0), (e) => { log(`fatal: ${e.stack ?? e}`); process.exit(1); });
