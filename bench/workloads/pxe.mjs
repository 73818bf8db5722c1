// PXE: QEMU (TCG) network boot to the marker, through the end-to-end helper's bootToMarker
// (test/helpers/pxe-lab.ts): builderd against its stand-in (dnsmasq for DHCP/TFTP/DNS plus a
// static HTTP server) serving the same files, BIOS and UEFI, alternating.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT } from '../lib/builderd.mjs';
import { listNetns, log, run } from '../lib/proc.mjs';
import { median } from '../lib/stats.mjs';

const TOOLS = join(dirname(fileURLToPath(import.meta.url)), '../tools');
const LAB_NS = 'bbe-pxe'; // the lab namespace tools/pxe-boot.mjs asks the helper for

/** Run the PXE workload. */
export async function pxeWorkload(ctx) {
  const { knobs } = ctx;
  const rounds = knobs.pxeRounds;
  const res = {
    builderd: { label: 'builderd', runs: { bios: [], uefi: [] }, notes: [] },
    dnsmasq: { label: 'dnsmasq + static HTTP (stand-in)', runs: { bios: [], uefi: [] }, notes: [] },
  };
  const out = {
    title: 'PXE',
    setup: `QEMU TCG, iPXE chainload, kernel and initrd, until the marker line on the serial console (test/helpers/pxe-lab.ts bootToMarker, in the bench's own lab names: netns bbe-pxe; router advertisements on the segment), ${rounds} round(s), seconds from QEMU start. QEMU and the server are not pinned (QEMU needs both cores).`,
    columns: knobs.pxeFirmwares.map((f) => ({ key: f, label: `${f.toUpperCase()} s`, digits: 2, lower: true })),
    servers: res,
  };
  const helper = join(ROOT, 'test/helpers/pxe-lab.ts');
  const why = !existsSync(helper) ? 'test/helpers/pxe-lab.ts (bootToMarker) is not on this branch yet'
    : !existsSync(join(ROOT, 'node_modules/tsx')) ? 'tsx is not installed (npm ci at the top level)'
      : listNetns().includes(LAB_NS) ? `namespace ${LAB_NS} exists: another bench PXE lab is running` : undefined;
  if (why) {
    for (const r of Object.values(res)) r.error = why;
    log(`  pxe: not available: ${why}`);
    return out;
  }
  const boot = async (mode, server) => {
    const r = await run([process.execPath, '--import', 'tsx', join(TOOLS, 'pxe-boot.mjs'), ROOT, mode, server, String(knobs.pxeTimeoutS * 1000)],
      { cwd: ROOT, env: { BUILDERD_E2E_ENTRY: 'dist' }, timeoutMs: (knobs.pxeTimeoutS + 120) * 1000 });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    try { return JSON.parse(line); } catch { return { ok: false, reason: `driver: ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' ')}` }; }
  };
  const slowest = {}; // per firmware: ms of the slowest boot so far (45 s assumed before the first)
  pairs: for (let round = 1; round <= rounds; round++) {
    for (const mode of knobs.pxeFirmwares) {
      // A firmware that failed once on either side is not repeated: each failure costs the whole timeout.
      if (res.builderd.failed?.[mode] || res.dnsmasq.failed?.[mode]) continue;
      // builderd and the reference boot as a pair; start a pair only if both fit in the time budget.
      if (ctx.deadline && Date.now() + 2 * (slowest[mode] ?? 45_000) > ctx.deadline) {
        out.footnotes = [`stopped before round ${round} (${mode}): the run's time budget (BENCH_BUDGET_S) would be exceeded`];
        break pairs;
      }
      for (const [name, server] of [['builderd', 'builderd'], ['dnsmasq', 'standin']]) {
        const r = res[name];
        const t0 = Date.now();
        const b = await boot(mode, server);
        slowest[mode] = Math.max(slowest[mode] ?? 0, Date.now() - t0);
        if (b.ok) { r.runs[mode].push(b.ms / 1000); log(`  pxe ${name} ${mode} round ${round}: ${(b.ms / 1000).toFixed(2)} s`); }
        else {
          r.failed = { ...r.failed, [mode]: true };
          r.notes.push(`${mode} round ${round}: no marker (${String(b.reason ?? '').slice(0, 160)})`);
          log(`  pxe ${name} ${mode} round ${round}: FAILED ${b.reason}`);
        }
      }
    }
  }
  for (const r of Object.values(res)) {
    r.metrics = Object.fromEntries(Object.entries(r.runs).filter(([, v]) => v.length).map(([k, v]) => [k, median(v)]));
    if (!Object.keys(r.metrics).length && r.notes.length) r.error = r.notes[0];
    r.notes = r.notes.slice(0, 3);
    r.failedKeys = Object.keys(r.failed ?? {}).filter((k) => !(k in r.metrics));
    delete r.failed;
  }
  return out;
}
