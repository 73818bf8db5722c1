import type { SubnetConfig } from '../config/types.js';
import type { Reservation } from '../inventory/types.js';
import type { Lease } from '../store/ports.js';
import type { Clock } from '../lib/clock.js';
import { intToIpv4, ipv4ToInt } from '../lib/net.js';

/** How a client is identified (RFC 2131 §4.2: client-id if sent, else chaddr). */
export interface ClientRef {
  mac: string;
  /** Hex of option 61, or null. */
  clientId: string | null;
}

interface Entry {
  lease: Lease;
  /** Monotonic ms at which the lease (or decline quarantine) ends: immune to wall clock jumps. */
  expMono: number;
}

interface Hold {
  key: string;
  untilMono: number;
}

/** Allocator settings. */
export interface AllocatorOptions {
  clock: Clock;
  offerHoldMs: number;
  declineHoldMs: number;
  /** Upper bound on outstanding offers (issue 10: pending-offer bound). */
  maxPendingOffers: number;
}

/** Result of a bind: the leases to persist (new one first) before the ACK goes out. */
export interface BindResult {
  lease: Lease;
  /** Every changed row (the bound lease, and the client's previous address released). */
  changed: Lease[];
  /** Restore the index if persisting failed. */
  rollback: () => void;
}

/** The client key: "id:<hex>" for a client-id, else the MAC itself (no new string per lease; a MAC never starts with "id:"). */
function keyOf(c: ClientRef): string {
  return c.clientId ? `id:${c.clientId}` : c.mac;
}

/**
 * In-memory lease index (loaded from LeaseStore.all()): reservations always win, the pool serves
 * everyone else, offers hold their address for offerHoldMs, DECLINEd addresses are quarantined,
 * expiry runs on the monotonic clock. Pure state; persistence is the caller's job (write, then ACK).
 */
export class LeaseAllocator {
  private readonly opts: AllocatorOptions;
  private subnets: SubnetConfig[] = [];
  private readonly byIp = new Map<string, Entry>();
  private readonly byClient = new Map<string, string>();
  private readonly holds = new Map<string, Hold>();
  private readonly holdByClient = new Map<string, string>();
  private resByMac = new Map<string, Reservation>();
  private resByIp = new Map<string, Reservation>();
  private excluded = new Set<string>();
  private readonly cursor = new Map<string, number>();

  constructor(opts: AllocatorOptions) {
    this.opts = opts;
  }

  /** Replace subnets, reservations and addresses never to hand out (our own, gateways). */
  setInventory(subnets: readonly SubnetConfig[], reservations: readonly Reservation[], excluded: Iterable<string> = []): void {
    this.subnets = [...subnets];
    this.resByMac = new Map(reservations.map((r) => [r.mac, r]));
    this.resByIp = new Map(reservations.map((r) => [r.ip, r]));
    this.excluded = new Set(excluded);
    for (const s of subnets) if (s.gateway) this.excluded.add(s.gateway);
  }

  /**
   * Load stored leases (any state). Offers are never stored, so none come back. The allocator keeps
   * the objects given (100,000 leases at start-up: no second copy) and never mutates them: every
   * change replaces the entry's lease with a new object, and every lease handed out is a copy.
   */
  load(leases: readonly Lease[]): void {
    const now = this.opts.clock.now();
    const mono = this.opts.clock.mono();
    for (const l of leases) {
      if (l.state === 'offered') continue;
      this.byIp.set(l.ip, { lease: l, expMono: mono + (l.expires - now) });
      if (l.state === 'bound' || l.state === 'released' || l.state === 'expired') {
        const k = keyOf(l);
        const cur = this.byClient.get(k);
        const curE = cur ? this.byIp.get(cur) : undefined;
        if (!curE || curE.lease.start <= l.start) this.byClient.set(k, l.ip);
      }
    }
  }

  /** The reservation of a MAC, if any. */
  reservationFor(mac: string): Reservation | undefined {
    return this.resByMac.get(mac);
  }

  /** The reservation owning an address, if any. */
  reservationAt(ip: string): Reservation | undefined {
    return this.resByIp.get(ip);
  }

  /** Every lease row as the store holds it. */
  leases(): Lease[] {
    return [...this.byIp.values()].map((e) => ({ ...e.lease }));
  }

  /** A lease by address. */
  get(ip: string): Lease | undefined {
    const e = this.byIp.get(ip);
    return e ? { ...e.lease } : undefined;
  }

  /** Number of outstanding offers. */
  pendingOffers(): number {
    return this.holds.size;
  }

  private inPool(s: SubnetConfig, n: number): boolean {
    return s.pool !== undefined && n >= s.pool.first && n <= s.pool.last;
  }

  private activeEntry(ip: string, mono: number): Entry | undefined {
    const e = this.byIp.get(ip);
    if (!e) return undefined;
    if ((e.lease.state === 'bound' || e.lease.state === 'declined') && e.expMono > mono) return e;
    return undefined;
  }

