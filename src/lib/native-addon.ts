import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Load the native addon native/<name>/build/Release/<name>.node (built by scripts/build-native.mjs on
 * `npm ci`). Paths are relative to this module, which sits two levels below the package root both in
 * src/ (tsx) and in dist/. Throws the load error, or "not built", when it cannot be loaded.
 */
export function loadNativeAddon<T>(name: string): T {
  const require = createRequire(import.meta.url);
  let last: unknown = new Error(`native/${name} is not built (run: npm run build:native)`);
  for (const rel of [`../../native/${name}/build/Release/${name}.node`, `../../../native/${name}/build/Release/${name}.node`]) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (!existsSync(path)) continue;
    try { return require(path) as T; } catch (e) { last = e; }
  }
  throw last;
}
