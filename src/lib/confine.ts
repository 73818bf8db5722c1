import { realpath } from 'node:fs/promises';
import { sep } from 'node:path';

/*
 * Path confinement shared by TFTP and HTTP: a request names a file under the artifacts root and
 * nothing else. One function, one set of rules, so the two protocols cannot drift apart.
 *
 * 1. (HTTP only) percent-decode exactly once; malformed escapes are refused. A double-encoded
 *    "%252e%252e" decodes to the literal name "%2e%2e" and stays literal.
 * 2. Refuse NUL, other control characters and backslashes (no Windows/WDS path translation).
 * 3. Strip leading "/", drop empty and "." segments, refuse any ".." segment (even one that would
 *    stay inside: boot firmware never needs it, and refusing is simpler to reason about).
 * 4. realpath the result and refuse anything that resolves outside the (realpath'd) root: symlinks
 *    may point within the root, never out of it.
 */

/** Why a request path was refused. Callers count these (metrics.dropped reason). */
export type RefusedReason = 'nul' | 'control-char' | 'backslash' | 'dotdot' | 'bad-encoding' | 'outside-root' | 'too-long' | 'empty';

/** Outcome of the lexical check: a clean relative path ("a/b.efi", no leading "/") or a refusal. */
export type LexicalResult = { ok: true; rel: string } | { ok: false; reason: RefusedReason };

/** Outcome of confinement with the filesystem: a real absolute path inside the root, missing, or refused. */
export type ConfineResult =
  | { ok: true; rel: string; path: string }
  | { ok: false; reason: RefusedReason }
  | { ok: false; reason: 'missing'; rel: string };

export interface ConfineOptions {
  /** Percent-decode once before checking (HTTP request targets). */
  percentDecode?: boolean;
}

const MAX_PATH = 4096;

/** Pure lexical confinement (steps 1–3). */
export function confineLexical(requested: string, opts: ConfineOptions = {}): LexicalResult {
  let p = requested;
  if (p.length > MAX_PATH) return { ok: false, reason: 'too-long' };
  if (opts.percentDecode) {
    try {
      p = decodeURIComponent(p);
    } catch {
      return { ok: false, reason: 'bad-encoding' };
    }
  }
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c === 0) return { ok: false, reason: 'nul' };
    if (c < 0x20 || c === 0x7f) return { ok: false, reason: 'control-char' };
    if (c === 0x5c) return { ok: false, reason: 'backslash' };
  }
  const segs: string[] = [];
  for (const s of p.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') return { ok: false, reason: 'dotdot' };
    segs.push(s);
  }
  if (segs.length === 0) return { ok: false, reason: 'empty' };
  return { ok: true, rel: segs.join('/') };
}

/** realpath of a root, computed once by each server. */
export async function realRoot(root: string): Promise<string> {
  return realpath(root);
}

/** Step 4: resolve a clean relative path under the real root and refuse escapes through symlinks. */
export async function resolveUnder(rootReal: string, rel: string): Promise<ConfineResult> {
  let real: string;
  try {
    real = await realpath(rootReal + sep + rel);
  } catch {
    return { ok: false, reason: 'missing', rel };
  }
  const prefix = rootReal.endsWith(sep) ? rootReal : rootReal + sep;
  if (!real.startsWith(prefix)) return { ok: false, reason: 'outside-root' };
  return { ok: true, rel, path: real };
}

/** Full confinement (steps 1–4) of a requested path under rootReal (already realpath'd). */
export async function confine(rootReal: string, requested: string, opts: ConfineOptions = {}): Promise<ConfineResult> {
  const lex = confineLexical(requested, opts);
  if (!lex.ok) return lex;
  return resolveUnder(rootReal, lex.rel);
}
