-- 001-initial: the first schema of the builderd store.
-- Applied by src/store/sqlite/migrate.ts inside one transaction together with `PRAGMA user_version = 1`.
-- Tables are STRICT so a wrongly typed value is refused instead of stored.

-- DHCPv4 leases (RFC 2131 §4.3), one row per address in any state.
CREATE TABLE leases (
  ip        TEXT    NOT NULL PRIMARY KEY,
  mac       TEXT    NOT NULL,
  client_id TEXT,                                   -- hex of option 61 (RFC 2132 §9.14)
  hostname  TEXT,
  state     TEXT    NOT NULL CHECK (state IN ('offered', 'bound', 'released', 'declined', 'expired')),
  subnet    TEXT    NOT NULL,
  start     INTEGER NOT NULL,                       -- wall ms
  expires   INTEGER NOT NULL,                       -- wall ms
  source    TEXT
) STRICT;
CREATE INDEX leases_by_mac ON leases (mac);
CREATE INDEX leases_by_client_id ON leases (client_id) WHERE client_id IS NOT NULL;

-- DNS records derived from leases; replaced as a set per owner (the lease IP).
CREATE TABLE dynamic_records (
  owner TEXT    NOT NULL,
  seq   INTEGER NOT NULL,
  name  TEXT    NOT NULL,
  type  TEXT    NOT NULL CHECK (type IN ('A', 'AAAA', 'PTR')),
  data  TEXT    NOT NULL,
  ttl   INTEGER NOT NULL CHECK (ttl >= 0),
  PRIMARY KEY (owner, seq)
) STRICT;
CREATE INDEX dynamic_records_by_name ON dynamic_records (name);

-- Persisted SOA serial per zone and a hash of the zone content at that serial (RFC 1035 §3.3.13).
CREATE TABLE zone_serials (
  zone   TEXT    NOT NULL PRIMARY KEY,
  serial INTEGER NOT NULL CHECK (serial BETWEEN 0 AND 4294967295),
  hash   TEXT    NOT NULL
) STRICT;

-- Zone changes kept for IXFR (RFC 1995 §4); read in insertion order.
CREATE TABLE zone_diffs (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  zone        TEXT    NOT NULL,
  from_serial INTEGER NOT NULL,
  to_serial   INTEGER NOT NULL,
  removed     TEXT    NOT NULL,                     -- JSON array of records
  added       TEXT    NOT NULL,                     -- JSON array of records
  at          INTEGER NOT NULL
) STRICT;
CREATE INDEX zone_diffs_by_zone ON zone_diffs (zone, id);

-- The authority state: exactly one row, the whole state as JSON, epoch and mode as columns for the CAS.
CREATE TABLE authority (
  id    INTEGER PRIMARY KEY CHECK (id = 1),
  mode  TEXT    NOT NULL CHECK (mode IN ('bootstrap', 'production')),
  epoch INTEGER NOT NULL,
  state TEXT    NOT NULL
) STRICT;

-- Append-only operator journal; AUTOINCREMENT so an id is never reused.
CREATE TABLE journal (
  id       INTEGER PRIMARY KEY AUTOINCREMENT,
  at       INTEGER NOT NULL,
  kind     TEXT    NOT NULL,
  operator TEXT    NOT NULL,
  host     TEXT    NOT NULL,
  detail   TEXT    NOT NULL                         -- JSON
) STRICT;
CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END;
CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END;

-- What each host did while booting (DHCP, TFTP, HTTP), keyed by MAC.
CREATE TABLE boot_events (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  at          INTEGER NOT NULL,
  mac         TEXT    NOT NULL,
  kind        TEXT    NOT NULL,
  ip          TEXT,
  file        TEXT,
  bytes       INTEGER,
  duration_ms REAL,
  detail      TEXT                                  -- JSON
) STRICT;
CREATE INDEX boot_events_by_mac_at ON boot_events (mac, at, id);
