// Targets (from the benchmark issue) and the Markdown rendering of a run.
import { fmt, ratio } from './stats.mjs';

/**
 * Each target compares builderd's median with a reference's median from the same run
 * (ref), or with an absolute limit (limit). lower: smaller is better. profile: which
 * builderd run to profile when the target is missed ("workload" or "workload:variant").
 */
export const TARGETS = [
  { id: 'dns-nsd', wl: 'dns', key: 'qps', ref: 'nsd', goal: 1.0, unit: 'qps', line: 'DNS qps ≥ 1.0× NSD', profile: 'dns' },
  { id: 'dns-dnsmasq', wl: 'dns', key: 'qps', ref: 'dnsmasq', goal: 2.0, unit: 'qps', line: 'DNS qps ≥ 2.0× dnsmasq', profile: 'dns' },
  { id: 'dhcp-kea', wl: 'dhcp', key: 'sustained', ref: 'kea', goal: 1.0, unit: 'DORA/s', line: 'DHCP DORA/s (< 1 % drops) ≥ 1.0× Kea memfile', profile: 'dhcp' },
  { id: 'tftp-lock-lo', wl: 'tftp', key: 'lockLo', ref: 'tftpd-hpa', goal: 1.0, unit: 'MB/s', line: 'TFTP lockstep, loopback ≥ 1.0× tftpd-hpa', profile: 'tftp:lockLo' },
  { id: 'tftp-lock-delay', wl: 'tftp', key: 'lockDelay', ref: 'tftpd-hpa', goal: 1.0, unit: 'MB/s', line: 'TFTP lockstep, 1 ms delay ≥ 1.0× tftpd-hpa', profile: 'tftp:lockLo' },
  { id: 'tftp-win-lo', wl: 'tftp', key: 'winLo', ref: 'atftpd', goal: 1.0, unit: 'MB/s', line: 'TFTP windowsize 16, loopback ≥ 1.0× atftpd', profile: 'tftp:winLo' },
  { id: 'tftp-win-delay', wl: 'tftp', key: 'winDelay', ref: 'atftpd', goal: 1.0, unit: 'MB/s', line: 'TFTP windowsize 16, 1 ms delay ≥ 1.0× atftpd', profile: 'tftp:winLo' },
  { id: 'http-seq', wl: 'http', key: 'seq', ref: 'nginx', goal: 1.0, unit: 'MB/s', line: 'HTTP 1 GiB sequential ≥ 1.0× nginx', profile: 'http:seq' },
  { id: 'http-par', wl: 'http', key: 'par', ref: 'nginx', goal: 1.0, unit: 'MB/s', line: 'HTTP 16 parallel clients ≥ 1.0× nginx', profile: 'http:par' },
  { id: 'http-range', wl: 'http', key: 'range', ref: 'nginx', goal: 1.0, unit: 'MB/s', line: 'HTTP Range requests ≥ 1.0× nginx', profile: 'http:range' },
  { id: 'pxe-bios', wl: 'pxe', key: 'bios', ref: 'dnsmasq', goal: 1.0, lower: true, unit: 's', line: 'PXE boot to marker, BIOS ≤ 1.0× dnsmasq' },
  { id: 'pxe-uefi', wl: 'pxe', key: 'uefi', ref: 'dnsmasq', goal: 1.0, lower: true, unit: 's', line: 'PXE boot to marker, UEFI ≤ 1.0× dnsmasq' },
  { id: 'scale-ready', wl: 'scale', key: 'readyMs', limit: 1000, lower: true, unit: 'ms', line: 'Start to ready ≤ 1 s (10,000 hosts, 100,000 leases)', profile: 'scale' },
  { id: 'scale-rss', wl: 'scale', key: 'rssMB', limit: 150, lower: true, unit: 'MB', line: 'RSS ≤ 150 MB (10,000 hosts, 100,000 leases)' },
];

/** builderd ÷ each other server, per column metric: { server: { key: ratio } }. */
export function ratiosOf(w) {
  const b = w.servers?.builderd?.metrics ?? {};
  const out = {};
  for (const [sn, s] of Object.entries(w.servers ?? {})) {
    if (sn === 'builderd') continue;
    for (const c of w.columns ?? []) {
      const r = ratio(b[c.key], s.metrics?.[c.key]);
      if (r !== undefined) (out[sn] ??= {})[c.key] = r;
    }
  }
  return out;
}

