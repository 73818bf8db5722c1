// Zone transfers against real tools: NSD as a secondary pulls the site zone (AXFR, then IXFR after
// NOTIFY), named-checkzone accepts what we transfer, kdig checks TSIG (RFC 8945).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dgram from 'node:dgram';
import net from 'node:net';
import { answers, dig, exampleConfig, startDns, type Running } from '../../helpers/dns.js';

const run = promisify(execFile);

async function which(cmd: string): Promise<boolean> {
  try { await run('sh', ['-c', `command -v ${cmd}`]); return true; } catch { return false; }
}

/** A port free for both UDP and TCP on 127.0.0.1 (checked, then released). */
async function freePort(): Promise<number> {
  for (;;) {
    const u = dgram.createSocket('udp4');
    const port = await new Promise<number>((res) => u.bind(0, '127.0.0.1', () => res(u.address().port)));
    const ok = await new Promise<boolean>((res) => {
      const s = net.createServer();
      s.once('error', () => res(false));
      s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
    });
    u.close();
    if (ok) return port;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function soaSerial(port: number, zone: string): Promise<number | undefined> {
  try {
    const out = (await dig(port, '+short', '+norec', zone, 'SOA')).trim().split(/\s+/);
    return out.length >= 7 ? Number(out[2]) : undefined;
  } catch {
    return undefined;
  }
}

const haveNsd = await which('nsd');

describe('zone transfer to a real secondary (NSD)', { skip: haveNsd ? false : 'nsd not installed (.ci/apt.d/dns.txt)' }, () => {
  let r: Running;
  let nsd: ChildProcess | undefined;
  let nsdPort = 0;
  let dir = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'builderd-dns-nsd-'));
    nsdPort = await freePort();
    r = await startDns({ config: exampleConfig({ notify: [`127.0.0.1:${nsdPort}`], transfer_allow: ['127.0.0.0/8'] }) });
    const conf = `server:
  ip-address: 127.0.0.1@${nsdPort}
  port: ${nsdPort}
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "${dir}"
  pidfile: "${dir}/nsd.pid"
  database: ""
  xfrdfile: "${dir}/xfrd.state"
  zonelistfile: "${dir}/zone.list"
  xfrdir: "${dir}"
  logfile: "${dir}/nsd.log"
  verbosity: 2
  do-ip6: no
  rrl-ratelimit: 0
remote-control:
  control-enable: no
zone:
  name: lab.example.net
  zonefile: lab.example.net.zone
  request-xfr: 127.0.0.1@${r.port} NOKEY
  allow-notify: 127.0.0.1 NOKEY
`;
    writeFileSync(join(dir, 'nsd.conf'), conf);
    await run('nsd-checkconf', [join(dir, 'nsd.conf')]);
    nsd = spawn('nsd', ['-d', '-c', join(dir, 'nsd.conf')], { stdio: 'ignore' });
    const want = r.svc.serial('lab.example.net');
    const t0 = Date.now();
    while (Date.now() - t0 < 15_000) {
      if ((await soaSerial(nsdPort, 'lab.example.net')) === want) break;
      await sleep(100);
    }
  });

  after(async () => {
    if (nsd?.pid) {
      nsd.kill('SIGTERM');
      await new Promise((res) => { nsd!.once('exit', res); setTimeout(res, 3000); });
    }
    await r?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('NSD pulls the site zone by AXFR and serves our serial', async () => {
    const serial = await soaSerial(nsdPort, 'lab.example.net');
    assert.equal(serial, r.svc.serial('lab.example.net'), `nsd log:\n${safeRead(join(dir, 'nsd.log'))}`);
  });

  it('NSD answers exactly as builderd for every name and type in the zone', async () => {
    const axfr = answers(await dig(r.port, '+noall', '+answer', 'lab.example.net', 'AXFR'));
    const pairs = new Set(axfr.map((l) => { const f = l.split(' '); return `${f[0]} ${f[2]}`; }));
    pairs.add('nothere.lab.example.net. A');
    pairs.add('hv01.lab.example.net. TXT');
    assert.ok(pairs.size >= 8);
    for (const p of pairs) {
      const [name, type] = p.split(' ') as [string, string];
      const ours = await dig(r.port, '+norec', name, type);
      const theirs = await dig(nsdPort, '+norec', name, type);
      const status = (s: string): string => /status: (\w+)/.exec(s)?.[1] ?? '?';
      const aa = (s: string): boolean => /flags: [^;]*\baa\b/.test(s);
      assert.equal(status(ours), status(theirs), `${p} status`);
      assert.equal(aa(ours), aa(theirs), `${p} AA`);
      // The answer records inside the site zone (NSD holds only this zone, so it does not follow a
      // CNAME into the mgmt zone, which builderd also serves).
      const inZone = async (port: number): Promise<string[]> => (answers(await dig(port, '+norec', '+noall', '+answer', name, type)))
        .filter((l) => l.split(' ')[0]!.endsWith('lab.example.net.')).sort();
      assert.deepEqual(await inZone(r.port), await inZone(nsdPort), `${p} answer`);
      const auth = async (port: number): Promise<string[]> => answers(await dig(port, '+norec', '+noall', '+authority', name, type)).sort();
      if (status(ours) !== 'NOERROR' || /ANSWER: 0,/.test(ours)) assert.deepEqual(await auth(r.port), await auth(nsdPort), `${p} authority`);
    }
  });

  it('named-checkzone accepts the zone builderd transfers', async () => {
    const out = await dig(r.port, '+nocmd', '+nostats', '+nocomments', 'lab.example.net', 'AXFR');
    const file = join(dir, 'axfr.zone');
    writeFileSync(file, out);
    const res = await run('named-checkzone', ['lab.example.net', file]);
    assert.match(res.stdout, /OK/);
  });

  it('a new lease: serial bumped, NOTIFY brings NSD to the new serial within 2 s (by IXFR)', async () => {
    const before = r.svc.serial('lab.example.net')!;
    await r.store.setDynamic('10.99.0.150', [
      { name: 'dyn-150.lab.example.net', type: 'A', data: '10.99.0.150', ttl: 300, owner: '10.99.0.150' },
      { name: '150.0.99.10.in-addr.arpa', type: 'PTR', data: 'dyn-150.lab.example.net', ttl: 300, owner: '10.99.0.150' },
      // clashes with an inventory name: the inventory wins
      { name: 'hv01.lab.example.net', type: 'A', data: '10.99.0.151', ttl: 300, owner: '10.99.0.150' },
    ]);
    const t0 = Date.now();
    await r.svc.refreshDynamic();
    const after = r.svc.serial('lab.example.net')!;
    assert.ok(after > before, `serial ${before} → ${after}`);
    let got: number | undefined;
    while (Date.now() - t0 < 2000) {
      got = await soaSerial(nsdPort, 'lab.example.net');
      if (got === after) break;
      await sleep(25);
    }
    const elapsed = Date.now() - t0;
    assert.equal(got, after, `NSD at ${got} after ${elapsed} ms; log:\n${safeRead(join(dir, 'nsd.log'))}`);
    assert.ok(elapsed < 2000);
    assert.deepEqual(answers(await dig(nsdPort, '+noall', '+answer', 'dyn-150.lab.example.net', 'A')), ['dyn-150.lab.example.net. IN A 10.99.0.150']);
    assert.deepEqual(answers(await dig(nsdPort, '+noall', '+answer', 'hv01.lab.example.net', 'A')), ['hv01.lab.example.net. IN A 10.99.0.10']);
    assert.deepEqual(answers(await dig(r.port, '+noall', '+answer', '150.0.99.10.in-addr.arpa', 'PTR')), ['150.0.99.10.in-addr.arpa. IN PTR dyn-150.lab.example.net.']);
    // RFC 1995: an IXFR from the old serial is incremental (SOA new, SOA old, SOA new + added, SOA new)
    const ixfr = answers(await dig(r.port, '+noall', '+answer', `IXFR=${before}`, 'lab.example.net'));
    assert.equal(ixfr.length, 5, ixfr.join('\n'));
    assert.match(ixfr[1]!, new RegExp(`SOA .* ${before} `));
    assert.match(ixfr[3]!, /dyn-150\.lab\.example\.net\. IN A 10\.99\.0\.150/);
    // an unknown old serial falls back to AXFR (RFC 1995 §4)
    const fallback = answers(await dig(r.port, '+noall', '+answer', `IXFR=${before - 1000}`, 'lab.example.net'));
    assert.ok(fallback.length > 5 && fallback.some((l) => l.startsWith('core-rt01.')), fallback.join('\n'));
    // up to date: the SOA alone
    assert.equal(answers(await dig(r.port, '+noall', '+answer', `IXFR=${after}`, 'lab.example.net')).length, 1);
  });

  it('an unchanged rebuild keeps the serial (content hash)', async () => {
    const s = r.svc.serial('lab.example.net');
    await r.svc.refreshDynamic();
    assert.equal(r.svc.serial('lab.example.net'), s);
  });
});

