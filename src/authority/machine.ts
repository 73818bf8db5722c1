/*
 * The authority transition as data (ARCHITECTURE.md habit 5): states, events, one table, effects as
 * values. The runner (runner.ts) performs the effects; this file decides.
 *
 *   state \ event        promote                       revert
 *   bootstrap            preflight→pre-hooks→flip→post  refused: already bootstrap (unless --force re-asserts)
 *   production           refused: already production   preflight→import→pre-hooks→flip→post
 *
 * The flip is the only step that changes the mode: one store transaction (compare-and-swap on the
 * epoch, epoch + 1, journal entry, `pending` marker for the post-hooks). A crash before it leaves the
 * old mode; a crash after it leaves the new one, and the restart runs the outstanding post-hooks.
 */
import type { AuthorityMode } from '../store/ports.js';

export type Direction = 'promote' | 'revert';
export type Step = 'preflight' | 'import' | 'pre-hooks' | 'flip' | 'post-hooks' | 'done';

/** Target mode of a direction. */
export const TARGET: Record<Direction, AuthorityMode> = { promote: 'production', revert: 'bootstrap' } as const;

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
  /** Mismatches or findings, when there are any. */
  findings?: unknown[];
}

export type Decision =
  | { action: 'refuse'; reason: string }
  | { action: 'run'; steps: Step[] };

/** Decide whether a transition may start, and its steps. Pure. */
export function plan(mode: AuthorityMode, direction: Direction, opts: { force: boolean; importLeases: boolean; dryRun: boolean }): Decision {
  if (mode === TARGET[direction] && !opts.force) {
    return { action: 'refuse', reason: `already ${mode}: nothing to ${direction} (use --force to re-run the hooks and journal it)` };
  }
  const steps: Step[] = ['preflight'];
  if (direction === 'revert' && opts.importLeases) steps.push('import');
  if (opts.dryRun) return { action: 'run', steps };
  steps.push('pre-hooks', 'flip', 'post-hooks', 'done');
  return { action: 'run', steps };
}

/** After preflight: go on, or stop with nothing changed. Pure. */
export function afterChecks(checks: readonly CheckResult[], force: boolean): { proceed: boolean; forced: boolean; failed: CheckResult[] } {
  const failed = checks.filter((c) => !c.ok);
  if (failed.length === 0) return { proceed: true, forced: false, failed };
  return force ? { proceed: true, forced: true, failed } : { proceed: false, forced: false, failed };
}

/** What a restart must do with a `pending` marker found in the store. Pure. */
export function recover(pending: { direction: Direction; step: string } | null | undefined): { action: 'none' } | { action: 'finish'; direction: Direction; hooks: 'post' } {
  if (!pending) return { action: 'none' };
  // The marker is written only by the flip transaction, so its presence means the mode already changed
  // and only the post-hooks may be outstanding.
  return { action: 'finish', direction: pending.direction, hooks: 'post' };
}
