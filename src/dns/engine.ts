import { OPCODE, QCLASS, QTYPE, RCODE } from './codec/constants.js';
import { questionKey, scanQuery, type QuestionKey } from './codec/query.js';
import { opcodeSupported, rcodeOf, responseLimit, writeAnswer, writeError, writeSlip, type QueryView } from './handler.js';
import { ResponseRateLimiter, rrlPrefix, type RrlOptions } from './rrl.js';
import { lookup, makeZoneSet, type ZoneData } from './zone/tree.js';

/** A zone index (what `makeZoneSet` returns). */
export type ZoneIndex = ReturnType<typeof makeZoneSet>;

/** What the answer engine needs; the primary and every UDP worker make one. */
export interface EngineOptions {
  /** EDNS0 payload size we offer (config dns.udp_size). */
  ourUdp: number;
  rrl: RrlOptions;
  /** Whether the site zones are answered now (authority fencing); read once per query. */
  siteAuthoritative(): boolean;
  /** Forwarders are configured: REFUSED answers are not cached (another client may be forwarded). */
  forwarders: boolean;
  /** A REFUSED answer would be forwarded for this client instead (forwarders configured and allowed). */
  forwardable(address: string): boolean;
  /** Monotonic milliseconds (RRL). */
  mono(): number;
  /** A dropped or malformed message, by reason (builderd_dropped_packets_total). */
  onDrop(reason: string): void;
  /** The addon's cache (udp-batch.ts): UDP answers are mirrored into it, cleared with ours. Not with RRL on. */
  nativeCache?: { put(key: Buffer, keyLength: number, answer: Buffer): void; clear(): void } | undefined;
}

/** Answers counted since the last `drain`: key = ((rcode * 65536 + qtype) * 2 + tcp). */
export type QueryCounts = Map<number, number>;

/** The query hot path: a wire cache in front of the zone index. */
export interface AnswerEngine {
  /**
   * Answer a query: the bytes to send, null to send nothing (dropped, or limited by RRL), or undefined
   * when it needs the full path (TSIG, NOTIFY, zone transfers, forwarding), which only the primary has.
   */
  answer(msg: Buffer, peer: { readonly address: string }, tcp: boolean): Buffer | null | undefined;
  /**
   * The same for a UDP batch: the query is `len` bytes at `base` in `buf`, the answer is written into
   * `out` at `off`; returns its length, 0 for nothing to send, -1 when it needs the full path.
   */
  answerInto(buf: Buffer, base: number, len: number, peer: { readonly address: string }, out: Buffer, off: number): number;
  /** Swap in a new zone index (the cache is cleared). */
  setIndex(index: ZoneIndex): void;
  index(): ZoneIndex;
  /** Answers counted since the last call, and reset. */
  drain(): QueryCounts;
  /** Count an answer made outside the engine (the full path, or a native cache hit). */
  count(rcode: number, qtype: number, tcp: boolean): void;
  /** Check the authority mode now; true when it flipped (and the caches were cleared). */
  revalidate(): boolean;
}

/** Bound on cached answers; the cache is cleared when it grows past this. */
const CACHE_MAX = 200_000;

interface Entry {
  key: Buffer;
  resp: Buffer;
  qtype: number;
  /** Identity for RRL buckets. */
  id: number;
  next: Entry | undefined;
}

/** Decode a count key (see QueryCounts). */
export function countKey(k: number): { rcode: number; qtype: number; tcp: boolean } {
  return { rcode: Math.floor(k / 131072), qtype: Math.floor(k / 2) % 65536, tcp: (k & 1) === 1 };
}

/**
 * The answer engine (issue 9's hot path): a plain query is hashed from its bytes (no string, no parse)
 * and looked up in a cache of finished answers; on a hit the answer is copied and the ID, RD/CD bits and
 * the client's question (its 0x20 case, RFC 1035 §7.3) are patched in. A miss is scanned, looked up in
 * the zone index (pure), written, and cached. Signed, forwarded and transfer queries are not its job.
 */
