// TFTP served to real clients: curl (tftp://, blksize 1468), tftp-hpa (RFC 1350 lockstep, 512-byte
// blocks: 100 MB needs block-number rollover), atftp (RFC 7440 windowsize 8). Plus the server's
// own rules: RFC 2347 options, read-only (WRQ → error 2), caps, files changing under a transfer.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, truncateSync, unlinkSync, statSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTftpServer, type TftpServer } from '../../src/tftp/server.js';
import { createMetrics, type Metrics } from '../../src/lib/metrics.js';
import { silentLogger } from '../../src/lib/logger.js';
import { systemClock } from '../../src/lib/clock.js';
import { buildInventory } from '../../src/inventory/index.js';
import { createBootResolver, tftpDynamic } from '../../src/boot/index.js';
import type { BootEvent } from '../../src/lib/boot-event.js';
import { testConfig, tempDir } from '../helpers/artifacts.js';
import { run, sha256File, have } from '../helpers/proc.js';
import { rawGet } from '../helpers/tftp-client.js';

const MB = 1_000_000;
const tmp = tempDir('btf-tftp-');
const root = join(tmp.dir, 'root');
const out = join(tmp.dir, 'out');
const sha: Record<string, string> = {};
let server: TftpServer;
let port: number;
let metrics: Metrics;
const events: BootEvent[] = [];
const missing: string[] = [];

async function start(over: Parameters<typeof testConfig>[0] = {}, withBoot = false): Promise<{ server: TftpServer; port: number; metrics: Metrics }> {
  const config = testConfig({ max_per_client: 256, ...over });
  const m = createMetrics();
  let dynamic;
  if (withBoot) {
    const inv = buildInventory(config);
    dynamic = tftpDynamic(createBootResolver({ config, reservations: inv.reservations, boot: inv.boot, logger: silentLogger() }));
  }
  const s = await createTftpServer({ config, root, logger: silentLogger(), metrics: m, clock: systemClock, onBootEvent: (e) => events.push(e), ...(dynamic ? { dynamic } : {}) });
  await s.listen();
  return { server: s, port: s.addresses()[0]!.port, metrics: m };
}

async function droppedCount(m: Metrics, reason: string): Promise<number> {
  const v = (await m.dropped.get()).values.find((x) => x.labels.reason === reason);
  return v?.value ?? 0;
}

before(async () => {
  for (const c of ['curl', 'tftp', 'atftp']) if (!(await have(c))) missing.push(c);
  await run('mkdir', ['-p', root, out]);
  writeFileSync(join(root, 'small.bin'), Buffer.from('builderd small file\n'.repeat(30)));
  for (const [name, size] of [['40mb.bin', 40 * MB], ['100mb.bin', 100 * MB]] as const) {
    const r = await run('sh', ['-c', `head -c ${size} /dev/urandom > '${join(root, name)}'`]);
    assert.equal(r.code, 0, r.stderr);
  }
  for (const n of ['small.bin', '40mb.bin', '100mb.bin']) sha[n] = await sha256File(join(root, n));
  ({ server, port, metrics } = await start({ max_windowsize: 64 }, true));
});

after(async () => {
  await server?.close();
  tmp.remove();
});

const clients: Record<string, (file: string, dest: string) => [string, string[]]> = {
  'curl --tftp-blksize 1468': (f, d) => ['curl', ['-sS', '--tftp-blksize', '1468', '-o', d, `tftp://127.0.0.1:${port}/${f}`]],
  'tftp-hpa (512-byte lockstep)': (f, d) => ['tftp', ['-m', 'binary', '127.0.0.1', String(port), '-c', 'get', f, d]],
  'atftp windowsize 8': (f, d) => ['atftp', ['--option', 'windowsize 8', '-g', '-r', f, '-l', d, '127.0.0.1', String(port)]],
};

