// dns.workers (issue 9): UDP worker processes that read the primary's sockets. Checked against the real
// daemon (`builderd serve` from dist/) with dig. To be sure a worker answered, the primary is stopped
// (SIGSTOP) while dig asks: only the workers read the shared socket then.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';
import { scratch, exampleYaml, spawnServe, ROOT, type DaemonProcess } from '../../helpers/daemon.js';
import { answers, dig, exampleConfig, startDns } from '../../helpers/dns.js';
import type { AuthorityView } from '../../../src/lib/authority-view.js';
import { udpBatchAddon } from '../../../src/dns/udp-batch.js';

const cli = join(ROOT, 'dist/cli/index.js');
const built = existsSync(cli);

/** The example config with `workers` set, the DNS pre-flight pointed at nothing, DHCP on lo at `dhcpPort`. */
function yaml(dir: string, workers: number, dhcpPort: number, extra = ''): string {
  return exampleYaml(dir, (y) => y
    .replace('dns: 10.99.0.1:53', 'dns: 127.0.0.1:9')
    .replace('  forward_clients: ["10.99.0.0/16"]', `  forward_clients: ["10.99.0.0/16"]\n  workers: ${workers}`)
    .replace('  interfaces: []                      # interfaces to serve', '  interfaces: ["lo"]                  # interfaces to serve')
    .replace('port: 10067', `port: ${dhcpPort}`) + extra);
}

function dnsPort(d: DaemonProcess): number {
  const ready = d.lines.find((l) => l['event'] === 'daemon.ready')!;
  const a = ready['addresses'] as { dns: { udp: { port: number }[] } };
  return a.dns.udp[0]!.port;
}