/** Evaluate every target against the workload results: pass true/false, or null with a reason. */
export function evaluateTargets(workloads) {
  return TARGETS.map((t) => {
    const w = workloads[t.wl];
    const out = { id: t.id, line: t.line, unit: t.unit, goal: t.limit !== undefined ? `${t.lower ? '≤' : '≥'} ${t.limit} ${t.unit}` : `${t.lower ? '≤' : '≥'} ${t.goal.toFixed(1)}×`, profile: t.profile, pass: null };
    if (!w) return { ...out, reason: 'workload not run' };
    if (w.error) return { ...out, reason: `workload failed: ${w.error}` };
    const b = w.servers?.builderd;
    const bv = b?.metrics?.[t.key];
    out.builderd = bv;
    if (t.limit !== undefined) {
      if (typeof bv !== 'number') return { ...out, reason: b?.error ? `builderd not available: ${b.error}` : 'no builderd figure' };
      return { ...out, pass: t.lower ? bv <= t.limit : bv >= t.limit };
    }
    const r = w.servers?.[t.ref];
    const rv = r?.metrics?.[t.key];
    out.reference = rv;
    out.refLabel = r?.label ?? t.ref;
    if (typeof bv !== 'number' && b?.failedKeys?.includes(t.key) && typeof rv === 'number') return { ...out, pass: false, reason: 'builderd failed where the reference succeeded' };
    if (typeof bv !== 'number') return { ...out, reason: b?.error ? `builderd not available: ${b.error}` : 'no builderd figure' };
    if (typeof rv !== 'number' || rv === 0) return { ...out, reason: r?.error ? `${t.ref} not available: ${r.error}` : `no ${t.ref} figure` };
    out.ratio = ratio(bv, rv);
    out.pass = t.lower ? out.ratio <= t.goal : out.ratio >= t.goal;
    return out;
  });
}

const digitsFor = (unit) => (unit === 'MB/s' || unit === 's' || unit === 'MB' ? 1 : 0);

