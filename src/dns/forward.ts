import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import { QTYPE, RCODE } from './codec/constants.js';
import { walkRecords, type RRSpan } from './codec/query.js';
import { skipName } from './codec/name.js';
import type { HostPort } from '../lib/net.js';

interface Cached { buf: Buffer; storedAt: number; ttl: number; ttlOffsets: number[] }

/**
 * Forwarding for allowed clients only (never an open resolver): the query goes to the upstreams in
 * order, 2 s each; answers are cached for their smallest TTL (RFC 1035 §7.4; negative answers by the
 * SOA TTL, RFC 2308 §5) and served with the TTLs counted down.
 */
export class Forwarder {
  private readonly cache = new Map<string, Cached>();
  private readonly pending = new Map<number, (b: Buffer) => void>();
  private socks = new Map<string, dgram.Socket>();
  private readonly upstreams: HostPort[];
  private readonly nowMs: () => number;
  private closed = false;

  constructor(upstreams: HostPort[], nowMs: () => number) {
    this.upstreams = upstreams;
    this.nowMs = nowMs;
  }

  private sock(family: 'udp4' | 'udp6'): dgram.Socket {
    let s = this.socks.get(family);
    if (!s) {
      s = dgram.createSocket(family);
      s.on('error', () => { /* ignore ICMP */ });
      s.on('message', (msg) => {
        if (msg.length < 12 || !(msg[2]! & 0x80)) return;
        const cb = this.pending.get(msg.readUInt16BE(0));
        if (cb) cb(msg);
      });
      s.unref();
      this.socks.set(family, s);
    }
    return s;
  }

  /** A cached answer for `key`, with `id` and the client's question patched in, or undefined. */
  fromCache(key: string, query: Buffer, questionEnd: number): Buffer | undefined {
    const c = this.cache.get(key);
    if (!c) return undefined;
    const age = Math.floor((this.nowMs() - c.storedAt) / 1000);
    if (age >= c.ttl) { this.cache.delete(key); return undefined; }
    const out = Buffer.from(c.buf);
    query.copy(out, 0, 0, 2);
    query.copy(out, 12, 12, questionEnd);
    for (const o of c.ttlOffsets) out.writeUInt32BE(Math.max(0, out.readUInt32BE(o) - age), o);
    return out;
  }

  /** Send `query` upstream and wait for the answer (undefined when every upstream failed). */
  async forward(key: string, query: Buffer, questionEnd: number): Promise<Buffer | undefined> {
    for (const up of this.upstreams) {
      if (this.closed) return undefined;
      const answer = await this.ask(up, query);
      if (!answer) continue;
      // The answer must be for our question (RFC 5452 §9.1: ID and question match).
      if (answer.length < questionEnd || answer.readUInt16BE(4) !== 1 || !sameQuestion(answer, query, questionEnd)) continue;
      const out = Buffer.from(answer);
      query.copy(out, 0, 0, 2);
      this.store(key, out);
      return out;
    }
    return undefined;
  }

  private ask(up: HostPort, query: Buffer): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      let id = randomInt(0, 65536);
      for (let i = 0; i < 8 && this.pending.has(id); i++) id = randomInt(0, 65536);
      const msg = Buffer.from(query);
      msg.writeUInt16BE(id, 0);
      const timer = setTimeout(() => { this.pending.delete(id); resolve(undefined); }, 2000);
      this.pending.set(id, (b) => { clearTimeout(timer); this.pending.delete(id); resolve(b); });
      this.sock(up.host.includes(':') ? 'udp6' : 'udp4').send(msg, up.port, up.host);
    });
  }

  private store(key: string, msg: Buffer): void {
    const rcode = msg[3]! & 0xf;
    if (rcode !== RCODE.NOERROR && rcode !== RCODE.NXDOMAIN) return;
    if (msg[2]! & 0x02) return; // truncated: not a whole answer
    const spans: RRSpan[] = [];
    try {
      let o = 12;
      for (let i = 0; i < msg.readUInt16BE(4); i++) o = skipName(msg, o) + 4;
      walkRecords(msg, o, msg.readUInt16BE(6) + msg.readUInt16BE(8) + msg.readUInt16BE(10), spans);
    } catch {
      return;
    }
    const rrs = spans.filter((s) => s.type !== QTYPE.OPT);
    let ttl = rrs.length ? Math.min(...rrs.map((s) => msg.readUInt32BE(s.ttlOffset))) : 0;
    ttl = Math.min(ttl, 86400);
    if (ttl <= 0) return;
    if (this.cache.size >= 50_000) this.cache.clear();
    this.cache.set(key, { buf: msg, storedAt: this.nowMs(), ttl, ttlOffsets: rrs.map((s) => s.ttlOffset) });
  }

  /** Stop: close sockets, fail pending lookups. */
  close(): void {
    this.closed = true;
    for (const s of this.socks.values()) s.close();
    this.socks.clear();
  }
}

/** The question of `a` equals the one of `b` (RFC 4343: names compared case-insensitively). */
function sameQuestion(a: Buffer, b: Buffer, end: number): boolean {
  for (let i = 12; i < end; i++) {
    let x = a[i]!, y = b[i]!;
    if (x >= 0x41 && x <= 0x5a) x |= 0x20;
    if (y >= 0x41 && y <= 0x5a) y |= 0x20;
    if (x !== y) return false;
  }
  return true;
}
