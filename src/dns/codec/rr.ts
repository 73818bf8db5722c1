import { COMPRESSIBLE, QCLASS, QTYPE, typeName } from './constants.js';
import { DnsDecodeError, makeName, nameText, nameWire, readName, type DnsName } from './name.js';

/** One part of rdata: raw bytes, or a domain name (compressed when the type allows it). */
export type RdataPart = Buffer | DnsName;

/** A resource record ready to write (RFC 1035 §3.2.1), built once when a zone changes. */
export interface WireRR {
  owner: DnsName;
  type: number;
  class: number;
  ttl: number;
  rdata: readonly RdataPart[];
}

/** True when the part is a name (not raw bytes). */
export function isNamePart(p: RdataPart): p is DnsName {
  return !Buffer.isBuffer(p);
}

/** Uncompressed rdata bytes (what AXFR to a strict reader, hashing and IXFR journals use). */
export function rdataWire(rr: WireRR): Buffer {
  return Buffer.concat(rr.rdata.map((p) => (isNamePart(p) ? nameWire(p) : p)));
}

/**
 * Split uncompressed rdata of a known type back into parts, so names in it can be compressed again.
 * Unknown types stay one raw part (RFC 3597 §4).
 */
export function rdataParts(type: number, rdata: Buffer): RdataPart[] {
  const whole = (n: number): void => {
    if (n !== rdata.length) throw new DnsDecodeError(`bad ${typeName(type)} rdata length`);
  };
  switch (type) {
    case QTYPE.NS: case QTYPE.CNAME: case QTYPE.PTR: {
      const r = readName(rdata, 0);
      whole(r.end);
      return [r.name];
    }
    case QTYPE.MX: {
      if (rdata.length < 3) throw new DnsDecodeError('short MX rdata');
      const r = readName(rdata, 2);
      whole(r.end);
      return [rdata.subarray(0, 2), r.name];
    }
    case QTYPE.SOA: {
      const m = readName(rdata, 0);
      const r = readName(rdata, m.end);
      whole(r.end + 20);
      return [m.name, r.name, rdata.subarray(r.end, r.end + 20)];
    }
    case QTYPE.SRV: {
      if (rdata.length < 7) throw new DnsDecodeError('short SRV rdata');
      const r = readName(rdata, 6);
      whole(r.end);
      return [rdata.subarray(0, 6), r.name];
    }
    case QTYPE.A: whole(4); return [rdata];
    case QTYPE.AAAA: whole(16); return [rdata];
    default: return [rdata];
  }
}

/** Build a WireRR from uncompressed rdata. */
export function rrFromRdata(owner: DnsName, type: number, ttl: number, rdata: Buffer, klass: number = QCLASS.IN): WireRR {
  return { owner, type, class: klass, ttl, rdata: rdataParts(type, Buffer.from(rdata)) };
}

/** The SOA fields (RFC 1035 §3.3.13) of an SOA WireRR. */
export function soaFields(rr: WireRR): { mname: DnsName; rname: DnsName; serial: number; refresh: number; retry: number; expire: number; minimum: number } {
  const [mname, rname, tail] = rr.rdata;
  if (!mname || !rname || !tail || !isNamePart(mname) || !isNamePart(rname) || isNamePart(tail)) throw new DnsDecodeError('not an SOA');
  return {
    mname, rname,
    serial: tail.readUInt32BE(0), refresh: tail.readUInt32BE(4), retry: tail.readUInt32BE(8),
    expire: tail.readUInt32BE(12), minimum: tail.readUInt32BE(16),
  };
}

/** A copy of an SOA WireRR with another serial. */
export function withSerial(rr: WireRR, serial: number): WireRR {
  const f = soaFields(rr);
  const tail = Buffer.from(rr.rdata[2] as Buffer);
  tail.writeUInt32BE(serial >>> 0, 0);
  return { ...rr, rdata: [f.mname, f.rname, tail] };
}

/** JSON-able form of a record for the IXFR journal: { name, type, ttl, data: hex of uncompressed rdata }. */
export interface JournalRecord { name: string; type: string; ttl: number; data: string }

/** WireRR → journal form. */
export function toJournal(rr: WireRR): JournalRecord {
  return { name: nameText(rr.owner), type: typeName(rr.type), ttl: rr.ttl, data: rdataWire(rr).toString('hex') };
}

/** Canonical one-line text of a record (owner lowercase, rdata hex): hashing and diffing key. */
export function rrKey(rr: WireRR): string {
  return `${rr.owner.key} ${rr.class} ${rr.type} ${rr.ttl} ${rdataWire(rr).toString('hex')}`;
}

/** True when the type's rdata names may be compressed. */
export function compressible(type: number): boolean {
  return COMPRESSIBLE.has(type);
}

export { makeName };
