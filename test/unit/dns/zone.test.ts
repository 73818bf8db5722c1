// Zone lookup (pure) named after the RFC sections it checks, and the RFC 1035 §5 master-file parser.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QTYPE } from '../../../src/dns/codec/constants.js';
import { nameText, parseName } from '../../../src/dns/codec/name.js';
import { rdataWire, type WireRR } from '../../../src/dns/codec/rr.js';
import { parseMasterFile } from '../../../src/dns/zone/master-file.js';
import { assembleZones } from '../../../src/dns/zone/assemble.js';
import { buildZone, lookup, makeZoneSet, type Outcome, type ZoneData } from '../../../src/dns/zone/tree.js';
import { rrFromInventory } from '../../../src/dns/zone/rdata-text.js';
import { AppError } from '../../../src/lib/errors.js';

// RFC 4592 §2.2.1's example zone, plus a CNAME chain and a delegation.
const EXAMPLE = `$ORIGIN example.
$TTL 3600
@                 SOA   ns.example.com. hostmaster.example. ( 1 3600 600 604800 300 )
                  NS    ns.example.com.
                  NS    ns.example.net.
*                 TXT   "this is a wildcard"
*                 MX    10 host1.example.
sub.*             TXT   "this is not a wildcard"
host1             A     192.0.2.1
_ssh._tcp.host1   SRV   0 0 22 host1.example.
_ssh._tcp.host2   SRV   0 0 22 host2.example.
subdel            NS    ns.example.com.
subdel            NS    ns.subdel.example.
ns.subdel         A     192.0.2.53
alias             CNAME alias2
alias2            CNAME host1
loop1             CNAME loop2
loop2             CNAME loop1
`;

function zoneOf(text: string, origin = 'example.'): ZoneData {
  const o = parseName(origin);
  return buildZone(o, 'site', parseMasterFile(text, 'example.zone', { origin: o }));
}

const z = zoneOf(EXAMPLE);
const zones = makeZoneSet([z]);
const ask = (name: string, type: number): Outcome => lookup(zones, parseName(name), type, { answerable: () => true });
const owners = (o: Outcome, s: 'answer' | 'authority' | 'additional' = 'answer'): string[] =>
  o[s].map((p) => `${nameText(p.owner ?? p.rr.owner)} ${p.rr.type}`);

describe('rfc1034_4_3_2 lookup algorithm', () => {
  it('step 3.a: exact match, AA', () => {
    const o = ask('host1.example.', QTYPE.A);
    assert.equal(o.kind, 'answer');
    assert.equal(o.aa, true);
    assert.deepEqual(owners(o), ['host1.example. 1']);
  });
  it('step 3.a: CNAME chain followed, each link in the answer', () => {
    const o = ask('alias.example.', QTYPE.A);
    assert.deepEqual(owners(o), ['alias.example. 5', 'alias2.example. 5', 'host1.example. 1']);
    assert.equal(o.kind, 'answer');
  });
  it('step 3.a: a CNAME loop ends, it does not spin', () => {
    const o = ask('loop1.example.', QTYPE.A);
    assert.equal(o.answer.length, 2);
  });
  it('step 3.a: qtype CNAME returns the CNAME itself', () => {
    assert.deepEqual(owners(ask('alias.example.', QTYPE.CNAME)), ['alias.example. 5']);
  });
  it('step 3.b: a name at or below a cut is a referral with glue, not authoritative', () => {
    for (const n of ['subdel.example.', 'www.subdel.example.', 'ns.subdel.example.']) {
      const o = ask(n, QTYPE.A);
      assert.equal(o.kind, 'referral', n);
      assert.equal(o.aa, false);
      assert.deepEqual(owners(o, 'authority'), ['subdel.example. 2', 'subdel.example. 2']);
      assert.deepEqual(owners(o, 'additional'), ['ns.subdel.example. 1']);
    }
  });
  it('RFC 4035 §3.1.4.1: DS at the cut is answered by the parent (NODATA here), not referred', () => {
    assert.equal(ask('subdel.example.', QTYPE.DS).kind, 'nodata');
  });
  it('step 1: a name outside every zone is refused', () => {
    assert.equal(ask('www.example.org.', QTYPE.A).kind, 'refused');
  });
  it('zones that may not be answered (authority) are refused, and a chain stops at them', () => {
    const other = zoneOf(`$ORIGIN other.\n$TTL 60\n@ SOA ns.other. h.other. 1 2 3 4 5\nx CNAME host1.example.\n`, 'other.');
    const set = makeZoneSet([z, other]);
    const onlyOther = (d: ZoneData): boolean => d === other;
    assert.equal(lookup(set, parseName('host1.example.'), QTYPE.A, { answerable: onlyOther }).kind, 'refused');
    const o = lookup(set, parseName('x.other.'), QTYPE.A, { answerable: onlyOther });
    assert.equal(o.kind, 'answer');
    assert.equal(o.answer.length, 1);
  });
  it('RFC 8482 §4.2: ANY gets one RRset', () => {
    assert.equal(ask('example.', QTYPE.ANY).answer.length, 2); // the NS RRset (type 2 is the lowest here)
  });
  it('additional section: addresses of MX/SRV/NS targets in our zones', () => {
    const o = ask('_ssh._tcp.host1.example.', QTYPE.SRV);
    assert.deepEqual(owners(o, 'additional'), ['host1.example. 1']);
  });
});

