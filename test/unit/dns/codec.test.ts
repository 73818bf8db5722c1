// DNS codec: response writer round trips through dns-packet's decoder, compression (RFC 1035 §4.1.4),
// name limits (§2.3.4), TXT chunking (§3.3.14), TCP framing (§4.2.2), TSIG (RFC 8945), and fuzzing:
// the scanner returns a value or a failure for any bytes, never throws anything else, never hangs.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { QTYPE, RCODE } from '../../../src/dns/codec/constants.js';
import { DnsDecodeError, makeName, nameText, nameWire, parseName, readName } from '../../../src/dns/codec/name.js';
import { fastKey, scanQuery } from '../../../src/dns/codec/query.js';
import { MessageWriter } from '../../../src/dns/codec/writer.js';
import { rdataWire, rrFromRdata, type WireRR } from '../../../src/dns/codec/rr.js';
import { FrameReader, frame } from '../../../src/dns/codec/tcp-framing.js';
import { makeTsigKey, signRequest, verifyRequest } from '../../../src/dns/codec/tsig.js';
import { rdataFromText, txtRdata } from '../../../src/dns/zone/rdata-text.js';
import { writeAnswer, writeError } from '../../../src/dns/handler.js';

type Decoded = dnsPacket.DecodedPacket & { rcode: string; flag_tc: boolean };

function rr(owner: string, type: number, text: string[], ttl = 300): WireRR {
  const o = parseName(owner);
  return { owner: o, type, class: 1, ttl, rdata: rdataFromText(type, text.map((t) => ({ text: t, quoted: false })), o) };
}

function queryFor(name: string, type: string, edns?: number): Buffer {
  return dnsPacket.encode({
    id: 0x1234, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: type as 'A' }],
    additionals: edns ? [{ type: 'OPT', name: '.', udpPayloadSize: edns, flags: 0, options: [] } as unknown as dnsPacket.Answer] : [],
  });
}

describe('names (RFC 1035 §2.3.4, §5.1)', () => {
  it('parse escapes, relative names and print them back', () => {
    const origin = parseName('example.net.');
    const n = parseName('a\\.b\\032c', origin);
    assert.equal(n.labels.length, 3);
    assert.equal(n.labels[0]!.toString('latin1'), 'a.b c');
    assert.equal(nameText(n), 'a\\.b\\032c.example.net.');
    assert.equal(parseName('@', origin), origin);
    assert.equal(parseName('Www.Example.NET.').key, 'www.example.net');
    assert.equal(nameText(parseName('Www.Example.NET.')), 'Www.Example.NET.');
  });
  it('reject a label over 63 and a name over 255 bytes', () => {
    assert.throws(() => parseName(`${'a'.repeat(64)}.net.`), DnsDecodeError);
    assert.throws(() => parseName(`${Array(60).fill('abcd').join('.')}.`), DnsDecodeError);
    assert.doesNotThrow(() => parseName(`${'a'.repeat(63)}.net.`));
  });
  it('readName follows only backward pointers (no loops)', () => {
    const b = Buffer.from([3, 0x61, 0x62, 0x63, 0, 0xc0, 0x00, 0xc0, 0x07]);
    assert.equal(readName(b, 5).name.key, 'abc');
    assert.throws(() => readName(b, 7), DnsDecodeError);
  });
});

