import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root. */
export const repoRoot = join(here, '..', '..');

/** config/example.yaml parsed as it stands (paths resolved against config/). */
export function exampleConfig(): Config {
  const file = join(repoRoot, 'config', 'example.yaml');
  return parseConfig(readFileSync(file, 'utf8'), file).config;
}

/** The example config with loopback port-0 TFTP/HTTP listeners and tftp limits overridden. */
export function testConfig(over: Partial<Config['tftp']> = {}): Config {
  const c = exampleConfig();
  c.tftp = { ...c.tftp, listen: ['127.0.0.1:0'], ...over };
  c.http = { ...c.http, listen: ['127.0.0.1:0'] };
  return c;
}

/** A temp dir removed by the returned function. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
