import type { JournalEntry } from '../../store/ports.js';

export type { JournalEntry };

/** One service's health as the status page and /healthz show it. */
export interface ServiceStatus {
  name: string;
  ok: boolean;
  /** Why it is not ok, or a short note ("3 sockets"). */
  detail?: string;
  /** Bound addresses ("0.0.0.0:53/udp"). */
  addresses: string[];
}

/** Use of one DHCP pool (addresses counted: offered or bound, not expired). */
export interface PoolStatus {
  subnet: string;
  /** "10.99.0.100-10.99.0.199". */
  pool: string;
  size: number;
  used: number;
  free: number;
}

/** A file a host fetched while booting. */
export interface BootFile {
  file: string;
  bytes: number;
  /** Wall ms. */
  at: number;
  proto: 'tftp' | 'http' | string;
  /** 'ok', or why it was not served ('not-found', 'refused', 'error', 'aborted'). */
  result: string;
}

/** The last boot journey of a host: its DHCP lease and the files it fetched afterwards. */
export interface LastBoot {
  /** Wall ms of the start of the journey (the DHCP ACK, or the first event seen). */
  at: number;
  lease?: { ip: string; expires: number };
  files: BootFile[];
}

/** One inventory host interface (a MAC) as the status page lists it. */
export interface HostStatus {
  name: string;
  fqdn: string;
  mac: string;
  ip: string;
  profile: string;
  lastBoot?: LastBoot;
}

/** A lease row on the status page. */
export interface LeaseStatus {
  ip: string;
  mac: string;
  hostname: string | null;
  state: string;
  /** Wall ms. */
  expires: number;
}

/** Everything the status page shows, gathered at one instant (see collectStatusSnapshot). */
export interface StatusSnapshot {
  version: string;
  /** Wall ms when the snapshot was taken. */
  now: number;
  mode: 'bootstrap' | 'production';
  epoch: number;
  /** Wall ms since the current authority mode holds. */
  since: number;
  /** Operator who set the current mode. */
  by: string;
  services: ServiceStatus[];
  pools: PoolStatus[];
  hosts: HostStatus[];
  leases: LeaseStatus[];
  /** Authority journal, oldest first. */
  journal: JournalEntry[];
}

/** What /healthz answers: 200 when ok, 503 otherwise. */
export interface HealthReport {
  ok: boolean;
  services: { name: string; ok: boolean; detail?: string }[];
}
