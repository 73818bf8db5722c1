import type { RemoteInfo } from 'node:dgram';
import type { Config, SubnetConfig } from '../config/types.js';
import type { Reservation } from '../inventory/types.js';
import type { BootEvent, DynamicRecord, Lease, LeaseStore, ZoneStore } from '../store/ports.js';
import type { AuthorityView } from '../lib/authority-view.js';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';
import type { Clock } from '../lib/clock.js';
import { ErrorCode } from '../lib/errors.js';
import { ipv4ToInt } from '../lib/net.js';
import { networkInterfaces } from 'node:os';
import { readFileSync } from 'node:fs';
import {
  BootOp, DhcpDecodeError, FLAG_BROADCAST, MessageType, Opt, chaddrMac, decodeDhcp, encodeDhcpEx, ipsValue,
  messageTypeName, readClientArch, readClientFqdnLabel, readClientId, readIpOption, readMaxMessageSize,
  readMessageType, readParamRequestList, readText, readUserClass, textValue, u32Value, type DhcpPacket,
} from './codec/index.js';
import {
  bootAnswer, classifyClient, leaseTimers, replyDestination, requestState, sanitiseHostname, selectSubnet, subnetOf,
  type BootAnswer, type ReplyDestination,
} from './policy/index.js';
import { LeaseAllocator, type ClientRef } from './allocator.js';
import { closeDhcpSocket, interfaceAddresses, localAddressesByIface, openDhcpSocket, type DhcpSocket } from './transport.js';

/** What the DHCP service needs; main.ts wires it. */
export interface DhcpDeps {
  config: Config;
  reservations: Reservation[];
  leases: LeaseStore;
  zones: ZoneStore;
  authority: AuthorityView;
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
  /** Called after dynamic DNS records changed (the DNS service rebuilds its zones). */
  onDnsChange?: () => void;
  /** Boot journey events (dhcp.offer / dhcp.ack) keyed by MAC. */
  onBootEvent?: (e: BootEvent) => void;
  /**
   * Already-bound sockets (tests); when given, listen() opens none. Each needs its iface (null for a
   * wildcard socket, then subnets are chosen by giaddr/ciaddr/local addresses).
   */
  sockets?: DhcpSocket[];
}

/** The running DHCPv4 service. */
export interface DhcpService {
  /** Open the sockets (one per dhcp.interfaces entry with SO_BINDTODEVICE, or one wildcard socket). */
  listen(): Promise<void>;
  /** Where it listens. */
  addresses(): { iface: string; address: string; port: number }[];
  /** Replace the inventory (config reload). */
  setInventory(config: Config, reservations: Reservation[]): void;
  /** The lease row of an address, if any (no copy of the whole table). */
  leaseAt(ip: string): Lease | undefined;
  /** Take over leases another server handed out (authority revert --import-leases); already in the store. */
  adopt(leases: readonly Lease[]): void;
  /** Every lease row the service knows (any state). */
  leases(): Lease[];
  close(): Promise<void>;
}

const EMPTY_OPTIONS: ReadonlyMap<number, Buffer> = new Map();

/** Pending-offer bound (issue 10): outstanding OFFERs beyond this are refused and counted. */
export const MAX_PENDING_OFFERS = 65536;
/** proxyDHCP second port (PXE spec §2.2.1 "boot server discovery", used by pixiecore and dnsmasq). */
export const PXE_PORT = 4011;

interface Ctx {
  sock: DhcpSocket;
  rinfo: RemoteInfo;
}

type ReplyKind = 'address' | 'proxy';