describe('real clients fetch small, 40 MB and 100 MB files, sha256 equal', () => {
  for (const [label, argv] of Object.entries(clients)) {
    for (const file of ['small.bin', '40mb.bin', '100mb.bin']) {
      test(`${label}: ${file}`, async (t) => {
        const bin = argv('x', 'y')[0];
        if (missing.includes(bin === 'tftp' ? 'tftp' : bin)) return t.skip(`${bin} not installed (see .ci/apt.d/tftp.txt)`);
        const dest = join(out, `${label.split(' ')[0]}-${file}`);
        const [cmd, args] = argv(file, dest);
        const t0 = process.hrtime.bigint();
        const r = await run(cmd, args, 180_000);
        const s = Number(process.hrtime.bigint() - t0) / 1e9;
        assert.equal(r.code, 0, `${cmd} failed: ${r.stderr}`);
        assert.equal(await sha256File(dest), sha[file]);
        const size = statSync(dest).size;
        t.diagnostic(`${(size / MB).toFixed(1)} MB in ${s.toFixed(2)} s = ${(size / MB / s).toFixed(1)} MB/s`);
        unlinkSync(dest);
      });
    }
  }
});

test('200 concurrent curl downloads all complete with correct content', async (t) => {
  if (missing.includes('curl')) return t.skip('curl not installed');
  const files: string[] = [];
  for (let i = 0; i < 8; i++) {
    const name = `c${i}.bin`;
    writeFileSync(join(root, name), Buffer.alloc(200_000 + i * 7919, i + 1));
    sha[name] = await sha256File(join(root, name));
    files.push(name);
  }
  const t0 = Date.now();
  const results = await Promise.all(Array.from({ length: 200 }, async (_, i) => {
    const f = files[i % files.length]!;
    const dest = join(out, `conc-${i}`);
    const r = await run('curl', ['-sS', '--tftp-blksize', '1468', '-o', dest, `tftp://127.0.0.1:${port}/${f}`], 120_000);
    return { i, code: r.code, err: r.stderr, ok: r.code === 0 && (await sha256File(dest)) === sha[f] };
  }));
  const bad = results.filter((r) => !r.ok);
  t.diagnostic(`200 transfers in ${Date.now() - t0} ms`);
  assert.deepEqual(bad, []);
  assert.equal(server.active(), 0);
});

test('RFC 2347: option names case-insensitive; blksize capped by config; tsize answered', async () => {
  const r = await rawGet(port, 'small.bin', { options: [['BLKSIZE', '65464'], ['TSize', '0'], ['timeout', '2']] });
  assert.deepEqual(r.oack && Object.fromEntries(r.oack), { blksize: '1468', tsize: String(statSync(join(root, 'small.bin')).size), timeout: '2' });
  assert.equal(await sha256(r.data!), sha['small.bin']);
});

test('the transfer port is a new TID on the address the request arrived on', async () => {
  const s = await start({ listen: ['127.0.0.2:0'] });
  try {
    const r = await rawGet(s.port, 'small.bin', { host: '127.0.0.2' });
    assert.deepEqual([...r.from], ['127.0.0.2']);
    assert.equal(r.tids.size, 1);
    assert.ok(!r.tids.has(s.port));
  } finally { await s.server.close(); }
});

test('read-only: WRQ refused with error 2 (raw and tftp-hpa put); nothing written', async (t) => {
  const before = await droppedCount(metrics, 'wrq');
  const r = await rawGet(port, 'upload.bin', { opcode: 2 });
  assert.equal(r.error?.code, 2);
  if (!missing.includes('tftp')) {
    writeFileSync(join(out, 'up.txt'), 'x');
    const p = await run('tftp', ['-m', 'binary', '127.0.0.1', String(port), '-c', 'put', join(out, 'up.txt'), 'up.txt']);
    assert.match(p.stdout + p.stderr, /Error code 2/);
  } else t.diagnostic('tftp-hpa missing: raw WRQ only');
  assert.throws(() => statSync(join(root, 'upload.bin')));
  assert.throws(() => statSync(join(root, 'up.txt')));
  assert.ok((await droppedCount(metrics, 'wrq')) > before);
});

test('missing file → error 1; iPXE autoexec.ipxe probe → error 1 (logged at debug); directory → error 1', async () => {
  assert.equal((await rawGet(port, 'nope.bin')).error?.code, 1);
  assert.equal((await rawGet(port, 'autoexec.ipxe')).error?.code, 1);
  await run('mkdir', ['-p', join(root, 'adir')]);
  assert.equal((await rawGet(port, 'adir')).error?.code, 1);
  assert.ok(events.some((e) => e.path === 'autoexec.ipxe' && e.result === 'not-found'));
});

