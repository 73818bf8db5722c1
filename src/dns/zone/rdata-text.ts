import { isIPv4, isIPv6 } from 'node:net';
import dnsPacket from 'dns-packet';
import { QCLASS, QTYPE, typeName } from '../codec/constants.js';
import { DnsDecodeError, parseName, type DnsName } from '../codec/name.js';
import { rdataParts, type RdataPart, type WireRR } from '../codec/rr.js';
import type { ResourceRecord } from '../../inventory/types.js';

/** One token of a master file (RFC 1035 §5.1): raw text with escapes kept, and whether it was quoted. */
export interface Token { text: string; quoted: boolean }

/** RFC 1035 §5.1 escapes (\c, \DDD) of a token → bytes. */
export function unescapeBytes(text: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x5c && i + 1 < text.length) {
      const d = /^\d{3}/.exec(text.slice(i + 1, i + 4));
      if (d) {
        if (Number(d[0]) > 255) throw new DnsDecodeError(`bad escape \\${d[0]}`);
        out.push(Number(d[0]));
        i += 3;
      } else out.push(text.charCodeAt(++i) & 0xff);
    } else if (ch > 0x7f) {
      for (const b of Buffer.from(text[i]!, 'utf8')) out.push(b);
    } else out.push(ch);
  }
  return Buffer.from(out);
}

/** A TTL or SOA timer: seconds, or BIND-style units (1w2d3h4m5s). */
export function parseTtl(text: string): number {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n > 0xffffffff) throw new DnsDecodeError(`TTL out of range: ${text}`);
    return n;
  }
  const re = /(\d+)([smhdw])/giy;
  let total = 0, consumed = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * ({ s: 1, m: 60, h: 3600, d: 86400, w: 604800 } as Record<string, number>)[m[2]!.toLowerCase()]!;
    consumed = re.lastIndex;
  }
  if (consumed !== text.length || text.length === 0 || total > 0xffffffff) throw new DnsDecodeError(`bad TTL: ${text}`);
  return total;
}

/** dns-packet's rdata encoders (each writes a 2-byte rdlength first); @types/dns-packet omits them. */
const rdataCodec = dnsPacket as unknown as {
  a: { encode(host: string): Buffer };
  aaaa: { encode(host: string): Buffer };
  txt: { encode(data: Buffer[]): Buffer };
};

function u16(n: number): Buffer { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b; }
function u32(n: number): Buffer { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0); return b; }

function int(text: string | undefined, max: number, what: string): number {
  if (text === undefined || !/^\d+$/.test(text) || Number(text) > max) throw new DnsDecodeError(`bad ${what}: ${text ?? '(missing)'}`);
  return Number(text);
}

/** Character strings of TXT (RFC 1035 §3.3.14): each at most 255 bytes, longer text chunked. */
export function txtRdata(strings: Buffer[]): Buffer {
  const chunks: Buffer[] = [];
  for (const s of strings) {
    if (s.length === 0) chunks.push(s);
    for (let i = 0; i < s.length; i += 255) chunks.push(s.subarray(i, i + 255));
  }
  if (chunks.length === 0) chunks.push(Buffer.alloc(0));
  const enc = rdataCodec.txt.encode(chunks);
  return enc.subarray(2);
}

/** Rdata of `type` from master-file tokens (RFC 1035 §5.1, RFC 3597 §5 for `\#`). */
export function rdataFromText(type: number, tokens: Token[], origin: DnsName): RdataPart[] {
  const t = tokens.map((x) => x.text);
  const name = (i: number): DnsName => {
    if (t[i] === undefined) throw new DnsDecodeError(`${typeName(type)}: missing name`);
    return parseName(t[i]!, origin);
  };
  const arity = (n: number): void => {
    if (t.length !== n) throw new DnsDecodeError(`${typeName(type)}: expected ${n} fields, got ${t.length}`);
  };
  if (t[0] === '\\#' && !tokens[0]!.quoted) {
    const len = int(t[1], 65535, 'rdata length');
    const hex = t.slice(2).join('');
    if (!/^[0-9a-fA-F]*$/.test(hex) || hex.length !== len * 2) throw new DnsDecodeError('\\# rdata does not match its length');
    return rdataParts(type, Buffer.from(hex, 'hex'));
  }
  switch (type) {
    case QTYPE.A:
      arity(1);
      if (!isIPv4(t[0]!)) throw new DnsDecodeError(`bad IPv4 address: ${t[0]}`);
      return [rdataCodec.a.encode(t[0]!).subarray(2)];
    case QTYPE.AAAA:
      arity(1);
      if (!isIPv6(t[0]!)) throw new DnsDecodeError(`bad IPv6 address: ${t[0]}`);
      return [rdataCodec.aaaa.encode(t[0]!).subarray(2)];
    case QTYPE.NS: case QTYPE.CNAME: case QTYPE.PTR:
      arity(1);
      return [name(0)];
    case QTYPE.MX:
      arity(2);
      return [u16(int(t[0], 65535, 'MX preference')), name(1)];
    case QTYPE.SOA: {
      arity(7);
      const nums = t.slice(2).map((x, i) => (i === 0 ? int(x, 0xffffffff, 'serial') : parseTtl(x)));
      return [name(0), name(1), Buffer.concat(nums.map(u32))];
    }
    case QTYPE.TXT:
      if (t.length === 0) throw new DnsDecodeError('TXT: no strings');
      return [txtRdata(tokens.map((x) => unescapeBytes(x.text)))];
    case QTYPE.SRV:
      arity(4);
      // RFC 2782: the target is never compressed (SRV is not in COMPRESSIBLE).
      return [Buffer.concat([u16(int(t[0], 65535, 'SRV priority')), u16(int(t[1], 65535, 'SRV weight')), u16(int(t[2], 65535, 'SRV port'))]), name(3)];
    case QTYPE.CAA: {
      arity(3);
      const tag = unescapeBytes(t[1]!);
      if (tag.length === 0 || tag.length > 255 || !/^[a-zA-Z0-9]+$/.test(tag.toString('latin1'))) throw new DnsDecodeError(`CAA: bad tag ${t[1]}`);
      return [Buffer.concat([Buffer.from([int(t[0], 255, 'CAA flags'), tag.length]), tag, unescapeBytes(t[2]!)])];
    }
    default:
      throw new DnsDecodeError(`${typeName(type)}: use the RFC 3597 \\# form for this type`);
  }
}

/** An inventory record (names absolute, no trailing dot) → WireRR. */
export function rrFromInventory(r: ResourceRecord): WireRR {
  const owner = parseName(`${r.name}.`);
  const abs = (n: string): DnsName => parseName(n.endsWith('.') ? n : `${n}.`);
  let type: number;
  let rdata: RdataPart[];
  switch (r.type) {
    case 'A': type = QTYPE.A; rdata = rdataFromText(type, [{ text: r.data, quoted: false }], owner); break;
    case 'AAAA': type = QTYPE.AAAA; rdata = rdataFromText(type, [{ text: r.data, quoted: false }], owner); break;
    case 'CNAME': type = QTYPE.CNAME; rdata = [abs(r.data)]; break;
    case 'NS': type = QTYPE.NS; rdata = [abs(r.data)]; break;
    case 'PTR': type = QTYPE.PTR; rdata = [abs(r.data)]; break;
    case 'SOA': {
      type = QTYPE.SOA;
      const d = r.data;
      rdata = [abs(d.mname), abs(d.rname), Buffer.concat([d.serial, d.refresh, d.retry, d.expire, d.minimum].map(u32))];
      break;
    }
  }
  return { owner, type, class: QCLASS.IN, ttl: r.ttl, rdata };
}