describe('response writer', () => {
  it('round trips through dns-packet decode; the length written is the length returned', () => {
    const raw = queryFor('Www.Example.Net', 'A', 4096);
    const q = scanQuery(raw);
    assert.ok(!('fail' in q));
    const answer: WireRR[] = [rr('www.example.net.', QTYPE.A, ['192.0.2.1']), rr('www.example.net.', QTYPE.A, ['192.0.2.2'])];
    const out = writeAnswer(raw, q, { kind: 'answer', aa: true, answer: answer.map((r) => ({ rr: r })), authority: [], additional: [] }, 1232, 1232);
    const d = dnsPacket.decode(out) as Decoded;
    assert.equal(d.id, 0x1234);
    assert.equal(d.type, 'response');
    assert.equal(d.answers!.length, 2);
    assert.equal(d.answers![0]!.name, 'Www.Example.Net', 'owner compressed to the question: its case');
    assert.deepEqual(d.answers!.map((a) => (a as { data: unknown }).data), ['192.0.2.1', '192.0.2.2']);
    assert.equal(dnsPacket.decode.bytes, out.length);
    assert.equal((d.additionals![0] as { udpPayloadSize: number }).udpPayloadSize, 1232);
  });

  it('compresses owners and rdata names (RFC 1035 §4.1.4): 5 A records take 16 bytes each', () => {
    const raw = queryFor('host.example.net', 'A');
    const q = scanQuery(raw);
    assert.ok(!('fail' in q));
    const list = [1, 2, 3, 4, 5].map((i) => ({ rr: rr('host.example.net.', QTYPE.A, [`192.0.2.${i}`]) }));
    const out = writeAnswer(raw, q, { kind: 'answer', aa: true, answer: list, authority: [], additional: [] }, 512, 1232);
    assert.equal(out.length, 12 + (18 + 4) + 5 * 16);
    const soa = rr('example.net.', QTYPE.SOA, ['ns1.example.net.', 'hostmaster.example.net.', '1', '2', '3', '4', '5']);
    const w = new MessageWriter(512);
    w.writeRR(1, soa);
    w.writeRR(1, soa);
    const first = 13 + 10 + 4 + 15 + 20; // owner, fixed, ns1+ptr, hostmaster+ptr, numbers
    assert.equal(w.len, 12 + first + 2 + 10 + 2 + 2 + 20);
  });

  it('sets TC and keeps only the question when the answer does not fit (RFC 2181 §9)', () => {
    const raw = queryFor('big.example.net', 'TXT');
    const q = scanQuery(raw);
    assert.ok(!('fail' in q));
    const list = Array.from({ length: 20 }, (_, i) => ({ rr: rr('big.example.net.', QTYPE.TXT, [`record-${i}-${'x'.repeat(40)}`]) }));
    const out = writeAnswer(raw, q, { kind: 'answer', aa: true, answer: list, authority: [], additional: [] }, 512, 1232);
    const d = dnsPacket.decode(out) as Decoded;
    assert.equal(d.flag_tc, true);
    assert.equal(d.answers!.length, 0);
    assert.ok(out.length <= 512);
    const tcp = writeAnswer(raw, q, { kind: 'answer', aa: true, answer: list, authority: [], additional: [] }, 65535, 1232);
    assert.equal((dnsPacket.decode(tcp) as Decoded).answers!.length, 20);
  });

  it('BADVERS goes into the OPT extended rcode (RFC 6891 §6.1.3)', () => {
    const raw = queryFor('x.example.net', 'A', 1232);
    const q = scanQuery(raw);
    assert.ok(!('fail' in q));
    const out = writeError(raw, q, RCODE.BADVERS, 1232);
    assert.equal(out[3]! & 0xf, 0);
    const optAt = out.length - 11;
    assert.equal(out.readUInt16BE(optAt + 1), QTYPE.OPT);
    assert.equal(out[optAt + 5], 1);
  });
});

describe('rdata', () => {
  it('TXT strings longer than 255 bytes are split (RFC 1035 §3.3.14)', () => {
    const r = txtRdata([Buffer.alloc(600, 0x61)]);
    assert.deepEqual([r[0], r[256], r[512]], [255, 255, 90]);
    assert.equal(r.length, 603);
  });
  it('every supported type survives rdata → parts → rdata, and dns-packet reads it', () => {
    const cases: [number, string[]][] = [
      [QTYPE.A, ['10.0.0.1']], [QTYPE.AAAA, ['2001:db8::1']], [QTYPE.NS, ['ns.example.net.']], [QTYPE.CNAME, ['x.example.net.']],
      [QTYPE.PTR, ['x.example.net.']], [QTYPE.MX, ['10', 'mail.example.net.']], [QTYPE.SRV, ['0', '5', '80', 'web.example.net.']],
      [QTYPE.CAA, ['0', 'issue', 'ca.example']], [QTYPE.TXT, ['hello']],
      [QTYPE.SOA, ['ns.example.net.', 'h.example.net.', '1', '3600', '600', '86400', '60']],
    ];
    for (const [type, text] of cases) {
      const a = rr('x.example.net.', type, text);
      const b = rrFromRdata(a.owner, type, 300, rdataWire(a));
      assert.deepEqual(rdataWire(b), rdataWire(a));
      const raw = queryFor('x.example.net', 'A');
      const q = scanQuery(raw);
      assert.ok(!('fail' in q));
      const out = writeAnswer(raw, q, { kind: 'answer', aa: true, answer: [{ rr: a }], authority: [], additional: [] }, 512, 1232);
      const d = dnsPacket.decode(out) as Decoded;
      assert.equal(d.answers!.length, 1, `type ${type}`);
    }
  });
});

