import { Opt } from './constants.js';

/*
 * Typed readers and writers of the option values builderd uses. Readers never throw: a value of the
 * wrong shape reads as undefined (the server then behaves as if the option were absent).
 */

/** Option 53 (RFC 2132 §9.6). */
export function readMessageType(options: Map<number, Buffer>): number | undefined {
  const v = options.get(Opt.MESSAGE_TYPE);
  return v && v.length === 1 ? v[0] : undefined;
}

/** An option holding one IPv4 address (50, 54). */
export function readIpOption(options: Map<number, Buffer>, code: number): string | undefined {
  const v = options.get(code);
  return v && v.length === 4 ? `${v[0]}.${v[1]}.${v[2]}.${v[3]}` : undefined;
}

/** Option 57 (RFC 2132 §9.10), only when ≥ 576. */
export function readMaxMessageSize(options: Map<number, Buffer>): number | undefined {
  const v = options.get(Opt.MAX_MESSAGE_SIZE);
  if (!v || v.length !== 2) return undefined;
  const n = v.readUInt16BE(0);
  return n >= 576 ? n : undefined;
}

/** Option 55 (RFC 2132 §9.8). */
export function readParamRequestList(options: Map<number, Buffer>): number[] {
  const v = options.get(Opt.PARAM_REQUEST_LIST);
  return v ? [...v] : [];
}

/** A text option (12, 60, 15...) as latin1, trailing NULs removed (some clients NUL-terminate). */
export function readText(options: Map<number, Buffer>, code: number): string | undefined {
  const v = options.get(code);
  if (!v) return undefined;
  let end = v.length;
  while (end > 0 && v[end - 1] === 0) end--;
  return v.toString('latin1', 0, end);
}

/**
 * Option 77 (RFC 3004 §4): a list of length-prefixed user classes. iPXE sends the bare string "iPXE"
 * without the length prefix; when the value does not parse as RFC 3004 exactly, it is one bare class.
 */
export function readUserClass(options: Map<number, Buffer>): string[] {
  const v = options.get(Opt.USER_CLASS);
  if (!v || v.length === 0) return [];
  const out: string[] = [];
  let i = 0;
  while (i < v.length) {
    const len = v[i]!;
    if (len === 0 || i + 1 + len > v.length) return [v.toString('latin1')];
    out.push(v.toString('latin1', i + 1, i + 1 + len));
    i += 1 + len;
  }
  return out;
}

/** Option 93 (RFC 4578 §2.1): list of 16-bit architecture types. */
export function readClientArch(options: Map<number, Buffer>): number[] {
  const v = options.get(Opt.CLIENT_ARCH);
  if (!v || v.length < 2 || v.length % 2 !== 0) return [];
  const out: number[] = [];
  for (let i = 0; i < v.length; i += 2) out.push(v.readUInt16BE(i));
  return out;
}

/** Option 94 (RFC 4578 §2.2): network interface identifier. */
export function readClientNdi(options: Map<number, Buffer>): { type: number; major: number; minor: number } | undefined {
  const v = options.get(Opt.CLIENT_NDI);
  return v && v.length === 3 ? { type: v[0]!, major: v[1]!, minor: v[2]! } : undefined;
}

/** Option 97 (RFC 4578 §2.3): type 0 + 16-byte GUID. Missing or malformed: undefined (tolerated). */
export function readClientUuid(options: Map<number, Buffer>): string | undefined {
  const v = options.get(Opt.CLIENT_UUID);
  if (!v || v.length !== 17 || v[0] !== 0) return undefined;
  const h = v.toString('hex', 1);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Option 61 (RFC 2132 §9.14) as lowercase hex, or undefined. */
export function readClientId(options: Map<number, Buffer>): string | undefined {
  const v = options.get(Opt.CLIENT_ID);
  return v && v.length >= 2 ? v.toString('hex') : undefined;
}

/**
 * Option 81 (RFC 4702 §2): flags, rcode1, rcode2, domain name — canonical wire format when the E bit
 * is set, else ASCII. Returns the first label, or undefined.
 */
export function readClientFqdnLabel(options: Map<number, Buffer>): string | undefined {
  const v = options.get(Opt.CLIENT_FQDN);
  if (!v || v.length < 4) return undefined;
  const flags = v[0]!;
  const name = v.subarray(3);
  if (flags & 0x04) {
    const len = name[0]!;
    if (len === 0 || len > 63 || 1 + len > name.length) return undefined;
    return name.toString('latin1', 1, 1 + len);
  }
  const text = name.toString('latin1').replace(/\0+$/, '');
  const first = text.split('.')[0];
  return first ? first : undefined;
}

/** Sub-options of an encapsulated option (43, 175, 82): code → value. Malformed: undefined. */
export function readSubOptions(value: Buffer | undefined): Map<number, Buffer> | undefined {
  if (!value) return undefined;
  const out = new Map<number, Buffer>();
  let i = 0;
  while (i < value.length) {
    const code = value[i]!;
    if (code === Opt.PAD) { i++; continue; }
    if (code === Opt.END) break;
    if (i + 1 >= value.length) return undefined;
    const len = value[i + 1]!;
    if (i + 2 + len > value.length) return undefined;
    out.set(code, value.subarray(i + 2, i + 2 + len));
    i += 2 + len;
  }
  return out;
}

/** Encode sub-options (each value ≤ 255 bytes). */
export function encodeSubOptions(sub: ReadonlyMap<number, Buffer> | [number, Buffer][]): Buffer {
  const parts: Buffer[] = [];
  for (const [code, v] of sub) {
    if (v.length > 255) throw new RangeError(`sub-option ${code} longer than 255`);
    parts.push(Buffer.from([code, v.length]), v);
  }
  return Buffer.concat(parts);
}

/** One or more IPv4 addresses as an option value (1, 3, 6, 28, 54). */
export function ipsValue(ips: readonly string[]): Buffer {
  const b = Buffer.alloc(4 * ips.length);
  ips.forEach((ip, k) => {
    const p = ip.split('.').map(Number);
    for (let i = 0; i < 4; i++) b[4 * k + i] = p[i]! & 255;
  });
  return b;
}

/** 32-bit unsigned value (51, 58, 59). */
export function u32Value(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

/** 16-bit unsigned value (57). */
export function u16Value(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff, 0);
  return b;
}

/** Text value (12, 15, 60, 66, 67), latin1. */
export function textValue(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

/** RFC 3004 user class value: each class length-prefixed. */
export function userClassValue(classes: readonly string[]): Buffer {
  return Buffer.concat(classes.map((c) => Buffer.concat([Buffer.from([c.length]), Buffer.from(c, 'latin1')])));
}
