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
}

/** Answers counted since the last `drain`: key = ((rcode * 65536 + qtype) * 2 + tcp). */
export type QueryCounts = Map<number, number>;

/** The query hot path: a wire cache in front of the zone index. */
export interface AnswerEngine {
  /**
   * Answer a query: the bytes to send, null to send nothing (dropped, or limited by RRL), or undefined
   * when it needs the full path (TSIG, NOTIFY, zone transfers, forwarding), which only the primary has.
   */
  answer(msg: Buffer, address: string, tcp: boolean): Buffer | null | undefined;
  /** Swap in a new zone index (the cache is cleared). */
  setIndex(index: ZoneIndex): void;
  index(): ZoneIndex;
  /** Answers counted since the last call, and reset. */
  drain(): QueryCounts;
  /** Count an answer made outside the engine (the full path). */
  count(rcode: number, qtype: number, tcp: boolean): void;
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

  function count(rcode: number, qtype: number, tcp: boolean): void {
    const k = (rcode * 65536 + qtype) * 2 + (tcp ? 1 : 0);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }

  function clear(): void {
    cache = new Map();
    cached = 0;
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
    return e;
  }

  /** RRL on UDP (the BIND/NSD scheme): send, slip (TC) or drop. */
  function limit(resp: Buffer, msg: Buffer, key: string, address: string, qv: QueryView | undefined): Buffer | null {
    const v = rrl.check(`${rrlPrefix(address)}|${key}`, opts.mono());
    if (v === 'send') return resp;
    opts.onDrop(v === 'slip' ? 'rrl-slip' : 'rrl-drop');
    return v === 'slip' ? writeSlip(msg, qv ?? minimalView(msg)) : null;
  }

  function answer(msg: Buffer, address: string, tcp: boolean): Buffer | null | undefined {
    const auth = opts.siteAuthoritative();
    if (auth !== siteAuth) { siteAuth = auth; clear(); }
    const fast = questionKey(msg, scratch, ourUdp, tcp, qk);
    if (fast) {
      const hit = find();
      if (hit) {
        const src = hit.resp;
        const out = Buffer.allocUnsafe(src.length);
        out.set(src);
        out[0] = msg[0]!;
        out[1] = msg[1]!;
        out[2] = (src[2]! & 0xfe) | (msg[2]! & 0x01);
        out[3] = (src[3]! & 0xef) | (msg[3]! & 0x10);
        const end = qk.questionEnd;
        for (let i = 12; i < end; i++) out[i] = msg[i]!;
        count(src[3]! & 0xf, hit.qtype, tcp);
        if (tcp || !rrl.enabled) return out;
        return limit(out, msg, String(hit.id), address, undefined);
      }
    }
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
    const forwarding = outcome.kind === 'refused' && opts.forwardable(address);
    if (forwarding) return undefined;
    const resp = writeAnswer(msg, qv, outcome, responseLimit(qv, tcp, ourUdp), ourUdp);
    count(rcodeOf(outcome.kind), q.qtype, tcp);
    // The key has no client in it, and with forwarders another client would get a forwarded answer.
    const entry = fast && (outcome.kind !== 'refused' || !opts.forwarders) ? store(resp, q.qtype) : undefined;
    if (tcp || !rrl.enabled) return resp;
    return limit(resp, msg, entry ? String(entry.id) : `${q.qname.key}|${q.qtype}`, address, qv);
  }

  return {
    answer,
    setIndex(index: ZoneIndex): void {
      zones = index;
      clear();
    },
    index: () => zones,
    drain(): QueryCounts {
      const out = counts;
      counts = new Map();
      return out;
    },
    count,
  };
}

/** A view of a message that only echoes the header (no question). */
export function minimalView(msg: Buffer): QueryView {
  return { id: msg.readUInt16BE(0), flags: msg.readUInt16BE(2), qname: null, questionEnd: 12, edns: null };
}
