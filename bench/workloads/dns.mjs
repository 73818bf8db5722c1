// DNS: dnsperf at fixed concurrency against builderd, NSD, Knot and dnsmasq serving the same
// 1,000-host inventory, in netns bbe-dns (loopback only). Server on CPU0, dnsperf on CPU1.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { baseConfig, startBuilderd, stopBuilderd } from '../lib/builderd.mjs';
import { builderdDnsParts, dnsDataset, dnsmasqRecords, MGMT, REV, SITE, writeQueries, writeZoneFiles } from '../lib/dataset.mjs';
import { log, monoUs, netnsDel, netnsNew, run, startBg, stopBg, waitFor, roundsWithin } from '../lib/proc.mjs';
import { median } from '../lib/stats.mjs';

const NS = 'bbe-dns';
const ADDR = '127.0.0.1';
const PORTS = { builderd: 15401, nsd: 15402, knot: 15403, dnsmasq: 15404 };

function dig(port, args, timeoutMs = 5000) {
  return run(['dig', `@${ADDR}`, '-p', String(port), '+norec', '+time=1', '+tries=2', ...args], { ns: NS, timeoutMs });
}

async function answersSoa(port) {
  const r = await dig(port, ['+short', SITE, 'SOA'], 3000);
  return r.code === 0 && /hostmaster/.test(r.stdout);
}

/** A few conformance checks, so a fast server that answers wrongly is visible. */
async function checks(port) {
  const out = [];
  const chk = async (label, args, re) => {
    const r = await dig(port, args);
    out.push({ label, ok: r.code === 0 && re.every((x) => x.test(r.stdout)) });
  };
  await chk('A + aa', ['host0042.lab.example', 'A'], [/status: NOERROR/, /flags: qr aa/, /host0042\.lab\.example\.\s+\d+\s+IN\s+A\s+10\.99\.1\.42/]);
  await chk('AAAA', ['host0042.lab.example', 'AAAA'], [/IN\s+AAAA\s+2001:db8:99::2a/]);
  await chk('CNAME', [`alias0001.${MGMT}`, 'A'], [/IN\s+CNAME\s+host0008\.lab\.example\./]);
  await chk('NXDOMAIN + SOA', ['missing00001.lab.example', 'A'], [/status: NXDOMAIN/, /AUTHORITY SECTION:\s*\nlab\.example\.\s+\d+\s+IN\s+SOA/]);
  await chk('PTR', [`42.1.${REV}`, 'PTR'], [/IN\s+PTR\s+host0042\.lab\.example\./]);
  await chk('REFUSED outside', ['www.example.com', 'A'], [/status: REFUSED/]);
  return out;
}

function parseDnsperf(text) {
  const num = (re) => { const m = re.exec(text); return m ? Number(m[1]) : undefined; };
  const rc = /Response codes:\s*(.*)/.exec(text)?.[1]?.trim() ?? '';
  const nx = /NXDOMAIN \d+ \(([\d.]+)%\)/.exec(rc);
  return {
    qps: num(/Queries per second:\s+([\d.]+)/),
    lost: num(/Queries lost:\s+(\d+)/),
    latencyMs: (num(/Average Latency \(s\):\s+([\d.]+)/) ?? NaN) * 1000,
    rcodes: rc,
    nxPct: nx ? Number(nx[1]) : 0,
  };
}

