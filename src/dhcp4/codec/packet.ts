import { BOOTP_FIXED, BOOTP_MIN_LEN, MAGIC_COOKIE, Opt } from './constants.js';

/** A decoded DHCPv4/BOOTP message (RFC 2131 §2). Options are raw values, repeated instances concatenated (RFC 3396). */
export interface DhcpPacket {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** The 16-byte chaddr field as sent. */
  chaddr: Buffer;
  /** Server host name (sname), NUL-terminated string; empty when it carried options (overload). */
  sname: string;
  /** Boot file name (file), NUL-terminated string; empty when it carried options (overload). */
  file: string;
  /** Option code → value, in the order first seen (encode: in the order to write). PAD/END/52 are not kept. */
  options: Map<number, Buffer>;
}

/** Why a packet could not be decoded; `reason` is a stable metric label. */
export class DhcpDecodeError extends Error {
  readonly reason: 'short' | 'cookie' | 'option-length' | 'no-end' | 'hlen' | 'op';
  constructor(reason: DhcpDecodeError['reason'], message: string) {
    super(message);
    this.name = 'DhcpDecodeError';
    this.reason = reason;
  }
}

function readIp(buf: Buffer, off: number): string {
  return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
}

function writeIp(buf: Buffer, off: number, ip: string): void {
  const p = ip.split('.');
  if (p.length !== 4) throw new RangeError(`bad IPv4 address: ${ip}`);
  for (let i = 0; i < 4; i++) {
    const n = Number(p[i]);
    if (!Number.isInteger(n) || n < 0 || n > 255) throw new RangeError(`bad IPv4 address: ${ip}`);
    buf[off + i] = n;
  }
}

function readCString(buf: Buffer, start: number, len: number): string {
  const end = buf.indexOf(0, start);
  const stop = end === -1 || end > start + len ? start + len : end;
  return buf.toString('latin1', start, stop);
}

/**
 * Walk one options area (RFC 2132 §2): PAD skipped, END stops. Appends to `out` (RFC 3396 §7:
 * repeated codes concatenate in order). Returns true when END was seen.
 */
function walkOptions(buf: Buffer, start: number, end: number, out: Map<number, Buffer[]>, order: number[]): boolean {
  let i = start;
  while (i < end) {
    const code = buf[i]!;
    if (code === Opt.PAD) { i++; continue; }
    if (code === Opt.END) return true;
    if (i + 1 >= end) throw new DhcpDecodeError('option-length', `option ${code} at ${i}: no length byte`);
    const len = buf[i + 1]!;
    if (i + 2 + len > end) throw new DhcpDecodeError('option-length', `option ${code} at ${i}: length ${len} runs past the field`);
    const parts = out.get(code);
    const value = buf.subarray(i + 2, i + 2 + len);
    if (parts) parts.push(value); else { out.set(code, [value]); order.push(code); }
    i += 2 + len;
  }
  return false;
}

/** Decode a DHCP message. Throws DhcpDecodeError on anything malformed (never another error type). */
export function decodeDhcp(buf: Buffer): DhcpPacket {
  if (buf.length < BOOTP_FIXED + 4) throw new DhcpDecodeError('short', `${buf.length} bytes: shorter than 240`);
  const op = buf[0]!;
  if (op !== 1 && op !== 2) throw new DhcpDecodeError('op', `op ${op}`);
  const hlen = buf[2]!;
  if (hlen > 16) throw new DhcpDecodeError('hlen', `hlen ${hlen} over 16`);
  if (buf.readUInt32BE(BOOTP_FIXED) !== MAGIC_COOKIE) throw new DhcpDecodeError('cookie', 'bad magic cookie');
  const parts = new Map<number, Buffer[]>();
  const order: number[] = [];
  const sawEnd = walkOptions(buf, 240, buf.length, parts, order);
  if (!sawEnd) throw new DhcpDecodeError('no-end', 'options field has no END option');
  // RFC 2131 §4.1 / RFC 3396 §5: option 52 says file (1), sname (2) or both (3) carry more options; file first.
  let overload = 0;
  const ov = parts.get(Opt.OVERLOAD);
  if (ov) {
    const v = Buffer.concat(ov);
    if (v.length !== 1 || v[0]! < 1 || v[0]! > 3) throw new DhcpDecodeError('option-length', 'option 52 must be one byte 1..3');
    overload = v[0]!;
    // A missing END inside an overloaded field is tolerated: the field is padded to its end.
    if (overload & 1) walkOptions(buf, 108, 236, parts, order);
    if (overload & 2) walkOptions(buf, 44, 108, parts, order);
  }
  const options = new Map<number, Buffer>();
  for (const code of order) {
    if (code === Opt.OVERLOAD) continue;
    const p = parts.get(code)!;
    options.set(code, p.length === 1 ? p[0]! : Buffer.concat(p));
  }
  return {
    op,
    htype: buf[1]!,
    hlen,
    hops: buf[3]!,
    xid: buf.readUInt32BE(4),
    secs: buf.readUInt16BE(8),
    flags: buf.readUInt16BE(10),
    ciaddr: readIp(buf, 12),
    yiaddr: readIp(buf, 16),
    siaddr: readIp(buf, 20),
    giaddr: readIp(buf, 24),
    chaddr: Buffer.from(buf.subarray(28, 44)),
    sname: overload & 2 ? '' : readCString(buf, 44, 64),
    file: overload & 1 ? '' : readCString(buf, 108, 128),
    options,
  };
}

