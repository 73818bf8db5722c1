import { hostname as osHostname } from 'node:os';
import type { Config } from '../config/types.js';
import type { Inventory } from '../inventory/types.js';
import type { Store, AuthorityState, Lease, JournalEntry } from '../store/ports.js';
import type { Logger } from '../lib/logger.js';
import type { Clock } from '../lib/clock.js';
import { AppError, ErrorCode } from '../lib/errors.js';
import { plan, afterChecks, recover, TARGET, type Direction, type CheckResult } from './machine.js';
import { runHook, type HookResult } from './hooks.js';
import { checkRouterDns } from './dns-check.js';

export interface DhcpOffer { serverId: string; yiaddr: string; from: string; iface?: string }

export interface RunnerDeps {
  store: Store;
  config: () => Config;
  inventory: () => Inventory;
  logger: Logger;
  clock: Clock;
  /** Called after every committed change of the authority state (fencing reads it at once). */
  onChange: (s: AuthorityState) => void;
  /** Send a DISCOVER on each served interface, collect OFFERs (~2 s). Wired by main to dhcp4. */
  probeDhcp?: (timeoutMs: number) => Promise<DhcpOffer[]>;
  /** Our own DHCP server identifiers (option 54), to tell our offers from a rival's. */
  ourServerIds?: () => string[];
  /** Parse a router lease file (Kea memfile CSV or dnsmasq leases). Wired by main to authority/import. */
  parseLeases?: (text: string, now: number) => { leases: Lease[]; skipped: { line: number; reason: string }[] };
  /** Hand imported leases to the running DHCP service (after they are in the store). */
  adoptLeases?: (leases: Lease[]) => Promise<void> | void;
}

export interface TransitionRequest {
  dryRun?: boolean;
  force?: boolean;
  operator: string;
  /** Revert: the router's lease file content. */
  leaseFile?: { name: string; text: string };
}

export interface TransitionReport {
  ok: boolean;
  direction: Direction;
  dryRun: boolean;
  forced: boolean;
  from: { mode: string; epoch: number };
  to?: { mode: string; epoch: number };
  checks: CheckResult[];
  hooks: HookResult[];
  imported?: { leases: number; skipped: number };
  reason?: string;
  journalId?: number;
}

/**
 * Performs authority transitions: the effects the pure machine (machine.ts) decides. One transition
 * at a time; the flip is one compare-and-swap transaction in the store.
 */
