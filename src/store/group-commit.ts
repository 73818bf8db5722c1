/*
 * Group commit: every write submitted during one event-loop turn is applied in ONE transaction, flushed
 * from setImmediate (the check phase, after the poll phase that delivered this turn's packets), and every
 * caller's promise settles only after that transaction committed or failed. With synchronous=FULL one
 * fsync then covers a whole burst of DHCP ACKs instead of one fsync per ACK.
 *
 * Error rule: an operation may refuse itself by throwing an AppError BEFORE it writes anything (the
 * authority CAS does); only that caller is rejected and the rest of the batch commits. Any other throw
 * (SQLite: disk full, read-only, busy, I/O) aborts the transaction and rejects every caller in the batch
 * with STORE_ERR_WRITE, so nothing partial is ever visible.
 */
import { AppError, ErrorCode } from '../lib/errors.js';

interface Op {
  apply: () => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/** Runs `body` in one transaction; throws if the transaction (or the body) failed and was rolled back. */
export type RunBatch = (body: () => void) => void;

/** Observes each flushed batch (size, duration, outcome); for metrics and tests. */
export type BatchObserver = (info: { size: number; ms: number; ok: boolean }) => void;

/** The write queue of one store. */
export class GroupCommit {
  #queue: Op[] = [];
  #scheduled = false;
  #closed = false;
  readonly #runBatch: RunBatch;
  readonly #observer: BatchObserver | undefined;

  constructor(runBatch: RunBatch, observer?: BatchObserver) {
    this.#runBatch = runBatch;
    this.#observer = observer;
  }

  /** Queue `apply` for this turn's transaction; resolves with its result once committed. */
  submit<T>(apply: () => T): Promise<T> {
    if (this.#closed) return Promise.reject(new AppError(ErrorCode.STORE_ERR_WRITE, 'store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ apply, resolve: resolve as (v: unknown) => void, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Write everything queued now (a no-op when the queue is empty). */
  flush(): void {
    this.#scheduled = false;
    const batch = this.#queue;
    if (batch.length === 0) return;
    this.#queue = [];
    const results: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    const t0 = performance.now();
    try {
      this.#runBatch(() => {
        for (const op of batch) {
          try {
            results.push({ ok: true, value: op.apply() });
          } catch (e) {
            if (!(e instanceof AppError)) throw e;
            results.push({ ok: false, error: e });
          }
        }
      });
    } catch (e) {
      this.#observer?.({ size: batch.length, ms: performance.now() - t0, ok: false });
      const err = toWriteError(e, batch.length);
      for (const op of batch) op.reject(err);
      return;
    }
    this.#observer?.({ size: batch.length, ms: performance.now() - t0, ok: true });
    batch.forEach((op, i) => {
      const r = results[i];
      if (r === undefined) op.reject(new AppError(ErrorCode.STORE_ERR_WRITE, 'write was not applied'));
      else if (r.ok) op.resolve(r.value);
      else op.reject(r.error);
    });
  }

  /** Flush what is queued and refuse further writes. */
  close(): void {
    this.flush();
    this.#closed = true;
  }
}

function toWriteError(e: unknown, size: number): AppError {
  if (e instanceof AppError && e.code === ErrorCode.STORE_ERR_WRITE) return e;
  const code = (e as { code?: unknown }).code;
  const msg = e instanceof Error ? e.message : String(e);
  return new AppError(ErrorCode.STORE_ERR_WRITE,
    `store write failed, transaction of ${size} write(s) rolled back: ${msg}`,
    { cause: typeof code === 'string' ? code : undefined });
}
