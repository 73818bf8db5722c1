import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { spawn, spawnSync, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, mkdtempSync, rmSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';

const execFileP = promisify(execFile);
import { loadConfig } from '../../src/config/load.js';
import { buildInventory } from '../../src/inventory/index.js';
import { createMemoryStore } from '../../src/store/memory/index.js';
import { createMetrics } from '../../src/lib/metrics.js';
import type { AuthorityState, Store } from '../../src/store/ports.js';
import {
  collectStatusSnapshot, createOpsHandler, renderStatusPage, escapeHtml, poolUsage, lastBootFrom, setPoolGauges,
  type StatusSnapshot, type HealthReport, type ServiceStatus,
} from '../../src/http/status/index.js';

/*
 * The status page and the ops handler, served on port 0 and read by curl and by headless Chromium
 * (Debian's chromium, --headless --no-sandbox): the page shows the host and the lease it got.
 */

const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);
const clock = { now: () => T0, mono: () => 0 };
const config = loadConfig('config/example.yaml').config;
const inventory = buildInventory(config);
const HV01 = '52:54:00:aa:00:10';
const DYN = '52:54:00:ee:00:01';
const auth: AuthorityState = { mode: 'bootstrap', epoch: 3, since: T0 - 3_600_000, by: 'alice', pending: null };

let store: Store;
let server: Server;
let base = '';
let tmp = '';
let services: ServiceStatus[] = [];
let health: HealthReport = { ok: true, services: [] };
const metrics = createMetrics(true);
const errors: string[] = [];

async function seed(s: Store): Promise<void> {
  // What the DHCP, TFTP and HTTP services record for a host's boot (store ports only).
  await s.leases.put([
    { ip: '10.99.0.10', mac: HV01, clientId: null, hostname: 'hv01', state: 'bound', subnet: '10.99.0.0/24', start: T0 - 120_000, expires: T0 + 3_480_000, source: 'dhcp' },
    { ip: '10.99.0.150', mac: DYN, clientId: '01525400ee0001', hostname: '<script>alert(1)</script>', state: 'bound', subnet: '10.99.0.0/24', start: T0 - 60_000, expires: T0 + 3_540_000, source: 'dhcp' },
    { ip: '10.99.0.151', mac: '52:54:00:ee:00:02', clientId: null, hostname: null, state: 'offered', subnet: '10.99.0.0/24', start: T0 - 5_000, expires: T0 + 25_000, source: 'dhcp' },
    { ip: '10.99.0.152', mac: '52:54:00:ee:00:03', clientId: null, hostname: null, state: 'bound', subnet: '10.99.0.0/24', start: T0 - 7_200_000, expires: T0 - 3_600_000, source: 'dhcp' },
  ]);
  await s.bootEvents.record([
    { at: T0 - 300_000, mac: HV01, kind: 'dhcp.ack', ip: '10.99.0.10' },
    { at: T0 - 299_000, mac: HV01, kind: 'tftp.file', file: 'old.efi', bytes: 1 },
    { at: T0 - 121_000, mac: HV01, kind: 'dhcp.offer', ip: '10.99.0.10', file: 'grubx64.efi' },
    { at: T0 - 120_000, mac: HV01, kind: 'dhcp.ack', ip: '10.99.0.10', file: 'grubx64.efi' },
    { at: T0 - 118_000, mac: HV01, kind: 'tftp.file', ip: '10.99.0.10', file: 'grubx64.efi', bytes: 2_527_096, durationMs: 900 },
    { at: T0 - 116_000, mac: HV01, kind: 'tftp.not-found', ip: '10.99.0.10', file: 'grub.cfg-01-52-54-00-aa-00-10', bytes: 0 },
    { at: T0 - 115_000, mac: HV01, kind: 'tftp.file', ip: '10.99.0.10', file: 'grub.cfg-52:54:00:aa:00:10', bytes: 611 },
    { at: T0 - 90_000, mac: HV01, kind: 'http.file', ip: '10.99.0.10', file: '/ks/hv01.ks', bytes: 4_210 },
  ]);
  await s.journal.append({ at: T0 - 7_200_000, kind: 'authority.init', operator: 'root', host: 'builder', detail: { mode: 'bootstrap' } });
  await s.journal.append({ at: T0 - 3_600_000, kind: 'authority.revert', operator: 'alice', host: 'builder', detail: { reason: 'router <down> & "out"' } });
}

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'ops-status-'));
  store = createMemoryStore();
  await seed(store);
  metrics.dnsQueries.inc({ rcode: 'NOERROR', qtype: 'A', transport: 'udp' }, 3);
  services = [
    { name: 'dns', ok: true, addresses: ['127.0.0.1:10053/udp', '127.0.0.1:10053/tcp'] },
    { name: 'dhcp', ok: true, detail: '1 socket', addresses: ['0.0.0.0:10067/udp'] },
    { name: 'tftp', ok: true, addresses: ['127.0.0.1:10069/udp'] },
  ];
  const snapshot = () => collectStatusSnapshot({
    version: '0.1.0', clock, authority: () => auth, subnets: () => config.dhcp.subnets, inventory: () => inventory, store, services: () => services,
  });
  const handler = createOpsHandler({
    registry: metrics.registry, snapshot, health: () => health, onError: (e, p) => errors.push(`${p}: ${e.message}`),
    onScrape: async () => setPoolGauges(metrics.dhcpLeases, poolUsage(config.dhcp.subnets, await store.leases.all(), clock.now())),
  });
  server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise<void>((r) => server?.close(() => r()));
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** curl in a child process, awaited: a spawnSync would block this event loop and so the server under test. */
async function curl(path: string, ...args: string[]): Promise<{ code: number; body: string; headers: string }> {
  const hdr = join(tmp, `headers-${Math.random().toString(36).slice(2)}.txt`);
  const r = await execFileP('curl', ['-sS', '--max-time', '20', '-D', hdr, '-o', '-', '-w', '\n%{http_code}', ...args, `${base}${path}`], { encoding: 'utf8' });
  const i = r.stdout.lastIndexOf('\n');
  return { code: Number(r.stdout.slice(i + 1)), body: r.stdout.slice(0, i), headers: readFileSync(hdr, 'utf8') };
}