export function createAuthorityRunner(deps: RunnerDeps) {
  let busy = false;
  const host = osHostname();

  async function current(): Promise<AuthorityState> {
    const s = await deps.store.authority.get();
    if (!s) throw new AppError(ErrorCode.AUTHORITY_ERR_EPOCH, 'no authority state in the store');
    return s;
  }

  async function transition(direction: Direction, req: TransitionRequest): Promise<TransitionReport> {
    if (busy) throw new AppError(ErrorCode.AUTHORITY_ERR_EPOCH, 'another transition is running');
    busy = true;
    try {
      return await run(direction, req);
    } finally {
      busy = false;
    }
  }

  async function run(direction: Direction, req: TransitionRequest): Promise<TransitionReport> {
    const config = deps.config();
    const state = await current();
    const dryRun = !!req.dryRun, force = !!req.force;
    const report: TransitionReport = { ok: false, direction, dryRun, forced: false, from: { mode: state.mode, epoch: state.epoch }, checks: [], hooks: [] };
    const decision = plan(state.mode, direction, { force, dryRun, importLeases: !!req.leaseFile });
    if (decision.action === 'refuse') { report.reason = decision.reason; return report; }
    deps.logger.info({ event: `authority.${direction}.start`, operator: req.operator, dryRun, force, epoch: state.epoch }, `${direction} requested`);

    // Pre-flight.
    report.checks = direction === 'promote' ? await promoteChecks(config) : await revertChecks();
    let imported: Lease[] = [];
    if (req.leaseFile) {
      if (!deps.parseLeases) throw new AppError(ErrorCode.AUTHORITY_ERR_CHECK, 'lease import is not available');
      const parsed = deps.parseLeases(req.leaseFile.text, deps.clock.now());
      imported = parsed.leases;
      report.imported = { leases: parsed.leases.length, skipped: parsed.skipped.length };
      report.checks.push({
        name: 'import-leases', ok: true,
        detail: `${parsed.leases.length} active leases from ${req.leaseFile.name}, ${parsed.skipped.length} lines skipped`,
        ...(parsed.skipped.length ? { findings: parsed.skipped.slice(0, 50) } : {}),
      });
    }
    const verdict = afterChecks(report.checks, force);
    report.forced = verdict.forced;
    if (!verdict.proceed) {
      report.reason = `pre-flight failed: ${verdict.failed.map((c) => `${c.name}: ${c.detail}`).join('; ')} — nothing changed (use --force to override)`;
      await saveChecks(state, report.checks);
      deps.logger.warn({ event: `authority.${direction}.refused`, checks: report.checks }, report.reason);
      return report;
    }
    if (dryRun) { report.ok = true; report.reason = 'dry run: checks passed, nothing changed'; return report; }

    // Imported leases go into the store before the flip, so the first DHCP answer after it knows them.
    if (imported.length) {
      await deps.store.leases.put(imported);
      await deps.adoptLeases?.(imported);
    }

    const env = (epoch: number) => ({ BUILDERD_DIRECTION: direction, BUILDERD_FROM: state.mode, BUILDERD_TO: TARGET[direction], BUILDERD_EPOCH: String(epoch), BUILDERD_OPERATOR: req.operator });
    const pre = await runHook(config.authority.hooks, `pre-${direction}`, env(state.epoch));
    report.hooks.push(pre);
    if (!pre.ok && !force) {
      report.reason = `hook pre-${direction} failed (exit ${pre.code}): nothing changed`;
      return report;
    }

    // The flip: one transaction — mode, epoch + 1, pending marker for the post-hook, journal entry.
    const now = deps.clock.now();
    const next: AuthorityState = {
      mode: TARGET[direction], epoch: state.epoch + 1, since: now, by: req.operator,
      pending: { direction, step: 'post-hooks', startedAt: now }, lastChecks: report.checks, planned: null,
    };
    const entry: JournalEntry = {
      at: now, kind: `authority.${direction}`, operator: req.operator, host,
      detail: { from: state.mode, to: next.mode, epoch: next.epoch, forced: report.forced, checks: report.checks, hooks: [summarise(pre)], imported: report.imported },
    };
    await deps.store.authority.set(state.epoch, next, entry);
    deps.onChange(next);
    report.to = { mode: next.mode, epoch: next.epoch };
    deps.logger.info({ event: `authority.${direction}`, from: state.mode, to: next.mode, epoch: next.epoch, operator: req.operator, forced: report.forced }, `authority is now ${next.mode}`);

    report.hooks.push(await finish(next, direction, req.operator));
    report.ok = true;
    const log = await deps.store.journal.list(1);
    if (log[0]?.id !== undefined) report.journalId = log[0].id;
    return report;
  }

  /** Post-hook, then clear the pending marker (also used by crash recovery). */
  async function finish(state: AuthorityState, direction: Direction, operator: string): Promise<HookResult> {
    const post = await runHook(deps.config().authority.hooks, `post-${direction}`, {
      BUILDERD_DIRECTION: direction, BUILDERD_TO: state.mode, BUILDERD_EPOCH: String(state.epoch), BUILDERD_OPERATOR: operator,
    });
    const done: AuthorityState = { ...state, pending: null };
    const entry: JournalEntry | undefined = post.ran
      ? { at: deps.clock.now(), kind: `authority.${direction}.post-hook`, operator, host, detail: summarise(post) }
      : undefined;
    await deps.store.authority.set(state.epoch, done, entry);
    deps.onChange(done);
    if (!post.ok) deps.logger.error({ event: `authority.${direction}.post_hook_failed`, hook: summarise(post) }, `post-${direction} hook failed; the mode change stands`);
    return post;
  }

  async function promoteChecks(config: Config): Promise<CheckResult[]> {
    const inv = deps.inventory();
    const handed = inv.zones.filter((z) => z.kind !== 'mgmt');
    const checks: CheckResult[] = [];
    try {
      checks.push(await checkRouterDns(config.authority.router.dns, handed));
    } catch (e) {
      checks.push({ name: 'router-dns', ok: false, detail: `cannot query ${config.authority.router.dns}: ${(e as Error).message}` });
    }
    if (config.authority.router.dhcpProbe) {
      if (!deps.probeDhcp) checks.push({ name: 'router-dhcp', ok: false, detail: 'DHCP probe not available' });
      else {
        const ours = new Set(deps.ourServerIds?.() ?? []);
        const offers = (await deps.probeDhcp(2000)).filter((o) => !ours.has(o.serverId));
        checks.push(offers.length
          ? { name: 'router-dhcp', ok: true, detail: `offer from ${offers[0]!.serverId} (${offers[0]!.yiaddr})`, findings: offers }
          : { name: 'router-dhcp', ok: false, detail: 'no DHCP server other than builderd answered a DISCOVER within 2 s' });
      }
    }
    return checks;
  }

  async function revertChecks(): Promise<CheckResult[]> {
    if (!deps.probeDhcp) return [{ name: 'rival-dhcp', ok: true, detail: 'no served DHCP interfaces to probe' }];
    const ours = new Set(deps.ourServerIds?.() ?? []);
    let offers: DhcpOffer[];
    try {
      offers = (await deps.probeDhcp(2000)).filter((o) => !ours.has(o.serverId));
    } catch (e) {
      return [{ name: 'rival-dhcp', ok: false, detail: `probe failed: ${(e as Error).message}` }];
    }
    return [offers.length
      ? { name: 'rival-dhcp', ok: false, detail: `another DHCP server answers on the segment: ${offers.map((o) => `${o.serverId}${o.iface ? ` on ${o.iface}` : ''} offered ${o.yiaddr}`).join(', ')}`, findings: offers }
      : { name: 'rival-dhcp', ok: true, detail: 'no other DHCP server answered a DISCOVER within 2 s' }];
  }

  async function saveChecks(state: AuthorityState, checks: CheckResult[]): Promise<void> {
    try { await deps.store.authority.set(state.epoch, { ...state, lastChecks: { at: deps.clock.now(), checks } }); } catch { /* informative only */ }
  }

  return {
    promote: (req: TransitionRequest) => transition('promote', req),
    revert: (req: TransitionRequest) => transition('revert', req),
    /** Announce a transition: leases handed out from now on are short, so clients move sooner. */
    async plan(direction: Direction | null, operator: string): Promise<AuthorityState> {
      const s = await current();
      const leaseTime = deps.config().authority.transitionLeaseTime;
      const next: AuthorityState = { ...s, planned: direction ? { direction, at: deps.clock.now(), leaseTime, by: operator } : null };
      await deps.store.authority.set(s.epoch, next, {
        at: deps.clock.now(), kind: direction ? 'authority.plan' : 'authority.plan.cancel', operator, host,
        detail: direction ? { direction, leaseTime } : {},
      });
      deps.onChange(next);
      return next;
    },
    /** At start-up: finish a transition a crash interrupted after its flip. */
    async recoverOnStart(): Promise<{ recovered: boolean; state: AuthorityState }> {
      const s = await current();
      const r = recover(s.pending as { direction: Direction; step: string } | null | undefined);
      if (r.action === 'none') return { recovered: false, state: s };
      deps.logger.warn({ event: 'authority.recover', direction: r.direction, epoch: s.epoch, mode: s.mode }, 'finishing a transition interrupted by a crash');
      await deps.store.journal.append({ at: deps.clock.now(), kind: 'authority.recover', operator: 'builderd', host, detail: { direction: r.direction, epoch: s.epoch, mode: s.mode } });
      await finish(s, r.direction, 'builderd');
      return { recovered: true, state: (await current()) };
    },
    status: current,
  };
}

export type AuthorityRunner = ReturnType<typeof createAuthorityRunner>;

function summarise(h: HookResult) {
  return { hook: h.hook, ran: h.ran, ok: h.ok, code: h.code, ms: h.ms, output: h.output.slice(-512) };
}
