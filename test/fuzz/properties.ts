/*
 * Structure-aware properties (fast-check): packets generated from their parts must survive the
 * codec exactly — RFC 3396 long options and RFC 2131 §4.1 overload for DHCP, every RFC 1350/2347
 * packet for TFTP, and any well-formed query for the DNS scanner (then the same checks as the mutator).
 */
import fc from 'fast-check';
import dnsPacket from 'dns-packet';
import { isDeepStrictEqual } from 'node:util';
import { decodeDhcp, encodeDhcp, encodeDhcpEx, type DhcpPacket } from '../../src/dhcp4/codec/index.js';
import { decode as tftpDecode, encode as tftpEncode, encodingLength, Opcode, type Packet } from '../../src/tftp/codec.js';
import { scanQuery } from '../../src/dns/codec/query.js';
import { checkDns } from './targets.js';

export interface PropResult { runs: number; failure?: { message: string; input: Buffer } }
export interface Prop { name: string; run(runs: number, seed: number, timeMs: number, tick?: (input: Buffer) => void): PropResult }

function prop<T>(name: string, arb: fc.Arbitrary<T>, test: (v: T) => void, toBytes: (v: T) => Buffer): Prop {
  return {
    name,
    run(runs, seed, timeMs, tick) {
      let count = 0;
      const d = fc.check(fc.property(arb, (v) => {
        count++;
        if (tick) { try { tick(toBytes(v)); } catch { /* not encodable: still tested */ } }
        test(v);
      }), { numRuns: runs, seed, interruptAfterTimeLimit: timeMs, markInterruptAsFailure: false });
      if (!d.failed || !d.counterexample) return { runs: count };
      let input: Buffer;
      try { input = toBytes(d.counterexample[0]); } catch { input = Buffer.alloc(0); }
      const err = d.errorInstance as Error | undefined;
      return { runs: count, failure: { message: `${err?.message ?? 'failed'} (counterexample ${fc.stringify(d.counterexample[0]).slice(0, 600)})`, input } };
    },
  };
}

const ip = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join('.'));
const latin1 = (max: number) => fc.string({ unit: fc.integer({ min: 1, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: max });
const optionCode = fc.integer({ min: 1, max: 254 }).filter((c) => c !== 52);

/** A DHCP packet with any options (values up to 700 bytes: several RFC 3396 instances). */
export const dhcpPacketArb: fc.Arbitrary<DhcpPacket> = fc.record({
  op: fc.constantFrom(1, 2), htype: fc.nat(255), hlen: fc.nat(16), hops: fc.nat(255), xid: fc.nat(0xffffffff), secs: fc.nat(0xffff), flags: fc.nat(0xffff),
  ciaddr: ip, yiaddr: ip, siaddr: ip, giaddr: ip,
  chaddr: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a)),
  sname: fc.oneof(fc.constant(''), latin1(63)), file: fc.oneof(fc.constant(''), latin1(127)),
  options: fc.uniqueArray(fc.tuple(optionCode, fc.oneof(
    { weight: 4, arbitrary: fc.uint8Array({ maxLength: 40 }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 700 }) },
  )), { selector: ([c]) => c, maxLength: 24 }).map((xs) => new Map(xs.map(([c, v]) => [c, Buffer.from(v)]))),
});

function dhcpRoundTrip(p: DhcpPacket, maxSize: number): void {
  const { bytes, dropped } = encodeDhcpEx(p, { maxSize });
  if (bytes.length > Math.max(548, maxSize)) throw new Error(`${bytes.length} bytes over max ${maxSize}`);
  const q = decodeDhcp(bytes);
  for (const k of ['op', 'htype', 'hlen', 'hops', 'xid', 'secs', 'flags', 'ciaddr', 'yiaddr', 'siaddr', 'giaddr', 'sname', 'file'] as const) {
    if (q[k] !== p[k]) throw new Error(`${k}: ${JSON.stringify(p[k])} → ${JSON.stringify(q[k])}`);
  }
  if (!q.chaddr.equals(p.chaddr)) throw new Error('chaddr changed');
  for (const [c, v] of p.options) {
    if (dropped.includes(c)) continue;
    const got = q.options.get(c);
    if (!got || !got.equals(v)) throw new Error(`option ${c} (${v.length} bytes) → ${got ? `${got.length} bytes` : 'missing'}`);
  }
  if (q.options.size !== p.options.size - dropped.length) throw new Error('option count changed');
  // Nothing is dropped when everything fits the main area (RFC 2131 §4.1: overload only when needed).
  const need = [...p.options.values()].reduce((n, v) => n + v.length + 2 * Math.max(1, Math.ceil(v.length / 255)), 0);
  if (need <= maxSize - 241 && dropped.length) throw new Error(`dropped ${dropped} although ${need} bytes fit`);
}