describe('rfc4592 wildcards (§2.2.1 examples)', () => {
  it('§2.2.1: host3.example. MX and TXT are synthesised from *.example.', () => {
    const mx = ask('host3.example.', QTYPE.MX);
    assert.equal(mx.kind, 'answer');
    assert.deepEqual(owners(mx), ['host3.example. 15']);
    assert.deepEqual(owners(ask('host3.example.', QTYPE.TXT)), ['host3.example. 16']);
  });
  it('§2.2.1: host3.example. A is NODATA (the wildcard matches but has no A)', () => {
    assert.equal(ask('host3.example.', QTYPE.A).kind, 'nodata');
  });
  it('§2.2.1: foo.bar.example. TXT is synthesised (closest encloser example.)', () => {
    assert.deepEqual(owners(ask('foo.bar.example.', QTYPE.TXT)), ['foo.bar.example. 16']);
  });
  it('§2.2.1: host1.example. MX is NODATA (the name exists, no wildcard)', () => {
    assert.equal(ask('host1.example.', QTYPE.MX).kind, 'nodata');
  });
  it('§2.2.1: sub.*.example. MX is NODATA (exists), _telnet._tcp.host1.example. SRV is NXDOMAIN', () => {
    assert.equal(ask('sub.*.example.', QTYPE.MX).kind, 'nodata');
    assert.equal(ask('_telnet._tcp.host1.example.', QTYPE.SRV).kind, 'nxdomain');
  });
  it('§2.2.1: host.subdel.example. is a referral; ghost.*.example. is NXDOMAIN', () => {
    assert.equal(ask('host.subdel.example.', QTYPE.A).kind, 'referral');
    assert.equal(ask('ghost.*.example.', QTYPE.MX).kind, 'nxdomain');
  });
  it('§2.2.2: _tcp.host1.example. is an empty non-terminal: NODATA, not a wildcard match', () => {
    assert.equal(ask('_tcp.host1.example.', QTYPE.TXT).kind, 'nodata');
  });
});

describe('rfc2308 negative answers', () => {
  it('§3: NXDOMAIN and NODATA carry the SOA with TTL min(SOA TTL, SOA minimum)', () => {
    const nx = ask('_telnet._tcp.host1.example.', QTYPE.SRV);
    assert.equal(nx.authority.length, 1);
    assert.equal(nx.authority[0]!.rr.type, QTYPE.SOA);
    assert.equal(nx.authority[0]!.ttl, 300);
    const nd = ask('host1.example.', QTYPE.AAAA);
    assert.equal(nd.authority[0]!.ttl, 300);
  });
  it('§5 / RFC 6604: a CNAME to a missing name ends NXDOMAIN with the chain in the answer', () => {
    const zz = zoneOf(`$ORIGIN example.\n$TTL 60\n@ SOA ns.example. h.example. 1 2 3 4 30\na CNAME missing\n`);
    const o = lookup(makeZoneSet([zz]), parseName('a.example.'), QTYPE.A, { answerable: () => true });
    assert.equal(o.kind, 'nxdomain');
    assert.equal(o.answer.length, 1);
    assert.equal(o.authority[0]!.ttl, 30);
  });
});

