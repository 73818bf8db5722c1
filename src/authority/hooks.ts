import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';

export interface HookResult {
  hook: string;
  ran: boolean;
  ok: boolean;
  code: number | null;
  output: string;
  ms: number;
}

/**
 * Run `<dir>/<name>` if it exists and is executable, with the transition in its environment.
 * Bounded in time; output captured (last 4 KiB) for the journal.
 */
export async function runHook(dir: string | undefined, name: string, env: Record<string, string>, timeoutMs = 120_000): Promise<HookResult> {
  const t0 = Date.now();
  if (!dir) return { hook: name, ran: false, ok: true, code: null, output: '', ms: 0 };
  const file = join(dir, name);
  try { accessSync(file, constants.X_OK); } catch { return { hook: name, ran: false, ok: true, code: null, output: '', ms: 0 }; }
  return new Promise((resolve) => {
    const child = spawn(file, [], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const keep = (d: Buffer) => { out = (out + d.toString()).slice(-4096); };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => { child.kill('SIGKILL'); out += `\n[killed after ${timeoutMs} ms]`; }, timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); resolve({ hook: name, ran: true, ok: false, code: null, output: e.message, ms: Date.now() - t0 }); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ hook: name, ran: true, ok: code === 0, code, output: out, ms: Date.now() - t0 }); });
  });
}
