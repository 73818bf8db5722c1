// Build, configure and run builderd for a workload.
// The daemon runs as `node dist/cli/index.js serve --config FILE`; its config is written as block
// YAML, the way a user writes it.
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { toYaml } from './yaml.mjs';
import { MARK, log, run, stopBg, track, waitFor, wrap } from './proc.mjs';

/** The project checkout the bench belongs to. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = join(ROOT, 'dist/cli/index.js');

/** `npm run build` at the top level, and `npm run build:native` when the project has native addons. Returns { ok, detail }. */
export async function buildProject() {
  let scripts = {};
  try { scripts = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts ?? {}; } catch { /* none */ }
  let native = '';
  if (scripts['build:native']) {
    const n = await run(['npm', 'run', 'build:native'], { cwd: ROOT, timeoutMs: 300_000 });
    native = n.code === 0 ? ', native addons built' : `, native addons FAILED: ${(n.stdout + n.stderr).trim().split('\n').slice(-2).join(' ')}`;
  }
  const r = await run(['npm', 'run', 'build'], { cwd: ROOT, timeoutMs: 300_000 });
  const ok = r.code === 0 && existsSync(CLI);
  return { ok, detail: ok ? `built in ${(r.ms / 1000).toFixed(1)} s${native}` : (r.stdout + r.stderr).trim().split('\n').slice(-8).join('\n') };
}

/** Git description of the checkout (commit and whether it is dirty). */
export async function gitDescribe() {
  const r = await run(['git', 'describe', '--always', '--dirty', '--abbrev=10'], { cwd: ROOT, timeoutMs: 10_000 });
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/**
 * A minimal valid config rooted in dir; `patch` fills in the workload's parts.
 * Listeners default to none, so only the workload's service binds.
 */
export function baseConfig(dir, patch = {}) {
  for (const d of ['state', 'artifacts', 'templates']) mkdirSync(join(dir, d), { recursive: true });
  const c = {
    site: { name: 'bench', domain: 'lab.example', mgmt_domain: 'mgmt.example' },
    paths: { state: join(dir, 'state'), artifacts: join(dir, 'artifacts'), templates: join(dir, 'templates') },
    authority: { initial: 'bootstrap', router: { dns: '127.0.0.1:53' } },
    dns: { listen: [] },
    dhcp: { interfaces: [], subnets: [] },
    tftp: { listen: [] },
    http: { listen: [], base_url: 'http://127.0.0.1:8080' },
    control: { socket: join(dir, 'builderd.sock') },
    boot_profiles: {},
    hosts: [],
    services: {},
  };
  for (const [k, v] of Object.entries(patch)) {
    c[k] = v && typeof v === 'object' && !Array.isArray(v) && c[k] && typeof c[k] === 'object' ? { ...c[k], ...v } : v;
  }
  return c;
}

/**
 * Start builderd with `config` in netns `ns`, pinned to `cpu`.
 * Resolves once the `daemon.ready` log line is seen and `probe()` (optional) succeeds, or with
 * { ok: false, reason } when it exits or the probe never succeeds (service not on main yet).
 * Result: { ok, reason, h, pid, spawnToReadyMs, readyLine, logFile, configFile }.
 */
export async function startBuilderd({ dir, config, ns, cpu = 0, cpuProfDir, logLevel = 'info', probe, probeMs = 8000, readyMs = 30_000, nodeArgs = [] }) {
  mkdirSync(dir, { recursive: true });
  const configFile = join(dir, 'builderd.yaml');
  writeFileSync(configFile, toYaml(config));
  const logFile = join(dir, 'builderd.log');
  if (!existsSync(CLI)) return { ok: false, reason: 'dist/cli/index.js missing (build failed)' };
  const prof = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [];
  const argv = wrap([process.execPath, ...prof, ...nodeArgs, CLI, 'serve', '--config', configFile, '--log-level', logLevel], { ns, cpu });
  const out = createWriteStream(logFile, { flags: 'a' });
  const t0 = process.hrtime.bigint();
  const spawnWall = Date.now();
  const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', 'pipe', 'pipe'], cwd: dir, env: { ...process.env, [MARK]: '1' } });
  track(child.pid, 'builderd');
  let done = false;
  const exited = new Promise((res) => child.on('exit', (code, sig) => { done = true; res(code ?? (sig ? 128 : null)); }));
  const h = { pid: child.pid, name: 'builderd', exited, running: () => !done, child };
  let readyLine, readyAt, failLine;
  createInterface({ input: child.stdout }).on('line', (line) => {
    out.write(line + '\n');
    if (readyLine && failLine) return;
    if (line.includes('"daemon.ready"')) {
      readyAt = process.hrtime.bigint();
      try { readyLine = JSON.parse(line); } catch { readyLine = { raw: line }; }
    } else if (line.includes('"daemon.start.failed"') || line.includes('"fatal"') || line.includes('"level":60')) {
      failLine = line;
    }
  });
  child.stderr.on('data', (d) => out.write(d));
  // Below info there is no daemon.ready line: readiness is the probe alone.
  const wantLine = ['trace', 'debug', 'info'].includes(logLevel);
  const seen = wantLine ? await waitFor(() => readyLine || done, readyMs, 5) : true;
  if (!seen || (wantLine && !readyLine)) {
    const reason = done ? `exited before ready: ${failLine ?? safeTail(logFile)}` : 'no daemon.ready line in time';
    await stopBg(h, { graceMs: 2000 });
    return { ok: false, h, logFile, configFile, reason };
  }
  const spawnToReadyMs = readyAt ? Number(readyAt - t0) / 1e6 : undefined;
  if (probe) {
    const ok = await waitFor(async () => !done && (await probe()), probeMs, 100);
    if (!ok) {
      const reason = done ? `exited: ${safeTail(logFile)}` : 'service not answering (not wired into the daemon on main yet?)';
      await stopBg(h, { graceMs: 2000 });
      return { ok: false, h, logFile, configFile, readyLine, reason };
    }
  }
  return { ok: true, h, pid: child.pid, spawnToReadyMs, spawnWall, readyLine, logFile, configFile };
}

function safeTail(file) {
  try { return readFileSync(file, 'utf8').trim().split('\n').slice(-3).join(' | ').slice(0, 400); } catch { return ''; }
}

/** Stop a builderd started by startBuilderd: SIGTERM (so --cpu-prof writes its profile), then SIGKILL. */
export async function stopBuilderd(b) {
  if (b?.h) await stopBg(b.h, { signal: 'SIGTERM', graceMs: 8000 });
}

/** Resident set size of a process in MB (VmRSS, and the peak VmHWM). */
export function rssOf(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number((new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s) ?? [])[1]);
    return { rssMB: kb('VmRSS') / 1024, hwmMB: kb('VmHWM') / 1024 };
  } catch { return {}; }
}

export { log };