  /**
   * May `ip` be given to this client in subnet `s`? Its reservation always may; another's never;
   * otherwise it must be in the pool and not bound to, offered to or declined by anyone else.
   */
  canAssign(s: SubnetConfig, c: ClientRef, ip: string): boolean {
    let n: number;
    try { n = ipv4ToInt(ip); } catch { return false; }
    if (((n & s.mask) >>> 0) !== s.network || n === s.network || n === s.broadcast) return false;
    const res = this.resByIp.get(ip);
    if (res) return res.mac === c.mac;
    const own = this.resByMac.get(c.mac);
    if (own && own.subnet === s.cidr) return false; // a reserved client gets its reservation only
    if (!this.inPool(s, n) || this.excluded.has(ip)) return false;
    const mono = this.opts.clock.mono();
    const key = keyOf(c);
    const e = this.activeEntry(ip, mono);
    if (e && (e.lease.state === 'declined' || keyOf(e.lease) !== key)) return false;
    const h = this.holds.get(ip);
    if (h && h.untilMono > mono && h.key !== key) return false;
    return true;
  }

  private isFreeForPool(ip: string, mono: number, allowUsed: boolean): boolean {
    if (this.resByIp.has(ip) || this.excluded.has(ip)) return false;
    const h = this.holds.get(ip);
    if (h && h.untilMono > mono) return false;
    const e = this.byIp.get(ip);
    if (!e) return true;
    if (!allowUsed) return false;
    return !((e.lease.state === 'bound' || e.lease.state === 'declined') && e.expMono > mono);
  }

  /** Scan the pool from a rotating cursor: never-used addresses first, then expired/released ones. */
  private scanPool(s: SubnetConfig, mono: number): string | undefined {
    if (!s.pool) return undefined;
    const { first, last } = s.pool;
    const size = last - first + 1;
    for (const allowUsed of [false, true]) {
      let n = this.cursor.get(s.cidr) ?? first;
      for (let i = 0; i < size; i++) {
        if (n > last || n < first) n = first;
        const cur = n++;
        if (cur === s.network || cur === s.broadcast) continue;
        const ip = intToIpv4(cur);
        if (this.isFreeForPool(ip, mono, allowUsed)) {
          this.cursor.set(s.cidr, n);
          return ip;
        }
      }
    }
    return undefined;
  }

  /**
   * Choose an address for a DISCOVER (RFC 2131 §4.3.1): the reservation; else the client's current or
   * previous address; else its requested address; else a free pool address. Holds it for offerHoldMs.
   * Returns undefined when nothing is free or the pending-offer bound is reached.
   */
  offer(s: SubnetConfig, c: ClientRef, requestedIp?: string): { ip: string; reserved: boolean } | { refused: 'no-address' | 'offer-limit' } {
    const mono = this.opts.clock.mono();
    const key = keyOf(c);
    const res = this.resByMac.get(c.mac);
    let ip: string | undefined;
    let reserved = false;
    if (res && res.subnet === s.cidr) { ip = res.ip; reserved = true; }
    if (!ip) {
      const prev = this.byClient.get(key);
      if (prev && this.canAssign(s, c, prev)) ip = prev;
    }
    if (!ip) {
      const held = this.holdByClient.get(key);
      if (held && this.canAssign(s, c, held)) ip = held;
    }
    if (!ip && requestedIp && this.canAssign(s, c, requestedIp)) ip = requestedIp;
    const already = this.holdByClient.get(key);
    if (!already && this.holds.size >= this.opts.maxPendingOffers) {
      this.sweepHolds(mono);
      if (this.holds.size >= this.opts.maxPendingOffers) return { refused: 'offer-limit' };
    }
    if (!ip) ip = this.scanPool(s, mono);
    if (!ip) return { refused: 'no-address' };
    if (already && already !== ip) this.holds.delete(already);
    this.holds.set(ip, { key, untilMono: mono + this.opts.offerHoldMs });
    this.holdByClient.set(key, ip);
    return { ip, reserved };
  }

  /** Forget the client's offer (it chose another server, RFC 2131 §4.3.2 SELECTING). */
  dropOffer(c: ClientRef): void {
    const key = keyOf(c);
    const ip = this.holdByClient.get(key);
    if (ip !== undefined) {
      this.holdByClient.delete(key);
      const h = this.holds.get(ip);
      if (h && h.key === key) this.holds.delete(ip);
    }
  }

  private sweepHolds(mono: number): void {
    for (const [ip, h] of this.holds) {
      if (h.untilMono <= mono) {
        this.holds.delete(ip);
        if (this.holdByClient.get(h.key) === ip) this.holdByClient.delete(h.key);
      }
    }
  }

