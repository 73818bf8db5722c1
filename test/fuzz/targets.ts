/*
 * What each fuzz target checks for one input (architecture habit 2): decode either returns or throws
 * the codec's own error type — nothing else — and what decodes re-encodes to the same value where
 * the codec promises it. A violation throws a Finding; anything else thrown is a crash.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import dnsPacket from 'dns-packet';
import { scanQuery, fastKey, headerPlausible, walkRecords, type RRSpan } from '../../src/dns/codec/query.js';
import { DnsDecodeError, readName, parseName } from '../../src/dns/codec/name.js';
import { rdataParts } from '../../src/dns/codec/rr.js';
import { QTYPE, RCODE } from '../../src/dns/codec/constants.js';
import { makeTsigKey, verifyRequest, type TsigKey } from '../../src/dns/codec/tsig.js';
import { FrameReader } from '../../src/dns/codec/tcp-framing.js';
import { responseLimit, writeAnswer, writeError, writeSlip, type QueryView } from '../../src/dns/handler.js';
import { assembleZones } from '../../src/dns/zone/assemble.js';
import { parseMasterFile } from '../../src/dns/zone/master-file.js';
import { rrFromInventory } from '../../src/dns/zone/rdata-text.js';
import { buildZone, lookup, makeZoneSet, type ZoneData } from '../../src/dns/zone/tree.js';
import {
  DhcpDecodeError, Opt, decodeDhcp, encodeDhcpEx, readClientArch, readClientFqdnLabel, readClientId, readClientNdi,
  readClientUuid, readIpOption, readMaxMessageSize, readMessageType, readParamRequestList, readSubOptions, readText, readUserClass,
} from '../../src/dhcp4/codec/index.js';
import { classifyClient, requestState, sanitiseHostname } from '../../src/dhcp4/policy/index.js';
import { decode as tftpDecode, encode as tftpEncode, encodingLength as tftpLength, TftpDecodeError, Opcode } from '../../src/tftp/codec.js';
import { startSession, onPacket } from '../../src/tftp/session.js';
import { loadConfig } from '../../src/config/load.js';
import { buildInventory } from '../../src/inventory/index.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const FIXTURES = join(ROOT, 'test/fixtures/fuzz');

/** A property violation (as opposed to a crash: any other exception). */
export class Finding extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Finding';
  }
}

function expect(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Finding(message);
}

/** Run `f`; only `allowed` errors may escape it (they are swallowed); returns f's value or undefined. */
function only<T>(what: string, allowed: new (...a: never[]) => Error, f: () => T): T | undefined {
  try {
    return f();
  } catch (e) {
    if (e instanceof allowed) return undefined;
    if (e instanceof Finding) throw e;
    throw new Finding(`${what} threw ${(e as Error)?.name ?? typeof e}: ${(e as Error)?.message ?? String(e)}`);
  }
}

/** Seeds of a codec: test/fixtures/fuzz/seeds/<codec>.txt ("hex # source" lines) plus built ones. */
export function loadSeeds(codec: string): Buffer[] {
  let text = '';
  try { text = readFileSync(join(FIXTURES, 'seeds', `${codec}.txt`), 'utf8'); } catch { /* none captured */ }
  const out = text.split('\n').map((l) => l.split('#')[0]!.trim()).filter(Boolean).map((h) => Buffer.from(h, 'hex'));
  return [...out, ...builtSeeds(codec)];
}

/** Crash/hang fixtures of a codec (test/fixtures/fuzz/<codec>/*.json). */
export interface Fixture { file: string; hex: string; kind: string; message: string; todo?: string }
export function loadFixtures(codec: string): Fixture[] {
  const dir = join(FIXTURES, codec);
  let names: string[] = [];
  try { names = readdirSync(dir).filter((n) => n.endsWith('.json')).sort(); } catch { return []; }
  return names.map((n) => ({ file: join(dir, n), ...(JSON.parse(readFileSync(join(dir, n), 'utf8')) as Omit<Fixture, 'file'>) }));
}

// ------------------------------------------------------------------------------------------ DNS --

let dnsIndex: ReturnType<typeof makeZoneSet> | undefined;
const tsigKeys = new Map<string, TsigKey>();
{
  const k = makeTsigKey('xfr-key', Buffer.alloc(32, 7).toString('base64'));
  tsigKeys.set(k.name.key, k);
}