/** Split one option into TLV bytes; values over 255 bytes become several instances (RFC 3396 §6). */
function optionTlv(code: number, value: Buffer): Buffer {
  if (value.length <= 255) {
    const b = Buffer.allocUnsafe(2 + value.length);
    b[0] = code; b[1] = value.length; value.copy(b, 2);
    return b;
  }
  const chunks: Buffer[] = [];
  for (let off = 0; off < value.length; off += 255) {
    const part = value.subarray(off, Math.min(off + 255, value.length));
    chunks.push(Buffer.from([code, part.length]), part);
  }
  return Buffer.concat(chunks);
}

export interface EncodeOptions {
  /**
   * Largest DHCP message (BOOTP header + options, no IP/UDP headers) the client accepts: its option 57,
   * else 576 - 28 (RFC 2131 §2: every client takes 576-byte IP datagrams).
   */
  maxSize?: number;
}

export interface EncodeResult {
  bytes: Buffer;
  /** Options left out because they did not fit even with overload. */
  dropped: number[];
}

/**
 * Encode a DHCP message: options in map order, option 82 last (RFC 3046 §2.1), long options split
 * (RFC 3396), overflow moved into file then sname with option 52 when those are empty (RFC 2131 §4.1),
 * padded to the 300-byte BOOTP minimum (RFC 1542 §2.1).
 */
export function encodeDhcpEx(p: DhcpPacket, opts: EncodeOptions = {}): EncodeResult {
  const maxSize = Math.max(548, opts.maxSize ?? 548);
  const tlvs: { code: number; tlv: Buffer }[] = [];
  let agent: Buffer | undefined;
  for (const [code, value] of p.options) {
    if (code === Opt.PAD || code === Opt.END || code === Opt.OVERLOAD) continue;
    if (code === Opt.RELAY_AGENT_INFO) { agent = optionTlv(code, value); continue; }
    tlvs.push({ code, tlv: optionTlv(code, value) });
  }
  if (agent) tlvs.push({ code: Opt.RELAY_AGENT_INFO, tlv: agent });

  const total = tlvs.reduce((n, t) => n + t.tlv.length, 0);
  const mainRoom = maxSize - 240 - 1; // minus END
  const main: Buffer[] = [];
  const fileArea: Buffer[] = [];
  const snameArea: Buffer[] = [];
  const dropped: number[] = [];
  if (total <= mainRoom) {
    for (const t of tlvs) main.push(t.tlv);
  } else {
    // Overload: keep 3 bytes for option 52 in the main area.
    let room = mainRoom - 3;
    let fileRoom = p.file === '' ? 128 - 1 : -1;
    let snameRoom = p.sname === '' ? 64 - 1 : -1;
    for (const t of tlvs) {
      const n = t.tlv.length;
      if (n <= room) { main.push(t.tlv); room -= n; } else if (n <= fileRoom) { fileArea.push(t.tlv); fileRoom -= n; } else if (n <= snameRoom) { snameArea.push(t.tlv); snameRoom -= n; } else dropped.push(t.code);
    }
  }
  const overload = (fileArea.length ? 1 : 0) | (snameArea.length ? 2 : 0);
  const mainBytes = main.reduce((n, b) => n + b.length, 0) + (overload ? 3 : 0);
  const len = Math.max(BOOTP_MIN_LEN, 240 + mainBytes + 1);
  const buf = Buffer.alloc(len);
  buf[0] = p.op; buf[1] = p.htype; buf[2] = p.hlen; buf[3] = p.hops;
  buf.writeUInt32BE(p.xid >>> 0, 4);
  buf.writeUInt16BE(p.secs & 0xffff, 8);
  buf.writeUInt16BE(p.flags & 0xffff, 10);
  writeIp(buf, 12, p.ciaddr); writeIp(buf, 16, p.yiaddr); writeIp(buf, 20, p.siaddr); writeIp(buf, 24, p.giaddr);
  p.chaddr.copy(buf, 28, 0, Math.min(16, p.chaddr.length));
  if (overload & 2) { let o = 44; for (const b of snameArea) { b.copy(buf, o); o += b.length; } buf[o] = Opt.END; } else buf.write(p.sname.slice(0, 63), 44, 'latin1');
  if (overload & 1) { let o = 108; for (const b of fileArea) { b.copy(buf, o); o += b.length; } buf[o] = Opt.END; } else buf.write(p.file.slice(0, 127), 108, 'latin1');
  buf.writeUInt32BE(MAGIC_COOKIE, 236);
  let o = 240;
  if (overload) { buf[o++] = Opt.OVERLOAD; buf[o++] = 1; buf[o++] = overload; }
  for (const b of main) { b.copy(buf, o); o += b.length; }
  buf[o] = Opt.END; // the rest stays zero (PAD)
  return { bytes: buf, dropped };
}

/** Encode a DHCP message (see encodeDhcpEx); returns the bytes only. */
export function encodeDhcp(p: DhcpPacket, opts: EncodeOptions = {}): Buffer {
  return encodeDhcpEx(p, opts).bytes;
}

/** Hardware address of a packet as lowercase colon hex (hlen bytes of chaddr). */
export function chaddrMac(p: DhcpPacket): string {
  const n = Math.min(p.hlen, 16);
  let s = '';
  for (let i = 0; i < n; i++) s += (i ? ':' : '') + p.chaddr[i]!.toString(16).padStart(2, '0');
  return s;
}
