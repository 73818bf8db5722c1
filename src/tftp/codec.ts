/*
 * TFTP wire codec: RFC 1350 §5 packets plus the RFC 2347 OACK. Pure: no I/O, no logger, no clock.
 * decode() returns a packet or throws TftpDecodeError; nothing else escapes it.
 */

/** RFC 1350 §5 and RFC 2347 opcodes. */
export const Opcode = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** RFC 1350 appendix error codes, plus 8 from RFC 2347. */
export const ErrorCodes = {
  notDefined: 0,
  fileNotFound: 1,
  accessViolation: 2,
  diskFull: 3,
  illegalOperation: 4,
  unknownTid: 5,
  fileExists: 6,
  noSuchUser: 7,
  optionRefused: 8,
} as const;

/** RRQ or WRQ (RFC 1350 §5). Option names are lowercased (RFC 2347: case-insensitive); values kept as sent. */
export interface RequestPacket {
  opcode: typeof Opcode.RRQ | typeof Opcode.WRQ;
  filename: string;
  /** Lowercased transfer mode: "octet", "netascii", "mail" or whatever the client sent. */
  mode: string;
  /** Options in the order sent; names lowercased. A repeated option keeps its first value. */
  options: Map<string, string>;
}
export interface DataPacket { opcode: typeof Opcode.DATA; block: number; data: Buffer }
export interface AckPacket { opcode: typeof Opcode.ACK; block: number }
export interface ErrorPacket { opcode: typeof Opcode.ERROR; code: number; message: string }
export interface OackPacket { opcode: typeof Opcode.OACK; options: Map<string, string> }
export type Packet = RequestPacket | DataPacket | AckPacket | ErrorPacket | OackPacket;

/** Thrown by decode() for bytes that are not a TFTP packet. */
export class TftpDecodeError extends Error {
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.name = 'TftpDecodeError';
    this.reason = reason;
  }
}

/** Split a run of NUL-terminated strings (RFC 1350 §5: netascii strings terminated by a zero byte). */
function cstrings(buf: Buffer, start: number): string[] {
  const out: string[] = [];
  let i = start;
  while (i < buf.length) {
    const z = buf.indexOf(0, i);
    if (z < 0) throw new TftpDecodeError('unterminated', 'string not NUL-terminated');
    out.push(buf.toString('utf8', i, z));
    i = z + 1;
  }
  return out;
}

/** Decode one datagram. Throws TftpDecodeError on anything malformed. */
export function decode(buf: Buffer): Packet {
  if (buf.length < 2) throw new TftpDecodeError('short', 'datagram shorter than an opcode');
  const opcode = buf.readUInt16BE(0);
  switch (opcode) {
    case Opcode.RRQ:
    case Opcode.WRQ: {
      // RFC 1350 §5: filename 0 mode 0; RFC 2347 §2: then opt1 0 value1 0 ...
      const parts = cstrings(buf, 2);
      if (parts.length < 2) throw new TftpDecodeError('request-fields', 'request without filename and mode');
      if (parts.length % 2 !== 0) throw new TftpDecodeError('request-options', 'option without a value');
      const options = new Map<string, string>();
      for (let i = 2; i < parts.length; i += 2) {
        const name = parts[i]!.toLowerCase();
        if (name === '') throw new TftpDecodeError('request-options', 'empty option name');
        if (!options.has(name)) options.set(name, parts[i + 1]!);
      }
      return { opcode, filename: parts[0]!, mode: parts[1]!.toLowerCase(), options };
    }
    case Opcode.DATA:
      if (buf.length < 4) throw new TftpDecodeError('short', 'DATA shorter than 4 bytes');
      return { opcode, block: buf.readUInt16BE(2), data: buf.subarray(4) };
    case Opcode.ACK:
      // Some clients pad ACKs; only the first 4 bytes carry meaning.
      if (buf.length < 4) throw new TftpDecodeError('short', 'ACK shorter than 4 bytes');
      return { opcode, block: buf.readUInt16BE(2) };
    case Opcode.ERROR: {
      if (buf.length < 4) throw new TftpDecodeError('short', 'ERROR shorter than 4 bytes');
      const z = buf.indexOf(0, 4);
      return { opcode, code: buf.readUInt16BE(2), message: buf.toString('utf8', 4, z < 0 ? buf.length : z) };
    }
    case Opcode.OACK: {
      const parts = cstrings(buf, 2);
      if (parts.length % 2 !== 0) throw new TftpDecodeError('oack-options', 'option without a value');
      const options = new Map<string, string>();
      for (let i = 0; i < parts.length; i += 2) options.set(parts[i]!.toLowerCase(), parts[i + 1]!);
      return { opcode, options };
    }
    default:
      throw new TftpDecodeError('opcode', `unknown opcode ${opcode}`);
  }
}

