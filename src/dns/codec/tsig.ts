import { createHmac, timingSafeEqual } from 'node:crypto';
import { QCLASS, QTYPE, RCODE } from './constants.js';
import { DnsDecodeError, nameWire, parseName, readName, type DnsName } from './name.js';
import type { RRSpan } from './query.js';

/** A TSIG key (RFC 8945 §4.1); only hmac-sha256 is offered. */
export interface TsigKey {
  name: DnsName;
  algorithm: DnsName;
  secret: Buffer;
}

/** Fields of a TSIG record (RFC 8945 §4.2). */
export interface TsigRecord {
  keyName: DnsName;
  algorithm: DnsName;
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  other: Buffer;
}

/** The hmac-sha256 algorithm name (RFC 8945 §6). */
export const HMAC_SHA256 = parseName('hmac-sha256.');

/** Make a key from configuration (name, base64 secret). */
export function makeTsigKey(name: string, secretBase64: string): TsigKey {
  return { name: parseName(name.endsWith('.') ? name : `${name}.`), algorithm: HMAC_SHA256, secret: Buffer.from(secretBase64, 'base64') };
}

/** Decode the TSIG record at `span` of `buf`. */
export function readTsig(buf: Buffer, span: RRSpan): TsigRecord {
  const keyName = readName(buf, span.start).name;
  const end = span.rdata + span.rdlength;
  const alg = readName(buf.subarray(0, end), span.rdata);
  let o = alg.end;
  if (o + 10 > end) throw new DnsDecodeError('short TSIG');
  const timeSigned = buf.readUIntBE(o, 6);
  const fudge = buf.readUInt16BE(o + 6);
  const macLen = buf.readUInt16BE(o + 8);
  o += 10;
  if (o + macLen + 6 > end) throw new DnsDecodeError('short TSIG MAC');
  const mac = Buffer.from(buf.subarray(o, o + macLen));
  o += macLen;
  const originalId = buf.readUInt16BE(o);
  const error = buf.readUInt16BE(o + 2);
  const otherLen = buf.readUInt16BE(o + 4);
  o += 6;
  if (o + otherLen !== end) throw new DnsDecodeError('bad TSIG other length');
  return { keyName, algorithm: alg.name, timeSigned, fudge, mac, originalId, error, other: Buffer.from(buf.subarray(o, end)) };
}

function u16(n: number): Buffer { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b; }
function u48(n: number): Buffer { const b = Buffer.alloc(6); b.writeUIntBE(n, 0, 6); return b; }

/** TSIG variables of RFC 8945 §4.3.3 (or only the timers, §4.3.1, for later messages of a stream). */
function variables(key: TsigKey, t: { timeSigned: number; fudge: number; error: number; other: Buffer }, timersOnly: boolean): Buffer {
  if (timersOnly) return Buffer.concat([u48(t.timeSigned), u16(t.fudge)]);
  return Buffer.concat([
    nameWire(key.name, true), u16(QCLASS.ANY), Buffer.alloc(4), nameWire(key.algorithm, true),
    u48(t.timeSigned), u16(t.fudge), u16(t.error), u16(t.other.length), t.other,
  ]);
}

function hmac(key: TsigKey, parts: Buffer[]): Buffer {
  const h = createHmac('sha256', key.secret);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** The message without its TSIG record: arcount decremented, original ID restored (RFC 8945 §4.3.2). */
function stripped(buf: Buffer, tsigStart: number, originalId: number): Buffer {
  const m = Buffer.from(buf.subarray(0, tsigStart));
  m.writeUInt16BE(originalId, 0);
  m.writeUInt16BE(m.readUInt16BE(10) - 1, 10);
  return m;
}

/** Outcome of checking a signed request. */
export type TsigCheck =
  | { ok: true; key: TsigKey; record: TsigRecord }
  | { ok: false; error: number; key?: TsigKey; record?: TsigRecord };

/**
 * Verify a request's TSIG (RFC 8945 §5.2): known key and algorithm (BADKEY), MAC (BADSIG), then
 * time within fudge (BADTIME). `now` is seconds since the epoch.
 */
export function verifyRequest(buf: Buffer, span: RRSpan, keys: ReadonlyMap<string, TsigKey>, now: number): TsigCheck {
  let record: TsigRecord;
  try {
    record = readTsig(buf, span);
  } catch {
    return { ok: false, error: RCODE.FORMERR };
  }
  const key = keys.get(record.keyName.key);
  if (!key || record.algorithm.key !== key.algorithm.key) return { ok: false, error: RCODE.BADKEY, record };
  if (record.mac.length !== 32) return { ok: false, error: RCODE.BADSIG, key, record };
  const want = hmac(key, [stripped(buf, span.start, record.originalId), variables(key, record, false)]);
  if (!timingSafeEqual(want, record.mac)) return { ok: false, error: RCODE.BADSIG, key, record };
  if (Math.abs(now - record.timeSigned) > record.fudge) return { ok: false, error: RCODE.BADTIME, key, record };
  return { ok: true, key, record };
}

/** Signing state carried across the messages of one response stream (RFC 8945 §5.3.1). */
export interface TsigStream {
  key: TsigKey;
  /** MAC of the request (first message) or of the previous message. */
  priorMac: Buffer;
  first: boolean;
}

/** Append a TSIG record to `msg`, returning the signed message; `stream.priorMac` advances. */
export function signMessage(msg: Buffer, stream: TsigStream, now: number, error = 0, fudge = 300): Buffer {
  const key = stream.key;
  const other = error === RCODE.BADTIME ? u48(now) : Buffer.alloc(0);
  const t = { timeSigned: now, fudge, error, other };
  const parts = stream.priorMac.length > 0 ? [u16(stream.priorMac.length), stream.priorMac, msg] : [msg];
  const mac = hmac(key, [...parts, variables(key, t, !stream.first)]);
  stream.priorMac = mac;
  stream.first = false;
  return appendTsig(msg, key, t, mac);
}

/** Append an unsigned TSIG record carrying `error` (RFC 8945 §5.3.2: BADKEY/BADSIG answers). */
export function appendUnsignedTsig(msg: Buffer, keyName: DnsName, algorithm: DnsName, now: number, error: number): Buffer {
  return appendTsig(msg, { name: keyName, algorithm, secret: Buffer.alloc(0) }, { timeSigned: now, fudge: 300, error, other: Buffer.alloc(0) }, Buffer.alloc(0));
}

function appendTsig(msg: Buffer, key: TsigKey, t: { timeSigned: number; fudge: number; error: number; other: Buffer }, mac: Buffer): Buffer {
  const rdata = Buffer.concat([
    nameWire(key.algorithm, true), u48(t.timeSigned), u16(t.fudge), u16(mac.length), mac,
    msg.subarray(0, 2), u16(t.error), u16(t.other.length), t.other,
  ]);
  const head = Buffer.alloc(10);
  head.writeUInt16BE(QTYPE.TSIG, 0);
  head.writeUInt16BE(QCLASS.ANY, 2);
  head.writeUInt32BE(0, 4);
  head.writeUInt16BE(rdata.length, 8);
  const out = Buffer.concat([msg, nameWire(key.name, true), head, rdata]);
  out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  return out;
}

/** Sign a request (client side: our NOTIFY, RFC 1996 with RFC 8945). Returns message and its MAC. */
export function signRequest(msg: Buffer, key: TsigKey, now: number): { msg: Buffer; mac: Buffer } {
  const stream: TsigStream = { key, priorMac: Buffer.alloc(0), first: true };
  const out = signMessage(msg, stream, now);
  return { msg: out, mac: stream.priorMac };
}
