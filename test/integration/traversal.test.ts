// Path traversal over TFTP and HTTP against a secret file beside the artifacts root: none leaks.
// Both servers use src/lib/confine.ts; payloads: encoded, double-encoded, absolute, symlinked, NUL,
// backslash, overlong UTF-8, Unicode look-alikes...
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, symlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createTftpServer, type TftpServer } from '../../src/tftp/server.js';
import { createHttpServer, type HttpServer } from '../../src/http/server.js';
import { createMetrics, type Metrics } from '../../src/lib/metrics.js';
import { silentLogger } from '../../src/lib/logger.js';
import { systemClock } from '../../src/lib/clock.js';
import { testConfig, tempDir } from '../helpers/artifacts.js';
import { rawGet } from '../helpers/tftp-client.js';
import { run, have } from '../helpers/proc.js';

const SECRET = 'BTF-SECRET-7f3a9c-do-not-serve';
const tmp = tempDir('btf-trav-');
const root = join(tmp.dir, 'root');
let tftp: TftpServer;
let http: HttpServer;
let tport: number;
let hport: number;
let metrics: Metrics;

before(async () => {
  mkdirSync(join(root, 'sub'), { recursive: true });
  writeFileSync(join(tmp.dir, 'secret.txt'), SECRET + '\n');
  writeFileSync(join(root, 'ok.txt'), 'public\n');
  writeFileSync(join(root, 'sub', 'inner.txt'), 'inner\n');
  symlinkSync(join(tmp.dir, 'secret.txt'), join(root, 'out-link'));
  symlinkSync('../secret.txt', join(root, 'rel-out-link'));
  symlinkSync(tmp.dir, join(root, 'dir-out'));
  symlinkSync('..', join(root, 'sub', 'up'));
  const config = testConfig();
  metrics = createMetrics();
  tftp = await createTftpServer({ config, root, logger: silentLogger(), metrics, clock: systemClock });
  await tftp.listen();
  http = await createHttpServer({ config, root, logger: silentLogger(), metrics });
  await http.listen();
  tport = tftp.addresses()[0]!.port;
  hport = http.addresses()[0]!.port;
});

after(async () => {
  await tftp?.close();
  await http?.close();
  tmp.remove();
});

/** Payloads for both protocols (TFTP sends them literally; HTTP sends them as the request target). */
const common = [
  '../secret.txt', '../../secret.txt', '/../secret.txt', 'a/../../secret.txt', 'sub/../../secret.txt', './../secret.txt',
  '/./../secret.txt', 'sub/./../../secret.txt', `${'../'.repeat(40)}secret.txt`, '..', '../', 'sub/up/secret.txt',
  'sub/up/../secret.txt', 'out-link', 'rel-out-link', 'dir-out/secret.txt', 'dir-out/root/../secret.txt',
  'sub/up/up/secret.txt', '..\\secret.txt', '\\..\\secret.txt', 'sub\\..\\..\\secret.txt', '..;/secret.txt',
  '.../secret.txt', '....//secret.txt', `${tmp.dir}/secret.txt`, `/${tmp.dir}/secret.txt`, '/etc/passwd',
  '../../../../../../etc/passwd', '\u2025/secret.txt', '\uff0e\uff0e/secret.txt', '..\u2215secret.txt', 'file:///etc/passwd',
];
const httpOnly = [
  '/%2e%2e/secret.txt', '/%2E%2E/secret.txt', '/%2e%2e%2fsecret.txt', '/..%2fsecret.txt', '/..%2Fsecret.txt',
  '/.%2e/secret.txt', '/%2e./secret.txt', '/sub/%2e%2e/%2e%2e/secret.txt', '/%252e%252e/secret.txt', '/%252e%252e%252fsecret.txt',
  '/..%252fsecret.txt', '/..%5csecret.txt', '/%5c..%5csecret.txt', '/%c0%ae%c0%ae/secret.txt', '/%c0%af..%c0%afsecret.txt',
  '/%e0%80%ae%e0%80%ae/secret.txt', '/ok.txt%00../secret.txt', '/%00/../secret.txt', '/out-link%00', '/%2fetc%2fpasswd',
  '/dir-out%2fsecret.txt', '/sub%2fup%2fsecret.txt', '/%2e%2e%5c%2e%2e%5csecret.txt', '//../secret.txt',
  '/ok.txt/../../secret.txt', '/%u002e%u002e/secret.txt',
];

