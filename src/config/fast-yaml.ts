/*
 * A fast reader for the plain subset of YAML 1.2 that config files are written in: block mappings
 * and sequences, one-line flow collections, plain and quoted one-line scalars, comments. It exists
 * for start-up time: a 10,000-host inventory takes the full `yaml` parser (with positions, which
 * error messages need) about a second, this reader a few tens of milliseconds.
 *
 * It never guesses. Anything outside the subset (anchors, aliases, tags, block scalars, multi-line
 * scalars or flow collections, escapes, complex or quoted keys, duplicate keys, numbers other than
 * plain decimal integers, directives, several documents, tabs) makes it return undefined, and the
 * caller parses with `yaml` instead. Where it does return a value, that value equals
 * `parseDocument(text).toJS()` (YAML 1.2 core schema), which test/unit/config-fast-yaml.test.ts checks.
 */

/** Thrown inside the reader when the text leaves the subset; never escapes this module. */
class Unsupported extends Error {}

function unsupported(): never {
  throw new Unsupported();
}

interface Line {
  /** Column of the first non-space character. */
  indent: number;
  /** The line from `indent` on (never empty, never a comment-only line). */
  text: string;
}

/** Keys are plain words that the core schema reads as strings. */
const KEY = /^([A-Za-z_][A-Za-z0-9_.\-/]*)[ ]*:(?: +|$)/;
const NON_STRING_KEYS = new Set(['null', 'Null', 'NULL', 'true', 'True', 'TRUE', 'false', 'False', 'FALSE', '__proto__']);
/** YAML 1.2 core schema (§10.3.2) scalar forms. */
const DECIMAL = /^[-+]?[0-9]+$/;
const OTHER_NUMBER = /^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|0o[0-7]+|0x[0-9a-fA-F]+|[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
/** Characters a plain scalar may not start with here (indicators, §5.3), beyond `-`, `?` and `:` handled apart. */
const BAD_FIRST = new Set([',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '%', '@', '`', '?', ':']);

/** Parse `text` when it lies in the subset; undefined when it does not (use the full parser). */
export function fastYaml(text: string): unknown {
  try {
    return readDocument(text);
  } catch (e) {
    if (e instanceof Unsupported) return undefined;
    throw e;
  }
}

function readDocument(text: string): unknown {
  if (text.includes('\t') || text.includes('\r') || text.charCodeAt(0) === 0xfeff) unsupported();
  const lines: Line[] = [];
  let start = 0;
  const n = text.length;
  while (start <= n) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = n;
    let i = start;
    while (i < end && text.charCodeAt(i) === 32) i++;
    if (i < end && text.charCodeAt(i) !== 35 /* # */) {
      const indent = i - start;
      let body = text.slice(i, end);
      if (indent === 0 && (body.startsWith('---') || body.startsWith('...') || body.startsWith('%'))) unsupported();
      // Trailing spaces never matter outside quotes; a quoted scalar ending in spaces stays intact.
      body = body.replace(/ +$/, '');
      lines.push({ indent, text: body });
    }
    start = end + 1;
  }
  if (lines.length === 0) return null;
  if (lines[0]!.indent !== 0) unsupported();
  const r = new Reader(lines);
  if (!KEY.test(lines[0]!.text)) unsupported(); // a config is a mapping at the top
  const v = r.mapping(0);
  if (r.pos < lines.length) unsupported();
  return v;
}

class Reader {
  readonly lines: Line[];
  pos = 0;
  constructor(lines: Line[]) {
    this.lines = lines;
  }

  /** The block node starting at the current line, whose indent is `indent`. */
  node(indent: number): unknown {
    const l = this.lines[this.pos]!;
    if (l.text === '-' || l.text.startsWith('- ')) return this.sequence(indent);
    if (KEY.test(l.text)) return this.mapping(indent);
    // A lone scalar on its own line (a sequence entry written as "-\n  value" and the like).
    this.pos++;
    const v = inlineValue(l.text);
    this.noDeeper(indent);
    return v;
  }

  /** After a one-line value, the next line may not be deeper than the collection holding it. */
  noDeeper(indent: number): void {
    const next = this.lines[this.pos];
    if (next && next.indent > indent) unsupported();
  }

  mapping(indent: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const keys = new Set<string>();
    while (this.pos < this.lines.length) {
      const l = this.lines[this.pos]!;
      if (l.indent < indent) break;
      if (l.indent > indent) unsupported();
      const m = KEY.exec(l.text);
      if (!m) unsupported();
      const key = m[1]!;
      if (NON_STRING_KEYS.has(key) || keys.has(key) || DECIMAL.test(key) || OTHER_NUMBER.test(key)) unsupported();
      keys.add(key);
      const rest = l.text.slice(m[0].length);
      this.pos++;
      if (rest === '' || rest.startsWith('#')) {
        const next = this.lines[this.pos];
        if (next && next.indent > indent) out[key] = this.node(next.indent);
        else if (next && next.indent === indent && (next.text === '-' || next.text.startsWith('- '))) out[key] = this.sequence(indent);
        else out[key] = null;
      } else {
        out[key] = inlineValue(rest);
        this.noDeeper(indent);
      }
    }
    return out;
  }

  sequence(indent: number): unknown[] {
    const out: unknown[] = [];
    while (this.pos < this.lines.length) {
      const l = this.lines[this.pos]!;
      if (l.indent !== indent || !(l.text === '-' || l.text.startsWith('- '))) {
        if (l.indent > indent) unsupported();
        break;
      }
      if (l.text === '-') {
        this.pos++;
        const next = this.lines[this.pos];
        if (next && next.indent > indent) out.push(this.node(next.indent));
        else out.push(null);
        continue;
      }
      // "- rest": the entry's content starts at the column of `rest`, as if on a line of its own.
      let k = 1;
      while (l.text.charCodeAt(k) === 32) k++;
      const rest = l.text.slice(k);
      if (rest.startsWith('#')) unsupported();
      this.lines[this.pos] = { indent: indent + k, text: rest };
      out.push(this.node(indent + k));
    }
    return out;
  }
}

/** A value written after "key: " or "- ": flow collection, quoted or plain scalar, then only a comment. */
function inlineValue(s: string): unknown {
  const c = s[0]!;
  if (c === '[' || c === '{') {
    const f = new Flow(s);
    const v = f.value();
    f.end();
    return v;
  }
  if (c === '"' || c === "'") {
    const { value, end } = quoted(s, 0);
    const tail = s.slice(end).trimStart();
    if (tail !== '' && !(tail.startsWith('#') && end < s.length && s[end] === ' ')) unsupported();
    return value;
  }
  if (BAD_FIRST.has(c) || s.startsWith('- ') || s === '-') unsupported();
  const hash = s.indexOf(' #');
  const plain = (hash >= 0 ? s.slice(0, hash) : s).trimEnd();
  if (plain.includes(': ') || plain.endsWith(':') || plain.includes('\\')) unsupported();
  return scalar(plain);
}

/** A plain scalar's value under the YAML 1.2 core schema. */
function scalar(s: string): unknown {
  switch (s) {
    case '': case '~': case 'null': case 'Null': case 'NULL': return null;
    case 'true': case 'True': case 'TRUE': return true;
    case 'false': case 'False': case 'FALSE': return false;
  }
  if (DECIMAL.test(s)) {
    if (s.replace(/^[-+]/, '').length > 15) unsupported(); // beyond exact doubles: let `yaml` decide
    return parseInt(s, 10);
  }
  if (OTHER_NUMBER.test(s)) unsupported();
  return s;
}

/** A one-line quoted scalar starting at s[i]; escapes are left to the full parser. */
function quoted(s: string, i: number): { value: string; end: number } {
  const q = s[i]!;
  if (q === '"') {
    const close = s.indexOf('"', i + 1);
    if (close < 0) unsupported();
    const v = s.slice(i + 1, close);
    if (v.includes('\\')) unsupported();
    return { value: v, end: close + 1 };
  }
  let out = '';
  let j = i + 1;
  for (;;) {
    const close = s.indexOf("'", j);
    if (close < 0) unsupported();
    out += s.slice(j, close);
    if (s[close + 1] === "'") { out += "'"; j = close + 2; continue; }
    return { value: out, end: close + 1 };
  }
}

/** One-line flow collections (§7.4): `[a, b]`, `{ k: v, k2: [x] }`. */
class Flow {
  readonly s: string;
  i = 0;
  constructor(s: string) {
    this.s = s;
  }

  private ws(): void {
    while (this.s.charCodeAt(this.i) === 32) this.i++;
  }

  /** Only spaces and a comment may follow the collection. */
  end(): void {
    const start = this.i;
    this.ws();
    if (this.i === this.s.length) return;
    if (this.s[this.i] === '#' && this.i > start) return;
    unsupported();
  }

  value(): unknown {
    this.ws();
    const c = this.s[this.i];
    if (c === '[') return this.seq();
    if (c === '{') return this.map();
    if (c === '"' || c === "'") {
      const { value, end } = quoted(this.s, this.i);
      this.i = end;
      return value;
    }
    return this.plain();
  }

  private plain(): unknown {
    const start = this.i;
    while (this.i < this.s.length && !',[]{}'.includes(this.s[this.i]!)) this.i++;
    const p = this.s.slice(start, this.i).trimEnd();
    if (p === '' || BAD_FIRST.has(p[0]!) || p[0] === '-' && (p.length === 1 || p[1] === ' ')) unsupported();
    if (p.includes(':') || p.includes('#') || p.includes('\\') || p.includes('"') || p.includes("'")) unsupported();
    return scalar(p);
  }

  private seq(): unknown[] {
    this.i++;
    const out: unknown[] = [];
    this.ws();
    if (this.s[this.i] === ']') { this.i++; return out; }
    for (;;) {
      out.push(this.value());
      this.ws();
      const c = this.s[this.i];
      this.i++;
      if (c === ']') return out;
      if (c !== ',') unsupported();
      this.ws();
      if (this.s[this.i] === ']') unsupported(); // trailing comma: leave it to `yaml`
    }
  }

  private map(): Record<string, unknown> {
    this.i++;
    const out: Record<string, unknown> = {};
    const keys = new Set<string>();
    this.ws();
    if (this.s[this.i] === '}') { this.i++; return out; }
    for (;;) {
      this.ws();
      const m = KEY.exec(this.s.slice(this.i));
      if (!m || !m[0].endsWith(' ')) unsupported();
      const key = m[1]!;
      if (NON_STRING_KEYS.has(key) || keys.has(key) || DECIMAL.test(key) || OTHER_NUMBER.test(key)) unsupported();
      keys.add(key);
      this.i += m[0].length;
      const c = this.s[this.i];
      if (c === ',' || c === '}' || c === undefined) unsupported(); // an empty value: leave it to `yaml`
      out[key] = this.value();
      this.ws();
      const d = this.s[this.i];
      this.i++;
      if (d === '}') return out;
      if (d !== ',') unsupported();
      this.ws();
      if (this.s[this.i] === '}') unsupported();
    }
  }
}
