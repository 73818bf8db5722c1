// HTTP: a 1 GiB artifact from builderd and from nginx (one worker, sendfile on), in netns
// bbe-http over loopback. curl clients on CPU1: one sequential download; 16 parallel downloads
// of the whole file; 16 parallel clients each making 64 Range requests of 1 MiB (keep-alive).
import { mkdirSync, openSync, readSync, closeSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { baseConfig, startBuilderd, stopBuilderd } from '../lib/builderd.mjs';
import { listening, log, monoUs, netnsDel, netnsNew, run, startBg, stopBg, waitFor, roundsWithin } from '../lib/proc.mjs';
import { median, prng } from '../lib/stats.mjs';
import { randomFile } from './tftp.mjs';

const NS = 'bbe-http';
const ADDR = '127.0.0.1';
const PORTS = { builderd: 18081, nginx: 18082 };
const FILE = 'artifact.bin';
const MiB = 1 << 20;

const curlFmt = '%{http_code} %{size_download}\\n';

/** Run the HTTP workload. */
export async function httpWorkload(ctx) {
  const { work, shm, rounds, knobs } = ctx;
  const dir = join(work, 'http');
  const root = join(shm, 'http-root');
  mkdirSync(dir, { recursive: true });
  mkdirSync(root, { recursive: true });
  const size = knobs.httpMB * MiB;
  randomFile(join(root, FILE), knobs.httpMB);
  netnsNew(NS);
  const P = knobs.httpParallel;

  const servers = {
    builderd: {
      label: 'builderd',
      async start(w) {
        const config = baseConfig(w, { paths: { state: join(w, 'state'), artifacts: root, templates: join(w, 'templates') }, http: { listen: [`${ADDR}:${PORTS.builderd}`], base_url: `http://${ADDR}:${PORTS.builderd}` } });
        const b = await startBuilderd({ dir: w, config, ns: NS, cpu: 0, logLevel: knobs.logLevel, cpuProfDir: ctx.cpuProfDir, probe: () => listening(NS, PORTS.builderd, 'tcp') });
        return b.ok ? { stop: () => stopBuilderd(b) } : { error: b.reason };
      },
    },
    nginx: {
      label: 'nginx',
      async start(w) {
        mkdirSync(join(w, 'tmp'), { recursive: true });
        writeFileSync(join(w, 'nginx.conf'), `
worker_processes 1;
daemon off;
pid ${w}/nginx.pid;
error_log ${w}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 10000;
  default_type application/octet-stream;
  client_body_temp_path ${w}/tmp/body;
  proxy_temp_path ${w}/tmp/proxy;
  fastcgi_temp_path ${w}/tmp/fastcgi;
  uwsgi_temp_path ${w}/tmp/uwsgi;
  scgi_temp_path ${w}/tmp/scgi;
  server { listen ${ADDR}:${PORTS.nginx}; root ${root}; }
}
`);
        return { h: startBg('nginx', ['nginx', '-p', w, '-e', join(w, 'error.log'), '-c', join(w, 'nginx.conf')], { ns: NS, cpu: 0, logFile: join(w, 'out.log') }) };
      },
    },
  };
  const res = Object.fromEntries(Object.entries(servers).map(([n, s]) => [n, { label: s.label, runs: { seq: [], par: [], range: [] }, notes: [] }]));

  // Range plan: client k asks for 64 slices of 1 MiB, at offsets spread over the whole file.
  const slices = Math.max(1, Math.floor(size / MiB));
  const rnd = prng(7);
  const plan = Array.from({ length: P }, () => Array.from({ length: 64 }, () => Math.floor(rnd() * slices)));

  const curl = (args, n) => run(['curl', '-s', ...(args.includes('--max-time') ? [] : ['--max-time', String(knobs.tftpTimeoutS)]), ...args], { ns: NS, cpu: 1, timeoutMs: (knobs.tftpTimeoutS + 10) * 1000 }).then((r) => ({ ...r, n }));
  const check = (outs, wantCode, wantSize) => {
    const lines = outs.flatMap((o) => o.stdout.trim().split('\n')).filter(Boolean);
    const bad = lines.filter((l) => l !== `${wantCode} ${wantSize}`);
    return { bytes: lines.filter((l) => l === `${wantCode} ${wantSize}`).length * wantSize, bad: bad.length, first: bad[0] };
  };

  const measure = async (name, kind, only) => {
    const url = `http://${ADDR}:${PORTS[name]}/${FILE}`;
    const t0 = process.hrtime.bigint();
    let outs, c;
    if (kind === 'seq') {
      outs = [await curl(['-o', '/dev/null', '-w', curlFmt, url])];
      c = check(outs, 200, size);
    } else if (kind === 'par') {
      // Bounded in time: P clients download the whole file until done or --max-time; the figure is
      // all body bytes received over the elapsed time (a slower server is cut off, not waited for).
      outs = await Promise.all(Array.from({ length: P }, () => curl(['--max-time', String(knobs.httpParSeconds), '-o', '/dev/null', '-w', curlFmt, url])));
      const lines = outs.flatMap((o) => o.stdout.trim().split('\n')).filter(Boolean);
      const ok = lines.filter((l) => l.startsWith('200 '));
      c = { bytes: ok.reduce((a, l) => a + Number(l.split(' ')[1]), 0), bad: P - ok.length, first: lines.find((l) => !l.startsWith('200 ')) ?? `${lines.length} of ${P} answered` };
      const done = ok.filter((l) => l === `200 ${size}`).length;
      if (!only) (res[name].parDone ??= []).push(done);
    } else {
      outs = await Promise.all(plan.map((offs) => curl(offs.flatMap((o, i) => [...(i ? ['--next'] : []), '-s', '-r', `${o * MiB}-${o * MiB + MiB - 1}`, '-o', '/dev/null', '-w', curlFmt, url]))));
      c = check(outs, 206, MiB);
    }
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (c.bad) return { fail: `${c.bad} responses not as expected (e.g. "${c.first}")` };
    return { mbps: c.bytes / s / 1e6 };
  };

  /** Does a Range response carry the right bytes? (once per server) */
  const rangeContent = async (name) => {
    const off = 3 * MiB + 12345, len = 4096;
    const r = await run(['bash', '-c', `curl -s -r ${off}-${off + len - 1} http://${ADDR}:${PORTS[name]}/${FILE} | sha256sum`], { ns: NS, timeoutMs: 20_000 });
    const buf = Buffer.alloc(len);
    const fd = openSync(join(root, FILE), 'r'); readSync(fd, buf, 0, len, off); closeSync(fd);
    return r.stdout.startsWith(createHash('sha256').update(buf).digest('hex'));
  };

  const once = async (name, round, { only } = {}) => {
    const w = join(dir, `${name}-r${round}`);
    mkdirSync(w, { recursive: true });
    const r = res[name];
    const s = await servers[name].start(w);
    if (s.error) { r.error = s.error; log(`  http ${name}: not available: ${s.error}`); return; }
    const stop = s.stop ?? (() => stopBg(s.h));
    try {
      if (!(await waitFor(() => listening(NS, PORTS[name], 'tcp'), 15_000, 100))) { r.error = 'not listening'; return; }
      if (round === 1 && !(await rangeContent(name))) r.notes.push('Range content check FAILED');
      // Warm-up, the same for every server: 64 MiB through one connection.
      await curl(['-r', `0-${Math.min(size, 64 * MiB) - 1}`, '-o', '/dev/null', `http://${ADDR}:${PORTS[name]}/${FILE}`]);
      for (const kind of ['seq', 'par', 'range']) {
        if (only && only !== kind) continue;
        const t0 = monoUs();
        const m = await measure(name, kind, only);
        ctx.windows?.push([t0, monoUs()]);
        if (m.fail) { r.notes.push(`round ${round} ${kind}: ${m.fail}`); log(`  http ${name} ${kind}: FAILED ${m.fail}`); continue; }
        if (!only) r.runs[kind].push(m.mbps);
        log(`  http ${name} round ${round} ${kind}: ${m.mbps.toFixed(0)} MB/s`);
      }
    } finally {
      await stop();
    }
  };

  try {
    await roundsWithin(ctx, rounds, async (round) => {
      for (const name of Object.keys(servers)) {
        if (res[name].error) continue;
        await once(name, round);
      }
    });

  } finally {
    netnsDel(NS);
  }
  for (const r of Object.values(res)) {
    r.metrics = Object.fromEntries(Object.entries(r.runs).filter(([, v]) => v.length).map(([k, v]) => [k, median(v)]));
    r.notes = r.notes.slice(0, 4);
    if (r.parDone) r.notes.push(`whole-file downloads finished within the ${knobs.httpParSeconds} s of the parallel step: ${r.parDone.map((d) => `${d}/${P}`).join(', ')}`);
    delete r.parDone;
  }
  return {
    title: 'HTTP',
    setup: `${knobs.httpMB} MiB artifact over loopback, curl on CPU1: one sequential GET; ${P} parallel GETs of the whole file (bounded at ${knobs.httpParSeconds} s: bytes received / time); ${P} parallel clients × 64 Range requests of 1 MiB each (keep-alive). nginx: 1 worker, sendfile on, access_log off; builderd at log level ${knobs.logLevel}. MB/s = 10^6 B/s of body received; each server gets the same 64 MiB warm-up GET first.`,
    columns: [{ key: 'seq', label: 'sequential MB/s', digits: 0 }, { key: 'par', label: `${P} parallel MB/s`, digits: 0 }, { key: 'range', label: 'Range 1 MiB MB/s', digits: 0 }],
    servers: res,
    profile: async (cpuProfDir, variant) => {
      netnsNew(NS);
      ctx.cpuProfDir = cpuProfDir;
      try { await once('builderd', 'p', { only: variant ?? 'par' }); } finally { ctx.cpuProfDir = undefined; netnsDel(NS); }
    },
  };
}
