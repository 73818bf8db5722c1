// Hostile input and abuse (issue 10, DNS part): 100,000 random and mutated packets, RRL with slip,
// forwarding only for forward_clients (never an open resolver).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import { answers, dig, exampleConfig, startDns, type Running } from '../../helpers/dns.js';

const ZONE_FILE = join(import.meta.dirname, '../../fixtures/dns/files.example.net.zone');

/** Deterministic PRNG (mulberry32), so a failure can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seeds(): Buffer[] {
  const q = (name: string, type: string, extra: Partial<dnsPacket.Packet> = {}): Buffer =>
    dnsPacket.encode({ id: 1, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: type as 'A' }], ...extra });
  const opt = { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096, flags: 0, options: [] }] } as unknown as Partial<dnsPacket.Packet>;
  return [
    q('hv01.lab.example.net', 'A'), q('big.files.example.net', 'TXT', opt), q('x.dyn.files.example.net', 'A', opt),
    q('www.sub.files.example.net', 'A'), q('lab.example.net', 'AXFR'), q('lab.example.net', 'IXFR'),
    q('nope.lab.example.net', 'AAAA', opt), q('www.example.com', 'A'), q('lab.example.net', 'ANY'),
  ];
}

/** A random or mutated packet: pure noise, bit flips, truncation, bad counts, injected pointers. */
function mutate(r: () => number, base: Buffer[]): Buffer {
  const kind = Math.floor(r() * 5);
  const pick = Buffer.from(base[Math.floor(r() * base.length)]!);
  switch (kind) {
    case 0: {
      const b = Buffer.alloc(Math.floor(r() * 600));
      for (let i = 0; i < b.length; i++) b[i] = Math.floor(r() * 256);
      if (b.length > 2 && r() < 0.7) b[2]! &= 0x7f; // mostly "queries", to reach the parser
      return b;
    }
    case 1: {
      const n = 1 + Math.floor(r() * 8);
      for (let i = 0; i < n; i++) pick[Math.floor(r() * pick.length)]! ^= 1 << Math.floor(r() * 8);
      return pick;
    }
    case 2: return pick.subarray(0, Math.floor(r() * pick.length));
    case 3: {
      for (const o of [4, 6, 8, 10]) if (r() < 0.5) pick.writeUInt16BE(Math.floor(r() * 65536), o);
      return pick;
    }
    default: {
      const at = 12 + Math.floor(r() * Math.max(1, pick.length - 13));
      pick[at] = 0xc0 | Math.floor(r() * 64);
      if (at + 1 < pick.length) pick[at + 1] = Math.floor(r() * 256);
      return pick;
    }
  }
}

