// Issue 10, DNS: builderd cannot be used as an open resolver or an amplifier.
// - forwarding only for forward_clients: a client outside gets REFUSED for an outside name (dig -b);
// - RRL (the BIND/NSD scheme): a flood of identical queries from one source address gets a few
//   answers, every slip-th limited response truncated (TC, empty), the rest dropped, counted; another
//   source network is served normally meanwhile, and the flooded client can still use TCP.
// (AXFR outside transfer_allow is tested in dns/transfer.test.ts; REFUSED without forwarders and
// minimal ANY in dns/answers.test.ts.)
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import dnsPacket from 'dns-packet';
import { exampleConfig, startDns, type Running } from '../helpers/dns.js';

const run = promisify(execFile);

async function digFrom(src: string, port: number, ...args: string[]): Promise<string> {
  const r = await run('dig', ['-b', src, '@127.0.0.1', '-p', String(port), '+time=2', '+tries=1', ...args], { timeout: 10_000 });
  return r.stdout;
}

/** A stand-in upstream resolver: answers every A query with 192.0.2.53. */
async function fakeUpstream(): Promise<{ port: number; queries: number; close(): void }> {
  const s = dgram.createSocket('udp4');
  const st = { port: 0, queries: 0, close: () => s.close() };
  s.on('message', (m, ri) => {
    st.queries++;
    const q = dnsPacket.decode(m);
    const resp = dnsPacket.encode({ id: q.id, type: 'response', flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE, questions: q.questions,
      answers: (q.questions ?? []).map((x) => ({ name: x.name, type: 'A' as const, ttl: 60, data: '192.0.2.53' })) });
    s.send(resp, ri.port, ri.address);
  });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  st.port = s.address().port;
  return st;
}

describe('no open resolver: forwarding only for forward_clients', () => {
  let r: Running;
  let up: Awaited<ReturnType<typeof fakeUpstream>>;
  before(async () => {
    up = await fakeUpstream();
    r = await startDns({ config: exampleConfig({ forwarders: [`127.0.0.1:${up.port}`], forward_clients: ['127.0.0.2/32'] }) });
  });
  after(async () => { await r.close(); up.close(); });

  it('an outside name from 127.0.0.3 (not in forward_clients) is REFUSED over UDP and TCP; the upstream never sees it', async () => {
    const before = up.queries;
    for (const extra of [[], ['+tcp']]) {
      const out = await digFrom('127.0.0.3', r.port, ...extra, 'www.example.com', 'A');
      assert.match(out, /status: REFUSED/, out);
      assert.match(out, /ANSWER: 0,/);
    }
    assert.equal(up.queries, before, 'nothing forwarded');
  });

  it('the same name from 127.0.0.2 (a forward client) is forwarded and answered', async () => {
    const out = await digFrom('127.0.0.2', r.port, 'www.example.com', 'A');
    assert.match(out, /www\.example\.com\.\s+\d+\s+IN\s+A\s+192\.0\.2\.53/, out);
    assert.ok(up.queries >= 1);
  });

  it('our own zones are still answered for everyone', async () => {
    assert.match(await digFrom('127.0.0.3', r.port, 'hv01.lab.example.net', 'A'), /status: NOERROR/);
  });
});

describe('RRL: a flood from one source is limited (slip 2), another source is served', () => {
  let r: Running;
  before(async () => {
    r = await startDns({ config: exampleConfig({ rrl: { responses_per_second: 5, slip: 2, window: 15 } }) });
  });
  after(async () => { await r.close(); });

  it('2000 identical queries from 127.0.0.5: a few answers, truncated slips, most dropped; 127.0.1.7 answered meanwhile; TCP still works', async () => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((res) => sock.bind(0, '127.0.0.5', () => res()));
    let full = 0, slipped = 0;
    sock.on('message', (m) => {
      const tc = (m[2]! & 0x02) !== 0;
      const an = m.readUInt16BE(6);
      if (tc && an === 0) slipped++;
      else if (an > 0) full++;
    });
    const q = dnsPacket.encode({ id: 77, type: 'query', questions: [{ name: 'hv01.lab.example.net', type: 'A' }] });
    const N = 2000;
    const t0 = Date.now();
    let other = '';
    for (let i = 0; i < N; i++) {
      sock.send(q, r.port, '127.0.0.1');
      // Paced (about 2000/s) so the kernel's receive buffer keeps up and the server sees them all.
      if (i % 20 === 19) await new Promise((res) => setTimeout(res, 10));
      if (i === 1000) other = await digFrom('127.0.1.7', r.port, 'hv01.lab.example.net', 'A');
    }
    const seconds = (Date.now() - t0) / 1000;
    await new Promise((res) => setTimeout(res, 500));
    sock.close();
    const dropped = N - full - slipped;
    console.log(`# RRL flood of ${N}: ${full} answered, ${slipped} slipped (TC), ${dropped} dropped`);
    // The bucket starts with 5 and refills 5/s (a slow, loaded host stretches the flood).
    assert.ok(full <= 5 + 5 * Math.ceil(seconds) + 2, `at most 5 + 5/s full answers over ${seconds.toFixed(1)} s, got ${full}`);
    assert.ok(slipped >= 0.3 * (N - full) && slipped <= 0.7 * (N - full), `about half of the limited responses slip (TC): ${slipped}`);
    assert.ok(dropped >= 0.3 * N, `most of the rest dropped: ${dropped}`);
    assert.match(other, /status: NOERROR/, 'another source network is served during the flood');
    assert.match(other, /ANSWER: 1,/);
    // The slip's purpose: a real client behind the flooded address retries over TCP (RFC 7766).
    assert.match(await digFrom('127.0.0.5', r.port, '+tcp', 'hv01.lab.example.net', 'A'), /ANSWER: 1,/);
    const m = await r.metrics.registry.getSingleMetricAsString('builderd_dropped_packets_total');
    const count = (reason: string): number => Number((new RegExp(`reason="${reason}"\\} (\\d+)`).exec(m) ?? [])[1] ?? 0);
    assert.equal(count('rrl-slip'), slipped, 'every slip counted');
    assert.ok(count('rrl-drop') >= dropped * 0.9, `drops counted: ${count('rrl-drop')} of ${dropped}`);
  });
});
