import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { availableParallelism } from 'node:os';
import type dgram from 'node:dgram';
import type net from 'node:net';
import type { Config } from '../config/types.js';
import type { Zone } from '../inventory/types.js';
import type { ZoneStore, ZoneDiff } from '../store/ports.js';
import type { AuthorityView } from '../lib/authority-view.js';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';
import type { Clock } from '../lib/clock.js';
import { makeAcl, parseHostPort, type HostPort } from '../lib/net.js';
import { OPCODE, QCLASS, QTYPE, RCODE, typeCode, typeName } from './codec/constants.js';
import { parseName, readName, type DnsName } from './codec/name.js';
import { fastKey, scanQuery, type ScannedQuery } from './codec/query.js';
import { countKey, createAnswerEngine, minimalView, type ZoneIndex } from './engine.js';
import { startUdpWorkers, type UdpWorkerPool } from './workers.js';
import { rrFromRdata, rrKey, toJournal, withSerial, type JournalRecord, type WireRR } from './codec/rr.js';
import { appendUnsignedTsig, makeTsigKey, signMessage, verifyRequest, type TsigKey, type TsigStream } from './codec/tsig.js';
import { opcodeSupported, rcodeOf, responseLimit, writeAnswer, writeError, writeTransfer, type QueryView } from './handler.js';
import { Forwarder } from './forward.js';
import { Notifier } from './notify.js';
import { bindTcp, bindUdp, type Peer, type TcpListener } from './transport.js';
import { closeBatchFd, createNativeCache, openBatchFd, serveBatch, udpBatchAddon, type BatchSocket } from './udp-batch.js';
import type { PoolSocket } from './workers.js';
import { assembleZones, type ZoneSource } from './zone/assemble.js';
import { parseMasterFile } from './zone/master-file.js';
import { rrFromInventory } from './zone/rdata-text.js';
import { buildZone, lookup, makeZoneSet, type ZoneData } from './zone/tree.js';

/** What the DNS service needs; main.ts wires it. */
export interface DnsDeps { config: Config; zones: Zone[]; store: ZoneStore; authority: AuthorityView; logger: Logger; metrics: Metrics; clock: Clock }

/** The authoritative DNS service (issue 3). */
export interface DnsService {
  /** Bind UDP+TCP on every config.dns.listen address (port 0 allowed; actual ports in addresses()). */
  listen(): Promise<void>;
  addresses(): { udp: { host: string; port: number }[]; tcp: { host: string; port: number }[] };
  /** Inventory changed (SIGHUP reload): rebuild zones, bump serials where content changed, NOTIFY. */
  setZones(zones: Zone[]): Promise<void>;
  /** Dynamic records changed in the store (a lease was bound/released): re-read, rebuild, bump, NOTIFY. */
  refreshDynamic(): Promise<void>;
  /** SOA serial currently served for a zone. */
  serial(origin: string): number | undefined;
  /**
   * The authority mode may have changed: tell the UDP workers now (they are also told within 100 ms
   * by a poll of `AuthorityView`). Resolves when every worker has it.
   */
  authorityChanged(): Promise<void>;
  /** PIDs of the UDP worker processes (dns.workers). */
  workerPids(): number[];
  /** Resolves once the UDP workers serve (they start in the background after listen()). */
  workersReady(): Promise<void>;
  close(): Promise<void>;
}

type Reply = Buffer[] | null;
const XFR_MESSAGE = 16_384;

/** RFC 1982 §3.2: s1 >= s2 in serial number arithmetic. */
function serialGte(a: number, b: number): boolean {
  return a === b || (((a - b) >>> 0) < 0x80000000);
}

