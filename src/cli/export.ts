import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EXIT, fail, loadOrExit } from './common.js';
import { controlCall } from '../control/client.js';
import { EXPORT_FORMATS, type ExportFormat, type ExportFile } from '../authority/export/index.js';
import { exportFromStore } from '../main.js';
import { openSqliteStore } from '../store/sqlite/index.js';

export const help = `builderd export --format kea|unbound|bind|dnsmasq|json --out DIR --config FILE
  The router's configuration from the same inventory and the live leases: Kea DHCPv4 config + memfile
  CSV, Unbound config, BIND zone files, dnsmasq config, or all of it as JSON. Asks the running daemon;
  when none runs, reads the store (paths.state) directly.`;

export async function run(flags: Record<string, string | boolean>, configFile: string): Promise<number> {
  const format = flags['format'];
  const out = flags['out'];
  if (typeof format !== 'string' || !EXPORT_FORMATS.includes(format as ExportFormat) || typeof out !== 'string') {
    process.stderr.write(help + '\n');
    return EXIT.USAGE;
  }
  const { config } = loadOrExit(configFile);
  let files: ExportFile[];
  try {
    try {
      files = ((await controlCall(config.control.socket, 'export', { format }, 60_000)) as { files: ExportFile[] }).files;
    } catch (e) {
      if (!/cannot reach builderd/.test((e as Error).message)) throw e;
      const store = openSqliteStore({ dir: config.paths.state, readonly: true });
      try { files = (await exportFromStore(format as ExportFormat, config, store, Date.now())).files; } finally { await store.close(); }
    }
    const dir = resolve(out);
    mkdirSync(dir, { recursive: true });
    for (const f of files) {
      writeFileSync(join(dir, f.name), f.content);
      process.stdout.write(`${join(dir, f.name)}\n`);
    }
    return EXIT.OK;
  } catch (e) { fail(e); }
}