/** Child processes of `pid` (from /proc). */
function children(pid: number): number[] {
  const out: number[] = [];
  for (const t of spawnSync('ls', [`/proc/${pid}/task`], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean)) {
    try {
      out.push(...readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').split(' ').filter(Boolean).map(Number));
    } catch { /* task gone */ }
  }
  return out;
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

function cmdline(pid: number): string {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '); } catch { return ''; }
}

/** Run `fn` with the primary stopped, so only the workers can answer. */
async function primaryStopped<T>(d: DaemonProcess, fn: () => Promise<T>): Promise<T> {
  d.child.kill('SIGSTOP');
  try {
    return await fn();
  } finally {
    d.child.kill('SIGCONT');
  }
}

/** SOA serials are time-based: blank them so two daemons started apart compare equal. */
function normal(lines: string[]): string[] {
  return lines.map((l) => l.replace(/(SOA \S+ \S+ )\d+/, '$1SERIAL'));
}

const QUERIES: [string, string][] = [
  ['hv01.lab.example.net', 'A'], ['hv01.lab.example.net', 'AAAA'], ['pxe.lab.example.net', 'A'],
  ['nothere.lab.example.net', 'A'], ['lab.example.net', 'SOA'], ['lab.example.net', 'NS'],
  ['provisioner-ph01.mgmt.example.net', 'A'], ['10.0.99.10.in-addr.arpa', 'PTR'], ['HV01.Lab.Example.NET', 'A'],
  ['www.example.com', 'A'], ['hv01.lab.example.net', 'TXT'],
];

async function ask(port: number, name: string, type: string, ...flags: string[]): Promise<{ status: string; lines: string[] }> {
  const out = await dig(port, '+norec', '+noall', '+comments', '+answer', '+authority', ...flags, name, type);
  const status = /status: (\w+)/.exec(out)?.[1] ?? 'none';
  return { status, lines: normal(answers(out.split('\n').filter((l) => !l.startsWith(';')).join('\n'))) };
}

describe('dns.workers: UDP worker processes (daemon with workers: 2)', { skip: built ? false : 'needs dist/ (npm run build)' }, () => {
  const sw = scratch('bd-dnsw');
  const s0 = scratch('bd-dnsw0');
  let dw: DaemonProcess;
  let d0: DaemonProcess;
  let file: string;
  before(async () => {
    file = join(sw.dir, 'builderd.yaml');
    writeFileSync(file, yaml(sw.dir, 2, 10267));
    const file0 = join(s0.dir, 'builderd.yaml');
    writeFileSync(file0, yaml(s0.dir, 0, 10367));
    dw = spawnServe(file);
    d0 = spawnServe(file0);
    await dw.waitFor((l) => l['event'] === 'daemon.ready', 10_000);
    await d0.waitFor((l) => l['event'] === 'daemon.ready', 10_000);
    await dw.waitFor((l) => l['event'] === 'dns.workers', 10_000);
  });
  after(async () => {
    if (dw?.child.exitCode === null && dw.child.signalCode === null) { dw.child.kill('SIGCONT'); await dw.stop('SIGTERM'); }
    if (d0?.child.exitCode === null && d0.child.signalCode === null) await d0.stop('SIGTERM');
    sw.cleanup();
    s0.cleanup();
  });

  it('starts two worker processes, children of the daemon', () => {
    const kids = children(dw.child.pid!).filter((p) => cmdline(p).includes('udp-worker'));
    assert.equal(kids.length, 2, `worker children: ${kids.join(' ')}`);
    const log = dw.lines.find((l) => l['event'] === 'dns.workers');
    assert.equal(log?.['count'], 2);
  });

  it('workers answer with the primary stopped, the same as a daemon without workers', async () => {
    const p = dnsPort(dw), p0 = dnsPort(d0);
    const expected = [];
    for (const [n, t] of QUERIES) expected.push(await ask(p0, n, t));
    const got = await primaryStopped(dw, async () => {
      const out = [];
      for (const [n, t] of QUERIES) out.push(await ask(p, n, t));
      return out;
    });
    assert.deepEqual(got, expected);
    assert.equal(got[0]!.status, 'NOERROR');
    assert.equal(got[3]!.status, 'NXDOMAIN');
    assert.equal(got[9]!.status, 'REFUSED');
    // EDNS and the client's case come back as asked.
    const e = await primaryStopped(dw, () => dig(p, '+norec', '+bufsize=1232', 'hV01.lab.EXAMPLE.net', 'A'));
    assert.match(e, /hV01\.lab\.EXAMPLE\.net\.\s+\d+\s+IN\s+A\s+10\.99\.0\.10/);
    assert.match(e, /OPT PSEUDOSECTION/);
  });

  it('zone transfers still work: AXFR over TCP (the primary), IXFR over UDP (relayed when a worker reads it)', async () => {
    const p = dnsPort(dw);
    const axfr = await dig(p, '+noall', '+answer', 'lab.example.net', 'AXFR');
    assert.ok(answers(axfr).length > 5);
    // RFC 1995 §2: over UDP, the SOA alone. Asked 8 times, so workers get some of them and relay them.
    for (let i = 0; i < 8; i++) {
      const ixfr = await dig(p, '+notcp', '+norec', 'IXFR=1', 'lab.example.net');
      assert.match(ixfr, /lab\.example\.net\.\s+\d+\s+IN\s+SOA\s/);
    }
  });

  it('a zone change (SIGHUP reload with a new host) is answered by the workers', async () => {
    const p = dnsPort(dw);
    assert.equal((await ask(p, 'newbox.lab.example.net', 'A')).status, 'NXDOMAIN');
    const host = '\n  - name: newbox\n    interfaces:\n      - { mac: "52:54:00:aa:bb:cc", ip: 10.99.0.77 }\n';
    const y = readFileSync(file, 'utf8');
    assert.match(y, /^hosts:\n/m);
    writeFileSync(file, y.replace(/^hosts:\n/m, `hosts:${host}`));
    dw.child.kill('SIGHUP');
    await dw.waitFor((l) => l['event'] === 'config.reload' || l['event'] === 'config.reload.failed');
    const r = await primaryStopped(dw, () => ask(p, 'newbox.lab.example.net', 'A'));
    assert.equal(r.status, 'NOERROR');
    assert.deepEqual(r.lines, ['newbox.lab.example.net. IN A 10.99.0.77']);
  });

  it('an authority change (promote) fences the site zones in the workers within 1 s; mgmt is still served', async () => {
    const p = dnsPort(dw);
    assert.equal((await ask(p, 'hv01.lab.example.net', 'A')).status, 'NOERROR');
    const pr = spawnSync(process.execPath, [cli, 'authority', 'promote', '--force', '--json', '--config', file], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(pr.status, 0, pr.stderr + pr.stdout);
    const t0 = Date.now();
    let status = '';
    while (Date.now() - t0 < 3000) {
      status = (await primaryStopped(dw, () => ask(p, 'hv01.lab.example.net', 'A'))).status;
      if (status === 'REFUSED') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const ms = Date.now() - t0;
    assert.equal(status, 'REFUSED');
    assert.ok(ms < 1000, `workers fenced after ${ms} ms`);
    assert.equal((await primaryStopped(dw, () => ask(p, 'provisioner-ph01.mgmt.example.net', 'A'))).status, 'NOERROR');
  });

  it('SIGKILL of the primary leaves no worker processes', async () => {
    const kids = children(dw.child.pid!).filter((p) => cmdline(p).includes('udp-worker'));
    assert.equal(kids.length, 2);
    dw.child.kill('SIGKILL');
    const t0 = Date.now();
    while (kids.some(alive) && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(kids.filter(alive), [], 'workers exit when the IPC channel closes');
  });
});

describe('dns.workers in-process (the service with workers: 2, this process the primary)', () => {
  /** dig run while this process's event loop is blocked: only a worker can answer in time. */
  async function digBlocked(port: number, args: string[], blockMs = 800): Promise<string> {
    const c = spawn('dig', ['@127.0.0.1', '-p', String(port), '+time=3', '+tries=1', ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    const until = Date.now() + blockMs;
    while (Date.now() < until) { /* the primary does nothing: its socket reads wait */ }
    await new Promise((r) => c.on('close', r));
    return out;
  }
  /** Query times dig printed, in ms. */
  const times = (out: string): number[] => [...out.matchAll(/Query time: (\d+) msec/g)].map((m) => Number(m[1]));

  it('answers during a blocked primary, counts them in its registry, and follows authority flips', async () => {
    let mode: 'bootstrap' | 'production' = 'bootstrap';
    const authority: AuthorityView = {
      dhcpAuthoritative: () => mode === 'bootstrap', siteDnsAuthoritative: () => mode === 'bootstrap',
      mode: () => mode, epoch: () => 1,
    };
    const r = await startDns({ config: exampleConfig({ workers: 2 }), authority });
    await r.svc.workersReady();
    try {
      assert.equal(r.svc.workerPids().length, 2);
      const names = Array.from({ length: 20 }, () => ['+norec', 'hv01.lab.example.net', 'A']).flat();
      const out = await digBlocked(r.port, names);
      const t = times(out);
      assert.equal(t.length, 20);
      assert.ok(Math.max(...t) < 500, `answered by workers while the primary was blocked (query times ${t.join(' ')})`);
      assert.equal((out.match(/status: NOERROR/g) ?? []).length, 20);
      // Workers report every 500 ms; the counts land in this process's prom-client registry.
      await new Promise((res) => setTimeout(res, 800));
      const m = await r.metrics.registry.getSingleMetricAsString('builderd_dns_queries_total');
      const n = /rcode="NOERROR",qtype="A",transport="udp"\} (\d+)/.exec(m);
      assert.ok(n && Number(n[1]) >= 20, m);

      mode = 'production';
      await new Promise((res) => setTimeout(res, 300));
      const fenced = await digBlocked(r.port, ['+norec', 'hv01.lab.example.net', 'A', '+norec', 'provisioner-ph01.mgmt.example.net', 'A']);
      assert.ok(Math.max(...times(fenced)) < 500);
      assert.deepEqual([...fenced.matchAll(/status: (\w+)/g)].map((x) => x[1]), ['REFUSED', 'NOERROR']);

      // A query the workers cannot answer (IXFR over UDP) read while the primary is blocked: relayed
      // to the primary over IPC, answered once it runs again (RFC 1995 §2: the SOA alone).
      const relayed = await digBlocked(r.port, ['+notcp', '+norec', 'IXFR=1', 'lab.example.net'], 500);
      assert.match(relayed, /lab\.example\.net\.\s+\d+\s+IN\s+SOA\s/);

      mode = 'bootstrap';
      await r.svc.authorityChanged();
      const back = await digBlocked(r.port, ['+norec', 'hv01.lab.example.net', 'A']);
      assert.match(back, /status: NOERROR/);

      // A worker that dies is replaced (after 1 s), with the current zones and authority mode.
      const [victim] = r.svc.workerPids();
      process.kill(victim!, 'SIGKILL');
      const t0 = Date.now();
      while (Date.now() - t0 < 5000 && (r.svc.workerPids().includes(victim!) || r.svc.workerPids().length < 2)) await new Promise((res) => setTimeout(res, 100));
      assert.equal(r.svc.workerPids().length, 2);
      assert.ok(!r.svc.workerPids().includes(victim!));
      await new Promise((res) => setTimeout(res, 300));
      const again = await digBlocked(r.port, ['+norec', 'hv01.lab.example.net', 'A', '+norec', 'provisioner-ph01.mgmt.example.net', 'A']);
      assert.ok(Math.max(...times(again)) < 500);
      assert.equal((again.match(/status: NOERROR/g) ?? []).length, 2);
    } finally {
      await r.close();
    }
    assert.deepEqual(r.svc.workerPids(), []);
  });
});

describe('the primary alone with the addon\'s answer cache (workers: 0)', () => {
  it('cache hits are patched (ID, case), counted, and an authority flip is obeyed at once', { skip: udpBatchAddon() ? false : 'udpbatch addon not built' }, async () => {
    let mode: 'bootstrap' | 'production' = 'bootstrap';
    const authority: AuthorityView = {
      dhcpAuthoritative: () => mode === 'bootstrap', siteDnsAuthoritative: () => mode === 'bootstrap',
      mode: () => mode, epoch: () => 1,
    };
    const r = await startDns({ config: exampleConfig({ workers: 0 }), authority });
    try {
      for (const name of ['hv01.lab.example.net', 'HV01.lab.example.NET', 'hV01.LAB.example.net']) {
        const out = await dig(r.port, '+norec', name, 'A');
        assert.match(out, /status: NOERROR/);
        assert.match(out, new RegExp(`^${name.replace(/\./g, '\\.')}\\.\\s+\\d+\\s+IN\\s+A\\s+10\\.99\\.0\\.10$`, 'm'));
      }
      const m = await r.metrics.registry.getSingleMetricAsString('builderd_dns_queries_total');
      assert.match(m, /rcode="NOERROR",qtype="A",transport="udp"\} 3/);
      mode = 'production';
      assert.match(await dig(r.port, '+norec', 'hv01.lab.example.net', 'A'), /status: REFUSED/);
      assert.match(await dig(r.port, '+norec', 'provisioner-ph01.mgmt.example.net', 'A'), /status: NOERROR/);
    } finally {
      await r.close();
    }
  });
});

describe('RRL with workers: 2 (each of the 3 readers allows a third of the rate)', () => {
  it('a flood of identical queries from one source is limited about as much as with one process', async () => {
    const r = await startDns({ config: exampleConfig({ workers: 2, rrl: { responses_per_second: 10, slip: 2, window: 5 } }) });
    try {
      await r.svc.workersReady();
      assert.equal(r.svc.workerPids().length, 2);
      const sock = dgram.createSocket('udp4');
      let full = 0, slipped = 0;
      sock.on('message', (m) => { if (m[2]! & 0x02) slipped++; else full++; });
      await new Promise<void>((res) => sock.bind(0, '127.0.0.1', () => res()));
      const q = dnsPacket.encode({ id: 5, type: 'query', questions: [{ name: 'hv01.lab.example.net', type: 'A' }] });
      for (let i = 0; i < 400; i++) await new Promise<void>((res) => sock.send(q, r.port, '127.0.0.1', () => res()));
      await new Promise((res) => setTimeout(res, 300));
      sock.close();
      assert.ok(full <= 30, `full answers ${full}`);
      assert.ok(slipped >= 100 && slipped <= 220, `slipped ${slipped}`);
      assert.ok(400 - full - slipped >= 150, 'most dropped');
      // Workers count their RRL drops into the primary's registry.
      await new Promise((res) => setTimeout(res, 700));
      const d = await r.metrics.registry.getSingleMetricAsString('builderd_dropped_packets_total');
      const n = [...d.matchAll(/reason="rrl-(?:drop|slip)"\} (\d+)/g)].reduce((a, m) => a + Number(m[1]), 0);
      assert.equal(n, 400 - full, d);
    } finally {
      await r.close();
    }
  });
});

describe('dns.workers without the udpbatch addon (node:dgram handles passed over IPC)', () => {
  it('workers answer with the primary stopped, and exit when it is SIGKILLed', async () => {
    const zone = join(ROOT, 'test/fixtures/dns/files.example.net.zone');
    const c = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/dns-serve.ts'), '127.0.0.1', '0', zone], {
      env: { ...process.env, BUILDERD_DNS_BATCH: '0', DNS_WORKERS: '2' }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      let err = '';
      const port = await new Promise<number>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`dns-serve did not start: ${err}`)), 20_000);
        c.stderr!.on('data', (d: Buffer) => {
          err += d.toString();
          const m = /ready on [^:]+:(\d+)/.exec(err);
          if (m) { clearTimeout(t); resolve(Number(m[1])); }
        });
      });
      assert.match(err, /workers: \d+ \d+/);
      const kids = children(c.pid!).filter((p) => cmdline(p).includes('udp-worker'));
      assert.equal(kids.length, 2);
      c.kill('SIGSTOP');
      let out: string;
      try {
        out = await dig(port, '+norec', 'host1.files.example.net', 'A');
      } finally {
        c.kill('SIGCONT');
      }
      assert.match(out, /status: NOERROR/);
      assert.match(out, /host1\.files\.example\.net\.\s+\d+\s+IN\s+A\s+10\.98\.1\.1/);
      c.kill('SIGKILL');
      const t0 = Date.now();
      while (kids.some(alive) && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(kids.filter(alive), []);
    } finally {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
  });
});