function safeRead(f: string): string {
  try { return readFileSync(f, 'utf8').split('\n').slice(-30).join('\n'); } catch { return '(none)'; }
}

/** kdig's stdout and stderr together, whatever its exit code. */
async function kdigAll(...args: string[]): Promise<string> {
  return run('kdig', ['+time=2', '+retry=0', ...args], { timeout: 10_000 })
    .then((x) => x.stdout + x.stderr, (e: { stdout?: string; stderr?: string }) => (e.stdout ?? '') + (e.stderr ?? ''));
}

describe('transfer ACL and TSIG (RFC 8945, hmac-sha256) with kdig', () => {
  const secret = Buffer.from('builderd-test-secret-0123456789ab').toString('base64');
  let r: Running;
  before(async () => {
    r = await startDns({ config: exampleConfig({ transfer_allow: ['127.0.0.1/32'], tsig_keys: [{ name: 'xfr-key', algorithm: 'hmac-sha256', secret }] }) });
  });
  after(async () => { await r.close(); });

  it('a TSIG-signed AXFR works and kdig verifies every signed message', async () => {
    const out = await kdigAll(`@127.0.0.1`, '-p', String(r.port), '-y', `hmac-sha256:xfr-key:${secret}`, 'lab.example.net', 'AXFR');
    assert.match(out, /hv01\.lab\.example\.net\.\s+300\s+IN\s+A\s+10\.99\.0\.10/);
    assert.match(out, /xfr-key\.\s+0\s+ANY\s+TSIG\s+hmac-sha256\./);
    assert.doesNotMatch(out, /;; (ERROR|WARNING)/);
  });

  it('an unsigned AXFR is refused when keys are set; a wrong key gets NOTAUTH/BADKEY; a bad MAC BADSIG', async () => {
    assert.match(await dig(r.port, 'lab.example.net', 'AXFR'), /Transfer failed|REFUSED/);
    const other = Buffer.from('some-other-secret').toString('base64');
    const badKey = await kdigAll('@127.0.0.1', '-p', String(r.port), '-y', `hmac-sha256:nokey:${other}`, 'lab.example.net', 'AXFR');
    assert.match(badKey, /BADKEY/);
    const badSig = await kdigAll('@127.0.0.1', '-p', String(r.port), '-y', `hmac-sha256:xfr-key:${other}`, 'lab.example.net', 'AXFR');
    assert.match(badSig, /BADSIG/);
  });

  it('a signed ordinary query gets a signed answer', async () => {
    const out = await kdigAll('@127.0.0.1', '-p', String(r.port), '-y', `hmac-sha256:xfr-key:${secret}`, 'hv01.lab.example.net', 'A');
    assert.match(out, /10\.99\.0\.10/);
    assert.match(out, /TSIG PSEUDOSECTION/);
    assert.doesNotMatch(out, /;; (ERROR|WARNING)/);
    // the same over TCP
    assert.match(await kdigAll('@127.0.0.1', '-p', String(r.port), '+tcp', '-y', `hmac-sha256:xfr-key:${secret}`, 'hv01.lab.example.net', 'A'), /10\.99\.0\.10/);
  });

  it('AXFR from outside transfer_allow is refused, even signed', async () => {
    const out = await kdigAll('@127.0.0.1', '-p', String(r.port), '-b', '127.0.0.2', '-y', `hmac-sha256:xfr-key:${secret}`, 'lab.example.net', 'AXFR');
    assert.match(out, /REFUSED/);
  });
});
