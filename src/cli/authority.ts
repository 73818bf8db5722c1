import { readFileSync } from 'node:fs';
import { callDaemon, EXIT, fail } from './common.js';
import { operator } from '../main.js';

export const help = `builderd authority <status|promote|revert|plan|log> --config FILE [options]
  status [--json]                          mode, epoch, since when, by whom, last checks
  promote [--dry-run] [--force] [--json]   hand DHCP and the site zones to the router (checks it first)
  revert [--import-leases FILE] [--dry-run] [--force] [--json]
                                           take authority back; works with the router dead
  plan promote|revert|cancel               hand out short leases ahead of a planned transition
  log [--json] [--limit N]                 the authority journal
Exit 0 done; 3 refused by a check (nothing changed); 1 error.`;

interface Report {
  ok: boolean; direction: string; dryRun: boolean; forced: boolean; reason?: string;
  from: { mode: string; epoch: number }; to?: { mode: string; epoch: number };
  checks: { name: string; ok: boolean; detail: string; findings?: unknown[] }[];
  hooks: { hook: string; ran: boolean; ok: boolean; code: number | null }[];
}

export async function run(flags: Record<string, string | boolean>, configFile: string, positionals: string[]): Promise<number> {
  const [sub, arg] = positionals;
  const json = !!flags['json'];
  try {
    switch (sub) {
      case 'status': {
        const s = await callDaemon(configFile, 'authority.status') as Record<string, unknown>;
        if (json) { process.stdout.write(JSON.stringify(s, null, 2) + '\n'); return EXIT.OK; }
        process.stdout.write([
          `mode:   ${String(s['mode'])}`,
          `epoch:  ${String(s['epoch'])}`,
          `since:  ${new Date(Number(s['since'])).toISOString()} by ${String(s['by'])}`,
          s['planned'] ? `planned: ${JSON.stringify(s['planned'])}` : '',
          s['pending'] ? `PENDING: ${JSON.stringify(s['pending'])}` : '',
          s['lastChecks'] ? `last checks: ${JSON.stringify(s['lastChecks'])}` : '',
        ].filter(Boolean).join('\n') + '\n');
        return EXIT.OK;
      }
      case 'promote':
      case 'revert': {
        const args: Record<string, unknown> = { dryRun: !!flags['dry-run'], force: !!flags['force'], operator: operator() };
        if (typeof flags['import-leases'] === 'string') {
          if (sub !== 'revert') { process.stderr.write('--import-leases is for revert\n'); return EXIT.USAGE; }
          args['leaseFile'] = { name: flags['import-leases'], text: readFileSync(flags['import-leases'], 'utf8') };
        }
        const r = await callDaemon(configFile, `authority.${sub}`, args, 300_000) as Report;
        if (json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
        else printReport(r);
        return r.ok ? EXIT.OK : EXIT.REFUSED;
      }
      case 'plan': {
        if (arg !== 'promote' && arg !== 'revert' && arg !== 'cancel') { process.stderr.write(help + '\n'); return EXIT.USAGE; }
        const s = await callDaemon(configFile, 'authority.plan', arg === 'cancel' ? { cancel: true, operator: operator() } : { direction: arg, operator: operator() });
        process.stdout.write(json ? JSON.stringify(s, null, 2) + '\n' : `planned: ${JSON.stringify((s as { planned: unknown }).planned)}\n`);
        return EXIT.OK;
      }
      case 'log': {
        const limit = typeof flags['limit'] === 'string' ? Number(flags['limit']) : 100;
        const entries = await callDaemon(configFile, 'authority.log', { limit }) as { id: number; at: number; kind: string; operator: string; host: string; detail: unknown }[];
        if (json) { process.stdout.write(JSON.stringify(entries, null, 2) + '\n'); return EXIT.OK; }
        for (const e of entries) {
          const d = e.detail as { from?: string; to?: string; epoch?: number; forced?: boolean } | undefined;
          process.stdout.write(`${e.id}\t${new Date(e.at).toISOString()}\t${e.kind}\t${e.operator}@${e.host}\t${d?.from ? `${d.from} → ${d.to} epoch ${d.epoch}${d.forced ? ' FORCED' : ''}` : JSON.stringify(e.detail)}\n`);
        }
        return EXIT.OK;
      }
      default:
        process.stderr.write(help + '\n');
        return EXIT.USAGE;
    }
  } catch (e) {
    fail(e);
  }
}

function printReport(r: Report): void {
  const lines = [`${r.direction}${r.dryRun ? ' (dry run)' : ''}: ${r.ok ? 'OK' : 'REFUSED'}${r.forced ? ' (FORCED)' : ''}`];
  for (const c of r.checks) {
    lines.push(`  [${c.ok ? ' ok ' : 'FAIL'}] ${c.name}: ${c.detail}`);
    for (const f of (c.findings ?? []).slice(0, 20)) lines.push(`         ${typeof f === 'string' ? f : JSON.stringify(f)}`);
  }
  for (const h of r.hooks) if (h.ran) lines.push(`  hook ${h.hook}: ${h.ok ? 'ok' : `failed (exit ${h.code})`}`);
  if (r.to) lines.push(`  ${r.from.mode} (epoch ${r.from.epoch}) → ${r.to.mode} (epoch ${r.to.epoch})`);
  if (r.reason) lines.push(`  ${r.reason}`);
  process.stdout.write(lines.join('\n') + '\n');
}
