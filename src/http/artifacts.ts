/*
 * Pure HTTP artifact semantics (RFC 9110): ETag and Last-Modified validators, conditional
 * requests (§13), Range (§14), content types. No I/O: server.ts applies the decisions.
 */

/** File identity the validators are built from. */
export interface FileMeta {
  size: number;
  mtimeMs: number;
  ino: number;
}

/** Strong ETag from inode, size and mtime (changes whenever the file is replaced or rewritten). */
export function etagOf(m: FileMeta): string {
  return `"${m.ino.toString(16)}-${m.size.toString(16)}-${Math.floor(m.mtimeMs).toString(16)}"`;
}

/** IMF-fixdate of the mtime (RFC 9110 §5.6.7), second precision. */
export function lastModifiedOf(m: FileMeta): string {
  return new Date(Math.floor(m.mtimeMs / 1000) * 1000).toUTCString();
}

function etagList(header: string): string[] {
  return header.split(',').map((s) => s.trim()).filter(Boolean);
}

const opaque = (t: string) => (t.startsWith('W/') ? t.slice(2) : t);

/**
 * RFC 9110 §13.2.2 steps 3–4 for GET/HEAD: true when the response is 304 Not Modified.
 * If-None-Match (weak comparison) wins; If-Modified-Since is used only without it.
 */
export function notModified(h: { ifNoneMatch?: string | undefined; ifModifiedSince?: string | undefined }, etag: string, mtimeMs: number): boolean {
  if (h.ifNoneMatch !== undefined) {
    const tags = etagList(h.ifNoneMatch);
    return tags.includes('*') || tags.some((t) => opaque(t) === opaque(etag));
  }
  if (h.ifModifiedSince !== undefined) {
    const since = Date.parse(h.ifModifiedSince);
    if (Number.isNaN(since)) return false;
    return Math.floor(mtimeMs / 1000) * 1000 <= since;
  }
  return false;
}

/** A satisfiable single byte range, inclusive ends (RFC 9110 §14.1.2). */
export interface ByteRange { start: number; end: number }

/**
 * Outcome of a Range header (RFC 9110 §14.2):
 * - none: no usable Range (absent, not "bytes", malformed, or several ranges) → 200 with the whole file;
 * - range: one satisfiable range → 206;
 * - unsatisfiable → 416 with Content-Range: bytes * /size.
 * Several ranges are answered with the whole file (200): §14.2 lets a server ignore Range, and
 * boot firmware never asks for multipart/byteranges.
 */
export type RangeDecision = { kind: 'none' } | { kind: 'range'; range: ByteRange } | { kind: 'unsatisfiable' };

/** Parse and evaluate a Range header against a representation of `size` bytes. */
export function evaluateRange(header: string | undefined, size: number): RangeDecision {
  if (header === undefined) return { kind: 'none' };
  const m = /^\s*bytes\s*=\s*(.+)$/i.exec(header);
  if (!m) return { kind: 'none' };
  const specs = m[1]!.split(',').map((s) => s.trim()).filter(Boolean);
  if (specs.length !== 1) return { kind: 'none' };
  const r = /^(\d*)\s*-\s*(\d*)$/.exec(specs[0]!);
  if (!r || (r[1] === '' && r[2] === '')) return { kind: 'none' };
  if (r[1] === '') {
    // suffix-byte-range-spec: the last N bytes.
    const n = Number(r[2]);
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'range', range: { start: Math.max(0, size - n), end: size - 1 } };
  }
  const start = Number(r[1]);
  let end = r[2] === '' ? size - 1 : Number(r[2]);
  if (r[2] !== '' && end < start) return { kind: 'none' };
  if (start >= size) return { kind: 'unsatisfiable' };
  if (end >= size) end = size - 1;
  return { kind: 'range', range: { start, end } };
}

/**
 * RFC 9110 §13.1.5 If-Range: the range applies only when the validator matches exactly — a strong
 * ETag (strong comparison) or an HTTP-date equal to Last-Modified.
 */
export function ifRangeMatches(ifRange: string | undefined, etag: string, lastModified: string): boolean {
  if (ifRange === undefined) return true;
  const v = ifRange.trim();
  if (v.startsWith('"') || v.startsWith('W/')) return !v.startsWith('W/') && v === etag;
  const d = Date.parse(v);
  return !Number.isNaN(d) && d === Date.parse(lastModified);
}

const TYPES: Record<string, string> = {
  ipxe: 'text/plain; charset=utf-8',
  cfg: 'text/plain; charset=utf-8',
  conf: 'text/plain; charset=utf-8',
  ks: 'text/plain; charset=utf-8',
  txt: 'text/plain; charset=utf-8',
  sh: 'text/plain; charset=utf-8',
  yaml: 'text/plain; charset=utf-8',
  yml: 'text/plain; charset=utf-8',
  json: 'application/json',
  html: 'text/html; charset=utf-8',
  iso: 'application/x-iso9660-image',
  efi: 'application/efi',
  xz: 'application/x-xz',
  gz: 'application/gzip',
  zst: 'application/zstd',
  tar: 'application/x-tar',
  rpm: 'application/x-rpm',
  deb: 'application/vnd.debian.binary-package',
  qcow2: 'application/octet-stream',
  img: 'application/octet-stream',
  sig: 'application/pgp-signature',
  asc: 'application/pgp-signature',
};

/** Content-Type by extension; anything unknown (vmlinuz, initrd, .kpxe) is application/octet-stream. */
export function contentTypeOf(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  if (dot <= 0) return 'application/octet-stream';
  return TYPES[base.slice(dot + 1).toLowerCase()] ?? 'application/octet-stream';
}
