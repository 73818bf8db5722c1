import type { Clock } from '../../lib/clock.js';
import { intToIpv4, ipv4ToInt } from '../../lib/net.js';
import type { SubnetConfig } from '../../config/types.js';
import type { Inventory } from '../../inventory/types.js';
import type { AuthorityState, BootEvent, Lease, Store } from '../../store/ports.js';
import type { BootFile, HostStatus, LastBoot, LeaseStatus, PoolStatus, ServiceStatus, StatusSnapshot } from './types.js';

/** Lease states that hold an address until they expire. */
const HOLDING = new Set(['offered', 'bound']);

/** Pool use per subnet with a dynamic pool: addresses offered or bound and not yet expired. */
export function poolUsage(subnets: readonly SubnetConfig[], leases: readonly Lease[], now: number): PoolStatus[] {
  const out: PoolStatus[] = [];
  for (const s of subnets) {
    if (!s.pool) continue;
    const size = s.pool.last - s.pool.first + 1;
    const held = new Set<number>();
    for (const l of leases) {
      if (!HOLDING.has(l.state) || l.expires <= now) continue;
      let n: number;
      try { n = ipv4ToInt(l.ip); } catch { continue; }
      if (n >= s.pool.first && n <= s.pool.last) held.add(n);
    }
    out.push({ subnet: s.cidr, pool: s.pool.text || `${intToIpv4(s.pool.first)}-${intToIpv4(s.pool.last)}`, size, used: held.size, free: size - held.size });
  }
  return out;
}

/** The shape of builderd_dhcp_leases (src/lib/metrics.ts): a gauge labelled by subnet and state. */
interface PoolGauge {
  set(labels: { subnet: string; state: string }, value: number): void;
}

/** Set builderd_dhcp_leases{subnet, state="used"|"free"} from poolUsage() (call it from onScrape). */
export function setPoolGauges(gauge: PoolGauge, pools: readonly PoolStatus[]): void {
  for (const p of pools) {
    gauge.set({ subnet: p.subnet, state: 'used' }, p.used);
    gauge.set({ subnet: p.subnet, state: 'free' }, p.free);
  }
}

/**
 * Protocol and result of a file boot event from its kind: main.ts records `<proto>.file` for a file
 * served and `<proto>.<result>` otherwise ("tftp.not-found"); "tftp.transfer.done" and "http.get" are
 * read as served too.
 */
function fileKind(kind: string): { proto: string; result: string } | undefined {
  const dot = kind.indexOf('.');
  const proto = kind.slice(0, dot);
  if (dot < 0 || (proto !== 'tftp' && proto !== 'http')) return undefined;
  const rest = kind.slice(dot + 1);
  return { proto, result: rest === 'file' || rest === 'transfer.done' || rest === 'get' ? 'ok' : rest };
}

/**
 * A host's last boot journey from its boot events (oldest first): it starts at the last DHCP ACK
 * (or at the first event when no ACK was seen) and lists the files fetched from then on. The lease's
 * expiry comes from the lease table when the ACKed address is still leased to this MAC.
 */
export function lastBootFrom(events: readonly BootEvent[], leases: ReadonlyMap<string, Lease>): LastBoot | undefined {
  if (events.length === 0) return undefined;
  const sorted = [...events].sort((a, b) => a.at - b.at);
  let start = -1;
  for (let i = sorted.length - 1; i >= 0; i--) if (sorted[i]!.kind === 'dhcp.ack') { start = i; break; }
  const journey = start >= 0 ? sorted.slice(start) : sorted;
  const first = journey[0]!;
  const boot: LastBoot = { at: first.at, files: [] };
  if (start >= 0 && first.ip) {
    const l = leases.get(first.ip);
    if (l && l.mac === first.mac) boot.lease = { ip: first.ip, expires: l.expires };
    else boot.lease = { ip: first.ip, expires: NaN };
  }
  for (const e of journey) {
    const k = fileKind(e.kind);
    if (!k || !e.file) continue;
    const f: BootFile = { file: e.file, bytes: e.bytes ?? 0, at: e.at, proto: k.proto, result: k.result };
    boot.files.push(f);
  }
  return boot;
}

/** Where collectStatusSnapshot reads from; main.ts passes its live getters. */
export interface SnapshotSources {
  version: string;
  clock: Clock;
  authority: () => AuthorityState;
  /** DHCP subnets of the running config (config().dhcp.subnets). */
  subnets: () => readonly SubnetConfig[];
  inventory: () => Inventory;
  store: Pick<Store, 'leases' | 'journal' | 'bootEvents'>;
  services: () => ServiceStatus[];
  /** Newest journal entries shown (default 50). */
  journalLimit?: number;
  /** Boot events read per MAC (default 100). */
  bootEventLimit?: number;
}

/** Gather a StatusSnapshot from the live daemon state (reads the store; never writes). */
export async function collectStatusSnapshot(src: SnapshotSources): Promise<StatusSnapshot> {
  const now = src.clock.now();
  const auth = src.authority();
  const inventory = src.inventory();
  const [leases, journal] = await Promise.all([src.store.leases.all(), src.store.journal.list(src.journalLimit ?? 50)]);
  const byIp = new Map(leases.map((l) => [l.ip, l]));
  const profiles = new Map(inventory.boot.map((b) => [b.mac, b.profile]));
  const hosts: HostStatus[] = await Promise.all(inventory.reservations.map(async (r) => {
    const events = await src.store.bootEvents.forMac(r.mac, src.bootEventLimit ?? 100);
    const h: HostStatus = { name: r.host, fqdn: r.fqdn, mac: r.mac, ip: r.ip, profile: profiles.get(r.mac) ?? r.boot ?? '-' };
    const lb = lastBootFrom(events, byIp);
    if (lb) h.lastBoot = lb;
    return h;
  }));
  const shown: LeaseStatus[] = leases
    .filter((l) => l.state !== 'expired' && l.state !== 'released')
    .sort((a, b) => ipv4Order(a.ip) - ipv4Order(b.ip))
    .map((l) => ({ ip: l.ip, mac: l.mac, hostname: l.hostname, state: l.expires <= now && HOLDING.has(l.state) ? 'expired' : l.state, expires: l.expires }));
  return {
    version: src.version,
    now,
    mode: auth.mode,
    epoch: auth.epoch,
    since: auth.since,
    by: auth.by,
    services: src.services(),
    pools: poolUsage(src.subnets(), leases, now),
    hosts,
    leases: shown,
    journal,
  };
}

function ipv4Order(ip: string): number {
  try { return ipv4ToInt(ip); } catch { return Number.MAX_SAFE_INTEGER; }
}
