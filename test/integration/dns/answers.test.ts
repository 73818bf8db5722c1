// Every answering rule of issue 3, checked with real dig and kdig against a running service
// (inventory zones of config/example.yaml + a zone file with wildcards, a delegation and a CNAME chain).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import { answers, dig, exampleConfig, kdig, startDns, type Running } from '../../helpers/dns.js';
import { fixedAuthority } from '../../../src/lib/authority-view.js';

const ZONE_FILE = join(import.meta.dirname, '../../fixtures/dns/files.example.net.zone');

/** Send one raw datagram and wait for the reply (or undefined after `ms`). */
export function udpAsk(port: number, msg: Buffer, ms = 1000, from?: string): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const t = setTimeout(() => { s.close(); resolve(undefined); }, ms);
    s.on('message', (m) => { clearTimeout(t); s.close(); resolve(m); });
    s.bind(0, from ?? '127.0.0.1', () => s.send(msg, port, '127.0.0.1'));
  });
}

function query(name: string, type: string, extra: Partial<dnsPacket.Packet> = {}): Buffer {
  return dnsPacket.encode({ id: 4242, type: 'query', flags: 0, questions: [{ name, type: type as 'A', class: 'IN' }], ...extra });
}

describe('dns answers (dig/kdig against a live service)', () => {
  let r: Running;
  before(async () => {
    r = await startDns({ config: exampleConfig({ zone_files: [ZONE_FILE], tcp_idle: 1, tcp_max: 4 }) });
  });
  after(async () => { await r.close(); });

  it('RFC 1034 §4.3.2: authoritative answer with AA set', async () => {
    const out = await dig(r.port, '+norec', 'hv01.lab.example.net', 'A');
    assert.match(out, /status: NOERROR/);
    assert.match(out, /flags: qr aa;/);
    assert.deepEqual(answers(await dig(r.port, '+noall', '+answer', 'hv01.lab.example.net', 'A')), ['hv01.lab.example.net. IN A 10.99.0.10']);
  });

  it('CNAME chains are followed inside our zones (site → mgmt)', async () => {
    const a = answers(await dig(r.port, '+noall', '+answer', 'pxe.lab.example.net', 'A'));
    assert.deepEqual(a, [
      'pxe.lab.example.net. IN CNAME pxe.mgmt.example.net.',
      'pxe.mgmt.example.net. IN CNAME provisioner-ph01.mgmt.example.net.',
      'provisioner-ph01.mgmt.example.net. IN A 10.99.0.2',
    ]);
    const b = answers(await dig(r.port, '+noall', '+answer', 'www.files.example.net', 'A'));
    assert.deepEqual(b, ['www.files.example.net. IN CNAME web.files.example.net.', 'web.files.example.net. IN CNAME host1.files.example.net.', 'host1.files.example.net. IN A 10.98.1.1']);
  });

  it('a CNAME to a missing name is NXDOMAIN (RFC 6604), one out of our zones stops the chain', async () => {
    const d = await dig(r.port, 'dangling.files.example.net', 'A');
    assert.match(d, /status: NXDOMAIN/);
    assert.match(d, /dangling\.files\.example\.net\.\s+3600\s+IN\s+CNAME\s+nothere/);
    const o = await dig(r.port, 'outside.files.example.net', 'A');
    assert.match(o, /status: NOERROR/);
    assert.match(o, /ANSWER: 1,/);
  });

  it('RFC 2308 §3: NXDOMAIN and NODATA carry the SOA with TTL min(SOA TTL, minimum)', async () => {
    const nx = await dig(r.port, 'nope.files.example.net', 'A');
    assert.match(nx, /status: NXDOMAIN/);
    assert.match(nx, /flags: qr aa/);
    assert.match(nx, /AUTHORITY SECTION:\nfiles\.example\.net\.\s+120\s+IN\s+SOA/);
    const nd = await dig(r.port, 'host1.files.example.net', 'TXT');
    assert.match(nd, /status: NOERROR/);
    assert.match(nd, /ANSWER: 0,/);
    assert.match(nd, /AUTHORITY SECTION:\nfiles\.example\.net\.\s+120\s+IN\s+SOA/);
    const ent = await dig(r.port, 'b.files.example.net', 'A');
    assert.match(ent, /status: NOERROR/, 'empty non-terminal is NODATA, not NXDOMAIN');
  });

  it('RFC 4592: wildcards synthesise the queried name; existing names and ENTs block them', async () => {
    assert.deepEqual(answers(await dig(r.port, '+noall', '+answer', 'anything.dyn.files.example.net', 'A')), ['anything.dyn.files.example.net. IN A 10.98.2.1']);
    assert.deepEqual(answers(await dig(r.port, '+noall', '+answer', 'deep.er.dyn.files.example.net', 'TXT')), ['deep.er.dyn.files.example.net. IN TXT "wild"']);
    assert.deepEqual(answers(await dig(r.port, '+noall', '+answer', 'real.dyn.files.example.net', 'A')), ['real.dyn.files.example.net. IN A 10.98.2.2']);
    assert.match(await dig(r.port, 'below.real.dyn.files.example.net', 'A'), /status: NXDOMAIN/, 'closest encloser real.dyn has no wildcard');
    assert.match(await dig(r.port, 'x.dyn.files.example.net', 'MX'), /status: NOERROR[\s\S]*ANSWER: 0,/);
    assert.deepEqual(answers(await dig(r.port, '+noall', '+answer', 'foo.alias.files.example.net', 'A')),
      ['foo.alias.files.example.net. IN CNAME host1.files.example.net.', 'host1.files.example.net. IN A 10.98.1.1']);
  });

  it('delegations are referrals: no AA, NS in authority, glue in additional', async () => {
    const out = await dig(r.port, '+norec', 'www.sub.files.example.net', 'A');
    assert.match(out, /status: NOERROR/);
    assert.match(out, /flags: qr;/);
    assert.match(out, /AUTHORITY SECTION:[\s\S]*sub\.files\.example\.net\.\s+3600\s+IN\s+NS\s+ns\.sub\.files\.example\.net\./);
    assert.match(out, /ADDITIONAL SECTION:[\s\S]*ns\.sub\.files\.example\.net\.\s+3600\s+IN\s+A\s+10\.98\.4\.1/);
  });

  it('names match case-insensitively and the question case is preserved (0x20)', async () => {
    const out = await dig(r.port, 'Hv01.LAB.Example.NET', 'A');
    assert.match(out, /;Hv01\.LAB\.Example\.NET\.\s+IN\s+A/);
    assert.match(out, /\nHv01\.LAB\.Example\.NET\.\s+300\s+IN\s+A\s+10\.99\.0\.10/);
    // again, now from the wire cache, with another case
    const again = await dig(r.port, 'hV01.lab.EXAMPLE.net', 'A');
    assert.match(again, /\nhV01\.lab\.EXAMPLE\.net\.\s+300\s+IN\s+A\s+10\.99\.0\.10/);
  });

  it('RFC 8482: ANY is answered with one RRset', async () => {
    const out = await dig(r.port, 'mail.files.example.net', 'ANY');
    assert.match(out, /status: NOERROR/);
    assert.match(out, /ANSWER: 1,/);
  });

  it('REFUSED outside our zones (no open resolver), also for other classes', async () => {
    const out = await dig(r.port, 'www.example.com', 'A');
    assert.match(out, /status: REFUSED/);
    assert.match(out, /ANSWER: 0,/);
    assert.match(await dig(r.port, 'version.bind', 'TXT', 'CH'), /status: REFUSED/);
  });

  it('record types from the zone file: MX SRV TXT CAA AAAA PTR, RFC 3597 unknown, escapes, long TXT', async () => {
    assert.deepEqual(answers(await dig(r.port, '+noall', '+answer', 'files.example.net', 'MX')), ['files.example.net. IN MX 10 mail.files.example.net.']);
    const srv = answers(await dig(r.port, '+noall', '+answer', '_http._tcp.files.example.net', 'SRV'));
    assert.deepEqual(srv.sort(), ['_http._tcp.files.example.net. IN SRV 0 5 80 host1.files.example.net.', '_http._tcp.files.example.net. IN SRV 10 5 8080 mail.files.example.net.']);
    assert.deepEqual(answers(await dig(r.port, '+noall', '+answer', 'files.example.net', 'CAA')), ['files.example.net. IN CAA 0 issue "letsencrypt.org"']);
    assert.deepEqual(answers(await dig(r.port, '+noall', '+answer', 'mail.files.example.net', 'AAAA')), ['mail.files.example.net. IN AAAA 2001:db8:98::3']);
    assert.deepEqual(answers(await dig(r.port, '+noall', '+answer', '10.0.99.10.in-addr.arpa', 'PTR')), ['10.0.99.10.in-addr.arpa. IN PTR hv01.lab.example.net.']);
    assert.deepEqual(answers(await dig(r.port, '+noall', '+answer', 'unk.files.example.net', 'TYPE65400')), ['unk.files.example.net. IN TYPE65400 \\# 4 0A000001']);
    assert.deepEqual(answers(await dig(r.port, '+noall', '+answer', 'gen.files.example.net', 'A')), ['gen.files.example.net. IN A 10.98.6.1']);
    assert.deepEqual(answers(await dig(r.port, '+noall', '+answer', 'esc\\.aped\\032name.files.example.net', 'A')), ['esc\\.aped\\032name.files.example.net. IN A 10.98.5.1']);
    const long = (await dig(r.port, '+short', 'long.files.example.net', 'TXT')).trim();
    assert.equal(long, `"${'a'.repeat(255)}" "${'a'.repeat(45)}" "second \\"quoted\\" string; not a comment"`);
  });

  it('RFC 6891: OPT echoed with our size; BADVERS for version 1; no OPT without EDNS', async () => {
    const e = await dig(r.port, '+bufsize=4096', 'hv01.lab.example.net', 'A');
    assert.match(e, /EDNS: version: 0, flags:; udp: 1232/);
    const doBit = await dig(r.port, '+dnssec', 'hv01.lab.example.net', 'A');
    assert.match(doBit, /EDNS: version: 0, flags: do; udp: 1232/);
    const bad = await dig(r.port, '+edns=1', '+noednsneg', 'hv01.lab.example.net', 'A');
    assert.match(bad, /status: BADVERS/);
    assert.match(bad, /EDNS: version: 0/);
    const none = await dig(r.port, '+noedns', 'hv01.lab.example.net', 'A');
    assert.doesNotMatch(none, /OPT PSEUDOSECTION/);
  });

  it('TC when the answer does not fit; the same answer whole over TCP', async () => {
    const udp = await dig(r.port, '+noedns', '+ignore', 'big.files.example.net', 'TXT');
    assert.match(udp, /flags: qr aa tc[ ;]/);
    assert.match(udp, /ANSWER: 0,/);
    const tcp = await dig(r.port, '+noedns', '+tcp', 'big.files.example.net', 'TXT');
    assert.match(tcp, /ANSWER: 15,/);
    assert.doesNotMatch(tcp, /flags: [^;]*tc/);
    // dig retries over TCP by itself on TC
    assert.match(await dig(r.port, '+noedns', 'big.files.example.net', 'TXT'), /ANSWER: 15,/);
    // with EDNS 1232 it fits over UDP
    assert.match(await dig(r.port, '+ignore', 'big.files.example.net', 'TXT'), /ANSWER: 15,/);
  });

  it('several queries on one TCP connection (RFC 7766 §6.2.1), answered in order', async () => {
    const names = ['hv01.lab.example.net', 'core-rt01.lab.example.net', 'nope.lab.example.net'];
    const replies = await new Promise<Buffer[]>((resolve, reject) => {
      const sock = net.connect(r.port, '127.0.0.1');
      const got: Buffer[] = [];
      let buf = Buffer.alloc(0);
      sock.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          got.push(buf.subarray(2, 2 + buf.readUInt16BE(0)));
          buf = buf.subarray(2 + buf.readUInt16BE(0));
          if (got.length === names.length) { sock.end(); resolve(got); }
        }
      });
      sock.on('error', reject);
      sock.write(Buffer.concat(names.map((n, i) => dnsPacket.streamEncode({ id: 100 + i, type: 'query', questions: [{ name: n, type: 'A' }] }))));
    });
    const decoded = replies.map((b) => dnsPacket.decode(b) as dnsPacket.DecodedPacket & { rcode: string; opcode: string });
    assert.deepEqual(decoded.map((d) => d.id), [100, 101, 102]);
    assert.deepEqual(decoded.map((d) => d.rcode), ['NOERROR', 'NOERROR', 'NXDOMAIN']);
    const kd = await kdig(r.port, '+tcp', '+keepopen', 'hv01.lab.example.net', 'A', 'core-rt01.lab.example.net', 'A');
    assert.match(kd, /hv01\.lab\.example\.net\.\s+300\s+IN\s+A\s+10\.99\.0\.10/);
    assert.match(kd, /core-rt01\.lab\.example\.net\.\s+300\s+IN\s+A\s+10\.99\.0\.1\b/);
  });

  it('TCP idle timeout closes a silent connection; connections over tcp_max are refused', async () => {
    const closedAfter = await new Promise<number>((resolve) => {
      const t0 = Date.now();
      const s = net.connect(r.port, '127.0.0.1');
      s.on('close', () => resolve(Date.now() - t0));
      s.on('error', () => undefined);
    });
    assert.ok(closedAfter >= 900 && closedAfter < 3000, `closed after ${closedAfter} ms`);
    const socks: net.Socket[] = [];
    const closed: boolean[] = [];
    for (let i = 0; i < 6; i++) {
      const s = net.connect(r.port, '127.0.0.1');
      s.on('error', () => undefined);
      const idx = i;
      closed[idx] = false;
      s.on('close', () => { closed[idx] = true; });
      socks.push(s);
      await new Promise((res) => s.once('connect', res));
    }
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(closed.filter(Boolean).length, 2, `tcp_max 4: two of six connections refused (${closed.join(',')})`);
    for (const s of socks) s.destroy();
    const dropped = await r.metrics.registry.getSingleMetricAsString('builderd_dropped_packets_total');
    assert.match(dropped, /reason="tcp-max"\} 2/);
  });

  it('opcodes other than QUERY and NOTIFY get NOTIMP', async () => {
    const out = await dig(r.port, '+opcode=2', 'hv01.lab.example.net', 'A');
    assert.match(out, /status: NOTIMP/);
    const upd = query('lab.example.net', 'SOA');
    upd[2] = (upd[2]! & 0x87) | (5 << 3); // UPDATE
    const resp = await udpAsk(r.port, upd);
    assert.ok(resp);
    assert.equal(resp[3]! & 0xf, 4);
  });

  it('malformed queries: FORMERR or dropped, counted, and the server keeps answering', async () => {
    const two = dnsPacket.encode({ id: 7, type: 'query', questions: [{ name: 'a.lab.example.net', type: 'A' }, { name: 'b.lab.example.net', type: 'A' }] });
    const f = await udpAsk(r.port, two);
    assert.ok(f);
    assert.equal(f.readUInt16BE(0), 7);
    assert.equal(f[3]! & 0xf, 1, 'qdcount 2 → FORMERR');
    const resp = dnsPacket.encode({ id: 8, type: 'response', questions: [{ name: 'a.lab.example.net', type: 'A' }] });
    assert.equal(await udpAsk(r.port, resp, 300), undefined, 'responses are dropped');
    assert.equal(await udpAsk(r.port, Buffer.from([1, 2, 3]), 300), undefined, 'short packets are dropped');
    const ptr = Buffer.from(query('x.lab.example.net', 'A'));
    ptr[12] = 0xc0; ptr[13] = 0x0c; // self pointer in the qname
    const p = await udpAsk(r.port, ptr);
    assert.ok(p);
    assert.equal(p[3]! & 0xf, 1);
    const counts = Buffer.from(query('x.lab.example.net', 'A'));
    counts.writeUInt16BE(0xffff, 6); counts.writeUInt16BE(0xffff, 8);
    const c = await udpAsk(r.port, counts);
    assert.ok(c);
    assert.equal(c[3]! & 0xf, 1);
    const dropped = await r.metrics.registry.getSingleMetricAsString('builderd_dropped_packets_total');
    assert.match(dropped, /reason="response"\} 1/);
    assert.match(dropped, /reason="short"\} 1/);
    assert.match(await dig(r.port, 'hv01.lab.example.net', 'A'), /status: NOERROR/);
  });

  it('NOTIFY to us is acknowledged for our zones', async () => {
    const n = dnsPacket.encode({ id: 9, type: 'query', flags: dnsPacket.AUTHORITATIVE_ANSWER, questions: [{ name: 'lab.example.net', type: 'SOA' }] });
    n[2] = (n[2]! & 0x87) | (4 << 3); // opcode NOTIFY (RFC 1996)
    const resp = await udpAsk(r.port, n);
    assert.ok(resp);
    const d = dnsPacket.decode(resp) as dnsPacket.DecodedPacket & { rcode: string; opcode: string };
    assert.equal(d.opcode, 'NOTIFY');
    assert.equal(d.rcode, 'NOERROR');
  });
});

describe('dns authority (production mode)', () => {
  let r: Running;
  before(async () => { r = await startDns({ authority: fixedAuthority('production') }); });
  after(async () => { await r.close(); });

  it('site and reverse zones are REFUSED, the mgmt zone is still served, AXFR of the site zone still works', async () => {
    assert.match(await dig(r.port, 'hv01.lab.example.net', 'A'), /status: REFUSED/);
    assert.match(await dig(r.port, '10.0.99.10.in-addr.arpa', 'PTR'), /status: REFUSED/);
    assert.match(await dig(r.port, 'provisioner-ph01.mgmt.example.net', 'A'), /status: NOERROR[\s\S]*10\.99\.0\.2/);
    const axfr = await dig(r.port, 'lab.example.net', 'AXFR');
    assert.match(axfr, /hv01\.lab\.example\.net\.\s+300\s+IN\s+A\s+10\.99\.0\.10/);
    // the CNAME from the site zone is not served either
    assert.match(await dig(r.port, 'pxe.lab.example.net', 'A'), /status: REFUSED/);
  });
});
