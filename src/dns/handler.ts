import { OPCODE, RCODE } from './codec/constants.js';
import type { DnsName } from './codec/name.js';
import type { Edns } from './codec/query.js';
import { MessageWriter } from './codec/writer.js';
import type { WireRR } from './codec/rr.js';
import type { Outcome, Placed } from './zone/tree.js';

/** What the response writer needs of a query. */
export interface QueryView {
  id: number;
  flags: number;
  qname: DnsName | null;
  /** Offset after the question in the raw query (12 when there is none to echo). */
  questionEnd: number;
  edns: Edns | null;
}

/** Outcome kind → rcode: the one place where the decision becomes a response code. */
export function rcodeOf(kind: Outcome['kind']): number {
  switch (kind) {
    case 'answer': case 'nodata': case 'referral': return RCODE.NOERROR;
    case 'nxdomain': return RCODE.NXDOMAIN;
    case 'refused': return RCODE.REFUSED;
  }
}

/** Largest response for a query (RFC 6891 §6.2.5: the smaller of ours and the client's, at least 512). */
export function responseLimit(q: QueryView, tcp: boolean, ourUdpSize: number): number {
  if (tcp) return 65535;
  if (!q.edns) return 512;
  return Math.min(Math.max(512, q.edns.udpSize), ourUdpSize);
}

/**
 * Header flags of a response (RFC 1035 §4.1.1): QR, the query's opcode, RD and CD copied
 * (RFC 6840 §5.9), AA and TC as decided, RA never (we do not recurse).
 */
export function responseFlags(qflags: number, aa: boolean, tc: boolean, rcode: number): number {
  return 0x8000 | (qflags & 0x7800) | (aa ? 0x0400 : 0) | (tc ? 0x0200 : 0) | (qflags & 0x0100) | (qflags & 0x0010) | (rcode & 0xf);
}

function start(raw: Buffer, q: QueryView, max: number): MessageWriter {
  const w = new MessageWriter(max);
  if (q.edns) w.reserve = 11;
  if (q.qname) {
    // The question is copied as asked, so the client's 0x20 case comes back (RFC 1035 §7.3, §4.1.4:
    // later names equal to it point here and show the same case).
    w.writeBytes(raw.subarray(12, q.questionEnd));
    w.registerName(q.qname, 12);
  }
  return w;
}

function finishOpt(w: MessageWriter, q: QueryView, ourUdpSize: number, rcode: number): void {
  // RFC 6891 §6.1.3: the upper 8 bits of a 12-bit rcode go into the OPT TTL.
  if (q.edns) w.writeOpt(ourUdpSize, rcode >> 4, 0, q.edns.dnssecOk);
}

function writeAll(w: MessageWriter, section: 1 | 2 | 3, list: readonly Placed[]): boolean {
  for (const p of list) if (!w.writeRR(section, p.rr, p.owner, p.ttl)) return false;
  return true;
}

/**
 * Write the response to a query from a lookup outcome. Answer and authority must fit whole, else the
 * response is truncated to the question with TC set (RFC 2181 §9); additional records are best effort.
 */
export function writeAnswer(raw: Buffer, q: QueryView, outcome: Outcome, max: number, ourUdpSize: number): Buffer {
  const rcode = rcodeOf(outcome.kind);
  const w = start(raw, q, max);
  const afterQuestion = w.mark();
  let tc = !writeAll(w, 1, outcome.answer) || !writeAll(w, 2, outcome.authority);
  if (tc) w.truncateTo(afterQuestion);
  else {
    for (const p of outcome.additional) if (!w.writeRR(3, p.rr, p.owner, p.ttl)) break;
  }
  finishOpt(w, q, ourUdpSize, rcode);
  return w.finish(q.id, responseFlags(q.flags, outcome.aa, tc, rcode), q.qname ? 1 : 0);
}

/** A response with only an rcode (FORMERR, NOTIMP, REFUSED, SERVFAIL, BADVERS...), the question echoed. */
export function writeError(raw: Buffer, q: QueryView, rcode: number, ourUdpSize: number, aa = false): Buffer {
  const w = start(raw, q, 512);
  finishOpt(w, q, ourUdpSize, rcode);
  return w.finish(q.id, responseFlags(q.flags, aa, false, rcode), q.qname ? 1 : 0);
}

/** A truncated, empty answer (RRL slip: the client retries over TCP, RFC 7766). */
export function writeSlip(raw: Buffer, q: QueryView): Buffer {
  const w = start(raw, { ...q, edns: null }, 512);
  return w.finish(q.id, responseFlags(q.flags, false, true, RCODE.NOERROR), q.qname ? 1 : 0);
}

/**
 * Zone transfer messages (RFC 5936 §2.2): the question in each, records packed up to `max` bytes
 * per message with compression restarting per message, leaving `tail` bytes free (for TSIG).
 */
export function writeTransfer(raw: Buffer, q: QueryView, records: readonly WireRR[], max: number, tail: number): Buffer[] {
  const out: Buffer[] = [];
  let w = start(raw, { ...q, edns: null }, max);
  w.reserve = tail;
  let inThis = 0;
  for (const rr of records) {
    if (!w.writeRR(1, rr)) {
      if (inThis === 0) throw new Error('record larger than a transfer message');
      out.push(w.finish(q.id, responseFlags(q.flags & ~0x7800, true, false, RCODE.NOERROR), 1));
      w = start(raw, { ...q, edns: null }, max);
      w.reserve = tail;
      inThis = 0;
      if (!w.writeRR(1, rr)) throw new Error('record larger than a transfer message');
    }
    inThis++;
  }
  out.push(w.finish(q.id, responseFlags(q.flags & ~0x7800, true, false, RCODE.NOERROR), 1));
  return out;
}

/** Opcodes we implement (RFC 1035 QUERY, RFC 1996 NOTIFY); others get NOTIMP. */
export function opcodeSupported(opcode: number): boolean {
  return opcode === OPCODE.QUERY || opcode === OPCODE.NOTIFY;
}
