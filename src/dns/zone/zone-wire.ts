import { nameWire, readName } from '../codec/name.js';
import { rdataWire, rrFromRdata, type WireRR } from '../codec/rr.js';
import { buildZone, type ZoneClass, type ZoneData } from './tree.js';

/** A zone as shipped to a UDP worker over IPC (JSON): its records in uncompressed wire form, base64. */
export interface ZonePayload {
  origin: string;
  kind: ZoneClass;
  serial: number;
  /** owner, type, class, ttl, rdlength, rdata per record (RFC 1035 §4.1.3, no compression), SOA first. */
  wire: string;
}

/** Serialize a zone for a worker (the records as AXFR would send them, RFC 5936 §2.2, without the closing SOA). */
export function encodeZone(z: ZoneData): ZonePayload {
  const parts: Buffer[] = [];
  for (const rr of z.records) {
    const rdata = rdataWire(rr);
    const head = Buffer.allocUnsafe(10);
    head.writeUInt16BE(rr.type, 0);
    head.writeUInt16BE(rr.class, 2);
    head.writeUInt32BE(rr.ttl >>> 0, 4);
    head.writeUInt16BE(rdata.length, 8);
    parts.push(nameWire(rr.owner), head, rdata);
  }
  return { origin: z.origin.key, kind: z.kind, serial: z.serial, wire: Buffer.concat(parts).toString('base64') };
}

/** Rebuild a zone from its payload (the inverse of encodeZone); throws DnsDecodeError on bad bytes. */
export function decodeZone(p: ZonePayload): ZoneData {
  const buf = Buffer.from(p.wire, 'base64');
  const records: WireRR[] = [];
  let o = 0;
  while (o < buf.length) {
    const { name, end } = readName(buf, o);
    if (end + 10 > buf.length) throw new RangeError('zone payload: record header runs past the end');
    const type = buf.readUInt16BE(end), klass = buf.readUInt16BE(end + 2), ttl = buf.readUInt32BE(end + 4);
    const len = buf.readUInt16BE(end + 8);
    if (end + 10 + len > buf.length) throw new RangeError('zone payload: rdata runs past the end');
    records.push(rrFromRdata(name, type, ttl, buf.subarray(end + 10, end + 10 + len), klass));
    o = end + 10 + len;
  }
  const soa = records[0];
  if (!soa) throw new RangeError(`zone payload ${p.origin}: no records`);
  return buildZone(soa.owner, p.kind, records);
}
