/*
 * Live-server fuzzing: `builderd serve` (the daemon as main.ts wires it) runs in a namespace
 * (bfz-lv-b, 10.99.0.2) with DNS, DHCP and TFTP on its veth; test/fuzz/live-sender.ts sends the
 * mutated packets from the peer namespace (bfz-lv-a, 10.99.0.50, probes from 10.99.0.51). A target
 * passes when the process is alive, every probe was answered, and its RSS stayed bounded.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { createNetnsPair, type NetnsPair } from '../helpers/netns.js';
import { scratch, spawnServe, type DaemonProcess } from '../helpers/daemon.js';
import { siteYaml } from '../helpers/fault-site.js';
import type { LiveJob, LiveOut } from './live-sender.js';

export interface LiveResult { sent: number; ms: number; summary: string; findings: { kind: string; message: string; hex: string }[] }
type LiveRun = (o: { n: number; seconds: number; seed: number }) => Promise<LiveResult>;

const SERVER = '10.99.0.2';
/** RSS growth allowed over a run (the lease table and caches grow a little; a leak grows a lot). */
const RSS_BOUND_MB = Number(process.env['FUZZ_RSS_MB'] ?? 256);

function rssMb(pid: number): number {
  try { return Number((/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8')) ?? [])[1] ?? 0) / 1024; } catch { return -1; }
}

/** The site config of the live runs: config/example.yaml served on the namespace's address. */
export function liveYaml(dir: string): string {
  return siteYaml(dir, (y) => y
    .replace('lease_time: 1h', 'lease_time: 1h\n  max_packets_per_mac: 0')
    // The probe's own reservation: a MAC no seed carries, so a fuzzed DECLINE/RELEASE cannot touch it.
    .replace('hosts:\n', 'hosts:\n  - name: bfz-probe\n    interfaces:\n      - { mac: "52:54:00:fe:00:99", ip: 10.99.0.99 }\n'));
}

async function withDaemon<T>(f: (d: DaemonProcess, ns: NetnsPair, dir: string) => Promise<T>): Promise<T> {
  const ns = createNetnsPair('bfz-lv', '10.99.0.50/24', `${SERVER}/24`);
  const s = scratch('bfz-live');
  try {
    ns.exec(ns.a, ['ip', 'addr', 'add', '10.99.0.51/24', 'dev', ns.ifA]);
    ns.exec(ns.b, ['ip', 'route', 'add', 'default', 'dev', ns.ifB]);
    writeFileSync(join(s.dir, 'artifacts', 'probe.bin'), Buffer.alloc(5000, 0x5a));
    const file = join(s.dir, 'builderd.yaml');
    writeFileSync(file, liveYaml(s.dir));
    const d = spawnServe(file, [], {}, ns.b);
    await d.waitFor((l) => l['event'] === 'daemon.ready', 20_000);
    try {
      return await f(d, ns, s.dir);
    } finally {
      await d.stop();
    }
  } finally {
    ns.cleanup();
    s.cleanup();
  }
}

function sender(ns: NetnsPair, job: LiveJob, onLine: (o: LiveOut) => void): Promise<LiveOut | undefined> {
  return new Promise((resolve) => {
    const c = ns.spawn(ns.a, [process.execPath, '--import', 'tsx', new URL('./live-sender.ts', import.meta.url).pathname, JSON.stringify(job)]);
    let result: LiveOut | undefined;
    let err = '';
    c.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    createInterface({ input: c.stdout! }).on('line', (l) => {
      let o: LiveOut;
      try { o = JSON.parse(l) as LiveOut; } catch { return; }
      if (o.t === 'result') result = o; else onLine(o);
    });
    c.on('exit', () => resolve(result ?? { t: 'result', sent: 0, ok: false, detail: `sender exited without a result: ${err.slice(-1500)}` }));
  });
}

function live(proto: LiveJob['proto'], extra: Partial<LiveJob>): LiveRun {
  return async ({ n, seconds, seed }) => withDaemon(async (d, ns) => {
    const pid = d.child.pid!;
    const rss0 = rssMb(pid);
    let rssMax = rss0;
    const sampler = setInterval(() => { rssMax = Math.max(rssMax, rssMb(pid)); }, 500);
    const port = proto === 'dns' ? 10053 : proto === 'dhcp' ? 10067 : 10069;
    const t0 = performance.now();
    let probes = 0, probeMs = 0;
    const r = await sender(ns, { proto, host: SERVER, port, n, seconds, seed, src: ['10.99.0.50', '10.99.0.51'], probeEvery: 10_000, ...extra } as LiveJob,
      (o) => { if (o.t === 'probe') { probes++; probeMs = Math.max(probeMs, o.ms ?? 0); } });
    clearInterval(sampler);
    const ms = performance.now() - t0;
    const findings: LiveResult['findings'] = [];
    const alive = d.child.exitCode === null && d.child.signalCode === null;
    const errors = d.lines.filter((l) => Number(l['level'] ?? 0) >= 50).map((l) => String(l['event'] ?? l['msg']));
    const recent = (r?.recent ?? []).join(',');
    if (!alive) findings.push({ kind: 'crash', message: `builderd exited (${d.child.exitCode ?? d.child.signalCode}) during ${proto} fuzzing; last packets in hex field (comma separated)`, hex: recent });
    else if (!r?.ok) findings.push({ kind: 'hang', message: `${proto} probe failed: ${r?.detail}`, hex: recent });
    if (rssMax - rss0 > RSS_BOUND_MB) findings.push({ kind: 'memory', message: `RSS grew ${Math.round(rssMax - rss0)} MB (bound ${RSS_BOUND_MB})`, hex: recent });
    const internal = d.lines.filter((l) => /internal|handler\.error/.test(String(l['event'] ?? '')));
    if (internal.length) findings.push({ kind: 'crash', message: `${internal.length} internal errors logged, first: ${JSON.stringify(internal[0]).slice(0, 600)}`, hex: recent });
    if (process.env['FUZZ_LOG_DIR']) writeFileSync(join(process.env['FUZZ_LOG_DIR'], `${proto}.log`), d.lines.map((l) => JSON.stringify(l)).join('\n'));
    const hist = new Map<string, number>();
    for (const l of d.lines) { const e = String(l['event'] ?? '?'); hist.set(e, (hist.get(e) ?? 0) + 1); }
    const top = [...hist].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([e, k]) => `${e}×${k}`).join(' ');
    if (findings.length) findings[0]!.message += ` [log events: ${top}]`;
    // What the daemon counted (builderd_dropped_packets_total by reason), from its metrics listener.
    let counted = '';
    try {
      const l = d.lines.find((x) => x['event'] === 'http.ops.listen');
      const text = l ? ns.exec(ns.b, ['curl', '-sS', '--max-time', '5', `http://127.0.0.1:${String(l['port'])}/metrics`]) : '';
      const drops = text.split('\n').filter((x) => x.startsWith('builderd_dropped_packets_total{')).map((x) => {
        const reason = /reason="([^"]*)"/.exec(x)?.[1] ?? '?';
        return [reason, Number(x.split(' ').pop())] as const;
      }).sort((a, b) => b[1] - a[1]);
      const total = drops.reduce((a, x) => a + x[1], 0);
      counted = ` dropped+counted ${total} (${drops.slice(0, 5).map(([r2, n2]) => `${r2} ${n2}`).join(', ')});`;
    } catch { counted = ' (metrics not read);'; }
    const summary = `${counted} log: ${top}; replies ${r?.replies ?? 0}${r?.tcp ? `, ${r.tcp} over TCP` : ''}; ${probes} probes ok (slowest ${probeMs} ms)${r?.delayed?.length ? `, ${r.delayed.length} answered late (${r.delayed[0]})` : ''}; RSS ${Math.round(rss0)} → max ${Math.round(rssMax)} MB; ${errors.length} error log lines`;
    return { sent: r?.sent ?? 0, ms, summary, findings };
  });
}

export const liveTargets: Record<string, LiveRun> = {
  'live-dns': live('dns', {}),
  'live-dhcp': live('dhcp', { probeMac: '52:54:00:fe:00:99', probeIp: '10.99.0.99' }),
  'live-tftp': live('tftp', { probeFile: 'probe.bin', probeSize: 5000 }),
};
