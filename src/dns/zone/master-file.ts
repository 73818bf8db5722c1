import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { AppError, ErrorCode } from '../../lib/errors.js';
import { QCLASS, QTYPE, typeCode } from '../codec/constants.js';
import { parseName, type DnsName } from '../codec/name.js';
import type { WireRR } from '../codec/rr.js';
import { parseTtl, rdataFromText, type Token } from './rdata-text.js';

interface Entry { tokens: Token[]; indented: boolean; line: number }

/** Split master-file text into entries (RFC 1035 §5.1): comments, quotes, parentheses across lines. */
export function tokenize(text: string, file: string): Entry[] {
  const entries: Entry[] = [];
  let tokens: Token[] = [];
  let indented = false;
  let startLine = 1;
  let line = 1;
  let depth = 0;
  let atLineStart = true;
  const fail = (msg: string): never => { throw new AppError(ErrorCode.DNS_ERR_ZONE_FILE, `${file}:${line}: ${msg}`); };
  const endEntry = (): void => {
    if (tokens.length > 0) entries.push({ tokens, indented, line: startLine });
    tokens = [];
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      if (depth === 0) { endEntry(); atLineStart = true; }
      i++;
      continue;
    }
    if (atLineStart && depth === 0) {
      indented = c === ' ' || c === '\t';
      startLine = line;
      atLineStart = false;
    }
    if (c === ' ' || c === '\t' || c === '\r') { i++; continue; }
    if (c === ';') { while (i < text.length && text[i] !== '\n') i++; continue; }
    if (c === '(') { depth++; i++; continue; }
    if (c === ')') { if (depth === 0) fail('")" without "("'); depth--; i++; continue; }
    if (c === '"') {
      let s = '';
      i++;
      for (;;) {
        if (i >= text.length) fail('unterminated quoted string');
        const d = text[i]!;
        if (d === '\\' && i + 1 < text.length) { s += d + text[i + 1]!; i += 2; continue; }
        if (d === '"') { i++; break; }
        if (d === '\n') line++;
        s += d;
        i++;
      }
      tokens.push({ text: s, quoted: true });
      continue;
    }
    let s = '';
    while (i < text.length) {
      const d = text[i]!;
      if (d === '\\' && i + 1 < text.length) { s += d + text[i + 1]!; i += 2; continue; }
      if (d === ' ' || d === '\t' || d === '\n' || d === '\r' || d === ';' || d === '(' || d === ')' || d === '"') break;
      s += d;
      i++;
    }
    tokens.push({ text: s, quoted: false });
  }
  if (depth !== 0) fail('unbalanced "("');
  endEntry();
  return entries;
}

const CLASSES: Record<string, number> = { IN: QCLASS.IN, CH: QCLASS.CH, HS: 4 };

function classCode(text: string): number | undefined {
  const up = text.toUpperCase();
  if (CLASSES[up] !== undefined) return CLASSES[up];
  const m = /^CLASS(\d{1,5})$/.exec(up);
  return m && Number(m[1]) <= 65535 ? Number(m[1]) : undefined;
}

/** Options of a parse: the starting origin and default TTL. */
export interface MasterFileOptions {
  origin: DnsName;
  defaultTtl?: number;
  /** Read an included file (tests may supply their own). */
  readFile?: (path: string) => string;
}

/**
 * Parse an RFC 1035 §5 master file: $ORIGIN, $TTL (RFC 2308 §4), $INCLUDE (origin restored after it,
 * §5.1), relative names, "@", blank owner = previous owner, parentheses, comments, escapes, the
 * types A AAAA CNAME NS SOA MX TXT SRV PTR CAA and RFC 3597 TYPEnnn / \# for any type.
 */
export function parseMasterFile(text: string, file: string, opts: MasterFileOptions): WireRR[] {
  const out: WireRR[] = [];
  const read = opts.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  const state = { lastOwner: undefined as DnsName | undefined, lastTtl: undefined as number | undefined, defaultTtl: opts.defaultTtl };
  parseInto(text, file, opts.origin, 0);
  return out;

  function parseInto(body: string, path: string, startOrigin: DnsName, depth: number): void {
    if (depth > 8) throw new AppError(ErrorCode.DNS_ERR_ZONE_FILE, `${path}: $INCLUDE nested too deep`);
    let origin = startOrigin;
    for (const e of tokenize(body, path)) {
      const fail = (msg: string): never => { throw new AppError(ErrorCode.DNS_ERR_ZONE_FILE, `${path}:${e.line}: ${msg}`); };
      try {
        const first = e.tokens[0]!;
        if (!e.indented && !first.quoted && first.text.startsWith('$')) {
          const dir = first.text.toUpperCase();
          if (dir === '$ORIGIN') {
            if (e.tokens.length !== 2) fail('$ORIGIN takes one name');
            origin = parseName(e.tokens[1]!.text, origin);
          } else if (dir === '$TTL') {
            if (e.tokens.length !== 2) fail('$TTL takes one value');
            state.defaultTtl = parseTtl(e.tokens[1]!.text);
          } else if (dir === '$INCLUDE') {
            if (e.tokens.length < 2 || e.tokens.length > 3) fail('$INCLUDE takes a file and an optional origin');
            const inc = resolve(dirname(path), e.tokens[1]!.text);
            const incOrigin = e.tokens[2] ? parseName(e.tokens[2].text, origin) : origin;
            parseInto(read(inc), inc, incOrigin, depth + 1);
          } else fail(`unknown directive ${first.text}`);
          continue;
        }
        let k = 0;
        let owner: DnsName;
        if (e.indented) {
          if (!state.lastOwner) fail('no owner name (first record is indented)');
          owner = state.lastOwner!;
        } else {
          owner = parseName(first.text, origin);
          k = 1;
        }
        let ttl: number | undefined;
        let klass: number | undefined;
        let type: number | undefined;
        for (; k < e.tokens.length && type === undefined; k++) {
          const tx = e.tokens[k]!.text;
          if (ttl === undefined && /^\d/.test(tx)) { ttl = parseTtl(tx); continue; }
          const c = klass === undefined ? classCode(tx) : undefined;
          if (c !== undefined) { klass = c; continue; }
          type = typeCode(tx);
          if (type === undefined) fail(`unknown type or class "${tx}"`);
        }
        if (type === undefined) fail('no type');
        if (type === QTYPE.OPT || type === QTYPE.TSIG || type === QTYPE.ANY || type === QTYPE.AXFR || type === QTYPE.IXFR) fail('meta type in a zone file');
        const rdata = rdataFromText(type!, e.tokens.slice(k), origin);
        if (ttl === undefined) {
          ttl = state.defaultTtl ?? state.lastTtl;
          // RFC 2308 §4: without $TTL, an SOA's minimum is the fallback.
          if (ttl === undefined && type === QTYPE.SOA) ttl = (rdata[2] as Buffer).readUInt32BE(16);
          if (ttl === undefined) fail('no TTL and no $TTL');
        }
        state.lastOwner = owner;
        state.lastTtl = ttl;
        out.push({ owner, type: type!, class: klass ?? QCLASS.IN, ttl: ttl!, rdata });
      } catch (err) {
        if (err instanceof AppError && err.code === ErrorCode.DNS_ERR_ZONE_FILE) throw err;
        fail((err as Error).message);
      }
    }
  }
}