/** Create the DHCPv4 service: loads the lease index from the store; call listen() to serve. */
export async function createDhcpService(deps: DhcpDeps): Promise<DhcpService> {
  const { logger, metrics, clock, authority } = deps;
  /** Lease time handed out: the subnet's, shortened while a transition is planned (clients move at renewal). */
  const leaseTimeOf = (subnet: { leaseTime: number }): number => Math.min(subnet.leaseTime, authority.leaseTimeCap?.() ?? Infinity);
  const log = logger.child({ svc: 'dhcp' });
  let config = deps.config;
  const allocator = new LeaseAllocator({
    clock,
    offerHoldMs: config.dhcp.offerHold * 1000,
    declineHoldMs: config.dhcp.declineHold * 1000,
    maxPendingOffers: MAX_PENDING_OFFERS,
  });
  let reservations = deps.reservations;
  let inventoryNames = new Set<string>();
  const applyInventory = (): void => {
    allocator.setInventory(config.dhcp.subnets, reservations, []);
    inventoryNames = new Set(reservations.flatMap((r) => [r.label, r.host]));
    for (const h of config.hosts) inventoryNames.add(h.name);
    for (const s of Object.keys(config.services)) inventoryNames.add(s);
  };
  applyInventory();
  allocator.load(await deps.leases.all());

  // Which lease addresses currently own dynamic DNS records, and which name each publishes.
  const dnsByIp = new Map<string, string>();
  const ipByDnsName = new Map<string, string>();
  try {
    for (const r of await deps.zones.dynamicRecords()) {
      if (r.type === 'A') { dnsByIp.set(r.owner, r.name); ipByDnsName.set(r.name, r.owner); }
    }
  } catch (e) {
    log.warn({ event: 'dhcp.dns.load_failed', err: (e as Error).message }, 'could not read dynamic DNS records');
  }

  let sockets: DhcpSocket[] = deps.sockets ?? [];
  const ownSockets = deps.sockets === undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  // Per-interface address cache (os.networkInterfaces is a netlink round trip; refreshed every 5 s).
  const addrCache = new Map<string, { at: number; addrs: string[] }>();
  const addressesOf = (iface: string | null): string[] => {
    const k = iface ?? '*';
    const now = clock.mono();
    const c = addrCache.get(k);
    if (c && now - c.at < 5000) return c.addrs;
    const addrs = interfaceAddresses(iface);
    addrCache.set(k, { at: now, addrs });
    return addrs;
  };
  // Per-MAC rate limit (issue 10): fixed one-second windows on the monotonic clock.
  const rate = new Map<string, { start: number; count: number }>();
  const rateOk = (mac: string): boolean => {
    const max = config.dhcp.maxPacketsPerMac;
    if (max <= 0) return true;
    const now = clock.mono();
    const w = rate.get(mac);
    if (!w || now - w.start >= 1000) { rate.set(mac, { start: now, count: 1 }); return true; }
    w.count++;
    return w.count <= max;
  };

  const drop = (reason: string, detail?: Record<string, unknown>): void => {
    metrics.dropped.inc({ proto: 'dhcp', reason });
    log.debug({ event: 'dhcp.drop', reason, ...detail }, 'dropped');
  };

  /** The single place replies leave (authority fencing, RFC-less but issue 4: only proxyDHCP when not authoritative). */
  const emit = (ctx: Ctx, kind: ReplyKind, type: number, bytes: Buffer, dest: { address: string; port: number }): void => {
    if (kind !== 'proxy' && !authority.dhcpAuthoritative()) {
      drop('fenced', { type: messageTypeName[type] });
      return;
    }
    metrics.dhcpMessages.inc({ type: messageTypeName[type] ?? String(type), direction: 'out' });
    ctx.sock.socket.send(bytes, dest.port, dest.address, (err) => {
      if (err) {
        metrics.errors.inc({ code: ErrorCode.LISTEN_ERR });
        log.warn({ event: 'dhcp.send_failed', err: err.message, to: dest.address }, 'send failed');
      }
    });
  };

  /** Addresses of the receiving interface: the device's, the bound address, or none (wildcard socket). */
  const receivingAddresses = (ctx: Ctx): string[] =>
    ctx.sock.iface !== null ? addressesOf(ctx.sock.iface) : ctx.sock.address !== '0.0.0.0' ? [ctx.sock.address] : [];

  /** Our address facing the client: the receiving interface's address in the subnet (option 54). */
  const serverIdFor = (ctx: Ctx, subnet: SubnetConfig | undefined): string | undefined => {
    if (ctx.sock.address !== '0.0.0.0') return ctx.sock.address;
    const addrs = addressesOf(ctx.sock.iface);
    if (subnet) {
      const inSubnet = addrs.find((a) => subnetOf([subnet], a));
      if (inSubnet) return inSubnet;
    }
    // Relayed, or a wildcard socket: an address in any served subnet, else the first one.
    return addrs.find((a) => subnetOf(config.dhcp.subnets, a)) ?? addrs[0];
  };

  const profileFor = (mac: string, subnet: SubnetConfig | undefined) => {
    const name = allocator.reservationFor(mac)?.boot ?? subnet?.boot;
    return name !== undefined ? config.bootProfiles[name] : undefined;
  };

  const bootFor = (req: DhcpPacket, mac: string, subnet: SubnetConfig | undefined, serverIp: string): BootAnswer | undefined => {
    const cls = classifyClient({
      vendorClass: readText(req.options, Opt.VENDOR_CLASS),
      userClass: readUserClass(req.options),
      arch: readClientArch(req.options),
      hasIpxeEncap: req.options.has(Opt.IPXE_ENCAP),
    });
    if (!cls.boot) return undefined;
    const ans = bootAnswer(cls, profileFor(mac, subnet), { baseUrl: config.http.base_url, mac, serverIp });
    if (!ans) log.info({ event: 'dhcp.boot.none', mac, arch: cls.arch, ipxe: cls.ipxe }, 'boot client without a boot file for its architecture');
    return ans;
  };

  interface ReplySpec {
    type: number;
    yiaddr: string;
    subnet?: SubnetConfig | undefined;
    serverId: string;
    leaseSeconds?: number;
    boot?: BootAnswer | undefined;
    hostname?: string | undefined;
    message?: string;
    /** INFORM/proxy replies: no lease parameters. */
    noLease?: boolean;
    /** proxyDHCP: only boot options. */
    proxy?: boolean;
  }

  // Option values that are the same for every reply of a subnet / lease time / server address, built once.
  let subnetCache = new Map<string, Map<number, Buffer>>();
  const subnetOptions = (s: SubnetConfig): Map<number, Buffer> => {
    let m = subnetCache.get(s.cidr);
    if (!m) {
      m = new Map<number, Buffer>();
      m.set(Opt.SUBNET_MASK, ipsValue([intToIp(s.mask)]));
      if (s.gateway) m.set(Opt.ROUTER, ipsValue([s.gateway]));
      if (s.dns.length) m.set(Opt.DNS_SERVERS, ipsValue(s.dns));
      if (s.domain) m.set(Opt.DOMAIN_NAME, textValue(s.domain));
      m.set(Opt.BROADCAST, ipsValue([intToIp(s.broadcast)]));
      subnetCache.set(s.cidr, m);
    }
    return m;
  };
  const leaseCache = new Map<number, [Buffer, Buffer, Buffer]>();
  const leaseOptions = (seconds: number): [Buffer, Buffer, Buffer] => {
    let v = leaseCache.get(seconds);
    if (!v) {
      const { t1, t2 } = leaseTimers(seconds);
      v = [u32Value(seconds), u32Value(t1), u32Value(t2)];
      leaseCache.set(seconds, v);
    }
    return v;
  };
  const sidCache = new Map<string, Buffer>();
  const serverIdValue = (ip: string): Buffer => {
    let v = sidCache.get(ip);
    if (!v) { v = ipsValue([ip]); if (sidCache.size < 1024) sidCache.set(ip, v); }
    return v;
  };

  /** Build a reply (RFC 2131 §4.3.1 table 3): 53 and 54 first, requested options in 55's order, 82 echoed last. */
  const buildReply = (req: DhcpPacket, spec: ReplySpec, dest: ReplyDestination): Buffer => {
    const opts = new Map<number, Buffer>();
    opts.set(Opt.MESSAGE_TYPE, Buffer.from([spec.type]));
    opts.set(Opt.SERVER_ID, serverIdValue(spec.serverId));
    let available: ReadonlyMap<number, Buffer> = EMPTY_OPTIONS;
    if (spec.type !== MessageType.NAK) {
      if (spec.leaseSeconds !== undefined && !spec.noLease) {
        const t = leaseOptions(spec.leaseSeconds);
        opts.set(Opt.LEASE_TIME, t[0]);
        opts.set(Opt.RENEWAL_T1, t[1]);
        opts.set(Opt.REBINDING_T2, t[2]);
      }
      const s = spec.subnet;
      if (s && !spec.proxy) {
        available = subnetOptions(s);
        if (spec.hostname) {
          const withName = new Map(available);
          withName.set(Opt.HOSTNAME, textValue(spec.hostname));
          available = withName;
        }
      }
      // RFC 2132 §9.8: requested options in the client's order; mask, router, DNS and domain always.
      const prl = readParamRequestList(req.options);
      for (const c of prl) { const v = available.get(c); if (v) opts.set(c, v); }
      for (const c of [Opt.SUBNET_MASK, Opt.ROUTER, Opt.DNS_SERVERS, Opt.DOMAIN_NAME]) {
        const v = available.get(c);
        if (v && !opts.has(c)) opts.set(c, v);
      }
      if (spec.boot) for (const [c, v] of spec.boot.options) opts.set(c, v);
    } else if (spec.message) {
      opts.set(Opt.MESSAGE, textValue(spec.message));
    }
    // RFC 6842 §3: the client identifier is echoed.
    const cid = req.options.get(Opt.CLIENT_ID);
    if (cid) opts.set(Opt.CLIENT_ID, cid);
    // RFC 3046 §2.2: option 82 echoed unchanged in replies to a relay.
    const agent = req.options.get(Opt.RELAY_AGENT_INFO);
    if (agent && req.giaddr !== '0.0.0.0') opts.set(Opt.RELAY_AGENT_INFO, agent);
    const reply: DhcpPacket = {
      op: BootOp.REPLY, htype: req.htype, hlen: req.hlen, hops: 0, xid: req.xid, secs: 0,
      flags: dest.setBroadcastFlag ? (req.flags | FLAG_BROADCAST) : req.flags,
      ciaddr: spec.type === MessageType.NAK || spec.type === MessageType.OFFER ? '0.0.0.0' : req.ciaddr,
      yiaddr: spec.yiaddr,
      siaddr: spec.type === MessageType.NAK ? '0.0.0.0' : (spec.boot?.siaddr ?? '0.0.0.0'),
      giaddr: req.giaddr, chaddr: req.chaddr, sname: '',
      file: spec.boot && spec.boot.file.length <= 127 ? spec.boot.file : '',
      options: opts,
    };
    const maxSize = readMaxMessageSize(req.options);
    const { bytes, dropped } = encodeDhcpEx(reply, maxSize !== undefined ? { maxSize: Math.min(maxSize, 1472) } : {});
    if (dropped.length) log.warn({ event: 'dhcp.options_dropped', codes: dropped }, 'options did not fit the client\'s max message size');
    return bytes;
  };

  const send = (ctx: Ctx, req: DhcpPacket, spec: ReplySpec, kind: ReplyKind = 'address'): void => {
    let dest = replyDestination(req, spec.type, ctx.sock.port);
    // A client in RENEWING/REBINDING/INFORM sends from ciaddr; when the sender differs, answer the
    // sender rather than ARP for an address nobody may hold (same stall as a forged giaddr).
    if (dest.rule === 'ciaddr' && ctx.rinfo.address !== req.ciaddr && ctx.rinfo.address !== '0.0.0.0') dest = { ...dest, address: ctx.rinfo.address };
    emit(ctx, kind, spec.type, buildReply(req, spec, dest), dest);
  };

  const clientOf = (req: DhcpPacket): ClientRef => {
    const cid = readClientId(req.options);
    return { mac: chaddrMac(req), clientId: cid ?? null };
  };

  const hostnameOf = (req: DhcpPacket): string | null =>
    sanitiseHostname(readText(req.options, Opt.HOSTNAME) ?? readClientFqdnLabel(req.options)) ?? null;

  // ----- DNS: `<hostname>.<site domain>` A + PTR owned by the lease address, never over an inventory name.
  const dnsPublish = async (lease: Lease): Promise<void> => {
    const label = lease.hostname;
    const name = label ? `${label}.${config.site.domain}` : undefined;
    const current = dnsByIp.get(lease.ip);
    if (name === current) return;
    if (name && (inventoryNames.has(label!) || (ipByDnsName.has(name) && ipByDnsName.get(name) !== lease.ip))) {
      log.info({ event: 'dhcp.dns.conflict', ip: lease.ip, name }, 'hostname not published: the name is taken');
      if (current === undefined) return;
      await dnsRemove(lease.ip);
      return;
    }
    const ttl = Math.min(config.dns.ttl, Math.max(1, Math.floor((lease.expires - lease.start) / 1000)));
    const records: DynamicRecord[] = name
      ? [{ name, type: 'A', data: lease.ip, ttl, owner: lease.ip }, { name: ptrName(lease.ip), type: 'PTR', data: name, ttl, owner: lease.ip }]
      : [];
    try {
      await deps.zones.setDynamic(lease.ip, records);
      if (current) ipByDnsName.delete(current);
      if (name) { dnsByIp.set(lease.ip, name); ipByDnsName.set(name, lease.ip); } else dnsByIp.delete(lease.ip);
      log.info({ event: 'dhcp.dns.publish', ip: lease.ip, name: name ?? null }, 'dynamic DNS updated');
      deps.onDnsChange?.();
    } catch (e) {
      metrics.errors.inc({ code: ErrorCode.STORE_ERR_WRITE });
      log.error({ event: 'dhcp.dns.failed', ip: lease.ip, err: (e as Error).message }, 'dynamic DNS update failed');
    }
  };
  const dnsRemove = async (ip: string): Promise<void> => {
    const current = dnsByIp.get(ip);
    if (current === undefined) return;
    try {
      await deps.zones.setDynamic(ip, []);
      dnsByIp.delete(ip);
      if (ipByDnsName.get(current) === ip) ipByDnsName.delete(current);
      log.info({ event: 'dhcp.dns.remove', ip, name: current }, 'dynamic DNS removed');
      deps.onDnsChange?.();
    } catch (e) {
      metrics.errors.inc({ code: ErrorCode.STORE_ERR_WRITE });
      log.error({ event: 'dhcp.dns.failed', ip, err: (e as Error).message }, 'dynamic DNS removal failed');
    }
  };

  const bootEvent = (kind: string, mac: string, ip: string, boot: BootAnswer | undefined): void => {
    if (!deps.onBootEvent || mac === '') return; // a client known only by option 61 (hlen 0) has no journey keyed by MAC
    const e: BootEvent = { at: clock.now(), mac, kind, ip };
    if (boot) e.file = boot.file;
    try { deps.onBootEvent(e); } catch { /* a listener's bug must not stop DHCP */ }
  };

  /** Persist, then reply: the ACK never leaves before its lease is durable (issue 4). */
  const persistThen = async (changed: Lease[], rollback: () => void, then: () => void): Promise<boolean> => {
    try {
      await deps.leases.put(changed);
    } catch (e) {
      rollback();
      metrics.errors.inc({ code: ErrorCode.STORE_ERR_WRITE });
      log.error({ event: 'dhcp.store.failed', err: (e as Error).message, ip: changed[0]?.ip }, 'lease not written: no ACK sent');
      return false;
    }
    then();
    return true;
  };

  // ----- message handlers (RFC 2131 §4.3)
  const onDiscover = (ctx: Ctx, req: DhcpPacket, subnet: SubnetConfig, serverId: string): void => {
    const c = clientOf(req);
    const r = allocator.offer(subnet, c, readIpOption(req.options, Opt.REQUESTED_IP));
    if ('refused' in r) {
      drop(r.refused, { mac: c.mac });
      log.warn({ event: 'dhcp.offer.refused', mac: c.mac, subnet: subnet.cidr, reason: r.refused }, 'no address to offer');
      return;
    }
    const boot = bootFor(req, c.mac, subnet, serverId);
    const res = allocator.reservationAt(r.ip);
    send(ctx, req, { type: MessageType.OFFER, yiaddr: r.ip, subnet, serverId, leaseSeconds: leaseTimeOf(subnet), boot, hostname: res?.label });
    log.debug({ event: 'dhcp.offer', mac: c.mac, ip: r.ip, reserved: r.reserved, file: boot?.file }, 'offer');
    bootEvent('dhcp.offer', c.mac, r.ip, boot);
  };

  const nak = (ctx: Ctx, req: DhcpPacket, serverId: string, message: string): void => {
    log.info({ event: 'dhcp.nak', mac: chaddrMac(req), reason: message }, 'nak');
    send(ctx, req, { type: MessageType.NAK, yiaddr: '0.0.0.0', serverId, message });
  };

  const ours = (ctx: Ctx, ip: string): boolean => ip === ctx.sock.address || addressesOf(ctx.sock.iface).includes(ip) || addressesOf(null).includes(ip);

  const onRequest = async (ctx: Ctx, req: DhcpPacket, subnet: SubnetConfig, serverId: string): Promise<void> => {
    const c = clientOf(req);
    const sid = readIpOption(req.options, Opt.SERVER_ID);
    const requested = readIpOption(req.options, Opt.REQUESTED_IP);
    const state = requestState({ serverId: sid, requestedIp: requested, ciaddr: req.ciaddr });
    if (state === 'invalid') { drop('request-invalid', { mac: c.mac }); return; }
    if (state === 'selecting' && sid !== serverId && !ours(ctx, sid!)) {
      // RFC 2131 §4.3.2: the client chose another server; our offer is void.
      allocator.dropOffer(c);
      return;
    }
    const ip = state === 'renewing' ? req.ciaddr : (requested ?? req.ciaddr);
    if (!allocator.canAssign(subnet, c, ip)) {
      nak(ctx, req, serverId, state === 'selecting' ? 'offer no longer valid' : 'address not valid here');
      return;
    }
    const res = allocator.reservationAt(ip);
    const hostname = res ? null : hostnameOf(req);
    const b = allocator.bind(subnet, c, ip, leaseTimeOf(subnet), hostname);
    const boot = bootFor(req, c.mac, subnet, serverId);
    const ok = await persistThen(b.changed, b.rollback, () => {
      send(ctx, req, { type: MessageType.ACK, yiaddr: ip, subnet, serverId, leaseSeconds: leaseTimeOf(subnet), boot, hostname: res?.label });
    });
    if (!ok) return;
    log.info({ event: 'dhcp.ack', mac: c.mac, ip, state, hostname, file: boot?.file }, 'ack');
    bootEvent('dhcp.ack', c.mac, ip, boot);
    for (const l of b.changed) {
      if (l.state === 'bound') { if (!res) await dnsPublish(l); } else await dnsRemove(l.ip);
    }
  };

  const onRelease = async (req: DhcpPacket): Promise<void> => {
    const c = clientOf(req);
    const l = allocator.release(c, req.ciaddr);
    if (!l) return;
    try {
      await deps.leases.put([l]);
    } catch (e) {
      metrics.errors.inc({ code: ErrorCode.STORE_ERR_WRITE });
      log.error({ event: 'dhcp.store.failed', err: (e as Error).message, ip: l.ip }, 'release not written');
    }
    log.info({ event: 'dhcp.release', mac: c.mac, ip: l.ip }, 'release');
    await dnsRemove(l.ip);
  };

  const onDecline = async (req: DhcpPacket, subnet: SubnetConfig): Promise<void> => {
    const c = clientOf(req);
    const ip = readIpOption(req.options, Opt.REQUESTED_IP);
    if (!ip) { drop('decline-invalid', { mac: c.mac }); return; }
    const l = allocator.decline(subnet, c, ip);
    if (!l) return;
    try { await deps.leases.put([l]); } catch (e) {
      metrics.errors.inc({ code: ErrorCode.STORE_ERR_WRITE });
      log.error({ event: 'dhcp.store.failed', err: (e as Error).message, ip }, 'decline not written');
    }
    log.warn({ event: 'dhcp.decline', mac: c.mac, ip }, 'address declined: in use by another host, quarantined');
    await dnsRemove(ip);
  };

  const onInform = (ctx: Ctx, req: DhcpPacket, subnet: SubnetConfig, serverId: string): void => {
    // RFC 2131 §4.3.5: configuration only, no lease; sent to ciaddr.
    const mac = chaddrMac(req);
    const boot = bootFor(req, mac, subnet, serverId);
    send(ctx, req, { type: MessageType.ACK, yiaddr: '0.0.0.0', subnet, serverId, boot, noLease: true });
  };

  /** proxyDHCP (PXE spec; RFC 4578 clients): boot options only, no address. */
  const onProxy = (ctx: Ctx, req: DhcpPacket, type: number): boolean => {
    const mac = chaddrMac(req);
    const subnet = selectSubnet(config.dhcp.subnets, { giaddr: req.giaddr, ciaddr: req.ciaddr, ifaceAddresses: receivingAddresses(ctx) });
    const serverId = serverIdFor(ctx, subnet);
    if (!serverId) return false;
    const boot = bootFor(req, mac, subnet, serverId);
    if (!boot) return false;
    const replyType = type === MessageType.DISCOVER ? MessageType.OFFER : MessageType.ACK;
    // The PXE client needs option 60 "PXEClient" in a proxy reply (PXE spec §2.2.1).
    if (!boot.options.some(([c]) => c === Opt.VENDOR_CLASS)) boot.options.unshift([Opt.VENDOR_CLASS, textValue('PXEClient')]);
    if (ctx.sock.port === PXE_PORT) {
      // Port 4011 requests are unicast from the client's address: answer to where it came from.
      const bytes = buildReply(req, { type: replyType, yiaddr: '0.0.0.0', serverId, boot, noLease: true, proxy: true },
        { address: ctx.rinfo.address, port: ctx.rinfo.port, setBroadcastFlag: false, rule: 'ciaddr' });
      emit(ctx, 'proxy', replyType, bytes, { address: ctx.rinfo.address, port: ctx.rinfo.port });
    } else {
      send(ctx, req, { type: replyType, yiaddr: '0.0.0.0', serverId, boot, noLease: true, proxy: true }, 'proxy');
    }
    log.info({ event: 'dhcp.proxy', mac, file: boot.file }, 'proxyDHCP answer');
    return true;
  };

  /** Is ip inside a subnet this host has an address on (a directly attached link)? Links re-read every 5 s. */
  let links: { net: number; mask: number }[] = [];
  let linksAt = -Infinity;
  const onLink = (ip: string): boolean => {
    if (clock.mono() - linksAt > 5000) {
      linksAt = clock.mono();
      links = Object.values(networkInterfaces()).flatMap((l) => (l ?? [])
        .filter((a) => a.family === 'IPv4' && !a.internal)
        .map((a) => { const mask = ipv4ToInt(a.netmask); return { net: (ipv4ToInt(a.address) & mask) >>> 0, mask }; }));
    }
    const n = ipv4ToInt(ip);
    return links.some((l) => ((n & l.mask) >>> 0) === l.net);
  };

  const handle = async (buf: Buffer, ctx: Ctx): Promise<void> => {
    let req: DhcpPacket;
    try {
      req = decodeDhcp(buf);
    } catch (e) {
      if (e instanceof DhcpDecodeError) { drop(e.reason, { from: ctx.rinfo.address }); return; }
      throw e;
    }
    if (req.op !== BootOp.REQUEST) { drop('not-request'); return; }
    if (req.hlen === 0 && !req.options.has(Opt.CLIENT_ID)) { drop('no-client-identity'); return; } // RFC 2131 §4.2: chaddr or option 61 identifies the client
    const type = readMessageType(req.options);
    if (type === undefined || type < 1 || type > 8) { drop('no-message-type'); return; }
    metrics.dhcpMessages.inc({ type: messageTypeName[type]!, direction: 'in' });
    const mac = chaddrMac(req);
    if (!rateOk(mac)) { drop('rate-limit', { mac }); return; }
    // RFC 2131 §4.1: a relay on one of our own links sends from its giaddr. A giaddr on such a link that
    // is not the sender is forged: answering it means ARP for a host that may not exist, and the replies
    // queue behind the failed resolution (measured: 600 forged requests delayed a real relay 8.8 s).
    if (req.giaddr !== '0.0.0.0' && req.giaddr !== ctx.rinfo.address && onLink(req.giaddr)) { drop('giaddr-forged', { giaddr: req.giaddr, from: ctx.rinfo.address }); return; }
    if (!authority.dhcpAuthoritative() || ctx.sock.port === PXE_PORT) {
      // Not the DHCP authority: only proxyDHCP answers (when switched on); nothing is allocated.
      const proxied = config.dhcp.proxy && (type === MessageType.DISCOVER || type === MessageType.REQUEST || type === MessageType.INFORM) && onProxy(ctx, req, type);
      if (!proxied) drop('fenced', { type: messageTypeName[type] });
      return;
    }
    const subnet = selectSubnet(config.dhcp.subnets, { giaddr: req.giaddr, ciaddr: req.ciaddr, ifaceAddresses: receivingAddresses(ctx) })
      ?? (ctx.sock.iface === null && ctx.sock.address === '0.0.0.0' ? localSubnet() : undefined);
    if (!subnet) { drop('no-subnet', { mac, giaddr: req.giaddr }); return; }
    const serverId = serverIdFor(ctx, subnet);
    if (!serverId) { drop('no-server-address'); return; }
    switch (type) {
      case MessageType.DISCOVER: onDiscover(ctx, req, subnet, serverId); return;
      case MessageType.REQUEST: await onRequest(ctx, req, subnet, serverId); return;
      case MessageType.RELEASE: await onRelease(req); return;
      case MessageType.DECLINE: await onDecline(req, subnet); return;
      case MessageType.INFORM: onInform(ctx, req, subnet, serverId); return;
      default: drop('unexpected-type', { type });
    }
  };

  /** A wildcard socket with a direct (unrelayed) client: the one served subnet holding a local address. */
  const localSubnet = (): SubnetConfig | undefined => {
    const local = config.dhcp.subnets.filter((s) => addressesOf(null).some((a) => subnetOf([s], a)));
    return local.length === 1 ? local[0] : undefined;
  };

  const attach = (s: DhcpSocket): void => {
    s.socket.on('message', (buf, rinfo) => {
      handle(buf, { sock: s, rinfo }).catch((e: unknown) => {
        metrics.dropped.inc({ proto: 'dhcp', reason: 'internal' });
        log.error({ event: 'dhcp.internal_error', err: (e as Error).stack ?? String(e) }, 'internal error while handling a packet');
      });
    });
    s.socket.on('error', (e) => log.error({ event: 'dhcp.socket_error', err: e.message, iface: s.iface }, 'socket error'));
  };

  /*
   * A served interface deleted and created again gets a new ifindex, and a socket bound to the old
   * device never sees its packets again. Once a second the ifindex of each served interface is compared
   * with the one its socket was opened on; a changed or returning interface gets its sockets reopened.
   */
  let linkWatch: NodeJS.Timeout | undefined;
  const ifindexOf = (iface: string): number | undefined => {
    try { return Number(readFileSync(`/sys/class/net/${iface}/ifindex`, 'utf8').trim()); } catch { return undefined; }
  };
  const startLinkWatch = (): void => {
    const known = new Map<string, number | undefined>(config.dhcp.interfaces.map((i) => [i, ifindexOf(i)]));
    let busy = false;
    linkWatch = setInterval(() => {
      if (closed || busy) return;
      for (const [iface, was] of known) {
        const now = ifindexOf(iface);
        if (now === was) continue;
        known.set(iface, now);
        if (now === undefined) { log.warn({ event: 'dhcp.iface.gone', iface }, 'served interface disappeared'); continue; }
        busy = true;
        void (async () => {
          const old = sockets.filter((x) => x.iface === iface);
          const ports = old.map((x) => x.port);
          await Promise.all(old.map((x) => closeDhcpSocket(x).catch(() => undefined)));
          const fresh: DhcpSocket[] = [];
          for (const port of ports.length ? ports : [config.dhcp.port]) {
            try { fresh.push(await openDhcpSocket(iface, port)); } catch (e) {
              known.set(iface, undefined); // retry on the next round
              log.error({ event: 'dhcp.iface.rebind_failed', iface, err: (e as Error).message }, 'could not reopen the DHCP socket');
            }
          }
          sockets = sockets.filter((x) => x.iface !== iface).concat(fresh);
          for (const f of fresh) attach(f);
          log.info({ event: 'dhcp.iface.rebound', iface, ifindex: now }, 'served interface re-created: DHCP socket reopened');
        })().finally(() => { busy = false; });
      }
    }, 1000);
    linkWatch.unref();
  };

  const tick = async (): Promise<void> => {
    const expired = allocator.reclaim();
    if (expired.length) {
      try {
        await deps.leases.put(expired);
      } catch (e) {
        metrics.errors.inc({ code: ErrorCode.STORE_ERR_WRITE });
        log.error({ event: 'dhcp.store.failed', err: (e as Error).message }, 'expired leases not written');
      }
      for (const l of expired) {
        log.info({ event: 'dhcp.expire', ip: l.ip, mac: l.mac }, 'lease expired');
        await dnsRemove(l.ip);
      }
    }
    const now = clock.mono();
    for (const [mac, w] of rate) if (now - w.start >= 2000) rate.delete(mac);
    metrics.dhcpLeases.reset();
    for (const st of allocator.stats()) metrics.dhcpLeases.set({ subnet: st.subnet, state: st.state }, st.count);
  };

  return {
    leaseAt: (ip) => allocator.get(ip),
    adopt(leases) {
      allocator.load(leases);
      log.info({ event: 'dhcp.adopt', leases: leases.length }, 'imported leases adopted');
    },
    async listen() {
      if (ownSockets) {
        const opened: DhcpSocket[] = [];
        try {
          const ifaces = config.dhcp.interfaces.length ? config.dhcp.interfaces : [null];
          const ports = config.dhcp.proxy ? [config.dhcp.port, PXE_PORT] : [config.dhcp.port];
          for (const iface of ifaces) for (const port of ports) opened.push(await openDhcpSocket(iface, port));
        } catch (e) {
          await Promise.all(opened.map(closeDhcpSocket));
          throw e;
        }
        sockets = opened;
      }
      for (const s of sockets) attach(s);
      if (ownSockets && config.dhcp.interfaces.length) startLinkWatch();
      const tickMs = Math.max(250, Math.min(10_000, Math.floor((config.dhcp.offerHold * 1000) / 2)));
      timer = setInterval(() => { if (!closed) void tick(); }, tickMs);
      timer.unref();
      void tick();
      log.info({ event: 'dhcp.listen', sockets: sockets.map((s) => ({ iface: s.iface, port: s.port })) }, 'DHCP listening');
    },
    addresses() {
      // The addresses clients see as our server identifier (option 54): the device's IPv4 addresses,
      // the bound address, or, for the wildcard socket, every non-loopback IPv4 address.
      const out: { iface: string; address: string; port: number }[] = [];
      for (const s of sockets) {
        if (s.address !== '0.0.0.0') { out.push({ iface: s.iface ?? '*', address: s.address, port: s.port }); continue; }
        const byIface = localAddressesByIface(s.iface);
        if (byIface.length === 0) out.push({ iface: s.iface ?? '*', address: s.address, port: s.port });
        for (const [iface, address] of byIface) out.push({ iface, address, port: s.port });
      }
      return out;
    },
    setInventory(next, nextReservations) {
      config = next;
      reservations = nextReservations;
      applyInventory();
      subnetCache = new Map();
      // A dynamic name that the inventory now owns is withdrawn.
      for (const [ip, name] of [...dnsByIp]) {
        const label = name.split('.')[0]!;
        if (inventoryNames.has(label)) void dnsRemove(ip);
      }
    },
    leases() {
      return allocator.leases();
    },
    async close() {
      closed = true;
      if (timer) clearInterval(timer);
      if (linkWatch) clearInterval(linkWatch);
      await Promise.all(sockets.map(closeDhcpSocket));
    },
  };
}

function intToIp(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** RFC 1035 §3.5 reverse name of an IPv4 address. */
function ptrName(ip: string): string {
  return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
}
