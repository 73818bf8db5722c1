// The answer engine (issue 9's hot path) and the batch socket's address codec.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import { createAnswerEngine, countKey, type AnswerEngine } from '../../../src/dns/engine.js';
import { questionKey, type QuestionKey } from '../../../src/dns/codec/query.js';
import { sockaddr, sockaddrAddress } from '../../../src/dns/udp-batch.js';
import { workerExecArgv } from '../../../src/dns/workers.js';
import { buildZone, makeZoneSet } from '../../../src/dns/zone/tree.js';
import { decodeZone, encodeZone } from '../../../src/dns/zone/zone-wire.js';
import { parseMasterFile } from '../../../src/dns/zone/master-file.js';
import { parseName } from '../../../src/dns/codec/name.js';

const ZONE = `$ORIGIN lab.example.
$TTL 300
@ IN SOA ns1 hostmaster 7 3600 600 86400 60
@ IN NS ns1
ns1 IN A 10.0.0.1
host1 IN A 10.0.0.11
host1 IN AAAA 2001:db8::11
www IN CNAME host1
`;

function zoneData() {
  const origin = parseName('lab.example.');
  return buildZone(origin, 'site', parseMasterFile(ZONE, 'lab.example.zone', { origin, defaultTtl: undefined }));
}

function engine(site = () => true): AnswerEngine & { drops: string[] } {
  const drops: string[] = [];
  const e = createAnswerEngine({
    ourUdp: 1232, rrl: { responsesPerSecond: 0, slip: 2, window: 15 }, forwarders: false,
    forwardable: () => false, siteAuthoritative: site, mono: () => performance.now(), onDrop: (r) => drops.push(r),
  });
  e.setIndex(makeZoneSet([zoneData()]));
  return Object.assign(e, { drops });
}

function q(name: string, type: string, id = 1, edns = false): Buffer {
  return dnsPacket.encode({
    id, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: type as 'A', class: 'IN' }],
    ...(edns ? { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096, flags: 0 } as dnsPacket.Answer] } : {}),
  });
}
const peer = { address: '127.0.0.1' };