describe('query scanner', () => {
  it('scans a query with EDNS and gives the fast-path key, lowercased, with the size bucket', () => {
    const raw = queryFor('HoSt.Example.Net', 'AAAA', 4096);
    const q = scanQuery(raw);
    assert.ok(!('fail' in q));
    assert.equal(q.qname.key, 'host.example.net');
    assert.equal(q.qtype, QTYPE.AAAA);
    assert.equal(q.edns?.udpSize, 4096);
    const a = fastKey(raw, Buffer.alloc(600), 1232);
    const b = fastKey(queryFor('host.example.net', 'AAAA', 1400), Buffer.alloc(600), 1232);
    assert.ok(a && b);
    assert.equal(a.key, b.key);
    // HTTPS (65 = 0x41) must not be lowercased into type 97
    const withType = (t: number): Buffer => { const b = Buffer.from(queryFor('host.example.net', 'A')); b.writeUInt16BE(t, b.length - 4); return b; };
    const c = fastKey(withType(65), Buffer.alloc(600), 1232);
    const d = fastKey(withType(97), Buffer.alloc(600), 1232);
    assert.notEqual(c!.key, d!.key);
  });
  it('drops responses and short packets; FORMERR for bad counts and pointers in the question', () => {
    assert.deepEqual(scanQuery(Buffer.alloc(5)), { fail: 'drop', reason: 'short' });
    const resp = Buffer.from(queryFor('a.example', 'A'));
    resp[2]! |= 0x80;
    assert.equal((scanQuery(resp) as { fail: string }).fail, 'drop');
    const counts = Buffer.from(queryFor('a.example', 'A'));
    counts.writeUInt16BE(0xffff, 10);
    assert.equal((scanQuery(counts) as { fail: string }).fail, 'formerr');
  });
  it('fuzz: 200,000 random and mutated inputs either scan or fail with a value, quickly', () => {
    const seed = [queryFor('host.example.net', 'A', 1232), queryFor('x.y', 'TXT')];
    let ok = 0, failed = 0;
    const t0 = Date.now();
    fc.assert(fc.property(fc.oneof(
      fc.uint8Array({ maxLength: 600 }),
      fc.tuple(fc.constantFrom(...seed), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat())
        .map(([s, flips, cut]) => {
          const b = Buffer.from(s);
          for (const [at, v] of flips) b[at % b.length] = v;
          return b.subarray(0, cut % (b.length + 1));
        }),
    ), (bytes) => {
      const buf = Buffer.from(bytes);
      const r = scanQuery(buf);
      if ('fail' in r) failed++; else ok++;
      fastKey(buf, Buffer.alloc(600), 1232);
    }), { numRuns: 200_000, seed: 42 });
    assert.ok(Date.now() - t0 < 60_000);
    assert.ok(ok > 0 && failed > 0, `ok ${ok} failed ${failed}`);
  });
});

describe('TCP framing (RFC 1035 §4.2.2)', () => {
  it('reassembles messages split across chunks and several in one chunk', () => {
    const a = queryFor('a.example', 'A'), b = queryFor('b.example', 'A');
    const stream = Buffer.concat([frame(a), frame(b)]);
    const r = new FrameReader();
    const got: Buffer[] = [];
    for (let i = 0; i < stream.length; i += 3) got.push(...r.push(stream.subarray(i, i + 3)));
    assert.deepEqual(got.map((g) => g.toString('hex')), [a.toString('hex'), b.toString('hex')]);
    assert.throws(() => new FrameReader().push(Buffer.from([0, 0])));
  });
});

describe('TSIG (RFC 8945 §4.3, hmac-sha256)', () => {
  it('a signed request verifies; a changed byte, another key or an old time does not', () => {
    const key = makeTsigKey('k1', Buffer.from('secret-secret-secret').toString('base64'));
    const keys = new Map([[key.name.key, key]]);
    const { msg } = signRequest(queryFor('x.example', 'A'), key, 1_000_000);
    const spanOf = (m: Buffer) => {
      const q = scanQuery(m);
      assert.ok(!('fail' in q));
      assert.ok(q.tsigStart > 0);
      return q.additional[q.additional.length - 1]!;
    };
    assert.equal(verifyRequest(msg, spanOf(msg), keys, 1_000_010).ok, true);
    const bad = Buffer.from(msg);
    bad[13]! ^= 1;
    const v1 = verifyRequest(bad, spanOf(bad), keys, 1_000_010);
    assert.ok(!v1.ok && v1.error === RCODE.BADSIG);
    const other = makeTsigKey('k2', 'c2VjcmV0');
    const v2 = verifyRequest(msg, spanOf(msg), new Map([[other.name.key, other]]), 1_000_010);
    assert.ok(!v2.ok && v2.error === RCODE.BADKEY);
    const v3 = verifyRequest(msg, spanOf(msg), keys, 1_000_000 + 301);
    assert.ok(!v3.ok && v3.error === RCODE.BADTIME);
  });
  it('names in TSIG digests are canonical (lowercase, RFC 8945 §4.3.3)', () => {
    assert.deepEqual(nameWire(makeName([Buffer.from('KeY')]), true), Buffer.from([3, 0x6b, 0x65, 0x79, 0]));
  });
});
