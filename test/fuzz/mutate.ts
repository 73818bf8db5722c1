/*
 * A small, dependency-free byte mutator (the AFL/libFuzzer havoc set, without coverage feedback):
 * bit flips, interesting 8/16/32-bit values, range delete/insert/duplicate/copy, truncate, splice
 * with another seed. Deterministic for a given seed, so any run can be replayed.
 */

/** mulberry32: a tiny seedable PRNG (32-bit state), good enough for fuzzing decisions. */
export class Rng {
  private s: number;
  constructor(seed: number) { this.s = seed >>> 0; }
  /** A uint32. */
  u32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** An integer in [0, n). */
  below(n: number): number { return n <= 0 ? 0 : this.u32() % n; }
  /** True with probability p. */
  chance(p: number): boolean { return this.u32() / 4294967296 < p; }
  pick<T>(xs: readonly T[]): T { return xs[this.below(xs.length)]!; }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
}

const I8 = [0x00, 0x01, 0x02, 0x3f, 0x40, 0x7f, 0x80, 0xc0, 0xfe, 0xff, 0x10, 0x20, 0x35, 0x34, 0x52];
const I16 = [0x0000, 0x0001, 0x0002, 0x00ff, 0x0100, 0x01ff, 0x0200, 0x03ff, 0x7fff, 0x8000, 0xc000, 0xc00c, 0xfffe, 0xffff, 0x0029, 0x00fa, 0x00fc, 0x00fb];
const I32 = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0x63825363, 0x0000ffff];

/** Mutate one seed (never modifies it); `others` are used for splicing. `max` bounds the output length. */
export function mutate(rng: Rng, seed: Buffer, others: readonly Buffer[], max = 1500): Buffer {
  let b = Buffer.from(seed);
  const rounds = 1 + rng.below(rng.chance(0.2) ? 16 : 4);
  for (let r = 0; r < rounds; r++) {
    const n = b.length;
    switch (rng.below(14)) {
      case 0: if (n) { const i = rng.below(n); b[i] = b[i]! ^ (1 << rng.below(8)); } break;
      case 1: if (n) b[rng.below(n)] = rng.u32() & 0xff; break;
      case 2: if (n) b[rng.below(n)] = rng.pick(I8); break;
      case 3: if (n >= 2) b.writeUInt16BE(rng.pick(I16), rng.below(n - 1)); break;
      case 4: if (n >= 4) b.writeUInt32BE(rng.pick(I32), rng.below(n - 3)); break;
      case 5: if (n >= 2) { const v = b.readUInt16BE(rng.below(n - 1)); b.writeUInt16BE((v + rng.below(33) - 16) & 0xffff, rng.below(n - 1)); } break;
      case 6: if (n) { const i = rng.below(n); const len = 1 + rng.below(Math.min(32, n - i)); b = Buffer.concat([b.subarray(0, i), b.subarray(i + len)]); } break;
      case 7: { const i = rng.below(n + 1); b = Buffer.concat([b.subarray(0, i), rng.bytes(1 + rng.below(16)), b.subarray(i)]); break; }
      case 8: if (n) { const i = rng.below(n); const len = 1 + rng.below(Math.min(64, n - i)); const at = rng.below(n + 1); b = Buffer.concat([b.subarray(0, at), Buffer.from(b.subarray(i, i + len)), b.subarray(at)]); } break;
      case 9: if (n >= 2) { const i = rng.below(n); const len = 1 + rng.below(Math.min(16, n - i)); const at = rng.below(n); Buffer.from(b.subarray(i, i + len)).copy(b, at); } break;
      case 10: if (n) b = b.subarray(0, rng.below(n)); break;
      case 11: b = Buffer.concat([b, rng.bytes(1 + rng.below(64))]); break;
      case 12: if (others.length) { const o = rng.pick(others); const cut = rng.below(Math.min(n, o.length) + 1); b = Buffer.concat([b.subarray(0, cut), o.subarray(cut)]); } break;
      case 13: if (n) { const i = rng.below(n); const len = 1 + rng.below(Math.min(8, n - i)); b.fill(rng.pick(I8), i, i + len); } break;
    }
  }
  return b.length > max ? b.subarray(0, max) : b;
}

/** Next input: mostly a mutated seed, sometimes pure random bytes, sometimes a seed as is. */
export function nextInput(rng: Rng, seeds: readonly Buffer[], max = 1500): Buffer {
  const k = rng.below(100);
  if (k < 3 || seeds.length === 0) return rng.bytes(rng.below(Math.min(max, 700)));
  const s = rng.pick(seeds);
  if (k < 5) return s;
  return mutate(rng, s, seeds, max);
}
