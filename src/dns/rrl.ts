/** What RRL decides for one response. */
export type RrlVerdict = 'send' | 'slip' | 'drop';

/** RRL settings (config dns.rrl). */
export interface RrlOptions {
  responsesPerSecond: number;
  slip: number;
  window: number;
  /** Bound on tracked buckets; the table is cleared when it grows past this. */
  maxEntries?: number;
}

interface Bucket { balance: number; at: number; slipCount: number }

/**
 * Response rate limiting (the BIND/NSD RRL scheme): a token bucket per (client network, response)
 * refilled at `responsesPerSecond`, allowed to go `window` seconds into debt so a flood stays limited;
 * every `slip`-th limited response is sent truncated (TC=1) so a real client can retry over TCP.
 */
export class ResponseRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly opts: Required<RrlOptions>;

  constructor(opts: RrlOptions) {
    this.opts = { maxEntries: 100_000, ...opts };
  }

  /** True when RRL is on. */
  get enabled(): boolean {
    return this.opts.responsesPerSecond > 0;
  }

  /** Account one response for `key` at monotonic time `nowMs`. */
  check(key: string, nowMs: number): RrlVerdict {
    const { responsesPerSecond: rate, slip, window } = this.opts;
    if (rate <= 0) return 'send';
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.opts.maxEntries) this.buckets.clear();
      b = { balance: rate, at: nowMs, slipCount: 0 };
      this.buckets.set(key, b);
    } else {
      b.balance = Math.min(rate, b.balance + ((nowMs - b.at) / 1000) * rate);
      b.at = nowMs;
    }
    b.balance = Math.max(b.balance - 1, -window * rate);
    if (b.balance >= 0) return 'send';
    if (slip > 0 && ++b.slipCount % slip === 0) return 'slip';
    return 'drop';
  }
}

/** The client network RRL groups by: IPv4 /24, IPv6 /56. */
export function rrlPrefix(ip: string): string {
  if (ip.includes(':')) {
    if (ip.startsWith('::ffff:') && ip.includes('.')) return rrlPrefix(ip.slice(7));
    return ip.split(':').slice(0, 4).join(':');
  }
  const i = ip.lastIndexOf('.');
  return i < 0 ? ip : ip.slice(0, i);
}