function rawHttp(target: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(hport, '127.0.0.1');
    const chunks: Buffer[] = [];
    s.on('connect', () => s.write(Buffer.concat([Buffer.from('GET '), Buffer.from(target, 'utf8'), Buffer.from(' HTTP/1.1\r\nHost: pxe\r\nConnection: close\r\n\r\n')])));
    s.on('data', (c) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    s.on('error', reject);
    s.setTimeout(5000, () => { s.destroy(); resolve(Buffer.concat(chunks).toString('latin1')); });
  });
}

test('control: the legitimate files are served over both protocols', async () => {
  assert.equal((await rawGet(tport, 'ok.txt')).data?.toString(), 'public\n');
  assert.equal((await rawGet(tport, 'sub/up/ok.txt')).data?.toString(), 'public\n', 'a symlink that stays inside is fine');
  assert.match(await rawHttp('/ok.txt'), /^HTTP\/1\.1 200[\s\S]*public\n$/);
});

test(`TFTP: ${common.length + 6} traversal payloads, none leaks`, async () => {
  const payloads: (string | Buffer)[] = [...common,
    Buffer.from('ok.txt\0../secret.txt'), Buffer.from('../secret.txt\0'), Buffer.from('\0../secret.txt'),
    '%2e%2e/secret.txt', '..%2fsecret.txt', 'out-link/'];
  let refusedOrMissing = 0;
  for (const p of payloads) {
    const r = await rawGet(tport, p, { timeoutMs: 1500 });
    const got = r.data?.toString('latin1') ?? '';
    assert.ok(!got.includes(SECRET) && !got.includes('root:x:0'), `leak via ${JSON.stringify(p.toString())}`);
    // Refused (error 2), missing (error 1), or malformed and dropped without a reply: never DATA.
    if (r.error) assert.ok([1, 2, 4].includes(r.error.code), `${JSON.stringify(p.toString())}: ${r.error.code}`);
    else assert.equal(r.data, undefined, `DATA for ${JSON.stringify(p.toString())}`);
    refusedOrMissing++;
  }
  assert.ok(refusedOrMissing >= 30);
  const dropped = (await metrics.dropped.get()).values.filter((v) => v.labels.proto === 'tftp' && String(v.labels.reason).startsWith('path-'));
  assert.ok(dropped.reduce((n, v) => n + v.value, 0) >= 15, 'refusals are counted');
});

test(`HTTP: ${common.length + httpOnly.length} traversal payloads (raw request targets), none leaks, no redirect`, async () => {
  const targets = [...common.map((p) => (p.startsWith('/') ? p : '/' + p)), ...httpOnly];
  assert.ok(targets.length >= 30);
  for (const t of targets) {
    const resp = await rawHttp(t);
    assert.ok(!resp.includes(SECRET) && !resp.includes('root:x:0'), `leak via ${t}`);
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(resp)?.[1]);
    assert.ok(status >= 400 && status < 500, `${t} → ${status}`);
    assert.doesNotMatch(resp, /\r\nLocation:/i, `redirect for ${t}`);
  }
  // Absolute-form target.
  const abs = await rawHttp('http://127.0.0.1/../secret.txt');
  assert.match(abs, /^HTTP\/1\.1 400/);
});

test('HTTP: curl --path-as-is with traversal payloads gets 4xx and no secret', async (t) => {
  if (!(await have('curl'))) return t.skip('curl not installed');
  for (const p of ['/../secret.txt', '/%2e%2e/secret.txt', '/out-link', '/dir-out/secret.txt', '/..%5csecret.txt', '/%252e%252e/secret.txt']) {
    const r = await run('curl', ['-s', '--path-as-is', '-w', '\n%{http_code}', `http://127.0.0.1:${hport}${p}`]);
    assert.ok(!r.stdout.includes(SECRET), p);
    assert.match(r.stdout.trim().split('\n').at(-1)!, /^4\d\d$/, p);
  }
});