test('netascii mode: LF sent as CR LF (RFC 1350)', async () => {
  writeFileSync(join(root, 'text.txt'), 'line1\nline2\n');
  const r = await rawGet(port, 'text.txt', { mode: 'netascii' });
  assert.equal(r.data?.toString('latin1'), 'line1\r\nline2\r\n');
});

test('per-host grub.cfg-<mac> rendered over TFTP, lower and upper case MAC (curl; tftp-hpa reads "a:b" as host:file)', async (t) => {
  if (missing.includes('curl')) return t.skip('curl not installed');
  for (const name of ['grub.cfg-52:54:00:aa:00:10', 'grub.cfg-52:54:00:AA:00:10', 'grub.cfg-01-52-54-00-aa-00-10']) {
    const dest = join(out, 'grub.cfg');
    const r = await run('curl', ['-sS', '-o', dest, `tftp://127.0.0.1:${port}/${name}`]);
    assert.equal(r.code, 0, r.stderr);
    const text = readFileSync(dest, 'utf8');
    assert.match(text, /hv01\.lab\.example\.net/);
    assert.doesNotMatch(text, /\b10\.99\./);
  }
  assert.ok(events.some((e) => e.dynamic && e.result === 'ok'));
});

test('caps: max_transfers and max_per_client refusals are counted (error 0, "busy")', async () => {
  const s = await start({ max_transfers: 3, max_per_client: 2 });
  try {
    // Clients that never ACK keep their transfers open (the server retransmits).
    const hold = [rawGet(s.port, 'small.bin', { noAck: true, timeoutMs: 1500 }), rawGet(s.port, 'small.bin', { noAck: true, timeoutMs: 1500 })];
    await new Promise((r) => setTimeout(r, 200));
    const third = await rawGet(s.port, 'small.bin', { timeoutMs: 1000 });
    assert.equal(third.error?.code, 0);
    assert.match(third.error!.message, /too many transfers from this client/);
    assert.equal(await droppedCount(s.metrics, 'max-per-client'), 1);
    await Promise.all(hold);
  } finally { await s.server.close(); }
  const s2 = await start({ max_transfers: 1, max_per_client: 5 });
  try {
    const hold = rawGet(s2.port, 'small.bin', { noAck: true, timeoutMs: 1500 });
    await new Promise((r) => setTimeout(r, 200));
    const second = await rawGet(s2.port, 'small.bin', { timeoutMs: 1000 });
    assert.match(second.error?.message ?? '', /too many transfers/);
    assert.equal(await droppedCount(s2.metrics, 'max-transfers'), 1);
    await hold;
  } finally { await s2.server.close(); }
});

test('artifact truncated during a transfer: the client gets an ERROR, never a short file passed off as complete', async () => {
  const f = join(root, 'shrink.bin');
  writeFileSync(f, Buffer.alloc(3 * 1024 * 1024, 7));
  let cut = false;
  const r = await rawGet(port, 'shrink.bin', { onBlock: (b) => { if (b === 10 && !cut) { cut = true; truncateSync(f, 4096); } } });
  assert.equal(r.error?.code, 0);
  assert.match(r.error!.message, /changed/);
  assert.ok(r.data!.length < 3 * 1024 * 1024);
});

test('artifact deleted during a transfer: the open file is served whole (Linux keeps it until closed)', async () => {
  const f = join(root, 'gone.bin');
  const content = Buffer.alloc(2 * 1024 * 1024 + 5, 9);
  writeFileSync(f, content);
  const r = await rawGet(port, 'gone.bin', { onBlock: (b) => { if (b === 5) unlinkSync(f); } });
  assert.equal(r.error, undefined);
  assert.ok(r.data!.equals(content));
});

async function sha256(b: Buffer): Promise<string> {
  const { createHash } = await import('node:crypto');
  return createHash('sha256').update(b).digest('hex');
}