describe('100,000 random and mutated packets', () => {
  let r: Running;
  before(async () => { r = await startDns({ config: exampleConfig({ zone_files: [ZONE_FILE] }) }); });
  after(async () => { await r.close(); });

  it('leave the server answering correctly (bounded: 100k packets, 60 s)', { timeout: 90_000 }, async () => {
    const random = rng(20261126);
    const base = seeds();
    const sock = dgram.createSocket('udp4');
    let replies = 0;
    let pingWait: ((id: number) => void) | undefined;
    sock.on('message', (m) => {
      replies++;
      if (m.length >= 12 && m.readUInt16BE(0) >= 0xff00 && pingWait) pingWait(m.readUInt16BE(0));
    });
    await new Promise<void>((res) => sock.bind(0, '127.0.0.1', () => res()));
    const ping = Buffer.from(dnsPacket.encode({ id: 0xff00, type: 'query', questions: [{ name: 'hv01.lab.example.net', type: 'A' }] }));
    let pingsAnswered = 0;
    const t0 = Date.now();
    const total = 100_000;
    for (let sent = 0, round = 0; sent < total && Date.now() - t0 < 60_000; round++) {
      const batch: Promise<void>[] = [];
      for (let i = 0; i < 200 && sent < total; i++, sent++) {
        const pkt = mutate(random, base);
        batch.push(new Promise<void>((res) => sock.send(pkt, r.port, '127.0.0.1', () => res())));
      }
      await Promise.all(batch);
      // A valid query after each batch: its answer means the server got through the batch before it
      // (this is a robustness test, not a flood).
      const id = 0xff00 + (round % 256);
      ping.writeUInt16BE(id, 0);
      const answered = await new Promise<boolean>((res) => {
        const t = setTimeout(() => { pingWait = undefined; res(false); }, 1000);
        pingWait = (got) => { if (got === id) { clearTimeout(t); pingWait = undefined; res(true); } };
        sock.send(ping, r.port, '127.0.0.1');
      });
      if (answered) pingsAnswered++;
    }
    const elapsed = Date.now() - t0;
    sock.close();
    assert.ok(elapsed < 60_000, `sent in ${elapsed} ms`);
    assert.ok(replies > 1000, `got ${replies} replies`);
    assert.ok(pingsAnswered >= 495, `the server answered ${pingsAnswered} of 500 probes between batches`);
    // still answering, and answering right
    assert.deepEqual(answers(await dig(r.port, '+noall', '+answer', 'hv01.lab.example.net', 'A')), ['hv01.lab.example.net. IN A 10.99.0.10']);
    assert.match(await dig(r.port, 'nope.files.example.net', 'A'), /status: NXDOMAIN/);
    assert.match(await dig(r.port, '+tcp', 'big.files.example.net', 'TXT'), /ANSWER: 15,/);
    assert.match(await dig(r.port, 'lab.example.net', 'AXFR'), /core-rt01\.lab\.example\.net\./);
    const errors = await r.metrics.registry.getSingleMetricAsString('builderd_errors_total');
    assert.doesNotMatch(errors, /DNS_ERR_DECODE"\} [1-9]/, 'no handler threw');
    const dropped = await r.metrics.registry.getSingleMetricAsString('builderd_dropped_packets_total');
    assert.match(dropped, /proto="dns"/);
  });
});

/** Send `n` copies of a query from `from` as fast as allowed; count full answers and TC slips. */
async function flood(port: number, from: string, n: number): Promise<{ full: number; slipped: number }> {
  const sock = dgram.createSocket('udp4');
  let full = 0, slipped = 0;
  sock.on('message', (m) => { if (m[2]! & 0x02) slipped++; else full++; });
  await new Promise<void>((res) => sock.bind(0, from, () => res()));
  const q = dnsPacket.encode({ id: 5, type: 'query', questions: [{ name: 'hv01.lab.example.net', type: 'A' }] });
  for (let i = 0; i < n; i++) await new Promise<void>((res) => sock.send(q, port, '127.0.0.1', () => res()));
  await new Promise((res) => setTimeout(res, 300));
  sock.close();
  return { full, slipped };
}

describe('RRL (response rate limiting with slip)', () => {
  let r: Running;
  before(async () => { r = await startDns({ config: exampleConfig({ rrl: { responses_per_second: 10, slip: 2, window: 5 } }) }); });
  after(async () => { await r.close(); });

  it('limits a flood of identical queries from one source (slipped TC answers, most dropped), another source is served', async () => {
    const f = await flood(r.port, '127.0.0.1', 400);
    assert.ok(f.full <= 30, `full answers ${f.full}`);
    assert.ok(f.slipped >= 100 && f.slipped <= 220, `slipped ${f.slipped}`);
    assert.ok(400 - f.full - f.slipped >= 150, 'most dropped');
    // another /24 is not limited
    const other = await dig(r.port, '-b', '127.0.1.2', 'hv01.lab.example.net', 'A');
    assert.match(other, /status: NOERROR[\s\S]*10\.99\.0\.10/);
    // a slipped client retries over TCP and gets the answer (TCP is not rate limited)
    assert.match(await dig(r.port, '+tcp', 'hv01.lab.example.net', 'A'), /10\.99\.0\.10/);
  });
});

describe('forwarding only for forward_clients', () => {
  let upstream: Running;
  let front: Running;
  before(async () => {
    // our own service as the upstream, serving files.example.net
    upstream = await startDns({ config: exampleConfig({ zone_files: [ZONE_FILE] }), zones: [] });
    front = await startDns({ config: exampleConfig({ forwarders: [`127.0.0.1:${upstream.port}`], forward_clients: ['127.0.0.1/32'] }) });
  });
  after(async () => { await front.close(); await upstream.close(); });

  it('an allowed client gets forwarded answers; a cached answer counts its TTL down', async () => {
    const a = await dig(front.port, 'host1.files.example.net', 'A');
    assert.match(a, /status: NOERROR/);
    assert.match(a, /host1\.files\.example\.net\.\s+3600\s+IN\s+A\s+10\.98\.1\.1/);
    await upstream.close(); // now only the cache can answer
    await new Promise((res) => setTimeout(res, 1100));
    const b = await dig(front.port, 'host1.files.example.net', 'A');
    const ttl = Number(/host1\.files\.example\.net\.\s+(\d+)\s+IN\s+A/.exec(b)?.[1]);
    assert.ok(ttl < 3600 && ttl >= 3590, `ttl ${ttl}`);
    // our own zones are still answered authoritatively, not forwarded
    assert.match(await dig(front.port, 'hv01.lab.example.net', 'A'), /flags: qr aa/);
  });

  it('a client outside forward_clients gets REFUSED (no open resolver)', async () => {
    const out = await dig(front.port, '-b', '127.0.0.2', 'host1.files.example.net', 'A');
    assert.match(out, /status: REFUSED/);
    assert.match(out, /ANSWER: 0,/);
  });
});
