/* Network-namespace plumbing for the DHCP tests (prefix bdh-). Every name made here is removed by cleanup(). */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** Run a command; throws with its stderr on failure. */
export function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** `ip` with arguments; ignoring failure when quiet. */
export function ip(args: string[], quiet = false): void {
  try { sh('ip', args); } catch (e) { if (!quiet) throw e; }
}

/** True when running as root with `ip netns` available. */
export function canNetns(): boolean {
  return process.getuid?.() === 0;
}

/** Delete namespaces (their veths go with them). */
export function deleteNetns(names: string[]): void {
  for (const n of names) ip(['netns', 'del', n], true);
}

/** Create namespaces fresh (deleting leftovers of an earlier run first). */
export function createNetns(names: string[]): void {
  deleteNetns(names);
  for (const n of names) {
    ip(['netns', 'add', n]);
    ip(['-n', n, 'link', 'set', 'lo', 'up']);
  }
}

/** A veth pair between two namespaces, both ends up, optional addresses (CIDR). */
export function veth(nsA: string, ifA: string, addrA: string | null, nsB: string, ifB: string, addrB: string | null): void {
  ip(['-n', nsA, 'link', 'add', ifA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB]);
  if (addrA) ip(['-n', nsA, 'addr', 'add', addrA, 'dev', ifA]);
  if (addrB) ip(['-n', nsB, 'addr', 'add', addrB, 'dev', ifB]);
  ip(['-n', nsA, 'link', 'set', ifA, 'up']);
  ip(['-n', nsB, 'link', 'set', ifB, 'up']);
}

/** A fresh temp dir. */
export function tempDir(prefix = 'bdh-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A launched DHCP server (test/helpers/dhcp-launcher.ts inside a namespace). */
export interface Launched {
  child: ChildProcess;
  /** What the service's addresses() returned. */
  ready: { iface: string; address: string; port: number }[];
  stderr: string[];
  dump(): Promise<{ leases: { ip: string; mac: string; state: string; hostname: string | null; clientId: string | null }[]; dynamic: { name: string; type: string; data: string; owner: string }[]; dropped: { reason: string; n: number }[]; messages: { type: string; direction: string; n: number }[] }>;
  stop(): Promise<void>;
}

const launcher = new URL('./dhcp-launcher.ts', import.meta.url).pathname;

/** Start the launcher in `ns` with a config text; resolves once it printed READY. */
export async function launch(ns: string, configText: string, dir: string, extra: string[] = []): Promise<Launched> {
  const cfg = join(dir, 'site.yaml');
  writeFileSync(cfg, configText);
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', launcher, '--config', cfg, ...extra], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, BUILDERD_LOG_LEVEL: process.env['BUILDERD_LOG_LEVEL'] ?? 'info' },
  });
  const stderr: string[] = [];
  child.stderr!.on('data', (d: Buffer) => { stderr.push(d.toString()); });
  const lines = createInterface({ input: child.stdout! });
  const waiting: ((l: string) => void)[] = [];
  let readyList: Launched['ready'] = [];
  const ready = new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`launcher not ready: ${stderr.join('')}`)), 20_000);
    child.once('exit', (code) => { clearTimeout(t); reject(new Error(`launcher exited ${code}: ${stderr.join('')}`)); });
    lines.on('line', (l) => {
      if (l.startsWith('READY ')) { readyList = JSON.parse(l.slice(6)) as Launched['ready']; clearTimeout(t); resolve(); return; }
      const w = waiting.shift();
      if (w) w(l);
    });
  });
  await ready;
  return {
    child,
    ready: readyList,
    stderr,
    dump: () => new Promise((resolve) => {
      waiting.push((l) => resolve(JSON.parse(l)));
      child.stdin!.write('dump\n');
    }),
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) { resolve(); return; }
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => { if (child.exitCode === null) child.kill('SIGKILL'); }, 3000).unref();
    }),
  };
}

/** Wait until fn() is truthy or the time runs out. */
export async function waitFor<T>(fn: () => T | Promise<T>, ms: number, stepMs = 100): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

const craft = new URL('./dhcp-craft.ts', import.meta.url).pathname;

/** Send crafted DHCP packets from inside `ns` (bound to bindAddress:bindPort) and collect replies for waitMs. */
export function craftExchange(ns: string, req: { bindAddress: string; bindPort: number; iface?: string; dest: string; destPort: number; packets: string[]; waitMs: number }): { from: string; port: number; hex: string }[] {
  const out = sh('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', craft], JSON.stringify(req));
  return JSON.parse(out) as { from: string; port: number; hex: string }[];
}
