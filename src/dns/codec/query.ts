import { QTYPE } from './constants.js';
import { DnsDecodeError, makeName, skipName, type DnsName } from './name.js';

/** EDNS0 fields of a query's OPT record (RFC 6891 §6.1.3). */
export interface Edns {
  udpSize: number;
  version: number;
  dnssecOk: boolean;
}

/** A record found while walking a message: offsets into the message (RFC 1035 §4.1.3). */
export interface RRSpan {
  start: number;
  type: number;
  class: number;
  ttlOffset: number;
  rdata: number;
  rdlength: number;
  end: number;
}

/** A scanned query: what the handler needs, plus offsets for the fast path and TSIG. */
export interface ScannedQuery {
  id: number;
  flags: number;
  opcode: number;
  qname: DnsName;
  qtype: number;
  qclass: number;
  /** Offset just after the question. */
  questionEnd: number;
  edns: Edns | null;
  /** Records of the answer, authority and additional sections (OPT and TSIG included). */
  answer: RRSpan[];
  authority: RRSpan[];
  additional: RRSpan[];
  /** Offset of a TSIG record (last in additional, RFC 8945 §5.1), or -1. */
  tsigStart: number;
}

/** Why a message cannot be scanned: `drop` (not worth an answer) or `formerr` (answer FORMERR). */
export type ScanFailure = { fail: 'drop' | 'formerr'; reason: string; id?: number; flags?: number };

/**
 * Cheap header check before any parsing (dependencies.md §1: counts straight from the wire otherwise
 * cost CPU): a question is at least 5 bytes and a record at least 11.
 */
export function headerPlausible(buf: Buffer): boolean {
  if (buf.length < 12) return false;
  const qd = buf.readUInt16BE(4), an = buf.readUInt16BE(6), ns = buf.readUInt16BE(8), ar = buf.readUInt16BE(10);
  return qd * 5 + (an + ns + ar) * 11 <= buf.length - 12;
}

/** Walk `count` records from `offset`. Throws DnsDecodeError on any overrun. */
export function walkRecords(buf: Buffer, offset: number, count: number, out: RRSpan[]): number {
  let o = offset;
  for (let i = 0; i < count; i++) {
    const start = o;
    o = skipName(buf, o);
    if (o + 10 > buf.length) throw new DnsDecodeError('record header runs past the end');
    const type = buf.readUInt16BE(o), klass = buf.readUInt16BE(o + 2);
    const rdlength = buf.readUInt16BE(o + 8);
    const rdata = o + 10;
    if (rdata + rdlength > buf.length) throw new DnsDecodeError('rdata runs past the end');
    o = rdata + rdlength;
    out.push({ start, type, class: klass, ttlOffset: rdata - 6, rdata, rdlength, end: o });
  }
  return o;
}

/**
 * Scan a query (RFC 1035 §4.1): header, one uncompressed question, then walk the other sections to
 * find OPT (RFC 6891) and TSIG (RFC 8945). Responses (QR=1) and short packets are dropped.
 */
