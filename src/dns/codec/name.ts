import { AppError, ErrorCode } from '../../lib/errors.js';

/**
 * A domain name, ready to write: labels as bytes (original case) and the lowercase presentation key of
 * every suffix, so compression (RFC 1035 §4.1.4) needs no string work per message.
 */
export interface DnsName {
  /** Labels, without the root label. */
  readonly labels: readonly Buffer[];
  /** keys[i]: lowercase presentation of labels[i..] without a trailing dot ('' is the root). */
  readonly keys: readonly string[];
  /** keys[0], or '' for the root. */
  readonly key: string;
  /** Bytes of the uncompressed wire form. */
  readonly wireLength: number;
}

/** The error every codec in this folder throws for bad input. */
export class DnsDecodeError extends AppError {
  constructor(message: string) {
    super(ErrorCode.DNS_ERR_DECODE, message);
    this.name = 'DnsDecodeError';
  }
}

/** RFC 1035 §2.3.4: labels of at most 63 bytes, names of at most 255 bytes on the wire. */
export const MAX_LABEL = 63;
export const MAX_NAME = 255;

const SPECIAL = new Set([0x2e, 0x5c, 0x22, 0x28, 0x29, 0x3b, 0x40, 0x24]); // . \ " ( ) ; @ $

/** Presentation text of one label (RFC 1035 §5.1 escapes); lowercases A-Z when `lower`. */
export function labelText(label: Buffer, lower: boolean): string {
  let s = '';
  for (let i = 0; i < label.length; i++) {
    let c = label[i]!;
    if (lower && c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c > 0x20 && c < 0x7f) s += SPECIAL.has(c) ? '\\' + String.fromCharCode(c) : String.fromCharCode(c);
    else s += '\\' + String(c).padStart(3, '0');
  }
  return s;
}

/** Build a DnsName from labels; throws DnsDecodeError past the RFC 1035 §2.3.4 limits. */
export function makeName(labels: readonly Buffer[]): DnsName {
  let wire = 1;
  const parts: string[] = [];
  for (const l of labels) {
    if (l.length === 0 || l.length > MAX_LABEL) throw new DnsDecodeError(`bad label length ${l.length}`);
    wire += 1 + l.length;
    parts.push(labelText(l, true));
  }
  if (wire > MAX_NAME) throw new DnsDecodeError(`name too long (${wire} bytes)`);
  const keys: string[] = [];
  let acc = '';
  for (let i = parts.length - 1; i >= 0; i--) {
    acc = acc === '' ? parts[i]! : `${parts[i]!}.${acc}`;
    keys[i] = acc;
  }
  return { labels, keys, key: keys[0] ?? '', wireLength: wire };
}

/** The root name. */
export const ROOT: DnsName = makeName([]);

/** Split presentation text into raw label bytes, honouring \c and \DDD escapes (RFC 1035 §5.1). */
function splitLabels(text: string): Buffer[] {
  const labels: Buffer[] = [];
  let cur: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x5c) {
      const d = /^\d{3}/.exec(text.slice(i + 1, i + 4));
      if (d) {
        const v = Number(d[0]);
        if (v > 255) throw new DnsDecodeError(`bad escape \\${d[0]} in ${text}`);
        cur.push(v);
        i += 3;
      } else {
        if (i + 1 >= text.length) throw new DnsDecodeError(`dangling escape in ${text}`);
        cur.push(text.charCodeAt(++i) & 0xff);
      }
    } else if (ch === 0x2e) {
      if (cur.length === 0) throw new DnsDecodeError(`empty label in ${text}`);
      labels.push(Buffer.from(cur));
      cur = [];
    } else {
      if (ch > 0xff) throw new DnsDecodeError(`non-ASCII character in ${text}`);
      cur.push(ch);
    }
  }
  if (cur.length > 0) labels.push(Buffer.from(cur));
  return labels;
}

/**
 * Parse a name in presentation format. Absolute when it ends in an unescaped dot or when no origin
 * is given; otherwise relative to `origin` (RFC 1035 §5.1). "@" is the origin.
 */
