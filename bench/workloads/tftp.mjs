// TFTP: a 64 MiB file with blksize 1468, lockstep (builderd vs tftpd-hpa) and with RFC 7440
// windowsize 16 (builderd vs atftpd), over the server namespace's loopback and across a link with
// 1 ms of added delay (tools/delay-link.py: this kernel has no netem). Client: atftp, on CPU1.
// Every download is checked against the file's sha256.
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, rmSync, statSync, openSync, writeSync, closeSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { atftpdBinary } from '../lib/apt.mjs';
import { baseConfig, startBuilderd, stopBuilderd } from '../lib/builderd.mjs';
import { listening, log, monoUs, netnsDel, netnsNew, run, sh, startBg, stopBg, waitFor, roundsWithin } from '../lib/proc.mjs';
import { median } from '../lib/stats.mjs';

const NS_S = 'bbe-tftp-s', NS_C = 'bbe-tftp-c', DEV_S = 'bbew-s', DEV_C = 'bbew-c';
const LINK_S = '10.99.1.1', LINK_C = '10.99.1.2';
const TOOLS = join(dirname(fileURLToPath(import.meta.url)), '../tools');

/** A file of n MiB of random bytes (written in 4 MiB chunks). */
export function randomFile(file, mib) {
  const fd = openSync(file, 'w');
  const buf = Buffer.alloc(4 << 20);
  for (let left = mib << 20; left > 0; left -= buf.length) {
    randomFillSync(buf);
    writeSync(fd, buf, 0, Math.min(buf.length, left));
  }
  closeSync(fd);
}

export function sha256File(file) {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file).on('data', (d) => h.update(d)).on('end', () => resolve(h.digest('hex'))).on('error', reject);
  });
}