describe('rfc1035_5 master files', () => {
  it('parses $ORIGIN, $TTL, @, blank owners, parentheses, comments, TTL units and class/TTL in either order', () => {
    const rrs = parseMasterFile(`$ORIGIN a.example.
$TTL 1h ; default
@ IN SOA ns hostmaster ( 1 ; serial
  2h 30m 1w 5m )
  IN NS ns
ns 60 IN A 192.0.2.1
   IN 120 AAAA 2001:db8::1
www IN CNAME @
`, 't', { origin: parseName('.') });
    assert.deepEqual(rrs.map((r) => `${nameText(r.owner)} ${r.ttl} ${r.type}`), [
      'a.example. 3600 6', 'a.example. 3600 2', 'ns.a.example. 60 1', 'ns.a.example. 120 28', 'www.a.example. 3600 5',
    ]);
    assert.equal(rdataWire(rrs[0]!).readUInt32BE(rdataWire(rrs[0]!).length - 4), 300);
  });
  it('$INCLUDE reads a file relative to the including one, with its own origin, then restores ours', () => {
    const dir = mkdtempSync(join(tmpdir(), 'builderd-dns-mf-'));
    try {
      writeFileSync(join(dir, 'inc.zone'), 'x IN A 192.0.2.9\n');
      const main = join(dir, 'main.zone');
      const rrs = parseMasterFile('$TTL 60\n$INCLUDE inc.zone sub.example.\ny IN A 192.0.2.10\n', main, { origin: parseName('example.') });
      assert.deepEqual(rrs.map((r) => r.owner.key), ['x.sub.example', 'y.example']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('RFC 3597: TYPEnnn with \\# rdata, and \\# for a known type', () => {
    const rrs = parseMasterFile('$TTL 60\na TYPE731 \\# 3 abcdef\nb A \\# 4 C0000201\nc CLASS1 TYPE1 \\# 4 0A000001\n', 't', { origin: parseName('example.') });
    assert.equal(rrs[0]!.type, 731);
    assert.equal(rdataWire(rrs[0]!).toString('hex'), 'abcdef');
    assert.equal(rdataWire(rrs[1]!).toString('hex'), 'c0000201');
    assert.equal(rrs[2]!.type, 1);
  });
  it('escapes in names and TXT, quoted strings with ; and parentheses', () => {
    const rrs = parseMasterFile('$TTL 60\na\\.b\\032c TXT "x;y (z)" w\\"v \\065\n', 't', { origin: parseName('example.') });
    assert.equal(rrs[0]!.owner.labels[0]!.toString(), 'a.b c');
    const r = rdataWire(rrs[0]!);
    assert.equal(r.toString('latin1'), '\x07x;y (z)\x03w"v\x01A');
  });
  it('errors carry file:line', () => {
    assert.throws(() => parseMasterFile('$TTL 60\n\nfoo IN A 999.1.1.1\n', 'bad.zone', { origin: parseName('example.') }),
      (e: unknown) => e instanceof AppError && /bad\.zone:3: bad IPv4/.test(e.message));
    assert.throws(() => parseMasterFile('foo IN A 192.0.2.1\n', 'nottl.zone', { origin: parseName('example.') }), /no TTL/);
    assert.throws(() => parseMasterFile('$TTL 1\nfoo IN A ( 192.0.2.1\n', 'p.zone', { origin: parseName('example.') }), /unbalanced/);
  });
});

describe('zone assembly', () => {
  it('an inventory name always wins a clash with a dynamic record; new names are added', () => {
    const soa: WireRR = rrFromInventory({ name: 'lab.example', ttl: 60, type: 'SOA', data: { mname: 'ns.lab.example', rname: 'h.lab.example', serial: 0, refresh: 1, retry: 1, expire: 1, minimum: 1 } });
    const inv = [{ origin: parseName('lab.example.'), kind: 'site' as const, records: [soa, rrFromInventory({ name: 'a.lab.example', ttl: 60, type: 'A', data: '10.0.0.1' })] }];
    const dyn = [rrFromInventory({ name: 'a.lab.example', ttl: 60, type: 'A', data: '10.0.0.9' }), rrFromInventory({ name: 'b.lab.example', ttl: 60, type: 'A', data: '10.0.0.2' })];
    const { zones: out } = assembleZones(inv, [], dyn);
    assert.deepEqual(out[0]!.records.filter((r) => r.type === QTYPE.A).map((r) => `${r.owner.key} ${rdataWire(r).join('.')}`), ['a.lab.example 10.0.0.1', 'b.lab.example 10.0.0.2']);
  });
});
