import { loadConfig, ConfigError, type LoadedConfig } from '../config/load.js';
import { controlCall } from '../control/client.js';
import { AppError } from '../lib/errors.js';

export const DEFAULT_CONFIG = process.env['BUILDERD_CONFIG'] ?? '/etc/builderd/builderd.yaml';

/** Exit codes: 0 ok, 1 runtime failure, 2 invalid config or usage, 3 a check refused the action. */
export const EXIT = { OK: 0, FAIL: 1, USAGE: 2, REFUSED: 3 } as const;

/** Load the config or print every issue and exit 2. */
export function loadOrExit(file: string): LoadedConfig {
  try {
    const loaded = loadConfig(file);
    for (const w of loaded.warnings) process.stderr.write(`warning: ${w}\n`);
    return loaded;
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n${e.issues.length} error${e.issues.length === 1 ? '' : 's'} in ${e.issues[0]?.file ?? file}; nothing started.\n`);
      process.exit(EXIT.USAGE);
    }
    throw e;
  }
}

/** Call the running daemon named by the config's control socket. */
export async function callDaemon(configFile: string, cmd: string, args: Record<string, unknown> = {}, timeoutMs?: number): Promise<unknown> {
  const { config } = loadOrExit(configFile);
  return controlCall(config.control.socket, cmd, args, timeoutMs);
}

export function fail(e: unknown): never {
  if (e instanceof AppError) process.stderr.write(`builderd: ${e.code}: ${e.message}\n`);
  else process.stderr.write(`builderd: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(EXIT.FAIL);
}

export function printJsonOr(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(json ? JSON.stringify(value, null, 2) + '\n' : text());
}