test('escapeHtml escapes the five HTML specials', () => {
  assert.equal(escapeHtml(`<a href="x" title='y'>&</a>`), '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  assert.equal(escapeHtml(undefined), '');
});

test('poolUsage counts offered and bound, unexpired leases inside the pool only', async () => {
  const pools = poolUsage(config.dhcp.subnets, await store.leases.all(), T0);
  assert.deepEqual(pools, [{ subnet: '10.99.0.0/24', pool: '10.99.0.100-10.99.0.199', size: 100, used: 2, free: 98 }]);
});

test('lastBootFrom starts at the last ACK and lists the files fetched after it', async () => {
  const leases = new Map((await store.leases.all()).map((l) => [l.ip, l]));
  const lb = lastBootFrom(await store.bootEvents.forMac(HV01), leases);
  assert.ok(lb);
  assert.equal(lb.at, T0 - 120_000);
  assert.deepEqual(lb.lease, { ip: '10.99.0.10', expires: T0 + 3_480_000 });
  assert.deepEqual(lb.files.map((f) => `${f.proto}:${f.file}:${f.result}`),
    ['tftp:grubx64.efi:ok', 'tftp:grub.cfg-01-52-54-00-aa-00-10:not-found', 'tftp:grub.cfg-52:54:00:aa:00:10:ok', 'http:/ks/hv01.ks:ok']);
  assert.equal(lastBootFrom([], leases), undefined);
});

test('renderStatusPage escapes every value and needs no script or external asset', async () => {
  const s: StatusSnapshot = await collectStatusSnapshot({ version: '0.1.0', clock, authority: () => auth, subnets: () => config.dhcp.subnets, inventory: () => inventory, store, services: () => services });
  s.by = '<img src=x onerror=alert(1)>';
  const page = renderStatusPage(s);
  assert.doesNotMatch(page, /<script/i);
  assert.doesNotMatch(page, /<img/i);
  assert.match(page, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  assert.match(page, /router &lt;down&gt; &amp; \\&quot;out\\&quot;/);
  assert.doesNotMatch(page, /(src|href)="(https?:)?\/\//, 'no external asset');
  assert.match(page, /<a href="\/status" id="refresh">Refresh<\/a>/);
  // A bound lease past its expiry is listed as expired.
  assert.match(page, /<td>10\.99\.0\.152<\/td><td><code>52:54:00:ee:00:03<\/code><\/td><td><\/td><td>expired<\/td>/);
});

test('ops handler over HTTP (curl): /metrics, /healthz 200/503, /status, /status.json, 404, 405, HEAD', async () => {
  const m = await curl('/metrics');
  assert.equal(m.code, 200);
  assert.match(m.headers, /content-type: text\/plain; version=0\.0\.4/i);
  assert.match(m.body, /^builderd_dns_queries_total\{rcode="NOERROR",qtype="A",transport="udp"\} 3$/m);
  assert.match(m.body, /^process_cpu_user_seconds_total /m);
  // Pool use is computed at scrape time (onScrape → setPoolGauges).
  assert.match(m.body, /^builderd_dhcp_leases\{subnet="10\.99\.0\.0\/24",state="used"\} 2$/m);
  assert.match(m.body, /^builderd_dhcp_leases\{subnet="10\.99\.0\.0\/24",state="free"\} 98$/m);

  health = { ok: true, services: [{ name: 'dns', ok: true }] };
  let h = await curl('/healthz');
  assert.equal(h.code, 200);
  assert.deepEqual(JSON.parse(h.body), health);
  health = { ok: false, services: [{ name: 'dns', ok: true }, { name: 'dhcp', ok: false, detail: 'socket closed' }] };
  h = await curl('/healthz');
  assert.equal(h.code, 503);
  assert.equal(JSON.parse(h.body).services[1].detail, 'socket closed');
  health = { ok: true, services: [] };

  const st = await curl('/status?x=1');
  assert.equal(st.code, 200);
  assert.match(st.headers, /content-type: text\/html; charset=utf-8/i);
  assert.match(st.headers, /content-security-policy: default-src 'none'/i);
  assert.match(st.body, /hv01\.lab\.example\.net/);
  assert.equal((await curl('/')).code, 200);
  const js = await curl('/status.json');
  assert.equal(js.code, 200);
  assert.equal((JSON.parse(js.body) as StatusSnapshot).epoch, 3);
  assert.equal((await curl('/nope')).code, 404);
  assert.equal((await curl('/status', '-X', 'POST')).code, 405);
  // HEAD: headers with the GET's length, no body (curl --head prints only the header block).
  const head = await curl('/status', '--head');
  assert.equal(head.code, 200);
  assert.match(head.headers, /content-length: \d{4,}/i);
  assert.doesNotMatch(head.body, /<html/);
  assert.deepEqual(errors, []);
});

test('a failing snapshot answers 500 and is reported, the server keeps serving', async () => {
  const failing = createServer(createOpsHandler({
    registry: metrics.registry, health: () => health,
    snapshot: () => Promise.reject(new Error('store closed')), onError: (e, p) => errors.push(`${p}: ${e.message}`),
  }));
  await new Promise<void>((r) => failing.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(failing.address() as AddressInfo).port}`;
    const r1 = await execFileP('curl', ['-s', '--max-time', '20', '-o', '/dev/null', '-w', '%{http_code}', `${url}/status`], { encoding: 'utf8' });
    assert.equal(r1.stdout, '500');
    const r2 = await execFileP('curl', ['-s', '--max-time', '20', '-o', '/dev/null', '-w', '%{http_code}', `${url}/metrics`], { encoding: 'utf8' });
    assert.equal(r2.stdout, '200');
    assert.deepEqual(errors.splice(0), ['/status: store closed']);
  } finally {
    await new Promise<void>((r) => failing.close(() => r()));
  }
});

const chromium = ['chromium', '/usr/bin/chromium'].find((c) => spawnSync(c, ['--version'], { encoding: 'utf8' }).status === 0);

/** Run Debian's chromium headless on a URL with the flags CI needs (root, no GPU, no network chatter). */
function runChromium(url: string, extra: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const profile = mkdtempSync(join(tmp, 'chromium-'));
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', `--user-data-dir=${profile}`, '--window-size=1280,1600', ...extra, url];
  return new Promise((resolveRun) => {
    const p = spawn(chromium!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => p.kill('SIGKILL'), 90_000);
    p.once('exit', (code) => { clearTimeout(timer); resolveRun({ code, stdout, stderr }); });
  });
}

test('headless Chromium renders the page: host and lease found, screenshot kept in test-output/', { skip: chromium ? false : 'needs chromium (apt-get install chromium; .ci/apt.d/ops.txt)', timeout: 200_000 }, async () => {
  const dom = await runChromium(`${base}/status`, ['--dump-dom']);
  assert.equal(dom.code, 0, dom.stderr.slice(-2000));
  const text = dom.stdout;
  // The inventory host with its boot journey, and the lease it holds.
  assert.match(text, /<tr id="host-525400aa0010">[\s\S]*?hv01[\s\S]*?52:54:00:aa:00:10[\s\S]*?lease <b>10\.99\.0\.10<\/b>[\s\S]*?grubx64\.efi[\s\S]*?\/ks\/hv01\.ks[\s\S]*?<\/tr>/);
  assert.match(text, /<section id="leases">[\s\S]*?<td>10\.99\.0\.10<\/td><td><code>52:54:00:aa:00:10<\/code><\/td><td>hv01<\/td><td>bound<\/td>/);
  assert.match(text, /<section id="leases">[\s\S]*?<td>10\.99\.0\.150<\/td><td><code>52:54:00:ee:00:01<\/code><\/td><td>&lt;script&gt;alert\(1\)&lt;\/script&gt;<\/td>/);
  assert.match(text, /id="mode">bootstrap<\/span> epoch <b id="epoch">3<\/b>/);
  assert.match(text, /<td class="num">100<\/td><td class="num">2<\/td><td class="num">98<\/td>/);
  assert.match(text, /authority\.revert/);

  const outDir = resolve('test-output');
  mkdirSync(outDir, { recursive: true });
  const png = join(outDir, 'status-page.png');
  rmSync(png, { force: true });
  const shot = await runChromium(`${base}/status`, [`--screenshot=${png}`]);
  assert.equal(shot.code, 0, shot.stderr.slice(-2000));
  const size = statSync(png).size;
  assert.ok(size > 10_000, `screenshot ${png} is ${size} bytes`);
  const sig = readFileSync(png).subarray(0, 8).toString('hex');
  assert.equal(sig, '89504e470d0a1a0a', 'a PNG file');
  console.log(`# screenshot: ${png} (${size} bytes)`);
});