export function scanQuery(buf: Buffer): ScannedQuery | ScanFailure {
  if (buf.length < 12) return { fail: 'drop', reason: 'short' };
  const id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  if (flags & 0x8000) return { fail: 'drop', reason: 'response' };
  const opcode = (flags >> 11) & 0xf;
  if (!headerPlausible(buf)) return { fail: 'formerr', reason: 'counts', id, flags };
  const qd = buf.readUInt16BE(4);
  if (qd !== 1) return { fail: 'formerr', reason: 'qdcount', id, flags };
  // The question name: RFC 1035 §4.1.4 lets names be compressed, but a query's first name has nothing
  // to point back to, so a pointer here is malformed.
  const labels: Buffer[] = [];
  let o = 12;
  let total = 1;
  for (;;) {
    if (o >= buf.length) return { fail: 'formerr', reason: 'qname', id, flags };
    const len = buf[o]!;
    if (len === 0) { o++; break; }
    if (len > 63) return { fail: 'formerr', reason: 'label', id, flags };
    total += len + 1;
    if (total > 255 || o + 1 + len > buf.length) return { fail: 'formerr', reason: 'qname', id, flags };
    labels.push(buf.subarray(o + 1, o + 1 + len));
    o += 1 + len;
  }
  if (o + 4 > buf.length) return { fail: 'formerr', reason: 'question', id, flags };
  const qtype = buf.readUInt16BE(o);
  const qclass = buf.readUInt16BE(o + 2);
  const questionEnd = o + 4;
  const answer: RRSpan[] = [], authority: RRSpan[] = [], additional: RRSpan[] = [];
  let edns: Edns | null = null;
  let tsigStart = -1;
  try {
    let p = walkRecords(buf, questionEnd, buf.readUInt16BE(6), answer);
    p = walkRecords(buf, p, buf.readUInt16BE(8), authority);
    walkRecords(buf, p, buf.readUInt16BE(10), additional);
  } catch {
    return { fail: 'formerr', reason: 'records', id, flags };
  }
  for (let i = 0; i < additional.length; i++) {
    const r = additional[i]!;
    if (r.type === QTYPE.OPT) {
      // RFC 6891 §6.1.1: one OPT, owner the root.
      if (edns || buf[r.start] !== 0) return { fail: 'formerr', reason: 'opt', id, flags };
      edns = { udpSize: r.class, version: buf[r.ttlOffset + 1]!, dnssecOk: (buf[r.ttlOffset + 2]! & 0x80) !== 0 };
    } else if (r.type === QTYPE.TSIG) {
      // RFC 8945 §5.1: TSIG must be the last record.
      if (i !== additional.length - 1) return { fail: 'formerr', reason: 'tsig-position', id, flags };
      tsigStart = r.start;
    }
  }
  let qname: DnsName;
  try {
    qname = makeName(labels.map((l) => Buffer.from(l)));
  } catch {
    return { fail: 'formerr', reason: 'qname', id, flags };
  }
  return { id, flags, opcode, qname, qtype, qclass, questionEnd, edns, answer, authority, additional, tsigStart };
}

/**
 * Fast-path cache key of a plain query, or undefined when the query needs the full path: the question
 * lowercased (ASCII only, RFC 4343) in wire form plus type and class, and the EDNS state. Writes
 * into `scratch` (at least 512 bytes) to avoid allocation.
 */
export function fastKey(buf: Buffer, scratch: Buffer, maxUdp: number): { key: string; questionEnd: number; edns: Edns | null } | undefined {
  const n = buf.length;
  if (n < 17 || n > 512) return undefined;
  // QR=0, opcode 0; qd=1 an=0 ns=0 ar<=1.
  if ((buf[2]! & 0xf8) !== 0 || buf[4] !== 0 || buf[5] !== 1 || buf[6] !== 0 || buf[7] !== 0 || buf[8] !== 0 || buf[9] !== 0 || buf[10] !== 0) return undefined;
  const ar = buf[11]!;
  if (ar > 1) return undefined;
  let o = 12;
  for (;;) {
    if (o >= n) return undefined;
    const len = buf[o]!;
    if (len === 0) { o++; break; }
    if (len > 63 || o + 1 + len >= n) return undefined;
    o += 1 + len;
  }
  const questionEnd = o + 4;
  if (questionEnd > n || questionEnd - 12 > 259) return undefined;
  let edns: Edns | null = null;
  if (ar === 1) {
    // Only a bare OPT (root owner, no options beyond what fits) is taken on the fast path.
    if (questionEnd + 11 > n || buf[questionEnd] !== 0 || buf.readUInt16BE(questionEnd + 1) !== QTYPE.OPT) return undefined;
    const rdlen = buf.readUInt16BE(questionEnd + 9);
    if (questionEnd + 11 + rdlen !== n) return undefined;
    edns = { udpSize: buf.readUInt16BE(questionEnd + 3), version: buf[questionEnd + 6]!, dnssecOk: (buf[questionEnd + 7]! & 0x80) !== 0 };
  } else if (questionEnd !== n) return undefined;
  for (let i = 12; i < o; i++) {
    const c = buf[i]!;
    scratch[i - 12] = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
  }
  for (let i = o; i < questionEnd; i++) scratch[i - 12] = buf[i]!;
  let key = scratch.toString('latin1', 0, questionEnd - 12);
  // The size bucket is the size we would use (RFC 6891 §6.2.5), so odd client sizes share entries.
  key += edns ? `E${edns.version}.${Math.min(Math.max(512, edns.udpSize), maxUdp)}.${edns.dnssecOk ? 1 : 0}` : 'N';
  return { key, questionEnd, edns };
}