export function createAnswerEngine(opts: EngineOptions): AnswerEngine {
  const { ourUdp } = opts;
  const rrl = new ResponseRateLimiter(opts.rrl);
  let zones: ZoneIndex = makeZoneSet([]);
  let siteAuth = opts.siteAuthoritative();
  let cache = new Map<number, Entry>();
  let cached = 0;
  let nextId = 1;
  let counts: QueryCounts = new Map();
  const scratch = Buffer.alloc(320);
  const qk: QuestionKey = { length: 0, questionEnd: 0, hash: 0 };
  const answerable = (z: ZoneData): boolean => z.kind === 'mgmt' || siteAuth;

  // Common (rcode < 32, qtype < 256) pairs count into a flat array; the rest into the map.
  const small = new Float64Array(32 * 256 * 2);
  function count(rcode: number, qtype: number, tcp: boolean): void {
    if (rcode < 32 && qtype < 256) { small[((rcode << 8) | qtype) * 2 + (tcp ? 1 : 0)]!++; return; }
    const k = (rcode * 65536 + qtype) * 2 + (tcp ? 1 : 0);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }

  // RRL needs every answer to pass through limit(): then nothing is mirrored into the addon.
  const native = rrl.enabled ? undefined : opts.nativeCache;
  function clear(): void {
    cache = new Map();
    cached = 0;
    native?.clear();
  }

  function revalidate(): boolean {
    const auth = opts.siteAuthoritative();
    if (auth === siteAuth) return false;
    siteAuth = auth;
    clear();
    return true;
  }

  function find(): Entry | undefined {
    const len = qk.length;
    for (let e = cache.get(qk.hash); e; e = e.next) {
      const key = e.key;
      if (key.length !== len) continue;
      let i = 0;
      while (i < len && key[i] === scratch[i]) i++;
      if (i === len) return e;
    }
    return undefined;
  }

  function store(resp: Buffer, qtype: number): Entry {
    if (cached >= CACHE_MAX) clear();
    const e: Entry = { key: Buffer.from(scratch.subarray(0, qk.length)), resp, qtype, id: nextId++, next: cache.get(qk.hash) };
    cache.set(qk.hash, e);
    cached++;
    // UDP keys end with a 0 byte (the transport); TCP answers are never served from the addon.
    if (native && e.key[e.key.length - 1] === 0) native.put(e.key, e.key.length, resp);
    return e;
  }

  /** RRL on UDP (the BIND/NSD scheme): the answer, a slip (TC), or null (dropped). */
  function limit(resp: Buffer, msg: Buffer, key: string, address: string, qv: QueryView | undefined): Buffer | null {
    const v = rrl.check(`${rrlPrefix(address)}|${key}`, opts.mono());
    if (v === 'send') return resp;
    opts.onDrop(v === 'slip' ? 'rrl-slip' : 'rrl-drop');
    return v === 'slip' ? writeSlip(msg, qv ?? minimalView(msg)) : null;
  }

  /** The cached answer for a plain query (its key left in scratch/qk), or undefined. */
  function cachedFor(msg: Buffer, tcp: boolean, base = 0, len = msg.length - base): Entry | undefined {
    revalidate();
    fast = questionKey(msg, scratch, ourUdp, tcp, qk, base, len);
    return fast ? find() : undefined;
  }
  let fast = false;

  /** Copy a cached answer to `out` at `off` and patch ID, RD, CD and the client's question (at `base` in `msg`) in. */
  function patch(src: Buffer, msg: Buffer, out: Buffer, off: number, base = 0): void {
    out.set(src, off);
    out[off] = msg[base]!;
    out[off + 1] = msg[base + 1]!;
    out[off + 2] = (src[2]! & 0xfe) | (msg[base + 2]! & 0x01);
    out[off + 3] = (src[3]! & 0xef) | (msg[base + 3]! & 0x10);
    const end = qk.questionEnd;
    for (let i = 12; i < end; i++) out[off + i] = msg[base + i]!;
  }

  /** Everything but a cache hit (called right after cachedFor, whose key is still in scratch). */
  function miss(msg: Buffer, address: { readonly address: string }, tcp: boolean): Buffer | null | undefined {
    const q = scanQuery(msg);
    if ('fail' in q) {
      opts.onDrop(q.reason);
      if (q.fail === 'drop' || q.id === undefined) return null;
      count(RCODE.FORMERR, 0, tcp);
      return writeError(msg, { id: q.id, flags: q.flags ?? 0, qname: null, questionEnd: 12, edns: null }, RCODE.FORMERR, ourUdp);
    }
    if (q.tsigStart >= 0 || q.opcode === OPCODE.NOTIFY || q.qtype === QTYPE.AXFR || q.qtype === QTYPE.IXFR) return undefined;
    const qv: QueryView = { id: q.id, flags: q.flags, qname: q.qname, questionEnd: q.questionEnd, edns: q.edns };
    // RFC 6891 §6.1.3: a version we do not speak gets BADVERS, with our version (0) in the OPT.
    if (q.edns && q.edns.version > 0) {
      count(RCODE.BADVERS, q.qtype, tcp);
      return writeError(msg, qv, RCODE.BADVERS, ourUdp);
    }
    if (!opcodeSupported(q.opcode)) {
      count(RCODE.NOTIMP, q.qtype, tcp);
      return writeError(msg, qv, RCODE.NOTIMP, ourUdp);
    }
    if (q.qclass !== QCLASS.IN && q.qclass !== QCLASS.ANY) {
      count(RCODE.REFUSED, q.qtype, tcp);
      return writeError(msg, qv, RCODE.REFUSED, ourUdp);
    }
    const outcome = lookup(zones, q.qname, q.qtype, { answerable });
    if (outcome.kind === 'refused' && opts.forwardable(address.address)) return undefined;
    const resp = writeAnswer(msg, qv, outcome, responseLimit(qv, tcp, ourUdp), ourUdp);
    count(rcodeOf(outcome.kind), q.qtype, tcp);
    // The key has no client in it, and with forwarders another client would get a forwarded answer.
    const entry = fast && (outcome.kind !== 'refused' || !opts.forwarders) ? store(resp, q.qtype) : undefined;
    if (tcp || !rrl.enabled) return resp;
    return limit(resp, msg, entry ? String(entry.id) : `${q.qname.key}|${q.qtype}`, address.address, qv);
  }

  function answer(msg: Buffer, peer: { readonly address: string }, tcp: boolean): Buffer | null | undefined {
    const hit = cachedFor(msg, tcp);
    if (!hit) return miss(msg, peer, tcp);
    const out = Buffer.allocUnsafe(hit.resp.length);
    patch(hit.resp, msg, out, 0);
    count(hit.resp[3]! & 0xf, hit.qtype, tcp);
    if (tcp || !rrl.enabled) return out;
    return limit(out, msg, String(hit.id), peer.address, undefined);
  }

  function answerInto(buf: Buffer, base: number, len: number, peer: { readonly address: string }, out: Buffer, off: number): number {
    const hit = cachedFor(buf, false, base, len);
    if (hit) {
      count(hit.resp[3]! & 0xf, hit.qtype, false);
      if (!rrl.enabled) {
        patch(hit.resp, buf, out, off, base);
        return hit.resp.length;
      }
      const r = limit(hit.resp, buf.subarray(base, base + len), String(hit.id), peer.address, undefined);
      if (r === null) return 0;
      if (r === hit.resp) { patch(hit.resp, buf, out, off, base); return r.length; }
      out.set(r, off);
      return r.length;
    }
    const r = miss(buf.subarray(base, base + len), peer, false);
    if (r === undefined) return -1;
    if (r === null) return 0;
    out.set(r, off);
    return r.length;
  }

  return {
    answer,
    answerInto,
    setIndex(index: ZoneIndex): void {
      zones = index;
      clear();
    },
    index: () => zones,
    drain(): QueryCounts {
      const out = counts;
      counts = new Map();
      for (let i = 0; i < small.length; i++) {
        const n = small[i]!;
        if (n === 0) continue;
        small[i] = 0;
        const rcode = i >> 9, qtype = (i >> 1) & 0xff, tcp = i & 1;
        const k = (rcode * 65536 + qtype) * 2 + tcp;
        out.set(k, (out.get(k) ?? 0) + n);
      }
      return out;
    },
    count,
    revalidate,
  };
}

/** A view of a message that only echoes the header (no question). */
export function minimalView(msg: Buffer): QueryView {
  return { id: msg.readUInt16BE(0), flags: msg.readUInt16BE(2), qname: null, questionEnd: 12, edns: null };
}