describe('answer engine', () => {
  it('a cache hit equals a fresh answer, with the ID and the client\'s question case patched in', () => {
    const e = engine();
    const first = e.answer(q('host1.lab.example', 'A', 10), peer, false)!;
    const hit = e.answer(q('HOST1.lab.EXAMPLE', 'A', 11), peer, false)!;
    const fresh = engine().answer(q('HOST1.lab.EXAMPLE', 'A', 11), peer, false)!;
    assert.deepEqual(hit, fresh);
    assert.equal(first.readUInt16BE(0), 10);
    const d = dnsPacket.decode(hit);
    assert.equal(d.id, 11);
    assert.equal(d.questions![0]!.name, 'HOST1.lab.EXAMPLE');
    assert.equal((d.answers![0] as { data: string }).data, '10.0.0.11');
    assert.equal(d.flags! & dnsPacket.RECURSION_DESIRED, dnsPacket.RECURSION_DESIRED, 'RD copied');
  });

  it('answerInto writes the same bytes as answer, at the offset; -1 for the full path', () => {
    const a = engine(), b = engine();
    const out = Buffer.alloc(4096);
    for (const [n, t, edns] of [['www.lab.example', 'A', false], ['www.lab.example', 'A', false], ['nope.lab.example', 'A', true], ['host1.lab.example', 'AAAA', true]] as const) {
      const m = q(n, t, 77, edns);
      const want = a.answer(m, peer, false)!;
      const len = b.answerInto(Buffer.concat([Buffer.alloc(5), m]), 5, m.length, peer, out, 1000);
      assert.deepEqual(out.subarray(1000, 1000 + len), want);
    }
    const axfr = q('lab.example', 'AXFR');
    assert.equal(b.answerInto(axfr, 0, axfr.length, peer, out, 0), -1);
    assert.equal(b.answer(q('lab.example', 'IXFR'), peer, false), undefined);
  });

  it('authority fencing: site zones REFUSED once the view flips (the cache is dropped)', () => {
    let site = true;
    const e = engine(() => site);
    assert.equal(dnsPacket.decode(e.answer(q('host1.lab.example', 'A'), peer, false)!).flags! & 0xf, 0, 'NOERROR');
    site = false;
    assert.equal(dnsPacket.decode(e.answer(q('host1.lab.example', 'A'), peer, false)!).flags! & 0xf, 5, 'REFUSED');
  });

  it('counts answers by rcode, qtype and transport; drops bad packets with a reason', () => {
    const e = engine();
    e.answer(q('host1.lab.example', 'A'), peer, false);
    e.answer(q('host1.lab.example', 'A'), peer, false);
    e.answer(q('nope.lab.example', 'A'), peer, true);
    assert.equal(e.answer(Buffer.from([1, 2, 3]), peer, false), null);
    const c = [...e.drain()].map(([k, n]) => ({ ...countKey(k), n }));
    assert.deepEqual(c.sort((x, y) => x.rcode - y.rcode), [{ rcode: 0, qtype: 1, tcp: false, n: 2 }, { rcode: 3, qtype: 1, tcp: true, n: 1 }]);
    assert.deepEqual(e.drops, ['short']);
    assert.equal(e.drain().size, 0);
  });

  it('questionKey: case-insensitive (RFC 4343), EDNS size bucket and transport in the key', () => {
    const s1 = Buffer.alloc(320), s2 = Buffer.alloc(320);
    const k1: QuestionKey = { length: 0, questionEnd: 0, hash: 0 }, k2: QuestionKey = { length: 0, questionEnd: 0, hash: 0 };
    assert.ok(questionKey(q('Host1.Lab.Example', 'A'), s1, 1232, false, k1));
    assert.ok(questionKey(q('host1.lab.example', 'A'), s2, 1232, false, k2));
    assert.equal(k1.hash, k2.hash);
    assert.deepEqual(s1.subarray(0, k1.length), s2.subarray(0, k2.length));
    assert.ok(questionKey(q('host1.lab.example', 'A'), s2, 1232, true, k2));
    assert.notEqual(k1.hash, k2.hash);
    assert.ok(questionKey(q('host1.lab.example', 'A', 1, true), s2, 1232, false, k2));
    assert.notEqual(k1.hash, k2.hash);
    const notPlain = dnsPacket.encode({ id: 1, type: 'response', questions: [{ name: 'a.b', type: 'A', class: 'IN' }] });
    assert.equal(questionKey(notPlain, s1, 1232, false, k1), false);
  });
});

describe('zone payload (primary → worker)', () => {
  it('decode(encode(zone)) answers the same', () => {
    const z = zoneData();
    const back = decodeZone(JSON.parse(JSON.stringify(encodeZone(z))));
    assert.equal(back.serial, 7);
    assert.equal(back.records.length, z.records.length);
    const a = engine();
    const b = engine();
    b.setIndex(makeZoneSet([back]));
    for (const [n, t] of [['www.lab.example', 'A'], ['lab.example', 'SOA'], ['x.lab.example', 'A'], ['host1.lab.example', 'AAAA']]) {
      assert.deepEqual(b.answer(q(n!, t!), peer, false), a.answer(q(n!, t!), peer, false));
    }
  });
});

describe('sockaddr codec (native/udpbatch)', () => {
  it('round-trips IPv4, IPv6 (RFC 5952 text) and IPv4-mapped addresses', () => {
    for (const a of ['127.0.0.1', '10.99.1.42', '::1', '2001:db8::11', 'fe80::1:0:0:2', '2001:db8:1:2:3:4:5:6', '::ffff:10.0.0.1', '::']) {
      const s = sockaddr(a, 5353);
      assert.equal(sockaddrAddress(Buffer.concat([s, Buffer.alloc(32 - s.length)]), 0), a);
      assert.equal(s.readUInt16BE(2), 5353);
    }
  });
});

describe('worker flags', () => {
  it('keep the loader, drop the test runner\'s flags and their values', () => {
    assert.deepEqual(workerExecArgv(['--import', 'tsx', '--test-name-pattern', 'flood', '--test-only', '--cpu-prof', '--test-reporter=spec']),
      ['--import', 'tsx', '--cpu-prof']);
  });
});