/** Where `questionKey` leaves its result (the caller owns one and reuses it, so no allocation per query). */
export interface QuestionKey {
  /** Bytes of the key in scratch: the lowercased question, then the EDNS state and the transport. */
  length: number;
  /** Offset just after the question in the query. */
  questionEnd: number;
  /** FNV-1a of the key bytes. */
  hash: number;
}

/**
 * The allocation-free form of `fastKey`: true for a plain query (QR=0, opcode QUERY, one uncompressed
 * question, nothing else but a bare OPT), with its key written into `scratch` (at least 300 bytes) and
 * `out` filled. The key holds the question lowercased (ASCII only, RFC 4343), the EDNS version, the
 * response size we would use (RFC 6891 §6.2.5), DO, and the transport.
 */
export function questionKey(buf: Buffer, scratch: Buffer, maxUdp: number, tcp: boolean, out: QuestionKey, base = 0, len = buf.length - base): boolean {
  // Offsets below are relative to the message, which starts at `base` in `buf` (a batch buffer).
  const n = len;
  const b = base;
  if (n < 17 || n > 512) return false;
  if ((buf[b + 2]! & 0xf8) !== 0 || buf[b + 4] !== 0 || buf[b + 5] !== 1 || buf[b + 6] !== 0 || buf[b + 7] !== 0 ||
    buf[b + 8] !== 0 || buf[b + 9] !== 0 || buf[b + 10] !== 0) return false;
  const ar = buf[b + 11]!;
  if (ar > 1) return false;
  let h = 0x811c9dc5;
  let o = 12;
  for (;;) {
    if (o >= n) return false;
    const l = buf[b + o]!;
    scratch[o - 12] = l;
    h = Math.imul(h ^ l, 0x01000193);
    if (l === 0) { o++; break; }
    if (l > 63 || o + 1 + l >= n) return false;
    const end = o + 1 + l;
    for (let i = o + 1; i < end; i++) {
      let c = buf[b + i]!;
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      scratch[i - 12] = c;
      h = Math.imul(h ^ c, 0x01000193);
    }
    o = end;
  }
  const questionEnd = o + 4;
  if (questionEnd > n || questionEnd - 12 > 259) return false;
  for (let i = o; i < questionEnd; i++) {
    const c = buf[b + i]!;
    scratch[i - 12] = c;
    h = Math.imul(h ^ c, 0x01000193);
  }
  let k = questionEnd - 12;
  if (ar === 1) {
    // Only a bare OPT (root owner) is taken on the fast path.
    const q = b + questionEnd;
    if (questionEnd + 11 > n || buf[q] !== 0 || buf[q + 1] !== 0 || buf[q + 2] !== QTYPE.OPT) return false;
    const rdlen = (buf[q + 9]! << 8) | buf[q + 10]!;
    if (questionEnd + 11 + rdlen !== n) return false;
    const size = Math.min(Math.max(512, (buf[q + 3]! << 8) | buf[q + 4]!), maxUdp);
    scratch[k++] = 1;
    scratch[k++] = buf[q + 6]!;
    scratch[k++] = size >> 8;
    scratch[k++] = size & 0xff;
    scratch[k++] = buf[q + 7]! & 0x80;
  } else {
    if (questionEnd !== n) return false;
    scratch[k++] = 0;
  }
  scratch[k++] = tcp ? 1 : 0;
  for (let i = questionEnd - 12; i < k; i++) h = Math.imul(h ^ scratch[i]!, 0x01000193);
  out.length = k;
  out.questionEnd = questionEnd;
  out.hash = h >>> 0;
  return true;
}
