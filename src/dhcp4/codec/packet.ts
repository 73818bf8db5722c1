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
  // Hand-rolled dotted-quad parse: this runs four times per reply on the hot path.
  let part = 0;
  let n = 0;
  let digits = 0;
  for (let i = 0; i < ip.length; i++) {
    const ch = ip.charCodeAt(i);
    if (ch === 46) {
      if (digits === 0 || part > 2) throw new RangeError(`bad IPv4 address: ${ip}`);
      buf[off + part++] = n; n = 0; digits = 0;
    } else if (ch >= 48 && ch <= 57 && digits < 3) {
      n = n * 10 + (ch - 48); digits++;
      if (n > 255) throw new RangeError(`bad IPv4 address: ${ip}`);
    } else {
      throw new RangeError(`bad IPv4 address: ${ip}`);
    }
  }
  if (part !== 3 || digits === 0) throw new RangeError(`bad IPv4 address: ${ip}`);
  buf[off + 3] = n;
}

function readCString(buf: Buffer, start: number, len: number): string {
  const end = buf.indexOf(0, start);
  const stop = end === -1 || end > start + len ? start + len : end;
  return buf.toString('latin1', start, stop);
}

/**
 * Walk one options area (RFC 2132 §2): PAD skipped, END stops. Adds to `out`; a repeated code is
 * concatenated to the earlier value(s) in order (RFC 3396 §7). Returns true when END was seen.
 */
function walkOptions(buf: Buffer, start: number, end: number, out: Map<number, Buffer>, repeated: Map<number, Buffer[]>): boolean {
  let i = start;
  while (i < end) {
    const code = buf[i]!;
    if (code === Opt.PAD) { i++; continue; }
    if (code === Opt.END) return true;
    if (i + 1 >= end) throw new DhcpDecodeError('option-length', `option ${code} at ${i}: no length byte`);
    const len = buf[i + 1]!;
    if (i + 2 + len > end) throw new DhcpDecodeError('option-length', `option ${code} at ${i}: length ${len} runs past the field`);
    const value = buf.subarray(i + 2, i + 2 + len);
    const prev = out.get(code);
    if (prev === undefined) out.set(code, value);
    else {
      // Parts are gathered and joined once at the end: joining on every repeat would be quadratic.
      const parts = repeated.get(code);
      if (parts) parts.push(value); else repeated.set(code, [prev, value]);
    }
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
  const options = new Map<number, Buffer>();
  const repeated = new Map<number, Buffer[]>();
  const sawEnd = walkOptions(buf, 240, buf.length, options, repeated);
  if (!sawEnd) throw new DhcpDecodeError('no-end', 'options field has no END option');
  // RFC 2131 §4.1 / RFC 3396 §5: option 52 says file (1), sname (2) or both (3) carry more options; file first.
  let overload = 0;
  const ov = repeated.has(Opt.OVERLOAD) ? Buffer.concat(repeated.get(Opt.OVERLOAD)!) : options.get(Opt.OVERLOAD);
  if (ov) {
    if (ov.length !== 1 || ov[0]! < 1 || ov[0]! > 3) throw new DhcpDecodeError('option-length', 'option 52 must be one byte 1..3');
    overload = ov[0]!;
    options.delete(Opt.OVERLOAD);
    // A missing END inside an overloaded field is tolerated: the field is padded to its end.
    if (overload & 1) walkOptions(buf, 108, 236, options, repeated);
    if (overload & 2) walkOptions(buf, 44, 108, options, repeated);
  }
  for (const [code, parts] of repeated) options.set(code, Buffer.concat(parts));
  options.delete(Opt.OVERLOAD);
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

/** Bytes an option takes on the wire, split into 255-byte instances (RFC 3396 §6). */
function tlvLength(value: Buffer): number {
  return value.length === 0 ? 2 : value.length + 2 * Math.ceil(value.length / 255);
}

/** Write one option at `off` (split if over 255 bytes); returns the new offset. */
function writeTlv(buf: Buffer, off: number, code: number, value: Buffer): number {
  if (value.length === 0) { buf[off] = code; buf[off + 1] = 0; return off + 2; }
  for (let at = 0; at < value.length; at += 255) {
    const n = Math.min(255, value.length - at);
    buf[off] = code; buf[off + 1] = n;
    value.copy(buf, off + 2, at, at + n);
    off += 2 + n;
  }
  return off;
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
  const codes: number[] = [];
  let total = 0;
  let agent = false;
  for (const [code, value] of p.options) {
    if (code === Opt.PAD || code === Opt.END || code === Opt.OVERLOAD) continue;
    total += tlvLength(value);
    if (code === Opt.RELAY_AGENT_INFO) { agent = true; continue; }
    codes.push(code);
  }
  if (agent) codes.push(Opt.RELAY_AGENT_INFO);
  const mainRoom = maxSize - 240 - 1; // minus END
  const dropped: number[] = [];
  const fileArea: number[] = [];
  const snameArea: number[] = [];
  let main = codes;
  let mainBytes = total;
  if (total > mainRoom) {
    // Overload: keep 3 bytes for option 52 in the main area; whole options only, in order of preference.
    main = [];
    mainBytes = 3;
    let room = mainRoom - 3;
    let fileRoom = p.file === '' ? 128 - 1 : -1;
    let snameRoom = p.sname === '' ? 64 - 1 : -1;
    for (const code of codes) {
      const n = tlvLength(p.options.get(code)!);
      if (n <= room) { main.push(code); room -= n; mainBytes += n; } else if (n <= fileRoom) { fileArea.push(code); fileRoom -= n; } else if (n <= snameRoom) { snameArea.push(code); snameRoom -= n; } else dropped.push(code);
    }
    if (fileArea.length === 0 && snameArea.length === 0) mainBytes -= 3;
  }
  const overload = (fileArea.length ? 1 : 0) | (snameArea.length ? 2 : 0);
  const len = Math.max(BOOTP_MIN_LEN, 240 + mainBytes + 1);
  const buf = Buffer.alloc(len);
  buf[0] = p.op; buf[1] = p.htype; buf[2] = p.hlen; buf[3] = p.hops;
  buf.writeUInt32BE(p.xid >>> 0, 4);
  buf.writeUInt16BE(p.secs & 0xffff, 8);
  buf.writeUInt16BE(p.flags & 0xffff, 10);
  writeIp(buf, 12, p.ciaddr); writeIp(buf, 16, p.yiaddr); writeIp(buf, 20, p.siaddr); writeIp(buf, 24, p.giaddr);
  p.chaddr.copy(buf, 28, 0, Math.min(16, p.chaddr.length));
  if (overload & 2) {
    let o = 44;
    for (const c of snameArea) o = writeTlv(buf, o, c, p.options.get(c)!);
    buf[o] = Opt.END;
  } else if (p.sname !== '') buf.write(p.sname.slice(0, 63), 44, 'latin1');
  if (overload & 1) {
    let o = 108;
    for (const c of fileArea) o = writeTlv(buf, o, c, p.options.get(c)!);
    buf[o] = Opt.END;
  } else if (p.file !== '') buf.write(p.file.slice(0, 127), 108, 'latin1');
  buf.writeUInt32BE(MAGIC_COOKIE, 236);
  let o = 240;
  if (overload) { buf[o++] = Opt.OVERLOAD; buf[o++] = 1; buf[o++] = overload; }
  for (const c of main) o = writeTlv(buf, o, c, p.options.get(c)!);
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
