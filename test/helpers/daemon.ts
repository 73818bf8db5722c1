import { mkdtempSync, writeFileSync, rmSync, mkdirSync, cpSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { startDaemon, type Daemon } from '../../src/main.js';
import { silentLogger, type Logger } from '../../src/lib/logger.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const EXAMPLE = join(ROOT, 'config/example.yaml');

/** A scratch directory with the example's templates and artifacts copied in; removed by cleanup(). */
export function scratch(name = 'bd'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), `${name}-`));
  mkdirSync(join(dir, 'var'), { recursive: true });
  cpSync(join(ROOT, 'config/templates'), join(dir, 'templates'), { recursive: true });
  cpSync(join(ROOT, 'artifacts'), join(dir, 'artifacts'), { recursive: true });
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The example config rewritten for a test: state, artifacts and templates in `dir`, every listener on
 * 127.0.0.1 port 0 (the daemon reports the real ports), the control socket in `dir`. `patch` edits the
 * YAML text afterwards (simple string replacement is enough for most tests).
 */
export function exampleYaml(dir: string, patch: (y: string) => string = (y) => y): string {
  let y = (globalThis as { __exampleText?: string }).__exampleText ??= readExample();
  y = y
    .replace('state: ../var', `state: ${dir}/var`)
    .replace('artifacts: ../artifacts', `artifacts: ${dir}/artifacts`)
    .replace('templates: ./templates', `templates: ${dir}/templates`)
    .replace('socket: ../var/builderd.sock', `socket: ${dir}/var/builderd.sock`)
    .replace('listen: ["127.0.0.1:10053"]', 'listen: ["127.0.0.1:0"]')
    .replace('listen: ["127.0.0.1:10069"]', 'listen: ["127.0.0.1:0"]')
    .replace('listen: ["127.0.0.1:10080"]', 'listen: ["127.0.0.1:0"]')
    .replace('listen: "127.0.0.1:19100"', 'listen: "127.0.0.1:0"')
    .replace('hooks: ./hooks', `hooks: ${dir}/hooks`);
  return patch(y);
}

function readExample(): string {
  return readFileSync(EXAMPLE, 'utf8');
}

/** Start main in-process from a YAML string (written to dir/builderd.yaml). */
export async function startFromYaml(yaml: string, dir: string, logger: Logger = silentLogger()): Promise<Daemon> {
  const file = join(dir, 'builderd.yaml');
  writeFileSync(file, yaml);
  return startDaemon({ configFile: file, logger });
}

export interface DaemonProcess {
  child: ChildProcess;
  /** Every JSON log line seen so far. */
  lines: Record<string, unknown>[];
  /** Resolves with the first log line matching. */
  waitFor(pred: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Run the compiled CLI (`node dist/cli/index.js serve`) as a child process and follow its JSON log. */
export function spawnServe(configFile: string, extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}, netns?: string): DaemonProcess {
  const args = [join(ROOT, 'dist/cli/index.js'), 'serve', '--config', configFile, ...extraArgs];
  const child = netns
    ? spawn('ip', ['netns', 'exec', netns, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
    : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const lines: Record<string, unknown>[] = [];
  const waiters: { pred: (l: Record<string, unknown>) => boolean; res: (l: Record<string, unknown>) => void }[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let o: Record<string, unknown>;
    try { o = JSON.parse(line) as Record<string, unknown>; } catch { o = { raw: line }; }
    lines.push(o);
    for (const w of [...waiters]) if (w.pred(o)) { waiters.splice(waiters.indexOf(w), 1); w.res(o); }
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  return {
    child, lines,
    waitFor(pred, timeoutMs = 10_000) {
      const seen = lines.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((res, rej) => {
        const t = setTimeout(() => rej(new Error(`timed out waiting for log line; stderr: ${stderr.slice(-2000)}; last lines: ${JSON.stringify(lines.slice(-5))}`)), timeoutMs);
        waiters.push({ pred, res: (l) => { clearTimeout(t); res(l); } });
        child.once('exit', (code) => { clearTimeout(t); rej(new Error(`builderd exited with ${code} before the expected log line; stderr: ${stderr.slice(-2000)}`)); });
      });
    },
    stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
      return new Promise((res) => { child.once('exit', (code) => res(code)); child.kill(signal); });
    },
  };
}
