// One PXE boot to the marker through the end-to-end helper (test/helpers/pxe-lab.ts bootToMarker),
// run with `node --import tsx`. Prints one JSON line: { ok, ms, reason, milestones, server }.
// usage: node --import tsx pxe-boot.mjs ROOT bios|uefi builderd|standin TIMEOUT_MS
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [root, mode, server, timeoutMs] = process.argv.slice(2);
const { bootToMarker } = await import(pathToFileURL(join(root, 'test/helpers/pxe-lab.ts')).href);
try {
  const r = await bootToMarker({ mode, server, timeoutMs: Number(timeoutMs) });
  process.stdout.write(JSON.stringify({ ok: r.ok, ms: r.ms, reason: r.reason, milestones: r.milestones, server: r.server }) + '\n');
} catch (e) {
  process.stdout.write(JSON.stringify({ ok: false, reason: `setup failed: ${String(e?.message ?? e).split('\n')[0]}` }) + '\n');
}
process.exit(0);
