import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
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
import { rrFromRdata, rrKey, toJournal, withSerial, type JournalRecord, type WireRR } from './codec/rr.js';
import { appendUnsignedTsig, makeTsigKey, signMessage, verifyRequest, type TsigKey, type TsigStream } from './codec/tsig.js';
import { opcodeSupported, rcodeOf, responseLimit, writeAnswer, writeError, writeSlip, writeTransfer, type QueryView } from './handler.js';
import { Forwarder } from './forward.js';
import { Notifier } from './notify.js';
import { ResponseRateLimiter, rrlPrefix } from './rrl.js';
import { bindTcp, bindUdp, type Peer, type TcpListener } from './transport.js';
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
  close(): Promise<void>;
}

type Reply = Buffer[] | null;
type ZoneIndex = ReturnType<typeof makeZoneSet>;

const CACHE_MAX = 200_000;
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
  const rrl = new ResponseRateLimiter({ responsesPerSecond: dns.rrl.responses_per_second, slip: dns.rrl.slip, window: dns.rrl.window });
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
  const cache = new Map<string, Buffer>();
  let siteAuth = authority.siteDnsAuthoritative();
  const scratch = Buffer.alloc(600);
  const udpSockets: dgram.Socket[] = [];
  const tcpServers: TcpListener[] = [];
  let closed = false;

  const counterChildren = new Map<number, { inc(): void }>();
  function count(rcode: number, qtype: number, transport: 'udp' | 'tcp'): void {
    const k = (rcode * 65536 + qtype) * 2 + (transport === 'tcp' ? 1 : 0);
    let c = counterChildren.get(k);
    if (!c) {
      c = metrics.dnsQueries.labels({ rcode: rcodeName(rcode), qtype: typeName(qtype), transport });
      counterChildren.set(k, c);
    }
    c.inc();
  }
  function drop(reason: string): void {
    metrics.dropped.inc({ proto: 'dns', reason });
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
    cache.clear();
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

  /** RRL on UDP (RFC-less but the BIND/NSD scheme): send, slip (TC) or drop. */
  function limit(resp: Buffer, raw: Buffer, key: string, peer: Peer, qv: () => QueryView): Buffer | null {
    if (!rrl.enabled) return resp;
    const v = rrl.check(`${rrlPrefix(peer.address)}|${key}`, clock.mono());
    if (v === 'send') return resp;
    drop(v === 'slip' ? 'rrl-slip' : 'rrl-drop');
    return v === 'slip' ? writeSlip(raw, qv()) : null;
  }

  function checkAuthority(): void {
    const now = authority.siteDnsAuthoritative();
    if (now !== siteAuth) { siteAuth = now; cache.clear(); }
  }

  /** The fast path: a cached wire answer with ID, question (0x20 case) and RD/CD patched in. */
  function fromCache(msg: Buffer, tcp: boolean): { out: Buffer; key: string; qtype: number } | { key: string; miss: true } | undefined {
    const fk = fastKey(msg, scratch, ourUdp);
    if (!fk) return undefined;
    const key = tcp ? `${fk.key}T` : fk.key;
    checkAuthority();
    const hit = cache.get(key);
    if (!hit) return { key, miss: true };
    const out = Buffer.allocUnsafe(hit.length);
    hit.copy(out);
    out[0] = msg[0]!;
    out[1] = msg[1]!;
    out[2] = (hit[2]! & 0xfe) | (msg[2]! & 0x01);
    out[3] = (hit[3]! & 0xef) | (msg[3]! & 0x10);
    msg.copy(out, 12, 12, fk.questionEnd);
    return { out, key, qtype: msg.readUInt16BE(fk.questionEnd - 4) };
  }

  function handle(msg: Buffer, peer: Peer, tcp: boolean): Reply | Promise<Reply> {
    const transport = tcp ? 'tcp' : 'udp';
    const c = fromCache(msg, tcp);
    if (c && 'out' in c) {
      count(c.out[3]! & 0xf, c.qtype, transport);
      if (tcp) return [c.out];
      const r = limit(c.out, msg, c.key, peer, () => minimalView(msg));
      return r ? [r] : null;
    }
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
    checkAuthority();
    const outcome = lookup(index, q.qname, q.qtype, { answerable });
    if (outcome.kind === 'refused' && forwarder && forwardAllowed(peer.address)) {
      return forward(msg, q, tcp);
    }
    const resp = writeAnswer(msg, qv, outcome, responseLimit(qv, tcp, ourUdp), ourUdp);
    count(rcodeOf(outcome.kind), q.qtype, transport);
    if (tsig) return sign([resp]);
    if (c && (outcome.kind !== 'refused' || !forwarder)) {
      if (cache.size >= CACHE_MAX) cache.clear();
      cache.set(c.key, resp);
    }
    if (tcp) return [resp];
    const r = limit(resp, msg, c ? c.key : `${q.qname.key}|${q.qtype}`, peer, () => qv);
    return r ? [r] : null;
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

  /** Every message goes through here: a throw becomes SERVFAIL (or a drop), counted (one place). */
  function safeHandle(msg: Buffer, peer: Peer, tcp: boolean): Reply | Promise<Reply> {
    const fail = (e: unknown): Reply => {
      metrics.errors.inc({ code: 'DNS_ERR_DECODE' });
      logger.error({ event: 'dns.handler.error', err: (e as Error).message, peer: peer.address });
      if (msg.length < 12 || (msg[2]! & 0x80)) return null;
      return [writeError(msg, minimalView(msg), RCODE.SERVFAIL, ourUdp)];
    };
    try {
      const r = handle(msg, peer, tcp);
      return r instanceof Promise ? r.catch(fail) : r;
    } catch (e) {
      return fail(e);
    }
  }

  // -------------------------------------------------------------- service --
  await rebuild();

  return {
    async listen(): Promise<void> {
      for (const l of dns.listen) {
        const hp = parseHostPort(l);
        // UDP and TCP on the same port: with port 0, take the UDP port and retry if TCP has it taken.
        for (let attempt = 0; ; attempt++) {
          const udp = await bindUdp(hp.host, hp.port, (m, peer, send) => {
            const r = safeHandle(m, peer, false);
            if (r instanceof Promise) void r.then((o) => { if (o && !closed) for (const b of o) send(b); });
            else if (r) for (const b of r) send(b);
          });
          const port = (udp.address()).port;
          try {
            const tcp = await bindTcp(hp.host, port, {
              idleMs: dns.tcp_idle * 1000, maxConnections: dns.tcp_max, onRefused: () => drop('tcp-max'),
            }, async (m, peer) => safeHandle(m, peer, true), () => drop('tcp-frame'));
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
    },
    addresses() {
      return {
        udp: udpSockets.map((s) => ({ host: s.address().address, port: s.address().port })),
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
    async close(): Promise<void> {
      closed = true;
      notifier.close();
      forwarder?.close();
      for (const s of udpSockets) s.close();
      await Promise.all(tcpServers.map((s) => s.close()));
      udpSockets.length = 0;
      tcpServers.length = 0;
    },
  };
}

/** A view of a message that only echoes the header (no question). */
function minimalView(msg: Buffer): QueryView {
  return { id: msg.readUInt16BE(0), flags: msg.readUInt16BE(2), qname: null, questionEnd: 12, edns: null };
}

const RCODE_NAMES: Record<number, string> = { 0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED', 9: 'NOTAUTH', 16: 'BADVERS' };
function rcodeName(r: number): string {
  return RCODE_NAMES[r] ?? String(r);
}