/** The zones of config/example.yaml plus the zone-file fixture (many record types), built as the service does. */
function zones(): ReturnType<typeof makeZoneSet> {
  if (dnsIndex) return dnsIndex;
  const { config } = loadConfig(join(ROOT, 'config/example.yaml'));
  const inv = buildInventory(config);
  const sources = inv.zones.map((z) => ({ origin: parseName(`${z.origin}.`), kind: z.kind, records: z.records.map(rrFromInventory) }));
  const file = join(ROOT, 'test/fixtures/dns/files.example.net.zone');
  const fileRecs = parseMasterFile(readFileSync(file, 'utf8'), file, { origin: parseName('files.example.net.'), defaultTtl: undefined });
  const built: ZoneData[] = [];
  for (const z of assembleZones(sources, fileRecs, []).zones) {
    if (!z.records.some((r) => r.type === QTYPE.SOA && r.owner.key === z.origin.key)) continue;
    built.push(buildZone(z.origin, z.kind, z.records));
  }
  dnsIndex = makeZoneSet(built);
  return dnsIndex;
}

const scratch = Buffer.alloc(600);
const MAX_UDP = 1232;

/** A response we wrote must be a valid DNS message that dns-packet decodes, within the size limit. */
function checkResponse(resp: Buffer, q: QueryView, limit: number, what: string): void {
  expect(resp.length <= Math.max(limit, 512), `${what}: ${resp.length} bytes over the limit ${limit}`);
  expect(resp.length >= 12 && resp.readUInt16BE(0) === q.id, `${what}: id not echoed`);
  expect((resp[2]! & 0x80) !== 0, `${what}: QR not set`);
  let d: dnsPacket.DecodedPacket;
  try {
    d = dnsPacket.decode(resp);
  } catch (e) {
    throw new Finding(`${what}: dns-packet cannot decode our response: ${(e as Error).message} (${resp.toString('hex')})`);
  }
  expect(d.id === q.id, `${what}: decoded id`);
  expect((d.questions?.length ?? 0) === (q.qname ? 1 : 0), `${what}: question count`);
  if ((resp[2]! & 0x02) !== 0) expect((d.answers?.length ?? 0) === 0, `${what}: TC with answers`);
}

/** DNS: scanner and fast path agree, nothing escapes but their own results, responses decode. */
export function checkDns(buf: Buffer): void {
  const r = only('scanQuery', Never, () => scanQuery(buf))!;
  only('headerPlausible', Never, () => headerPlausible(buf));
  const fk = only('fastKey', Never, () => fastKey(buf, scratch, MAX_UDP));
  if ('fail' in r) {
    expect(!fk, `fastKey accepts a query scanQuery rejects (${r.reason}): the cache path would answer it`);
    if (r.fail === 'formerr' && r.id !== undefined) {
      const v: QueryView = { id: r.id, flags: r.flags ?? 0, qname: null, questionEnd: 12, edns: null };
      const resp = only('writeError', Never, () => writeError(buf, v, RCODE.FORMERR, MAX_UDP))!;
      checkResponse(resp, v, 512, 'FORMERR');
    }
    return;
  }
  if (fk) expect(fk.questionEnd === r.questionEnd, 'fastKey and scanQuery disagree on the question end');
  const spans: RRSpan[] = [...r.answer, ...r.authority, ...r.additional];
  for (const s of spans) {
    expect(s.start >= 12 && s.end <= buf.length && s.rdata + s.rdlength === s.end, 'record span outside the message');
    // rdata of the types we re-read (journal, zone data) splits or throws DnsDecodeError only.
    only(`rdataParts(${s.type})`, DnsDecodeError, () => rdataParts(s.type, buf.subarray(s.rdata, s.end)));
    only('readName(owner)', DnsDecodeError, () => readName(buf, s.start));
  }
  if (r.tsigStart >= 0) {
    const span = r.additional[r.additional.length - 1]!;
    only('verifyRequest', Never, () => verifyRequest(buf, span, tsigKeys, Math.floor(Date.now() / 1000)));
  }
  const v: QueryView = { id: r.id, flags: r.flags, qname: r.qname, questionEnd: r.questionEnd, edns: r.edns };
  for (const tcp of [false, true]) {
    const limit = responseLimit(v, tcp, MAX_UDP);
    const outcome = only('lookup', Never, () => lookup(zones(), r.qname, r.qtype, { answerable: () => true }))!;
    const resp = only('writeAnswer', Never, () => writeAnswer(buf, v, outcome, limit, MAX_UDP))!;
    checkResponse(resp, v, limit, `answer (${tcp ? 'tcp' : 'udp'})`);
  }
  checkResponse(only('writeError', Never, () => writeError(buf, v, RCODE.REFUSED, MAX_UDP))!, v, 512, 'REFUSED');
  checkResponse(only('writeSlip', Never, () => writeSlip(buf, v))!, v, 512, 'slip');
  // The same bytes through TCP framing, split at a random point, give the message back.
  const framed = Buffer.concat([Buffer.from([buf.length >> 8, buf.length & 0xff]), buf]);
  if (buf.length > 0) {
    const fr = new FrameReader();
    const cut = buf.length % framed.length;
    const got = [...fr.push(framed.subarray(0, cut)), ...fr.push(framed.subarray(cut))];
    expect(got.length === 1 && got[0]!.equals(buf), 'TCP framing lost the message');
  }
}