/** Create the service and build its zones (sockets are bound by listen()). */
export async function createDnsService(deps: DnsDeps): Promise<DnsService> {
  const { config, store, authority, logger, metrics, clock } = deps;
  const dns = config.dns;
  const ourUdp = dns.udp_size;
  const transferAllowed = makeAcl(dns.transfer_allow);
  const forwardAllowed = makeAcl(dns.forward_clients);
  const forwarders = dns.forwarders.map((f) => parseHostPort(f, 53));
  const notifyTargets: HostPort[] = dns.notify.map((n) => parseHostPort(n, 53));
  const keys = new Map<string, TsigKey>();
  for (const k of dns.tsig_keys) {
    const key = makeTsigKey(k.name, k.secret);
    keys.set(key.name.key, key);
  }
  const workerCount = udpWorkerCount(dns.workers);
  // RRL buckets are per process. Every reader (the primary and each worker) allows its share of the
  // rate: under a flood each sees a part of it, so together they let about the configured rate through.
  const rrlOpts = { responsesPerSecond: dns.rrl.responses_per_second / (workerCount + 1), slip: dns.rrl.slip, window: dns.rrl.window };
  const forwarder = forwarders.length > 0 ? new Forwarder(forwarders, () => clock.mono()) : undefined;
  const nowSec = (): number => Math.floor(clock.now() / 1000);
  const notifier = new Notifier({
    key: keys.values().next().value,
    nowSec,
    onResult: (zone, target, ok) => {
      if (ok) logger.debug({ event: 'dns.notify.ack', zone, target });
      else logger.warn({ event: 'dns.notify.failed', zone, target }, 'secondary did not acknowledge NOTIFY');
    },
  });

  let inventoryZones: Zone[] = deps.zones;
  let index: ZoneIndex = makeZoneSet([]);
  /** Content (no SOA) of each zone at the serial we serve, to compute IXFR diffs. */
  const lastContent = new Map<string, { serial: number; soa: WireRR; records: WireRR[] }>();
  /** A bound UDP socket: node:dgram, or a fd served in batches by native/udpbatch. */
  interface UdpEndpoint { host: string; port: number; send(b: Buffer, peer: Peer): void; close(): void; pool: PoolSocket }
  const udpSockets: UdpEndpoint[] = [];
  const tcpServers: TcpListener[] = [];
  let closed = false;
  let pool: UdpWorkerPool | undefined;
  let poolSite = authority.siteDnsAuthoritative();
  let authPoll: NodeJS.Timeout | undefined;
  let workersStarting: Promise<void> = Promise.resolve();
  let countFlush: NodeJS.Timeout | undefined;

  function drop(reason: string): void {
    metrics.dropped.inc({ proto: 'dns', reason });
  }
  const nativeCache = createNativeCache();
  const engine = createAnswerEngine({
    nativeCache,
    ourUdp, rrl: rrlOpts, forwarders: forwarder !== undefined,
    forwardable: (a) => forwarder !== undefined && forwardAllowed(a),
    siteAuthoritative: () => authority.siteDnsAuthoritative(),
    mono: () => clock.mono(),
    onDrop: drop,
  });

  // Answers are counted in a plain map on the hot path and added to prom-client at each scrape (and
  // every second); workers report theirs every 500 ms.
  const counterChildren = new Map<number, { inc(n?: number): void }>();
  function addCounts(q: Iterable<[number, number]>): void {
    for (const [k, n] of q) {
      let c = counterChildren.get(k);
      if (!c) {
        const { rcode, qtype, tcp } = countKey(k);
        c = metrics.dnsQueries.labels({ rcode: rcodeName(rcode), qtype: typeName(qtype), transport: tcp ? 'tcp' : 'udp' });
        counterChildren.set(k, c);
      }
      c.inc(n);
    }
  }
  const flushCounts = (): void => addCounts(engine.drain());
  const counter = metrics.dnsQueries as unknown as { collect?: () => unknown };
  const previousCollect = counter.collect;
  counter.collect = function collect(this: unknown) {
    flushCounts();
    return previousCollect?.call(this);
  };
  function count(rcode: number, qtype: number, transport: 'udp' | 'tcp'): void {
    engine.count(rcode, qtype, transport === 'tcp');
  }

  const answerable = (z: ZoneData): boolean => z.kind === 'mgmt' || authority.siteDnsAuthoritative();

  // ---------------------------------------------------------------- zones --
  function readZoneFiles(): WireRR[] {
    const out: WireRR[] = [];
    for (const file of dns.zone_files) {
      const base = basename(file).replace(/\.(zone|db)$/i, '');
      const origin = parseName(base.endsWith('.') ? base : `${base}.`);
      out.push(...parseMasterFile(readFileSync(file, 'utf8'), file, { origin, defaultTtl: undefined }));
    }
    return out;
  }

  async function dynamicRecords(): Promise<WireRR[]> {
    const out: WireRR[] = [];
    for (const d of await store.dynamicRecords()) {
      try {
        const name = d.name.endsWith('.') ? d.name.slice(0, -1) : d.name;
        out.push(rrFromInventory({ name, type: d.type, data: d.data, ttl: d.ttl }));
      } catch (e) {
        logger.warn({ event: 'dns.dynamic.bad', name: d.name, err: (e as Error).message }, 'bad dynamic record skipped');
      }
    }
    return out;
  }

  function contentHash(soa: WireRR, records: readonly WireRR[]): string {
    const h = createHash('sha256');
    h.update(rrKey(withSerial(soa, 0)));
    for (const k of records.map(rrKey).sort()) h.update(`\n${k}`);
    return h.digest('hex');
  }

  /** Assign serials (keep when the content hash is unchanged, else max(old+1, unix time)), persist, index. */
  async function build(): Promise<string[]> {
    const sources: ZoneSource[] = inventoryZones.map((z) => ({
      origin: parseName(`${z.origin}.`), kind: z.kind, records: z.records.map(rrFromInventory),
    }));
    const { zones, warnings } = assembleZones(sources, readZoneFiles(), await dynamicRecords());
    for (const w of warnings) logger.warn({ event: 'dns.zone.warning' }, w);
    const built: ZoneData[] = [];
    const changed: string[] = [];
    for (const src of zones) {
      const soa = src.records.find((r) => r.type === QTYPE.SOA && r.owner.key === src.origin.key);
      if (!soa) {
        logger.warn({ event: 'dns.zone.no_soa', zone: src.origin.key }, 'zone without an SOA is not served');
        continue;
      }
      const content = src.records.filter((r) => r.type !== QTYPE.SOA);
      const hash = contentHash(soa, content);
      const stored = await store.getSerial(src.origin.key);
      let serial: number;
      if (stored && stored.hash === hash) serial = stored.serial;
      else {
        const base = stored ? stored.serial : 0;
        serial = Math.max((base + 1) >>> 0, nowSec() >>> 0);
        if (stored && !serialGte(serial, base)) serial = (base + 1) >>> 0;
        const newSoa = withSerial(soa, serial);
        const prev = lastContent.get(src.origin.key);
        let diff: ZoneDiff | undefined;
        if (prev && stored && prev.serial === stored.serial) {
          const before = new Map(prev.records.map((r) => [rrKey(r), r]));
          const after = new Map(content.map((r) => [rrKey(r), r]));
          diff = {
            zone: src.origin.key, fromSerial: stored.serial, toSerial: serial, at: clock.now(),
            removed: [toJournal(prev.soa), ...[...before].filter(([k]) => !after.has(k)).map(([, r]) => toJournal(r))],
            added: [toJournal(newSoa), ...[...after].filter(([k]) => !before.has(k)).map(([, r]) => toJournal(r))],
          };
        }
        await store.setSerial(src.origin.key, serial, hash, diff);
        changed.push(src.origin.key);
        logger.info({ event: 'dns.zone.serial', zone: src.origin.key, serial, from: stored?.serial ?? null }, 'zone serial assigned');
      }
      const finalSoa = withSerial(soa, serial);
      lastContent.set(src.origin.key, { serial, soa: finalSoa, records: content });
      built.push(buildZone(src.origin, src.kind, [finalSoa, ...content]));
    }
    index = makeZoneSet(built);
    engine.setIndex(index);
    if (pool) {
      poolSite = authority.siteDnsAuthoritative();
      await pool.sync(built, poolSite);
    }
    return changed;
  }

  let chain: Promise<unknown> = Promise.resolve();
  /** Rebuilds run one at a time, in order. */
  function rebuild(): Promise<void> {
    const run = chain.then(async () => {
      const changed = await build();
      if (notifyTargets.length > 0) {
        for (const origin of changed) {
          const z = index.byOrigin.get(origin);
          if (z) notifier.notify(z, notifyTargets);
        }
      }
    });
    chain = run.catch(() => undefined);
    return run;
  }

  // -------------------------------------------------------------- queries --
  function view(q: ScannedQuery): QueryView {
    return { id: q.id, flags: q.flags, qname: q.qname, questionEnd: q.questionEnd, edns: q.edns };
  }

  function handle(msg: Buffer, peer: Peer, tcp: boolean): Reply | Promise<Reply> {
    // The hot path (a plain query): the engine's wire cache and zone index.
    const a = engine.answer(msg, peer, tcp);
    if (a !== undefined) return a ? [a] : null;
    return fullPath(msg, peer, tcp);
  }

  /** Queries the engine leaves to us: TSIG, NOTIFY, AXFR/IXFR, forwarding. */
  function fullPath(msg: Buffer, peer: Peer, tcp: boolean): Reply | Promise<Reply> {
    const transport = tcp ? 'tcp' : 'udp';
    const q = scanQuery(msg);
    if ('fail' in q) {
      drop(q.reason);
      if (q.fail === 'drop' || q.id === undefined) return null;
      count(RCODE.FORMERR, 0, transport);
      return [writeError(msg, { id: q.id, flags: q.flags ?? 0, qname: null, questionEnd: 12, edns: null }, RCODE.FORMERR, ourUdp)];
    }
    const qv = view(q);
    // RFC 6891 §6.1.3: a version we do not speak gets BADVERS, with our version (0) in the OPT.
    if (q.edns && q.edns.version > 0) {
      count(RCODE.BADVERS, q.qtype, transport);
      return [writeError(msg, qv, RCODE.BADVERS, ourUdp)];
    }
    if (!opcodeSupported(q.opcode)) {
      count(RCODE.NOTIMP, q.qtype, transport);
      return [writeError(msg, qv, RCODE.NOTIMP, ourUdp)];
    }
    let tsig: TsigStream | undefined;
    if (q.tsigStart >= 0) {
      const span = q.additional[q.additional.length - 1]!;
      const v = verifyRequest(msg, span, keys, nowSec());
      if (!v.ok) {
        drop('tsig');
        logger.warn({ event: 'dns.tsig.failed', peer: peer.address, error: v.error });
        // RFC 8945 §5.2: NOTAUTH with the TSIG error; unsigned unless the key is known and the MAC good.
        const base = writeError(msg.subarray(0, q.tsigStart), { ...qv, edns: null }, RCODE.NOTAUTH, ourUdp);
        if (v.error === RCODE.BADTIME && v.key && v.record) {
          return [signMessage(base, { key: v.key, priorMac: v.record.mac, first: true }, nowSec(), RCODE.BADTIME)];
        }
        if (v.record) return [appendUnsignedTsig(base, v.record.keyName, v.record.algorithm, nowSec(), v.error)];
        return [base];
      }
      tsig = { key: v.key, priorMac: v.record.mac, first: true };
    }
    const sign = (out: Buffer[]): Buffer[] => (tsig ? out.map((b) => signMessage(b, tsig!, nowSec())) : out);
    if (q.opcode === OPCODE.NOTIFY) return sign([notifyAck(msg, q)]);
    if (q.qclass !== QCLASS.IN && q.qclass !== QCLASS.ANY) {
      count(RCODE.REFUSED, q.qtype, transport);
      return sign([writeError(msg, qv, RCODE.REFUSED, ourUdp)]);
    }
    if (q.qtype === QTYPE.AXFR || q.qtype === QTYPE.IXFR) return transfer(msg, q, peer, tcp, tsig);
    const outcome = lookup(index, q.qname, q.qtype, { answerable });
    if (outcome.kind === 'refused' && forwarder && forwardAllowed(peer.address)) {
      return forward(msg, q, tcp);
    }
    const resp = writeAnswer(msg, qv, outcome, responseLimit(qv, tcp, ourUdp), ourUdp);
    count(rcodeOf(outcome.kind), q.qtype, transport);
    return sign([resp]);
  }

  async function forward(msg: Buffer, q: ScannedQuery, tcp: boolean): Promise<Reply> {
    const fk = fastKey(msg, Buffer.alloc(600), ourUdp);
    const key = fk ? fk.key : `${q.qname.key}|${q.qtype}|${q.edns ? 'E' : 'N'}`;
    const cached = forwarder!.fromCache(key, msg, q.questionEnd);
    const transport = tcp ? 'tcp' : 'udp';
    const out = cached ?? await forwarder!.forward(key, msg, q.questionEnd);
    if (!out) {
      count(RCODE.SERVFAIL, q.qtype, transport);
      return [writeError(msg, view(q), RCODE.SERVFAIL, ourUdp)];
    }
    count(out[3]! & 0xf, q.qtype, transport);
    return [out];
  }

  /** NOTIFY to us (RFC 1996 §3.7): acknowledged for zones we serve; we are the primary, so no refresh. */
  function notifyAck(msg: Buffer, q: ScannedQuery): Buffer {
    const ours = index.byOrigin.has(q.qname.key);
    return writeError(msg, { ...view(q), edns: null }, ours ? RCODE.NOERROR : RCODE.NOTAUTH, ourUdp, ours);
  }

  /** AXFR (RFC 5936) and IXFR (RFC 1995) of a zone to an allowed client. */
  async function transfer(msg: Buffer, q: ScannedQuery, peer: Peer, tcp: boolean, tsig: TsigStream | undefined): Promise<Reply> {
    const transport = tcp ? 'tcp' : 'udp';
    const qv = { ...view(q), edns: null };
    const refuse = (why: string): Reply => {
      logger.warn({ event: 'dns.xfr.refused', peer: peer.address, zone: q.qname.key, why });
      count(RCODE.REFUSED, q.qtype, transport);
      const r = writeError(msg.subarray(0, q.tsigStart >= 0 ? q.tsigStart : msg.length), qv, RCODE.REFUSED, ourUdp);
      return [tsig ? signMessage(r, tsig, nowSec()) : r];
    };
    // RFC 5936 §6: transfers only to allowed clients, and signed when keys are configured.
    if (!transferAllowed(peer.address)) return refuse('acl');
    if (keys.size > 0 && !tsig) return refuse('unsigned');
    const z = index.byOrigin.get(q.qname.key);
    if (!z) {
      count(RCODE.NOTAUTH, q.qtype, transport);
      const r = writeError(msg, qv, RCODE.NOTAUTH, ourUdp);
      return [tsig ? signMessage(r, tsig, nowSec()) : r];
    }
    let records: WireRR[] | undefined;
    if (q.qtype === QTYPE.IXFR) {
      const clientSerial = ixfrSerial(msg, q);
      if (clientSerial === undefined) {
        count(RCODE.FORMERR, q.qtype, transport);
        return [writeError(msg, qv, RCODE.FORMERR, ourUdp)];
      }
      if (serialGte(clientSerial, z.serial) || !tcp) {
        // RFC 1995 §2/§4: up to date, or over UDP: the SOA alone.
        records = [z.soa];
      } else records = await incremental(z, clientSerial);
    }
    if (!records) {
      if (!tcp) return refuse('axfr-over-udp');
      records = [...z.records, z.soa];
    }
    const msgs = writeTransfer(msg, qv, records, tcp ? XFR_MESSAGE : 512, tsig ? 256 : 0);
    count(RCODE.NOERROR, q.qtype, transport);
    logger.info({ event: 'dns.xfr.done', peer: peer.address, zone: z.origin.key, type: typeName(q.qtype), serial: z.serial, records: records.length, messages: msgs.length });
    return tsig ? msgs.map((b) => signMessage(b, tsig, nowSec())) : msgs;
  }

  /** IXFR records from the journal (RFC 1995 §4), or undefined to fall back to AXFR. */
  async function incremental(z: ZoneData, from: number): Promise<WireRR[] | undefined> {
    const diffs = await store.diffsSince(z.origin.key, from);
    let at = from;
    const out: WireRR[] = [z.soa];
    try {
      for (const d of diffs) {
        if (d.fromSerial !== at) return undefined;
        out.push(...(d.removed as JournalRecord[]).map(fromJournal), ...(d.added as JournalRecord[]).map(fromJournal));
        at = d.toSerial;
        if (at === z.serial) break;
      }
    } catch {
      return undefined;
    }
    if (at !== z.serial) return undefined;
    out.push(z.soa);
    return out;
  }

  function fromJournal(j: JournalRecord): WireRR {
    const type = typeCode(j.type);
    if (type === undefined) throw new Error(`bad journal type ${j.type}`);
    return rrFromRdata(parseName(j.name), type, j.ttl, Buffer.from(j.data, 'hex'));
  }

  /** The client's serial: the SOA in the IXFR query's authority section (RFC 1995 §3). */
  function ixfrSerial(msg: Buffer, q: ScannedQuery): number | undefined {
    const s = q.authority[0];
    if (!s || s.type !== QTYPE.SOA) return undefined;
    try {
      const m = readName(msg, s.rdata);
      const r = readName(msg, m.end);
      if (r.end + 20 > s.rdata + s.rdlength) return undefined;
      return msg.readUInt32BE(r.end);
    } catch {
      return undefined;
    }
  }

  function fail(e: unknown, msg: Buffer, peer: Peer): Reply {
    metrics.errors.inc({ code: 'DNS_ERR_DECODE' });
    logger.error({ event: 'dns.handler.error', err: (e as Error).message, peer: peer.address });
    if (msg.length < 12 || (msg[2]! & 0x80)) return null;
    return [writeError(msg, minimalView(msg), RCODE.SERVFAIL, ourUdp)];
  }

  /** Every message goes through here: a throw becomes SERVFAIL (or a drop), counted (one place). */
  function safeHandle(msg: Buffer, peer: Peer, tcp: boolean): Reply | Promise<Reply> {
    try {
      const r = handle(msg, peer, tcp);
      return r instanceof Promise ? r.catch((e: unknown) => fail(e, msg, peer)) : r;
    } catch (e) {
      return fail(e, msg, peer);
    }
  }

  function onUdp(m: Buffer, peer: Peer, sock: dgram.Socket): void {
    // The hot path first: one answer, sent straight back (no array, no closure).
    let a: Buffer | null | undefined;
    try {
      a = engine.answer(m, peer, false);
    } catch {
      a = undefined;
    }
    if (a !== undefined) {
      if (a) sock.send(a, peer.port, peer.address);
      return;
    }
    fullUdp(m, peer, (b) => sock.send(b, peer.port, peer.address));
  }

  /** A UDP query the engine leaves to the full path (its answer may come later). */
  function fullUdp(m: Buffer, peer: Peer, send: (b: Buffer) => void): void {
    const r = safeHandle(m, peer, false);
    if (r instanceof Promise) void r.then((o) => { if (o && !closed) for (const b of o) send(b); });
    else if (r) for (const b of r) send(b);
  }

  /** Bind UDP on host:port: batched through the addon when it is built, else node:dgram. */
  async function bindUdpEndpoint(host: string, port: number): Promise<UdpEndpoint> {
    if (!udpBatchAddon()) {
      const udp = await bindUdp(host, port, onUdp);
      return {
        host: udp.address().address, port: udp.address().port, pool: { kind: 'dgram', sock: udp },
        send: (b, peer) => udp.send(b, peer.port, peer.address),
        close: () => udp.close(),
      };
    }
    const o = openBatchFd(host, port);
    let bs: BatchSocket | undefined;
    return {
      host, port: o.port, pool: { kind: 'fd', fd: o.fd },
      send: (b, peer) => bs?.sendTo(b, peer.address, peer.port),
      close: () => { if (bs) bs.close(); else closeBatchFd(o.fd); },
      start(): void {
        bs = serveBatch(o.fd, o.port, ourUdp, {
          onError: (e) => fail(e, Buffer.alloc(0), { address: '', port: 0 }), onTooLong: () => drop('too-long'),
          onHit: (rcode, qtype) => engine.count(rcode, qtype, false), revalidate: () => engine.revalidate(),
        }, (buf, base, len, peer, out, off) => {
          let w: number;
          try {
            w = engine.answerInto(buf, base, len, peer, out, off);
          } catch {
            w = -1;
          }
          if (w >= 0) return w;
          // The batch buffers are reused: keep a copy of the query and the sender for a later answer.
          const copy = Buffer.from(buf.subarray(base, base + len));
          const p = { address: peer.address, port: peer.port };
          fullUdp(copy, p, (b) => bs?.sendTo(b, p.address, p.port));
          return 0;
        }, { cache: nativeCache, maxUdp: ourUdp });
      },
    } as UdpEndpoint & { start(): void };
  }

  async function pushAuthority(): Promise<void> {
    const now = authority.siteDnsAuthoritative();
    if (!pool || now === poolSite) return;
    poolSite = now;
    await pool.setAuthority(now);
  }

  // -------------------------------------------------------------- service --
  await rebuild();

  return {
    async listen(): Promise<void> {
      for (const l of dns.listen) {
        const hp = parseHostPort(l);
        // UDP and TCP on the same port: with port 0, take the UDP port and retry if TCP has it taken.
        for (let attempt = 0; ; attempt++) {
          const udp = await bindUdpEndpoint(hp.host, hp.port);
          const port = udp.port;
          try {
            const tcp = await bindTcp(hp.host, port, {
              idleMs: dns.tcp_idle * 1000, maxConnections: dns.tcp_max, onRefused: () => drop('tcp-max'),
            }, async (m, peer) => safeHandle(m, peer, true), () => drop('tcp-frame'));
            (udp as Partial<{ start(): void }>).start?.();
            udpSockets.push(udp);
            tcpServers.push(tcp);
            logger.info({ event: 'dns.listen', host: hp.host, port });
            break;
          } catch (e) {
            udp.close();
            if (hp.port !== 0 || attempt >= 10) throw e;
          }
        }
      }
      countFlush = setInterval(flushCounts, 1000);
      countFlush.unref();
      if (workerCount > 0 && udpSockets.length > 0) {
        poolSite = authority.siteDnsAuthoritative();
        // The workers start in the background: the primary answers everything until they are up.
        workersStarting = startUdpWorkers({
          count: workerCount, sockets: udpSockets.map((u) => u.pool), logger,
          init: { ourUdp, rrl: rrlOpts, forwarders: forwarder !== undefined, forwardClients: dns.forward_clients },
          onRelay: (i, m, peer) => { const s = udpSockets[i]; if (s) fullUdp(m, peer, (b) => s.send(b, peer)); },
          onCounts: (q, d, e) => {
            addCounts(q);
            for (const [reason, n] of d) metrics.dropped.inc({ proto: 'dns', reason }, n);
            if (e > 0) metrics.errors.inc({ code: 'DNS_ERR_DECODE' }, e);
          },
        }, index.all, poolSite).then(async (p) => {
          if (closed) { await p.close(); return; }
          pool = p;
          // Zones or the authority mode may have changed while the workers started.
          poolSite = authority.siteDnsAuthoritative();
          await p.sync(index.all, poolSite);
          // Authority fencing in the workers: pushed on every change seen here (at most 100 ms late).
          authPoll = setInterval(() => { void pushAuthority(); }, 100);
          authPoll.unref();
          logger.info({ event: 'dns.workers', count: workerCount, pids: p.pids() }, 'DNS UDP workers started');
        }, (e: Error) => {
          logger.error({ event: 'dns.worker.failed', err: e.message }, 'DNS UDP workers did not start; answering in-process');
        });
      }
    },
    addresses() {
      return {
        udp: udpSockets.map((s) => ({ host: s.host, port: s.port })),
        tcp: tcpServers.map((s) => {
          const a = s.server.address() as net.AddressInfo;
          return { host: a.address, port: a.port };
        }),
      };
    },
    async setZones(zones: Zone[]): Promise<void> {
      inventoryZones = zones;
      await rebuild();
    },
    async refreshDynamic(): Promise<void> {
      await rebuild();
    },
    serial(origin: string): number | undefined {
      const key = origin.toLowerCase().replace(/\.$/, '');
      return index.byOrigin.get(key)?.serial;
    },
    authorityChanged: () => pushAuthority(),
    workerPids: () => pool?.pids() ?? [],
    workersReady: () => workersStarting,
    async close(): Promise<void> {
      closed = true;
      if (authPoll) clearInterval(authPoll);
      if (countFlush) clearInterval(countFlush);
      await workersStarting;
      await pool?.close();
      pool = undefined;
      flushCounts();
      counter.collect = previousCollect;
      notifier.close();
      forwarder?.close();
      for (const s of udpSockets) s.close();
      await Promise.all(tcpServers.map((s) => s.close()));
      udpSockets.length = 0;
      tcpServers.length = 0;
    },
  };
}

/** dns.workers: a count, or 'auto' (one worker when the machine has two CPUs or more). */
export function udpWorkerCount(w: number | 'auto'): number {
  if (w === 'auto') return availableParallelism() >= 2 ? 1 : 0;
  return w;
}

const RCODE_NAMES: Record<number, string> = { 0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED', 9: 'NOTAUTH', 16: 'BADVERS' };
function rcodeName(r: number): string {
  return RCODE_NAMES[r] ?? String(r);
}

