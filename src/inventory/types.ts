/** Resource records the inventory yields, in dns-packet's data shapes. Names are absolute, lowercase, no trailing dot. */
export type RecordData =
  | { type: 'A'; data: string }
  | { type: 'AAAA'; data: string }
  | { type: 'PTR'; data: string }
  | { type: 'CNAME'; data: string }
  | { type: 'NS'; data: string }
  | {
      type: 'SOA';
      data: { mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number };
    };

export type ResourceRecord = RecordData & { name: string; ttl: number };

export type ZoneKind = 'site' | 'mgmt' | 'reverse';

export interface Zone {
  /** Zone apex, e.g. "lab.example.net" or "0.99.10.in-addr.arpa". */
  origin: string;
  kind: ZoneKind;
  /** SOA first (serial 0: the store assigns serials), then NS, then the rest sorted by name/type. */
  records: ResourceRecord[];
}

/** One DHCP reservation: an inventory interface. */
export interface Reservation {
  mac: string;
  ip: string;
  /** Host name (label) as written in the inventory. */
  host: string;
  /** Interface name, if the interface has one. */
  interface?: string;
  /** The interface's own DNS label: "hv01" or "hv01-mgmt". */
  label: string;
  /** Fully qualified name of the interface. */
  fqdn: string;
  /** Boot profile name, if the host has one (else the subnet's applies). */
  boot?: string;
  /** CIDR of the subnet it lies in. */
  subnet: string;
}

/** Per-host boot assignment: which profile a MAC boots and under what names. */
export interface BootAssignment {
  host: string;
  mac: string;
  fqdn: string;
  profile: string;
  interface?: string;
  ip: string;
}

export interface Inventory {
  zones: Zone[];
  reservations: Reservation[];
  boot: BootAssignment[];
}
