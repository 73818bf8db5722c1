import { QTYPE } from './constants.js';
import type { DnsName } from './name.js';
import { compressible, isNamePart, type WireRR } from './rr.js';

const FULL = Symbol('full');

/** Position to roll back to when a record does not fit. */
export interface WriterMark { len: number; added: number }

/**
 * Response writer (RFC 1035 §4.1): header, sections, name compression (§4.1.4) with a bounded buffer;
 * a record that does not fit is rolled back whole so the caller can set TC (RFC 2181 §9).
 */
export class MessageWriter {
  readonly buf: Buffer;
  len = 12;
  /** Space kept free at the end (for the OPT record). */
  reserve = 0;
  private readonly names = new Map<string, number>();
  private readonly added: string[] = [];
  readonly counts = [0, 0, 0, 0];

  constructor(max: number) {
    this.buf = Buffer.alloc(max);
  }

  private ensure(n: number): void {
    if (this.len + n > this.buf.length - this.reserve) throw FULL;
  }

  /** Current position, for rollback. */
  mark(): WriterMark {
    return { len: this.len, added: this.added.length };
  }

  /** Undo everything written since `m`, including compression targets registered after it. */
  rollback(m: WriterMark): void {
    this.len = m.len;
    while (this.added.length > m.added) this.names.delete(this.added.pop()!);
  }

  /** Register a name already present at `offset` (the copied question) as a compression target. */
  registerName(name: DnsName, offset: number): void {
    let o = offset;
    for (let i = 0; i < name.labels.length; i++) {
      const k = name.keys[i]!;
      if (o < 0x4000 && !this.names.has(k)) { this.names.set(k, o); this.added.push(k); }
      o += 1 + name.labels[i]!.length;
    }
  }

  /** Write a name, compressed against earlier names when `compress`. */
  writeName(name: DnsName, compress: boolean): void {
    const labels = name.labels;
    for (let i = 0; i < labels.length; i++) {
      const k = name.keys[i]!;
      if (compress) {
        const ptr = this.names.get(k);
        if (ptr !== undefined) {
          this.ensure(2);
          this.buf.writeUInt16BE(0xc000 | ptr, this.len);
          this.len += 2;
          return;
        }
      }
      const l = labels[i]!;
      this.ensure(1 + l.length);
      if (this.len < 0x4000 && !this.names.has(k)) { this.names.set(k, this.len); this.added.push(k); }
      this.buf[this.len] = l.length;
      l.copy(this.buf, this.len + 1);
      this.len += 1 + l.length;
    }
    this.ensure(1);
    this.buf[this.len++] = 0;
  }

  /** Copy raw bytes. */
  writeBytes(b: Buffer): void {
    this.ensure(b.length);
    b.copy(this.buf, this.len);
    this.len += b.length;
  }

  /** Write one RR into section 1..3 (answer, authority, additional). False when it does not fit. */
  writeRR(section: 1 | 2 | 3, rr: WireRR, owner?: DnsName, ttl?: number): boolean {
    const m = this.mark();
    try {
      this.writeName(owner ?? rr.owner, true);
      this.ensure(10);
      const b = this.buf;
      b.writeUInt16BE(rr.type, this.len);
      b.writeUInt16BE(rr.class, this.len + 2);
      b.writeUInt32BE((ttl ?? rr.ttl) >>> 0, this.len + 4);
      const rdlenAt = this.len + 8;
      this.len += 10;
      const start = this.len;
      const comp = compressible(rr.type);
      for (const p of rr.rdata) {
        if (isNamePart(p)) this.writeName(p, comp);
        else this.writeBytes(p);
      }
      b.writeUInt16BE(this.len - start, rdlenAt);
      this.counts[section]!++;
      return true;
    } catch (e) {
      if (e !== FULL) throw e;
      this.rollback(m);
      return false;
    }
  }

  /** Write an OPT pseudo-RR (RFC 6891 §6.1.2) into the additional section, using the reserved space. */
  writeOpt(udpSize: number, extRcode: number, version: number, dnssecOk: boolean): void {
    this.reserve = 0;
    this.ensure(11);
    const b = this.buf;
    b[this.len] = 0;
    b.writeUInt16BE(QTYPE.OPT, this.len + 1);
    b.writeUInt16BE(udpSize, this.len + 3);
    b[this.len + 5] = extRcode;
    b[this.len + 6] = version;
    b.writeUInt16BE(dnssecOk ? 0x8000 : 0, this.len + 7);
    b.writeUInt16BE(0, this.len + 9);
    this.len += 11;
    this.counts[3]!++;
  }

  /** Write the header (RFC 1035 §4.1.1) with the section counts so far, and return the message bytes. */
  finish(id: number, flags: number, qdcount: number): Buffer {
    const b = this.buf;
    b.writeUInt16BE(id, 0);
    b.writeUInt16BE(flags, 2);
    b.writeUInt16BE(qdcount, 4);
    b.writeUInt16BE(this.counts[1]!, 6);
    b.writeUInt16BE(this.counts[2]!, 8);
    b.writeUInt16BE(this.counts[3]!, 10);
    return Buffer.from(b.subarray(0, this.len));
  }

  /** Drop all sections after the question (for TC responses). */
  truncateTo(m: WriterMark): void {
    this.rollback(m);
    this.counts[1] = 0;
    this.counts[2] = 0;
    this.counts[3] = 0;
  }
}