/** Run the DNS workload. ctx: { work, rounds, knobs, profileDir? }. */
export async function dnsWorkload(ctx) {
  const { work, rounds, knobs } = ctx;
  const dir = join(work, 'dns');
  const zones = join(dir, 'zones');
  mkdirSync(zones, { recursive: true });
  const ds = dnsDataset(knobs.dnsHosts);
  const nrecs = writeZoneFiles(ds, zones);
  writeFileSync(join(zones, 'dnsmasq-records.conf'), dnsmasqRecords(ds));
  const queries = join(zones, 'queries.txt');
  writeQueries(ds, queries);
  netnsNew(NS);

  const servers = {
    builderd: {
      label: 'builderd',
      async start(w) {
        const config = baseConfig(w, {
          ...builderdDnsParts(ds),
          dns: { listen: [`${ADDR}:${PORTS.builderd}`], transfer_allow: ['127.0.0.0/8'], ...(knobs.dnsWorkers !== undefined ? { workers: knobs.dnsWorkers } : {}) },
        });
        const b = await startBuilderd({ dir: w, config, ns: NS, cpu: 0, logLevel: knobs.logLevel, cpuProfDir: ctx.cpuProfDir, probe: () => answersSoa(PORTS.builderd) });
        return b.ok ? { stop: () => stopBuilderd(b) } : { error: b.reason };
      },
    },
    nsd: {
      label: 'NSD',
      async start(w) {
        writeFileSync(join(w, 'nsd.conf'), [
          'server:', `  ip-address: ${ADDR}@${PORTS.nsd}`, `  port: ${PORTS.nsd}`, '  server-count: 1',
          '  username: ""', '  chroot: ""', `  zonesdir: "${zones}"`, `  pidfile: "${w}/nsd.pid"`, '  database: ""',
          `  xfrdfile: "${w}/xfrd.state"`, `  zonelistfile: "${w}/zone.list"`, `  xfrdir: "${w}"`, `  logfile: "${w}/nsd.log"`,
          '  do-ip6: no', '  verbosity: 0',
          // Debian builds NSD with response-rate limiting on (200 qps per source): every query here comes from one source.
          '  rrl-ratelimit: 0', '  rrl-whitelist-ratelimit: 0',
          'remote-control:', '  control-enable: no',
          ...[SITE, MGMT, REV].flatMap((z) => ['zone:', `  name: ${z}`, `  zonefile: ${z}.zone`]),
        ].join('\n') + '\n');
        const h = startBg('nsd', ['nsd', '-d', '-c', join(w, 'nsd.conf')], { ns: NS, cpu: 0, logFile: join(w, 'out.log') });
        return { h };
      },
    },
    knot: {
      label: 'Knot',
      async start(w) {
        mkdirSync(join(w, 'db'), { recursive: true });
        writeFileSync(join(w, 'knot.conf'), [
          'server:', `    rundir: "${w}"`, `    pidfile: "${w}/knot.pid"`, `    listen: ${ADDR}@${PORTS.knot}`,
          '    udp-workers: 1', '    tcp-workers: 1', '    background-workers: 1',
          'log:', '  - target: stderr', '    any: warning',
          'database:', `    storage: "${w}/db"`,
          'template:', '  - id: default', `    storage: "${zones}"`, '    zonefile-sync: -1', '    zonefile-load: whole', '    journal-content: none',
          'zone:', ...[SITE, MGMT, REV].flatMap((z) => [`  - domain: ${z}`, `    file: ${z}.zone`]),
        ].join('\n') + '\n');
        const h = startBg('knotd', ['knotd', '-c', join(w, 'knot.conf')], { ns: NS, cpu: 0, logFile: join(w, 'out.log') });
        return { h };
      },
    },
    dnsmasq: {
      label: 'dnsmasq',
      async start(w) {
        writeFileSync(join(w, 'dnsmasq.conf'), [
          `port=${PORTS.dnsmasq}`, `listen-address=${ADDR}`, 'bind-interfaces', 'no-resolv', 'no-hosts', 'no-poll',
          'user=root', 'group=root', `pid-file=${w}/dnsmasq.pid`, `log-facility=${w}/dnsmasq.log`,
          `auth-server=${ds.ns.name}.${MGMT},${ADDR}`, `auth-peer=${ADDR}`,
          `conf-file=${join(zones, 'dnsmasq-records.conf')}`,
        ].join('\n') + '\n');
        const h = startBg('dnsmasq', ['dnsmasq', '--keep-in-foreground', `--conf-file=${join(w, 'dnsmasq.conf')}`], { ns: NS, cpu: 0, logFile: join(w, 'out.log') });
        return { h };
      },
    },
  };
  const names = Object.keys(servers).filter((n) => n === 'builderd' || knobs.dnsRefs.includes(n));
  const res = Object.fromEntries(names.map((n) => [n, { label: servers[n].label, runs: [], checks: undefined, error: undefined }]));

  const once = async (name, round, { profile = false } = {}) => {
    const w = join(dir, `${name}-r${round}${profile ? '-prof' : ''}`);
    mkdirSync(w, { recursive: true });
    const r = res[name];
    const s = await servers[name].start(w);
    if (s.error) { r.error = s.error; log(`  dns ${name}: not available: ${s.error}`); return; }
    const stop = s.stop ?? (() => stopBg(s.h));
    try {
      if (!(await waitFor(() => answersSoa(PORTS[name]), 20_000, 100))) { r.error = 'not answering SOA'; log(`  dns ${name}: not answering`); return; }
      if (!r.checks) r.checks = await checks(PORTS[name]);
      // Warm-up, the same for every server (builderd's JIT needs it; the C servers do not mind).
      await run(['dnsperf', '-s', ADDR, '-p', String(PORTS[name]), '-d', queries, '-l', '1', '-c', String(knobs.dnsClients), '-T', '1', '-q', String(knobs.dnsMaxOut), '-t', '2'],
        { ns: NS, cpu: 1, timeoutMs: 30_000 });
      const t0 = monoUs();
      const p = await run(['dnsperf', '-s', ADDR, '-p', String(PORTS[name]), '-d', queries, '-l', String(knobs.dnsSeconds),
        '-c', String(knobs.dnsClients), '-T', '1', '-q', String(knobs.dnsMaxOut), '-t', '2'],
      { ns: NS, cpu: 1, timeoutMs: (knobs.dnsSeconds + 30) * 1000 });
      ctx.windows?.push([t0, monoUs()]);
      const m = parseDnsperf(p.stdout);
      if (!profile) r.runs.push(m);
      log(`  dns ${name} round ${round}${profile ? ' (profiled)' : ''}: ${m.qps?.toFixed(0)} qps, lost ${m.lost}, ${m.latencyMs.toFixed(3)} ms, ${m.rcodes}`);
    } finally {
      await stop();
    }
  };

  try {
    await roundsWithin(ctx, rounds, async (round) => {
      for (const name of names) {
        if (res[name].error && name === 'builderd') continue; // not available: do not retry every round
        await once(name, round);
      }
    });

    for (const n of names) {
      const r = res[n];
      const runs = r.runs;
      r.runs = { qps: runs.map((x) => x.qps), latencyMs: runs.map((x) => x.latencyMs) };
      r.metrics = { qps: median(r.runs.qps), latencyMs: median(r.runs.latencyMs) };
      const lost = runs.reduce((a, x) => a + (x.lost ?? 0), 0);
      const nx = median(runs.map((x) => x.nxPct));
      r.notes = [];
      if (r.checks) r.notes.push(`checks ${r.checks.filter((c) => c.ok).length}/${r.checks.length}${r.checks.some((c) => !c.ok) ? ` (failed: ${r.checks.filter((c) => !c.ok).map((c) => c.label).join(', ')})` : ''}`);
      if (lost) r.notes.push(`${lost} queries lost`);
      // The query mix has 10 % names that do not exist: an answer mix far from that means wrong answers.
      if (runs.length && (nx === undefined || nx < 8 || nx > 12)) r.notes.push(`NXDOMAIN share ${nx ?? 0}% (expected 10%): ${runs[0].rcodes}`);
    }
  } finally {
    if (!ctx.keepNetns) netnsDel(NS);
  }
  return {
    title: 'DNS',
    setup: `dnsperf -c ${knobs.dnsClients} -q ${knobs.dnsMaxOut} -T 1, ${knobs.dnsSeconds} s per round after a 1 s warm-up, ${ds.hosts.length}-host inventory (${nrecs} records, 3 zones), query mix 60% A / 15% AAAA / 10% NXDOMAIN / 5% CNAME / 10% PTR`,
    columns: [{ key: 'qps', label: 'qps (UDP)', digits: 0 }, { key: 'latencyMs', label: 'avg latency ms', digits: 3, lower: true }],
    servers: res,
    /** One more builderd round with --cpu-prof (called when a target is missed). */
    profile: async (cpuProfDir) => {
      netnsNew(NS);
      ctx.cpuProfDir = cpuProfDir;
      try { await once('builderd', 'p', { profile: true }); } finally { ctx.cpuProfDir = undefined; netnsDel(NS); }
    },
  };
}

