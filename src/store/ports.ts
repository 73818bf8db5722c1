/*
 * The ports through which services reach state. Everything here is free of SQLite specifics so that a
 * PostgreSQL adapter can implement the same contract (test/contract runs one battery against each).
 * Every method that writes resolves only once the write is durable (committed), and is not visible to reads
 * before that; writes issued in one event-loop turn commit together (group commit, see store/README.md).
 * Invalid input rejects with STORE_ERR_WRITE before anything is written.
 */

export type LeaseState = 'offered' | 'bound' | 'released' | 'declined' | 'expired';

export interface Lease {
  ip: string;
  mac: string;
  /** Hex of option 61 when the client sent one, else null. */
  clientId: string | null;
  /** Sanitised hostname the client asked for (label), or null. */
  hostname: string | null;
  state: LeaseState;
  /** Subnet CIDR. */
  subnet: string;
  /** Wall ms. */
  start: number;
  /** Wall ms. */
  expires: number;
  /** Where it came from: 'dhcp', 'import', ... */
  source?: string;
}

export interface LeaseStore {
  /** Every lease row (any state), ordered by ip text. Used at start-up to build the in-memory index. */
  all(): Promise<Lease[]>;
  get(ip: string): Promise<Lease | undefined>;
  /** Insert or replace (keyed by ip) all leases in one transaction; resolves once durable. */
  put(leases: readonly Lease[]): Promise<void>;
  delete(ips: readonly string[]): Promise<void>;
}

/** A dynamic DNS record derived from a lease. */
export interface DynamicRecord {
  name: string;
  type: 'A' | 'PTR' | 'AAAA';
  data: string;
  ttl: number;
  /** Lease IP that owns it; removed with the lease. */
  owner: string;
}

/** A recorded change of one zone, for IXFR (RFC 1995). */
export interface ZoneDiff {
  zone: string;
  fromSerial: number;
  toSerial: number;
  /** Records as JSON-able values (the ResourceRecord shape). */
  removed: unknown[];
  added: unknown[];
  at: number;
}

export interface ZoneStore {
  dynamicRecords(): Promise<DynamicRecord[]>;
  /** Replace the dynamic records owned by `owner` with `records` (empty: remove). */
  setDynamic(owner: string, records: readonly DynamicRecord[]): Promise<void>;
  /** Persisted SOA serial of a zone, and a hash of its content at that serial. */
  getSerial(zone: string): Promise<{ serial: number; hash: string } | undefined>;
  /** Set the serial and content hash, appending the diff for IXFR, in one transaction. */
  setSerial(zone: string, serial: number, hash: string, diff?: ZoneDiff): Promise<void>;
  /** Diffs of a zone with fromSerial >= since (RFC 1982 serial arithmetic, so a wrap is handled), oldest first. */
  diffsSince(zone: string, since: number): Promise<ZoneDiff[]>;
}

export type AuthorityMode = 'bootstrap' | 'production';

export interface AuthorityState {
  mode: AuthorityMode;
  epoch: number;
  since: number;
  by: string;
  /** A transition in progress (written before effects, cleared at the end): crash recovery reads it. */
  pending?: { direction: 'promote' | 'revert'; step: string; startedAt: number } | null;
  lastChecks?: unknown;
  /** A transition announced ahead (`builderd authority plan`): DHCP hands out short leases meanwhile. */
  planned?: { direction: 'promote' | 'revert'; at: number; leaseTime: number; by: string } | null;
}

export interface JournalEntry {
  id?: number;
  at: number;
  /** e.g. 'authority.promote', 'authority.revert', 'authority.init', 'lease.import'. */
  kind: string;
  operator: string;
  host: string;
  detail: unknown;
}

export interface AuthorityStore {
  get(): Promise<AuthorityState | undefined>;
  /**
   * Compare-and-swap: write `next` only if the stored epoch equals `expectedEpoch` (undefined: no row
   * yet), appending `entry` to the journal in the same transaction. Throws STORE_ERR_CONFLICT otherwise.
   */
  set(expectedEpoch: number | undefined, next: AuthorityState, entry?: JournalEntry): Promise<void>;
}

export interface JournalStore {
  append(entry: JournalEntry): Promise<number>;
  /** Newest last; `limit` newest entries. */
  list(limit?: number): Promise<JournalEntry[]>;
}

/** What a host did while booting: DHCP, TFTP and HTTP events keyed by MAC. */
export interface BootEvent {
  at: number;
  mac: string;
  /** 'dhcp.offer' | 'dhcp.ack' | 'tftp.transfer.done' | 'http.get' | ... */
  kind: string;
  ip?: string;
  file?: string;
  bytes?: number;
  durationMs?: number;
  detail?: unknown;
}

export interface BootEventStore {
  record(events: readonly BootEvent[]): Promise<void>;
  /** Newest last. */
  forMac(mac: string, limit?: number): Promise<BootEvent[]>;
}

/** Everything a store adapter provides. */
export interface Store {
  leases: LeaseStore;
  zones: ZoneStore;
  authority: AuthorityStore;
  journal: JournalStore;
  bootEvents: BootEventStore;
  /** Consistent online copy to a file (SQLite: backup API). */
  backup(file: string): Promise<void>;
  close(): Promise<void>;
}