  /** Bind `ip` to the client for leaseSeconds (caller checked canAssign). Persist `changed`, then ACK. */
  bind(s: SubnetConfig, c: ClientRef, ip: string, leaseSeconds: number, hostname: string | null): BindResult {
    const now = this.opts.clock.now();
    const mono = this.opts.clock.mono();
    const key = keyOf(c);
    const before = new Map<string, Entry | undefined>();
    const prevClientIp = this.byClient.get(key);
    const changed: Lease[] = [];
    const lease: Lease = {
      ip, mac: c.mac, clientId: c.clientId, hostname, state: 'bound', subnet: s.cidr,
      start: now, expires: now + leaseSeconds * 1000, source: 'dhcp',
    };
    before.set(ip, this.byIp.get(ip));
    this.byIp.set(ip, { lease, expMono: mono + leaseSeconds * 1000 });
    changed.push({ ...lease });
    if (prevClientIp && prevClientIp !== ip) {
      const pe = this.byIp.get(prevClientIp);
      if (pe && pe.lease.state === 'bound' && keyOf(pe.lease) === key) {
        before.set(prevClientIp, pe);
        const rel: Lease = { ...pe.lease, state: 'released', expires: now };
        this.byIp.set(prevClientIp, { lease: rel, expMono: mono });
        changed.push({ ...rel });
      }
    }
    this.byClient.set(key, ip);
    const hold = this.holds.get(ip);
    if (hold && hold.key === key) this.holds.delete(ip);
    if (this.holdByClient.get(key) === ip) this.holdByClient.delete(key);
    const rollback = (): void => {
      for (const [a, e] of before) { if (e) this.byIp.set(a, e); else this.byIp.delete(a); }
      if (prevClientIp) this.byClient.set(key, prevClientIp); else this.byClient.delete(key);
    };
    return { lease: { ...lease }, changed, rollback };
  }

  /** RFC 2131 §4.3.4 DHCPRELEASE: the client's bound lease on ip becomes released (kept for stickiness). */
  release(c: ClientRef, ip: string): Lease | undefined {
    const e = this.byIp.get(ip);
    if (!e || e.lease.state !== 'bound' || keyOf(e.lease) !== keyOf(c)) return undefined;
    const now = this.opts.clock.now();
    const lease: Lease = { ...e.lease, state: 'released', expires: now };
    this.byIp.set(ip, { lease, expMono: this.opts.clock.mono() });
    return { ...lease };
  }

  /** RFC 2131 §4.3.3 DHCPDECLINE: the address is in use by someone else; quarantine it for declineHoldMs. */
  decline(s: SubnetConfig, c: ClientRef, ip: string): Lease | undefined {
    const e = this.byIp.get(ip);
    const h = this.holds.get(ip);
    const ours = (e && keyOf(e.lease) === keyOf(c)) || (h && h.key === keyOf(c));
    if (!ours) return undefined;
    const now = this.opts.clock.now();
    const lease: Lease = {
      ip, mac: c.mac, clientId: c.clientId, hostname: null, state: 'declined', subnet: s.cidr,
      start: now, expires: now + this.opts.declineHoldMs, source: 'dhcp',
    };
    this.byIp.set(ip, { lease, expMono: this.opts.clock.mono() + this.opts.declineHoldMs });
    if (this.byClient.get(keyOf(c)) === ip) this.byClient.delete(keyOf(c));
    this.dropOffer(c);
    return { ...lease };
  }

  /** Expire bound leases and end decline quarantines whose monotonic time has passed; drop stale offers. */
  reclaim(): Lease[] {
    const mono = this.opts.clock.mono();
    this.sweepHolds(mono);
    const out: Lease[] = [];
    for (const [ip, e] of this.byIp) {
      if ((e.lease.state === 'bound' || e.lease.state === 'declined') && e.expMono <= mono) {
        const lease: Lease = { ...e.lease, state: 'expired' };
        this.byIp.set(ip, { lease, expMono: e.expMono });
        out.push({ ...lease });
      }
    }
    return out;
  }

  /** Counts per subnet and state, with free pool addresses, for the dhcpLeases gauge. */
  stats(): { subnet: string; state: string; count: number }[] {
    const mono = this.opts.clock.mono();
    // Counted per subnet then per state (no per-lease key string: 100,000 leases every tick).
    const bySubnet = new Map<string, Map<string, number>>();
    for (const e of this.byIp.values()) {
      const l = e.lease;
      const st = (l.state === 'bound' || l.state === 'declined') && e.expMono <= mono ? 'expired' : l.state;
      let m = bySubnet.get(l.subnet);
      if (!m) { m = new Map(); bySubnet.set(l.subnet, m); }
      m.set(st, (m.get(st) ?? 0) + 1);
    }
    const out: { subnet: string; state: string; count: number }[] = [];
    for (const [subnet, m] of bySubnet) for (const [state, count] of m) out.push({ subnet, state, count });
    for (const s of this.subnets) {
      if (!s.pool) continue;
      const m = bySubnet.get(s.cidr);
      const used = (m?.get('bound') ?? 0) + (m?.get('declined') ?? 0);
      out.push({ subnet: s.cidr, state: 'free', count: Math.max(0, s.pool.last - s.pool.first + 1 - used) });
    }
    return out;
  }
}