/** Marker: no error type is allowed. */
class Never extends Error {}

// ----------------------------------------------------------------------------------------- DHCP --

/** DHCP: decode returns or throws DhcpDecodeError; readers never throw; encode(decode(x)) decodes to the same packet. */
export function checkDhcp(buf: Buffer): void {
  const p = only('decodeDhcp', DhcpDecodeError, () => decodeDhcp(buf));
  if (!p) return;
  const o = p.options;
  only('option readers', Never, () => {
    readMessageType(o); readIpOption(o, Opt.REQUESTED_IP); readIpOption(o, Opt.SERVER_ID); readMaxMessageSize(o);
    readParamRequestList(o); readText(o, Opt.HOSTNAME); readUserClass(o); readClientArch(o); readClientNdi(o);
    readClientUuid(o); readClientId(o); readClientFqdnLabel(o);
    for (const c of [Opt.VENDOR_SPECIFIC, Opt.RELAY_AGENT_INFO, Opt.IPXE_ENCAP]) readSubOptions(o.get(c));
    sanitiseHostname(readText(o, Opt.HOSTNAME) ?? readClientFqdnLabel(o));
    classifyClient({ vendorClass: readText(o, Opt.VENDOR_CLASS), userClass: readUserClass(o), arch: readClientArch(o), hasIpxeEncap: o.has(Opt.IPXE_ENCAP) });
    requestState({ serverId: readIpOption(o, Opt.SERVER_ID), requestedIp: readIpOption(o, Opt.REQUESTED_IP), ciaddr: p.ciaddr });
  });
  for (const maxSize of [576 - 28, 1472]) {
    const enc = only('encodeDhcpEx', Never, () => encodeDhcpEx(p, { maxSize }))!;
    expect(enc.bytes.length <= maxSize && enc.bytes.length >= 300, `encode: ${enc.bytes.length} bytes for max ${maxSize}`);
    let q;
    try { q = decodeDhcp(enc.bytes); } catch (e) { throw new Finding(`decode(encode(p)) threw: ${(e as Error).message}`); }
    for (const k of ['op', 'htype', 'hlen', 'hops', 'xid', 'secs', 'flags', 'ciaddr', 'yiaddr', 'siaddr', 'giaddr'] as const) {
      expect(q[k] === p[k], `round trip changed ${k}: ${p[k]} → ${q[k]}`);
    }
    expect(q.chaddr.equals(p.chaddr), 'round trip changed chaddr');
    // The encoder keeps a NUL at the end of sname (64) and file (128), so a full-length field loses its last byte.
    expect(q.sname === p.sname.slice(0, 63), `round trip changed sname: ${JSON.stringify(p.sname)} → ${JSON.stringify(q.sname)}`);
    expect(q.file === p.file.slice(0, 127), `round trip changed file: ${JSON.stringify(p.file)} → ${JSON.stringify(q.file)}`);
    for (const [code, value] of p.options) {
      if (enc.dropped.includes(code)) { expect(!q.options.has(code), `dropped option ${code} still present`); continue; }
      const got = q.options.get(code);
      expect(got !== undefined && got.equals(value), `round trip changed option ${code}: ${value.toString('hex')} → ${got?.toString('hex')}`);
    }
    for (const code of q.options.keys()) expect(p.options.has(code), `round trip added option ${code}`);
  }
}

// ----------------------------------------------------------------------------------------- TFTP --

/** TFTP: decode returns or throws TftpDecodeError; encode(decode(x)) decodes to the same packet; sessions never throw. */
export function checkTftp(buf: Buffer): void {
  const p = only('tftp decode', TftpDecodeError, () => tftpDecode(buf));
  if (!p) return;
  const b = only('tftp encode', Never, () => tftpEncode(p))!;
  expect(b.length === tftpLength(p), `encodingLength ${tftpLength(p)} != ${b.length} bytes written`);
  let q;
  try { q = tftpDecode(b); } catch (e) { throw new Finding(`decode(encode(p)) threw: ${(e as Error).message}`); }
  expect(isDeepStrictEqual(q, p), 'decode(encode(p)) differs from p');
  if (p.opcode === Opcode.RRQ) {
    const s = only('startSession', Never, () => startSession(buf.length * 37, p.options, { maxBlksize: 1468, maxWindowsize: 64 }))!;
    // Feed the session a few packets made of the same bytes (what a confused client might send).
    for (const pk of [{ opcode: Opcode.ACK, block: 0 }, { opcode: Opcode.ACK, block: buf.length & 0xffff }, p, { opcode: Opcode.ACK, block: 1 }] as const) {
      only('session onPacket', Never, () => onPacket(s.session, pk));
    }
  }
}