/** Run the TFTP workload. */
export async function tftpWorkload(ctx) {
  const { work, shm, rounds, knobs } = ctx;
  const dir = join(work, 'tftp');
  const root = join(shm, 'tftp-root');
  mkdirSync(dir, { recursive: true });
  mkdirSync(root, { recursive: true });
  randomFile(join(root, 'payload.bin'), knobs.tftpMB);
  randomFile(join(root, 'small.bin'), knobs.tftpDelayMB);
  const sha = { 'payload.bin': await sha256File(join(root, 'payload.bin')), 'small.bin': await sha256File(join(root, 'small.bin')) };
  const atftpd = atftpdBinary();

  netnsNew(NS_S); netnsNew(NS_C);
  // The delay link: both TUN ends are opened inside NS_S, then one end is moved to NS_C.
  const ms = knobs.tftpDelayMs;
  const link = startBg('delay-link', ['python3', join(TOOLS, 'delay-link.py'), DEV_S, DEV_C, String(ms), '0', '1800'],
    { ns: NS_S, cpu: 1, logFile: join(dir, 'delay-link.log'), stdinPipe: true });
  let linkOk = await waitFor(() => listDevs(NS_S).includes(DEV_C) && listDevs(NS_S).includes(DEV_S), 10_000, 100);
  if (linkOk) {
    sh(['ip', '-n', NS_S, 'link', 'set', DEV_C, 'netns', NS_C]);
    sh(['ip', '-n', NS_S, 'addr', 'add', `${LINK_S}/24`, 'dev', DEV_S]);
    sh(['ip', '-n', NS_S, 'link', 'set', DEV_S, 'up']);
    sh(['ip', '-n', NS_C, 'addr', 'add', `${LINK_C}/24`, 'dev', DEV_C]);
    sh(['ip', '-n', NS_C, 'link', 'set', DEV_C, 'up']);
  } else log('  tftp: delay link did not come up; the delay columns are skipped');

  const udp69 = () => listening(NS_S, 69);
  const servers = {
    builderd: {
      label: 'builderd', modes: ['lock', 'win'],
      async start(w) {
        const config = baseConfig(w, { paths: { state: join(w, 'state'), artifacts: root, templates: join(w, 'templates') }, tftp: { listen: ['0.0.0.0:69'] } });
        const b = await startBuilderd({ dir: w, config, ns: NS_S, cpu: 0, logLevel: knobs.logLevel, cpuProfDir: ctx.cpuProfDir, probe: udp69 });
        return b.ok ? { stop: () => stopBuilderd(b) } : { error: b.reason };
      },
    },
    'tftpd-hpa': {
      label: 'tftpd-hpa', modes: ['lock'],
      async start(w) {
        return { h: startBg('in.tftpd', ['in.tftpd', '-L', '-4', '-a', '0.0.0.0:69', '-s', root], { ns: NS_S, cpu: 0, logFile: join(w, 'out.log') }) };
      },
    },
    atftpd: {
      label: 'atftpd', modes: ['win'],
      async start(w) {
        if (!atftpd) return { error: 'atftpd could not be unpacked' };
        return {
          h: startBg('atftpd', [atftpd, '--daemon', '--no-fork', '--port', '69', '--bind-address', '0.0.0.0', '--logfile', join(w, 'atftpd.log'), '--no-multicast', root],
            { ns: NS_S, cpu: 0, logFile: join(w, 'out.log') }),
        };
      },
    },
  };
  const res = Object.fromEntries(Object.entries(servers).map(([n, s]) => [n, { label: s.label, runs: { lockLo: [], lockDelay: [], winLo: [], winDelay: [] }, notes: [], failures: 0 }]));
  const out = join(shm, 'tftp-dl.bin');

  /** One download; MB/s (1e6 B/s) or undefined on failure / wrong content. */
  const fetch = async (mode, path) => {
    const delayed = path === 'Delay';
    const file = delayed ? 'small.bin' : 'payload.bin';
    const opts = ['--option', 'blksize 1468', ...(mode === 'win' ? ['--option', 'windowsize 16'] : [])];
    rmSync(out, { force: true });
    const r = await run(['atftp', ...opts, '-g', '-r', file, '-l', out, delayed ? LINK_S : '127.0.0.1', '69'],
      { ns: delayed ? NS_C : NS_S, cpu: 1, timeoutMs: knobs.tftpTimeoutS * 1000 });
    let size = 0;
    try { size = statSync(out).size; } catch { /* none */ }
    if (r.code !== 0 || r.timedOut || (await sha256File(out).catch(() => '')) !== sha[file]) {
      return { fail: `${r.timedOut ? 'timeout' : `rc ${r.code}`}, ${size} bytes${r.stderr ? `: ${r.stderr.trim().split('\n').pop()}` : ''}` };
    }
    return { mbps: size / (r.ms / 1000) / 1e6 };
  };

  const once = async (name, round, { only } = {}) => {
    const w = join(dir, `${name}-r${round}`);
    mkdirSync(w, { recursive: true });
    const r = res[name];
    const s = await servers[name].start(w);
    if (s.error) { r.error = s.error; log(`  tftp ${name}: not available: ${s.error}`); return; }
    const stop = s.stop ?? (() => stopBg(s.h));
    try {
      if (!(await waitFor(udp69, 15_000, 100))) { r.error = 'not listening on :69'; return; }
      for (const mode of servers[name].modes) {
        for (const path of ['Lo', 'Delay']) {
          const key = `${mode}${path}`;
          if (only && only !== key) continue;
          if (path === 'Delay' && !linkOk) continue;
          const t0 = monoUs();
          const m = await fetch(mode, path);
          ctx.windows?.push([t0, monoUs()]);
          if (m.fail) { r.failures++; r.notes.push(`round ${round} ${key}: FAILED (${m.fail})`); log(`  tftp ${name} ${key}: FAILED ${m.fail}`); continue; }
          if (!only) r.runs[key].push(m.mbps);
          log(`  tftp ${name} round ${round} ${key}: ${m.mbps.toFixed(2)} MB/s`);
        }
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
    await stopBg(link);
    netnsDel(NS_C); netnsDel(NS_S);
  }
  for (const r of Object.values(res)) {
    r.metrics = Object.fromEntries(Object.entries(r.runs).filter(([, v]) => v.length).map(([k, v]) => [k, median(v)]));
    r.notes = r.notes.slice(0, 4);
  }
  return {
    title: 'TFTP',
    setup: `atftp client, blksize 1468; lockstep and --option "windowsize 16"; ${knobs.tftpMB} MiB over the server namespace's loopback, ${knobs.tftpDelayMB} MiB across a link with ${ms} ms added one-way delay (server → client; a TUN-to-TUN forwarder, this kernel has no netem). MB/s = 10^6 B/s; every download checked by sha256.`,
    columns: [
      { key: 'lockLo', label: 'lockstep, loopback MB/s', digits: 1 }, { key: 'lockDelay', label: `lockstep, ${ms} ms MB/s`, digits: 2 },
      { key: 'winLo', label: 'windowsize 16, loopback MB/s', digits: 1 }, { key: 'winDelay', label: `windowsize 16, ${ms} ms MB/s`, digits: 2 },
    ],
    servers: res,
    profile: async (cpuProfDir, variant) => {
      // Loopback variants only (the delay link is gone): profile the matching loopback transfer.
      netnsNew(NS_S); netnsNew(NS_C);
      const was = linkOk; linkOk = false;
      ctx.cpuProfDir = cpuProfDir;
      try { await once('builderd', 'p', { only: variant?.startsWith('win') ? 'winLo' : 'lockLo' }); } finally { ctx.cpuProfDir = undefined; linkOk = was; netnsDel(NS_C); netnsDel(NS_S); }
    },
  };
}

function listDevs(ns) {
  const r = sh(['ip', '-n', ns, '-o', 'link', 'show'], { allowFail: true });
  return (r.stdout || '').split('\n').map((l) => (/^\d+:\s+([^:@]+)/.exec(l) ?? [])[1]).filter(Boolean);
}