/** The whole results file as Markdown. */
export function renderMarkdown(res) {
  const m = res.machine;
  const L = [];
  L.push(`# builderd benchmark${res.quick ? ' (QUICK smoke run: short rounds, small files — not for comparison)' : ''}`);
  L.push('');
  L.push(`- **Date:** ${res.date.slice(0, 16).replace('T', ' ')} UTC; the run took ${Math.round((res.durationS ?? 0) / 60 * 10) / 10} min`);
  L.push(`- **Machine:** ${m.nproc} × ${m.model}, ${m.memGB} GiB, ${m.os}, kernel ${m.kernel}, node ${m.node}; load average at start ${m.loadavgStart?.join(' ')}, at end ${m.loadavgEnd?.join(' ')}`);
  L.push(`- **builderd:** ${res.builderd?.commit ?? '?'} (${res.builderd?.build ?? ''})`);
  L.push(`- **Method:** each server on CPU0 and the load generator on CPU1 (taskset), one worker each; builderd and the references alternate (A B A B …), ${res.knobs.rounds} rounds, medians; loopback or the run's own network namespaces (bbe-*) only.`);
  L.push(`- ${res.note}`);
  const la = Math.max(m.loadavgStart?.[0] ?? 0, m.loadavgEnd?.[0] ?? 0, m.loadavgEnd?.[2] ?? 0);
  if (la > 1.5) L.push(`- **This run was distorted by other work on the machine** (load average up to ${la} on ${m.nproc} CPUs while the bench itself keeps at most 2 busy): single rounds of the same server differ by up to 2× below, so read the medians as rough, and rerun on an idle machine before acting on a ratio within ±20 % of its goal.`);
  L.push('');
  L.push('## Targets');
  L.push('');
  L.push('| target | builderd | reference | ratio | goal | result |');
  L.push('|---|---:|---:|---:|---|---|');
  for (const t of res.targets) {
    const d = digitsFor(t.unit);
    const result = t.pass === true ? '**pass**' : t.pass === false ? `**FAIL**${t.reason ? ` — ${t.reason}` : ''}` : `n/a — ${t.reason}`;
    const ref = t.reference !== undefined ? `${fmt(t.reference, d)} ${t.unit} (${t.refLabel})` : (t.refLabel ? `– (${t.refLabel})` : '');
    L.push(`| ${t.line} | ${t.builderd !== undefined ? `${fmt(t.builderd, d)} ${t.unit}` : t.pass === false ? 'failed' : 'not available'} | ${ref} | ${t.ratio !== undefined ? `${t.ratio.toFixed(2)}×` : '–'} | ${t.goal} | ${result.replace(/\|/g, '/')} |`);
  }
  L.push('');
  for (const [name, w] of Object.entries(res.workloads)) {
    L.push(`## ${w.title ?? name}`);
    L.push('');
    if (w.setup) { L.push(w.setup); L.push(''); }
    if (w.error) { L.push(`Workload failed: ${w.error}`); L.push(''); continue; }
    const cols = w.columns ?? [];
    const ratios = ratiosOf(w);
    L.push('Bold: median; in parentheses: every round; "builderd N×" = builderd\'s median ÷ that server\'s' + (cols.some((c) => c.lower) ? ' (lower is better for ' + cols.filter((c) => c.lower).map((c) => c.label).join(', ') + ')' : '') + '.');
    L.push('');
    L.push(`| server | ${cols.map((c) => c.label).join(' | ')} | notes |`);
    L.push(`|---|${cols.map(() => '---:').join('|')}|---|`);
    for (const [sn, s] of Object.entries(w.servers ?? {})) {
      const cells = cols.map((c) => {
        const v = s.metrics?.[c.key];
        const runs = (s.runs?.[c.key] ?? []).filter((x) => typeof x === 'number');
        if (v === undefined) return '–';
        const rt = sn === 'builderd' ? undefined : ratios[sn]?.[c.key];
        return `**${fmt(v, c.digits ?? 0)}**${runs.length > 1 ? ` (${runs.map((x) => fmt(x, c.digits ?? 0)).join(' / ')})` : ''}${rt !== undefined ? ` · builderd ${rt.toFixed(2)}×` : ''}`;
      });
      const notes = [...(s.error ? [`not available: ${s.error}`] : []), ...(s.notes ?? [])].join('; ').replace(/\|/g, '/');
      L.push(`| ${s.label ?? sn}${s.version ? ` ${s.version}` : ''} | ${cells.join(' | ')} | ${notes} |`);
    }
    L.push('');
    if (w.footnotes?.length) { for (const f of w.footnotes) L.push(`- ${f}`); L.push(''); }
    L.push(`(${w.seconds ?? '?'} s${w.loadavg !== undefined ? `; 1-minute load average at its end ${w.loadavg}` : ''})`);
    L.push('');
  }
  if (res.profiles?.length) {
    L.push('## Where builderd spends its time (node --cpu-prof, one extra builderd round per missed target)');
    L.push('');
    for (const p of res.profiles) {
      L.push(`### ${p.key}`);
      L.push('');
      L.push(`${fmt(p.totalMs / 1000, 1)} s sampled (${p.window}); by area, of all samples: ${p.areas.filter((a) => a.pct >= 0.5).map((a) => `${a.area} ${a.pct.toFixed(1)}%`).join(', ')}. Profile: \`bench/results/${p.file}\``);
      L.push('');
      L.push('| self % of busy | function | where |');
      L.push('|---:|---|---|');
      for (const f of p.top) L.push(`| ${f.pct.toFixed(1)} | \`${f.fn}\` | ${f.where} |`);
      L.push('');
    }
  }
  if (res.references) {
    L.push(`Reference versions: ${Object.entries(res.references).map(([k, v]) => `${k} ${v}`).join(', ')}.`);
    L.push('');
  }
  return L.join('\n') + '\n';
}

/** The short section the top-level README shows: date, machine, the targets table. */
export function renderSummary(res) {
  const m = res.machine;
  const L = [];
  const la = Math.max(m.loadavgStart?.[0] ?? 0, m.loadavgEnd?.[0] ?? 0, m.loadavgEnd?.[2] ?? 0);
  L.push(`Latest full run: ${res.date.slice(0, 16).replace('T', ' ')} UTC, ${m.nproc} × ${m.model}, ${m.os}, kernel ${m.kernel}, node ${m.node}, builderd ${res.builderd?.commit ?? '?'}${la > 1.5 ? ` (load average up to ${la}: other work was running on the machine and distorted the figures)` : ''}. Server on one core, load generator on the other, medians of ${res.knobs.rounds} alternating rounds; full figures in [bench/results/latest.md](bench/results/latest.md).`);
  L.push('');
  L.push('| target | builderd | reference | ratio | result |');
  L.push('|---|---:|---:|---:|---|');
  for (const t of res.targets) {
    const d = digitsFor(t.unit);
    const result = t.pass === true ? 'pass' : t.pass === false ? '**FAIL**' : 'n/a';
    const ref = t.reference !== undefined ? `${fmt(t.reference, d)} ${t.unit} (${t.refLabel})` : t.refLabel ? `(${t.refLabel})` : t.goal;
    L.push(`| ${t.line} | ${t.builderd !== undefined ? `${fmt(t.builderd, d)} ${t.unit}` : t.pass === false ? 'failed' : 'not available'} | ${ref} | ${t.ratio !== undefined ? `${t.ratio.toFixed(2)}×` : '–'} | ${result} |`);
  }
  return L.join('\n') + '\n';
}