const tstr = fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => !s.includes('\0'));
const lower = tstr.filter((s) => s === s.toLowerCase() && s.toLowerCase() === s.toLowerCase().toLowerCase());
const tftpOptions = fc.uniqueArray(fc.tuple(lower.filter((s) => s.length > 0), tstr), { selector: ([k]) => k, maxLength: 6 }).map((xs) => new Map(xs));
/** Any TFTP packet (RFC 1350 §5, RFC 2347 OACK), option names lowercase as decode gives them. */
export const tftpPacketArb: fc.Arbitrary<Packet> = fc.oneof(
  fc.record({ opcode: fc.constantFrom(Opcode.RRQ, Opcode.WRQ), filename: tstr, mode: lower, options: tftpOptions }),
  fc.record({ opcode: fc.constant(Opcode.DATA), block: fc.nat(0xffff), data: fc.uint8Array({ maxLength: 1468 }).map((a) => Buffer.from(a)) }),
  fc.record({ opcode: fc.constant(Opcode.ACK), block: fc.nat(0xffff) }),
  fc.record({ opcode: fc.constant(Opcode.ERROR), code: fc.nat(0xffff), message: tstr }),
  fc.record({ opcode: fc.constant(Opcode.OACK), options: tftpOptions }),
).map((p) => ({ ...p })) as fc.Arbitrary<Packet>;

const label = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_'.split('')), minLength: 1, maxLength: 63 });
const dnsName = fc.array(label, { maxLength: 8 }).map((ls) => ls.join('.')).filter((n) => n.length <= 253);
/** A well-formed query: one question, optional EDNS with options. */
export const dnsQueryArb = fc.record({
  id: fc.nat(0xffff), rd: fc.boolean(), cd: fc.boolean(), name: fc.oneof(dnsName, dnsName.map((n) => `${n}.lab.example.net`.replace(/^\./, ''))),
  type: fc.oneof(fc.constantFrom('A', 'AAAA', 'ANY', 'SOA', 'NS', 'MX', 'TXT', 'SRV', 'CNAME', 'PTR', 'CAA'), fc.nat(0xffff)),
  klass: fc.constantFrom('IN', 'CH', 'ANY'),
  edns: fc.option(fc.record({ size: fc.nat(0xffff), do: fc.boolean(), opts: fc.array(fc.record({ code: fc.integer({ min: 1, max: 65000 }), data: fc.uint8Array({ maxLength: 40 }) }), { maxLength: 3 }) })),
});
type DnsQuerySpec = typeof dnsQueryArb extends fc.Arbitrary<infer T> ? T : never;
function dnsBytes(q: DnsQuerySpec): Buffer {
  const flags = (q.rd ? dnsPacket.RECURSION_DESIRED : 0) | (q.cd ? dnsPacket.CHECKING_DISABLED : 0);
  const type = (typeof q.type === 'number' ? (q.type === 41 ? 1 : q.type) : q.type) as 'A';
  return dnsPacket.encode({
    id: q.id, type: 'query', flags, questions: [{ name: q.name, type: (typeof type === 'number' ? `TYPE${type}` : type) as 'A', class: q.klass as 'IN' }],
    additionals: q.edns ? [{ type: 'OPT', name: '.', udpPayloadSize: q.edns.size, flags: q.edns.do ? 0x8000 : 0, options: q.edns.opts.map((o: { code: number; data: Uint8Array }) => ({ code: o.code, data: Buffer.from(o.data) })) } as unknown as dnsPacket.Answer] : [],
  });
}

export const properties: Record<string, Prop[]> = {
  dhcp: [
    prop('dhcp round trip (RFC 3396 long options, RFC 2131 §4.1 overload, 548-byte limit)', dhcpPacketArb, (p) => dhcpRoundTrip(p, 548), (p) => encodeDhcp(p)),
    prop('dhcp round trip (max message size 1472)', dhcpPacketArb, (p) => dhcpRoundTrip(p, 1472), (p) => encodeDhcp(p, { maxSize: 1472 })),
  ],
  tftp: [
    prop('tftp decode(encode(p)) = p, encodingLength exact', tftpPacketArb, (p) => {
      const b = tftpEncode(p);
      if (b.length !== encodingLength(p)) throw new Error(`encodingLength ${encodingLength(p)} != ${b.length}`);
      const q = tftpDecode(b);
      if (!isDeepStrictEqual(q, p)) throw new Error('decoded packet differs');
    }, (p) => tftpEncode(p)),
  ],
  dns: [
    prop('dns well-formed query scans, and the mutator checks hold', dnsQueryArb, (q) => {
      const b = dnsBytes(q);
      const r = scanQuery(b);
      if ('fail' in r) throw new Error(`well-formed query rejected: ${r.reason}`);
      if (r.qname.key !== q.name.toLowerCase()) throw new Error(`qname ${r.qname.key} != ${q.name.toLowerCase()}`);
      checkDns(b);
    }, dnsBytes),
  ],
};
