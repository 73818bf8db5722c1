/** Time source. Services take a Clock so tests can move time; wall time for records, monotonic for timers. */
export interface Clock {
  /** Wall clock, ms since the epoch (what goes into the store). */
  now(): number;
  /** Monotonic ms, for expiry timers that must not jump with the wall clock. */
  mono(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  mono: () => Number(process.hrtime.bigint() / 1_000_000n),
};
