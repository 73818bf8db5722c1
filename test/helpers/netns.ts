import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** Why a root-only test is skipped here, or false when it can run. */
export function needsRoot(what: string): string | false {
  return process.getuid?.() === 0 ? false : `needs root: ${what} (creates network namespaces)`;
}

/** True when a command is on PATH. */
export function have(cmd: string): boolean {
  try { execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }); return true; } catch { return false; }
}

export interface NetnsPair {
  /** Namespace names. */
  a: string;
  b: string;
  /** veth ends: ifA in a, ifB in b. */
  ifA: string;
  ifB: string;
  addrA: string;
  addrB: string;
  /** Run a command in a namespace, return stdout. */
  exec(ns: string, cmd: string[], opts?: { timeoutMs?: number }): string;
  /** Start a long-running process in a namespace (killed by PID in cleanup). */
  spawn(ns: string, cmd: string[], opts?: SpawnOptions): ChildProcess;
  cleanup(): void;
}

/**
 * Create two network namespaces joined by a veth pair, addressed addrA/addrB (CIDR form). Names carry
 * `prefix` so parallel suites do not collide; leftovers of a killed run with the same names are removed first.
 */
export function createNetnsPair(prefix: string, addrA = '10.99.0.2/24', addrB?: string): NetnsPair {
  const a = `${prefix}-a`, b = `${prefix}-b`;
  const ifA = `${prefix}-va`.slice(0, 15), ifB = `${prefix}-vb`.slice(0, 15);
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  for (const ns of [a, b]) { try { killAllIn(ns); ip('netns', 'del', ns); } catch { /* not there */ } }
  ip('netns', 'add', a);
  ip('netns', 'add', b);
  ip('link', 'add', ifA, 'netns', a, 'type', 'veth', 'peer', 'name', ifB, 'netns', b);
  ip('-n', a, 'link', 'set', 'lo', 'up');
  ip('-n', b, 'link', 'set', 'lo', 'up');
  ip('-n', a, 'addr', 'add', addrA, 'dev', ifA);
  ip('-n', a, 'link', 'set', ifA, 'up');
  if (addrB) ip('-n', b, 'addr', 'add', addrB, 'dev', ifB);
  ip('-n', b, 'link', 'set', ifB, 'up');
  const children: ChildProcess[] = [];
  return {
    a, b, ifA, ifB, addrA, addrB: addrB ?? '',
    exec(ns, cmd, opts) {
      return execFileSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8', timeout: opts?.timeoutMs ?? 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
    },
    spawn(ns, cmd, opts) {
      const c = spawn('ip', ['netns', 'exec', ns, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
      children.push(c);
      return c;
    },
    cleanup() {
      for (const c of children) if (c.exitCode === null && c.pid) { try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ } }
      for (const ns of [a, b]) { try { killAllIn(ns); ip('netns', 'del', ns); } catch { /* gone */ } }
    },
  };
}

/** Kill, by PID, the processes still inside a namespace this test made. */
function killAllIn(ns: string): void {
  let pids = '';
  try { pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }); } catch { return; }
  for (const p of pids.split(/\s+/).filter(Boolean)) { try { process.kill(Number(p), 'SIGKILL'); } catch { /* gone */ } }
}