/** Target table: name → seeds and check. */
export const targets: Record<string, { check: (b: Buffer) => void; max: number }> = {
  dns: { check: checkDns, max: 1500 },
  dhcp: { check: checkDhcp, max: 1500 },
  tftp: { check: checkTftp, max: 1500 },
};

/** Seeds built in code, besides the captured ones: RFC-shaped packets the captures lack. */
function builtSeeds(codec: string): Buffer[] {
  const out: Buffer[] = [];
  if (codec === 'dns') {
    const names = ['hv01.lab.example.net', 'lab.example.net', 'big.files.example.net', 'a.wild.files.example.net', 'sub.deleg.files.example.net', 'chain.files.example.net'];
    const types = ['A', 'TXT', 'ANY', 'SOA', 'NS', 'MX', 'CNAME', 'AAAA'] as const;
    for (const n of names) for (const t of types) out.push(dnsPacket.encode({ id: out.length, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: n, type: t as 'A' }] }));
    // IXFR with an SOA in authority (RFC 1995 §3), compressed names in records.
    out.push(dnsPacket.encode({ id: 9, type: 'query', questions: [{ name: 'lab.example.net', type: 'IXFR' as 'A' }],
      authorities: [{ name: 'lab.example.net', type: 'SOA', data: { mname: 'ns.lab.example.net', rname: 'h.lab.example.net', serial: 5, refresh: 1, retry: 1, expire: 1, minimum: 1 } }] }));
    out.push(dnsPacket.encode({ id: 10, type: 'query', questions: [{ name: 'lab.example.net', type: 'SOA' }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096, flags: 0x8000, options: [{ code: 10, data: Buffer.alloc(8, 1) }] } as unknown as dnsPacket.Answer] }));
  }
  if (codec === 'dhcp') {
    // Long options (RFC 3396 split) and option overload (RFC 2131 §4.1), from our own encoder.
    const base = {
      op: 1, htype: 1, hlen: 6, hops: 0, xid: 0x1234, secs: 0, flags: 0x8000, ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '10.99.1.1',
      chaddr: Buffer.from('525400aa0010' + '00'.repeat(10), 'hex'), sname: '', file: '',
    };
    const opts = new Map<number, Buffer>([[53, Buffer.from([1])], [55, Buffer.from([1, 3, 6, 15, 66, 67, 175])], [60, Buffer.from('PXEClient:Arch:00007:UNDI:003016')],
      [93, Buffer.from([0, 7])], [97, Buffer.concat([Buffer.from([0]), Buffer.alloc(16, 0xab)])], [77, Buffer.from('iPXE')], [82, Buffer.from([1, 4, 0x65, 0x74, 0x68, 0x31, 2, 6, 1, 2, 3, 4, 5, 6])]]);
    out.push(encodeDhcpEx({ ...base, options: opts }).bytes);
    out.push(encodeDhcpEx({ ...base, options: new Map([...opts, [43, Buffer.alloc(600, 0x11)]]) }, { maxSize: 1472 }).bytes);
    out.push(encodeDhcpEx({ ...base, options: new Map([...opts, [12, Buffer.alloc(200, 0x61)], [15, Buffer.alloc(200, 0x62)], [81, Buffer.from([4, 0, 0, 3, 0x61, 0x62, 0x63, 0])]]) }).bytes);
    out.push(encodeDhcpEx({ ...base, options: new Map([[53, Buffer.from([3])], [50, Buffer.from([10, 99, 0, 150])], [54, Buffer.from([10, 99, 0, 1])], [61, Buffer.from('01525400aa0010', 'hex')], [57, Buffer.from([5, 0xc0])]]) }).bytes);
  }
  if (codec === 'tftp') {
    const rrq = (s: string): Buffer => Buffer.concat([Buffer.from([0, 1]), Buffer.from(s, 'latin1')]);
    out.push(rrq('pxelinux.0\0octet\0blksize\x001468\0tsize\x000\0windowsize\x0064\0timeout\x001\0'));
    out.push(rrq('../../etc/passwd\0netascii\0'));
    out.push(rrq('grub.cfg-01-52-54-00-aa-00-10\0OCTET\0BLKSIZE\x0065464\0'));
  }
  return out;
}
