// Process and namespace bookkeeping for the bench.
//
// Rules: every process we start gets its own process group (detached) and is recorded by PID;
// it is stopped by signalling that group, never by name. Every network namespace we create is
// named bbe-* and deleted on exit, after the processes still inside it are killed by PID
// (`ip netns pids`). A run killed with SIGKILL leaves a PID list behind; the next run kills
// those PIDs only if their environment carries the bench marker.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync, appendFileSync, rmSync } from 'node:fs';

const LOCK = '/tmp/bbe-bench.lock';
const PIDS = '/tmp/bbe-bench.pids';
/** Marker put into the environment of every child, to recognise our own leftovers. */
export const MARK = 'BBE_BENCH_RUN';
const runId = `${process.pid}-${Date.now()}`;

const groups = new Map(); // pgid -> { name, exited }
const namespaces = new Set();
const exitHooks = [];

export function log(...a) {
  const t = new Date().toISOString().slice(11, 19);
  process.stderr.write(`[${t} bench] ${a.join(' ')}\n`);
}

/** CLOCK_MONOTONIC in µs: the clock V8's CPU profiles use, so load windows can be cut out of them. */
export const monoUs = () => Number(process.hrtime.bigint() / 1000n);

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function alive(pid) {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

function envHasMark(pid) {
  try { return readFileSync(`/proc/${pid}/environ`, 'latin1').includes(`${MARK}=`); } catch { return false; }
}

/** Take the run lock, reap what an earlier killed run left behind, install exit cleanup. */
export function lockAndReap() {
  if (existsSync(LOCK)) {
    const old = Number(readFileSync(LOCK, 'utf8').trim());
    if (old && old !== process.pid && alive(old)) {
      let cmd = '';
      try { cmd = readFileSync(`/proc/${old}/cmdline`, 'latin1'); } catch { /* gone */ }
      if (cmd.includes('run.mjs')) throw new Error(`another bench run (PID ${old}) is active`);
    }
  }
  writeFileSync(LOCK, String(process.pid));
  if (existsSync(PIDS)) {
    for (const line of readFileSync(PIDS, 'utf8').split('\n')) {
      const pid = Number(line);
      if (pid > 1 && alive(pid) && envHasMark(pid)) {
        log(`killing leftover process ${pid} from an earlier run`);
        try { process.kill(-pid, 'SIGKILL'); } catch { /* not a group leader */ }
        try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      }
    }
  }
  writeFileSync(PIDS, '');
  for (const ns of listNetns()) if (ns.startsWith('bbe-')) netnsDelSync(ns);
  process.on('exit', cleanupSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => { log(`${sig}: cleaning up`); process.exit(130); });
  }
}

/** Run fn at exit (synchronously), newest first. */
export function onExit(fn) { exitHooks.push(fn); }

function cleanupSync() {
  for (const fn of exitHooks.reverse()) { try { fn(); } catch { /* best effort */ } }
  for (const pgid of groups.keys()) {
    try { process.kill(-pgid, 'SIGKILL'); } catch { /* gone */ }
  }
  for (const ns of namespaces) netnsDelSync(ns);
  try { if (readFileSync(LOCK, 'utf8').trim() === String(process.pid)) rmSync(LOCK); } catch { /* gone */ }
}

/** Build the argv: ip netns exec NS taskset -c CPU cmd... */
export function wrap(argv, { ns, cpu } = {}) {
  let a = argv;
  if (cpu !== undefined && cpu !== null) a = ['taskset', '-c', String(cpu), ...a];
  if (ns) a = ['ip', 'netns', 'exec', ns, ...a];
  return a;
}

/**
 * Start a background process in its own process group, output to logFile.
 * Returns { pid, name, exited: Promise<number|null>, running() }.
 */
export function startBg(name, argv, { ns, cpu, env, cwd, logFile, stdinPipe = false } = {}) {
  const a = wrap(argv, { ns, cpu });
  const fd = logFile ? openSync(logFile, 'a') : 'ignore';
  const child = spawn(a[0], a.slice(1), {
    detached: true, cwd, stdio: [stdinPipe ? 'pipe' : 'ignore', fd, fd],
    env: { ...process.env, ...env, [MARK]: runId },
  });
  // A stdin pipe that stays open while we live: the child sees EOF when the bench dies.
  if (stdinPipe) child.stdin.on('error', () => {});
  if (typeof fd === 'number') closeSync(fd);
  let done = false;
  const exited = new Promise((res) => {
    child.on('exit', (code, sig) => { done = true; groups.delete(child.pid); res(code ?? (sig ? 128 : null)); });
    child.on('error', () => { done = true; groups.delete(child.pid); res(127); });
  });
  if (child.pid) {
    groups.set(child.pid, { name });
    appendFileSync(PIDS, `${child.pid}\n`);
  }
  return { pid: child.pid, name, exited, running: () => !done, child };
}

