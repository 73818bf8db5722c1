// One PXE boot to the marker with the end-to-end helper's bootToMarker (test/helpers/pxe-lab.ts),
// run with `node --import tsx`, in the bench's own lab names (netns bbe-pxe, bridge bbebr0, tap
// bbetap0) so a bench run and the e2e suite never share a lab. Prints one JSON line:
// { ok, ms, reason, milestones, server }.
// usage: node --import tsx pxe-boot.mjs ROOT bios|uefi builderd|standin TIMEOUT_MS
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [root, mode, server, timeoutMs] = process.argv.slice(2);
const { bootToMarker } = await import(pathToFileURL(join(root, 'test/helpers/pxe-lab.ts')).href);
const print = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const workDir = mkdtempSync('/tmp/bbe-pxe-');
try {
  const r = await bootToMarker({
    mode, server, timeoutMs: Number(timeoutMs), keep: true,
    lab: { ns: 'bbe-pxe', bridge: 'bbebr0', tap: 'bbetap0', workDir },
  });
  print({ ok: r.ok, ms: r.ms, reason: r.reason, milestones: r.milestones, server: r.server });
} catch (e) {
  print({ ok: false, reason: `setup failed: ${String(e?.message ?? e).split('\n')[0]}` });
} finally {
  if (process.env.BENCH_KEEP !== '1') rmSync(workDir, { recursive: true, force: true });
}
process.exit(0);