/** Encode an RRQ or WRQ (used by tests and tools; the server only decodes them). */
export function encodeRequest(opcode: typeof Opcode.RRQ | typeof Opcode.WRQ, filename: string, mode: string, options: Iterable<[string, string]> = []): Buffer {
  const parts = [filename, mode];
  for (const [k, v] of options) parts.push(k, v);
  const body = Buffer.from(parts.map((p) => p + '\0').join(''), 'utf8');
  const out = Buffer.allocUnsafe(2 + body.length);
  out.writeUInt16BE(opcode, 0);
  body.copy(out, 2);
  return out;
}

/** Encode DATA (RFC 1350 §5). `block` is the 16-bit wire number. */
export function encodeData(block: number, data: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + data.length);
  out.writeUInt16BE(Opcode.DATA, 0);
  out.writeUInt16BE(block & 0xffff, 2);
  data.copy(out, 4);
  return out;
}

/** Encode ACK (RFC 1350 §5). */
export function encodeAck(block: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt16BE(Opcode.ACK, 0);
  out.writeUInt16BE(block & 0xffff, 2);
  return out;
}

/** Encode ERROR (RFC 1350 §5): code, message, NUL. */
export function encodeError(code: number, message: string): Buffer {
  const msg = Buffer.from(message, 'utf8');
  const out = Buffer.allocUnsafe(5 + msg.length);
  out.writeUInt16BE(Opcode.ERROR, 0);
  out.writeUInt16BE(code & 0xffff, 2);
  msg.copy(out, 4);
  out[4 + msg.length] = 0;
  return out;
}

/** Encode OACK (RFC 2347 §2): option/value pairs, each NUL-terminated. */
export function encodeOack(options: Iterable<[string, string]>): Buffer {
  const parts: string[] = [];
  for (const [k, v] of options) parts.push(k, v);
  const body = Buffer.from(parts.map((p) => p + '\0').join(''), 'utf8');
  const out = Buffer.allocUnsafe(2 + body.length);
  out.writeUInt16BE(Opcode.OACK, 0);
  body.copy(out, 2);
  return out;
}

/** Bytes encode*() writes for a packet (RFC 1350 §5 layouts). */
export function encodingLength(p: Packet): number {
  const strs = (xs: string[]) => xs.reduce((n, s) => n + Buffer.byteLength(s, 'utf8') + 1, 0);
  switch (p.opcode) {
    case Opcode.RRQ:
    case Opcode.WRQ:
      return 2 + strs([p.filename, p.mode, ...[...p.options].flat()]);
    case Opcode.DATA:
      return 4 + p.data.length;
    case Opcode.ACK:
      return 4;
    case Opcode.ERROR:
      return 5 + Buffer.byteLength(p.message, 'utf8');
    case Opcode.OACK:
      return 2 + strs([...p.options].flat());
  }
}

/** Encode any packet. */
export function encode(p: Packet): Buffer {
  switch (p.opcode) {
    case Opcode.RRQ:
    case Opcode.WRQ:
      return encodeRequest(p.opcode, p.filename, p.mode, p.options);
    case Opcode.DATA:
      return encodeData(p.block, p.data);
    case Opcode.ACK:
      return encodeAck(p.block);
    case Opcode.ERROR:
      return encodeError(p.code, p.message);
    case Opcode.OACK:
      return encodeOack(p.options);
  }
}

/**
 * RFC 1350 appendix / RFC 764 netascii: a local LF becomes CR LF and a bare CR becomes CR NUL.
 * The whole (small) text is converted at once; the server bounds the size it converts.
 */
export function toNetascii(buf: Buffer): Buffer {
  let extra = 0;
  for (let i = 0; i < buf.length; i++) if (buf[i] === 0x0a || buf[i] === 0x0d) extra++;
  if (extra === 0) return buf;
  const out = Buffer.allocUnsafe(buf.length + extra);
  let j = 0;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]!;
    if (c === 0x0a) { out[j++] = 0x0d; out[j++] = 0x0a; }
    else if (c === 0x0d) { out[j++] = 0x0d; out[j++] = 0x00; }
    else out[j++] = c;
  }
  return out;
}