/** Record a process group started elsewhere, so exit cleanup and the next run can reap it. */
export function track(pid, name) {
  if (!pid) return;
  groups.set(pid, { name });
  appendFileSync(PIDS, `${pid}\n`);
}

/** Stop a background process group: signal, wait up to graceMs, then SIGKILL. */
export async function stopBg(h, { signal = 'SIGTERM', graceMs = 5000 } = {}) {
  if (!h || !h.pid) return;
  if (h.running()) {
    try { process.kill(-h.pid, signal); } catch { /* gone */ }
    const t = setTimeout(() => { try { process.kill(-h.pid, 'SIGKILL'); } catch { /* gone */ } }, graceMs);
    await h.exited;
    clearTimeout(t);
  }
  // Anything left in the group (children that outlived the leader).
  try { process.kill(-h.pid, 'SIGKILL'); } catch { /* gone */ }
  groups.delete(h.pid);
}

/**
 * Run a command to completion (own process group, killed at timeoutMs).
 * Resolves { code, stdout, stderr, ms, timedOut }.
 */
export function run(argv, { ns, cpu, env, cwd, timeoutMs = 60_000, input } = {}) {
  const a = wrap(argv, { ns, cpu });
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(a[0], a.slice(1), {
      detached: true, cwd, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...env, [MARK]: runId },
    });
    if (child.pid) { groups.set(child.pid, { name: a.join(' ') }); appendFileSync(PIDS, `${child.pid}\n`); }
    let stdout = '', stderr = '', timedOut = false;
    child.stdout.on('data', (d) => { if (stdout.length < 4e6) stdout += d; });
    child.stderr.on('data', (d) => { if (stderr.length < 4e6) stderr += d; });
    if (input !== undefined) child.stdin.end(input);
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
    }, timeoutMs);
    const finish = (code) => {
      clearTimeout(timer);
      groups.delete(child.pid);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      resolve({ code, stdout, stderr, ms, timedOut });
    };
    child.on('error', (e) => { stderr += String(e); finish(127); });
    child.on('close', (code) => finish(code));
  });
}

/** Synchronous run for short setup commands; throws on failure unless allowFail. */
export function sh(argv, { allowFail = false, timeoutMs = 30_000, input } = {}) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: timeoutMs, input });
  if (!allowFail && r.status !== 0) {
    throw new Error(`${argv.join(' ')} failed (${r.status}): ${(r.stderr || r.stdout || String(r.error ?? '')).trim()}`);
  }
  return r;
}

// ------------------------------------------------------------------ netns --

export function listNetns() {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return (r.stdout || '').split('\n').map((l) => l.split(' ')[0]).filter(Boolean);
}

function netnsDelSync(ns) {
  if (!listNetns().includes(ns)) return;
  const r = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
  for (const p of (r.stdout || '').split('\n').map(Number).filter((n) => n > 1)) {
    try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
  }
  spawnSync('ip', ['netns', 'del', ns]);
  namespaces.delete(ns);
}

/** (Re)create an empty namespace with lo up. Names must start with bbe-. */
export function netnsNew(ns) {
  if (!ns.startsWith('bbe-')) throw new Error(`namespace names must start with bbe- (${ns})`);
  netnsDelSync(ns);
  sh(['ip', 'netns', 'add', ns]);
  namespaces.add(ns);
  sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
  return ns;
}

/** Delete a namespace we own (kills its processes by PID first). */
export function netnsDel(ns) { netnsDelSync(ns); }

/** Poll fn() (sync or async, truthy = ready) every stepMs until timeoutMs. */
export async function waitFor(fn, timeoutMs, stepMs = 100) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try { if (await fn()) return true; } catch { /* not yet */ }
    await sleep(stepMs);
  }
  return false;
}

/** True when something listens on UDP (or TCP) port inside ns. */
export function listening(ns, port, proto = 'udp') {
  const a = wrap(['ss', '-Hln', proto === 'udp' ? '-u' : '-t', `sport = :${port}`], { ns });
  const r = spawnSync(a[0], a.slice(1), { encoding: 'utf8' });
  return (r.stdout || '').trim().length > 0;
}

/**
 * Run fn(round) for round = 1..rounds, but start another round only if the previous one's duration
 * still fits before ctx.mainDeadline (the first round always runs). Returns the rounds run.
 */
export async function roundsWithin(ctx, rounds, fn) {
  let last = 0, done = 0;
  for (let round = 1; round <= rounds; round++) {
    if (round > 1 && ctx.mainDeadline && Date.now() + last > ctx.mainDeadline) {
      log(`  rounds cut at ${done} of ${rounds}: the time budget (BENCH_BUDGET_S) would be exceeded`);
      ctx.cutRounds = { done, of: rounds };
      break;
    }
    const t0 = Date.now();
    await fn(round);
    last = Date.now() - t0;
    done = round;
  }
  return done;
}