export function parseName(text: string, origin?: DnsName): DnsName {
  if (text === '@') {
    if (!origin) throw new DnsDecodeError('"@" without an origin');
    return origin;
  }
  if (text === '.') return ROOT;
  let absolute = false;
  if (text.endsWith('.')) {
    let bs = 0;
    for (let i = text.length - 2; i >= 0 && text[i] === '\\'; i--) bs++;
    absolute = bs % 2 === 0;
  }
  const labels = splitLabels(absolute ? text.slice(0, -1) : text);
  if (!absolute && origin) return makeName([...labels, ...origin.labels]);
  return makeName(labels);
}

/** Presentation text with a trailing dot ("." for the root), original case. */
export function nameText(n: DnsName): string {
  if (n.labels.length === 0) return '.';
  return n.labels.map((l) => labelText(l, false)).join('.') + '.';
}

/** True when `n` equals `ancestor` or lies below it. */
export function isSubdomain(n: DnsName, ancestor: DnsName): boolean {
  const d = n.labels.length - ancestor.labels.length;
  if (d < 0) return false;
  return (n.keys[d] ?? '') === ancestor.key;
}

/** Uncompressed wire form (lowercased when `lower`, for TSIG's canonical names: RFC 8945 §4.3.3). */
export function nameWire(n: DnsName, lower = false): Buffer {
  const out = Buffer.allocUnsafe(n.wireLength);
  let o = 0;
  for (const l of n.labels) {
    out[o++] = l.length;
    l.copy(out, o);
    if (lower) for (let i = o; i < o + l.length; i++) if (out[i]! >= 0x41 && out[i]! <= 0x5a) out[i]! |= 0x20;
    o += l.length;
  }
  out[o] = 0;
  return out;
}

/**
 * Read a (possibly compressed) name at `offset`. Pointers must point backwards (so no loops), at most
 * 128 of them. Returns the name and the offset just after it in the original position.
 */
export function readName(buf: Buffer, offset: number): { name: DnsName; end: number } {
  const labels: Buffer[] = [];
  let o = offset;
  let end = -1;
  let jumps = 0;
  let total = 1;
  for (;;) {
    if (o >= buf.length) throw new DnsDecodeError('name runs past the end');
    const len = buf[o]!;
    if (len === 0) {
      if (end < 0) end = o + 1;
      break;
    }
    const top = len & 0xc0;
    if (top === 0xc0) {
      if (o + 1 >= buf.length) throw new DnsDecodeError('pointer runs past the end');
      const ptr = ((len & 0x3f) << 8) | buf[o + 1]!;
      if (ptr >= o || ++jumps > 128) throw new DnsDecodeError('bad pointer');
      if (end < 0) end = o + 2;
      o = ptr;
      continue;
    }
    if (top !== 0) throw new DnsDecodeError('bad label type');
    if (o + 1 + len > buf.length) throw new DnsDecodeError('label runs past the end');
    total += 1 + len;
    if (total > MAX_NAME) throw new DnsDecodeError('name too long');
    labels.push(buf.subarray(o + 1, o + 1 + len));
    o += 1 + len;
  }
  return { name: makeName(labels.map((l) => Buffer.from(l))), end };
}

/** Skip a (possibly compressed) name without building it; returns the offset after it. */
export function skipName(buf: Buffer, offset: number): number {
  let o = offset;
  let total = 1;
  for (;;) {
    if (o >= buf.length) throw new DnsDecodeError('name runs past the end');
    const len = buf[o]!;
    if (len === 0) return o + 1;
    if ((len & 0xc0) === 0xc0) {
      if (o + 1 >= buf.length) throw new DnsDecodeError('pointer runs past the end');
      return o + 2;
    }
    if ((len & 0xc0) !== 0) throw new DnsDecodeError('bad label type');
    total += 1 + len;
    if (total > MAX_NAME) throw new DnsDecodeError('name too long');
    o += 1 + len;
  }
}
