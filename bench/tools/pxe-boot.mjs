// One PXE boot to the marker with the end-to-end helper (test/helpers/pxe-lab.ts), run with
// `node --import tsx`. It composes the helper's building blocks the way its bootToMarker does, but
// in the bench's own namespace (bbe-pxe, bridge bbebr0, tap bbetap0), so a bench run and the e2e
// suite never tear down each other's lab. Falls back to bootToMarker itself when the helper does
// not export those blocks. Prints one JSON line: { ok, ms, reason, milestones, server }.
// usage: node --import tsx pxe-boot.mjs ROOT bios|uefi builderd|standin TIMEOUT_MS
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [root, mode, server, timeoutMs] = process.argv.slice(2);
const lab = await import(pathToFileURL(join(root, 'test/helpers/pxe-lab.ts')).href);
const print = (o) => process.stdout.write(JSON.stringify(o) + '\n');

async function composed() {
  const workDir = mkdtempSync('/tmp/bbe-pxe-');
  const l = lab.createLab({ ns: 'bbe-pxe', bridge: 'bbebr0', tap: 'bbetap0', workDir });
  let srv, ok = false;
  try {
    const site = lab.prepareSite(join(l.workDir, 'site'));
    await lab.startRouterAdvertisements(l);
    const token = lab.newToken();
    srv = server === 'standin' ? await lab.startStandIn(l, site) : await lab.startBuilderd(l, site, token);
    srv.setToken(token);
    const r = await lab.bootVm(l, site, { mode, token, timeoutMs: Number(timeoutMs) });
    ok = r.ok;
    return { ...r, server: srv.name };
  } finally {
    if (srv) await srv.stop();
    await l.destroy();
    if (ok || process.env.BENCH_KEEP !== '1') rmSync(workDir, { recursive: true, force: true });
  }
}

try {
  const blocks = ['createLab', 'prepareSite', 'startRouterAdvertisements', 'newToken', 'startStandIn', 'startBuilderd', 'bootVm'];
  const r = blocks.every((b) => typeof lab[b] === 'function')
    ? await composed()
    : await lab.bootToMarker({ mode, server, timeoutMs: Number(timeoutMs) });
  print({ ok: r.ok, ms: r.ms, reason: r.reason, milestones: r.milestones, server: r.server });
} catch (e) {
  print({ ok: false, reason: `setup failed: ${String(e?.message ?? e).split('\n')[0]}` });
}
process.exit(0);
