import { resolve } from 'node:path';
import { callDaemon, EXIT, fail, loadOrExit } from './common.js';
import { restoreSqliteStore } from '../store/sqlite/index.js';
import type { Lease, BootEvent } from '../store/ports.js';

export const leasesHelp = `builderd leases --config FILE [--json] [--all]
  The leases the running daemon holds (bound and offered; --all includes released, expired, declined).`;
export const hostsHelp = `builderd hosts [NAME|MAC] --config FILE [--json]
  Inventory hosts with their interfaces, current lease and boot journey (DHCP, TFTP and HTTP events).`;
export const statusHelp = `builderd status --config FILE [--json]
  Mode and epoch, each service's health and addresses.`;
export const backupHelp = `builderd backup FILE --config FILE
  A consistent online copy of the store (leases, journal, authority state, serials), taken by the running daemon.`;
export const restoreHelp = `builderd restore FILE --config FILE [--force]
  Put a backup in place as this host's store (paths.state). builderd must not be running. --force replaces an existing store.`;

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

export async function leases(flags: Record<string, string | boolean>, configFile: string): Promise<number> {
  try {
    let all = await callDaemon(configFile, 'leases') as Lease[];
    if (!flags['all']) all = all.filter((l) => l.state === 'bound' || l.state === 'offered');
    if (flags['json']) { process.stdout.write(JSON.stringify(all, null, 2) + '\n'); return EXIT.OK; }
    process.stdout.write(['ip\tmac\tstate\texpires\thostname\tsubnet', ...all.map((l) => `${l.ip}\t${l.mac}\t${l.state}\t${iso(l.expires)}\t${l.hostname ?? '-'}\t${l.subnet}`)].join('\n') + '\n');
    return EXIT.OK;
  } catch (e) { fail(e); }
}

interface HostView {
  name: string | null; boot: string | null;
  interfaces: { name: string | null; mac: string; ip: string | null; fqdn?: string; profile?: string | null; lease: Lease | null; journey: BootEvent[] }[];
}

export async function hosts(flags: Record<string, string | boolean>, configFile: string, positionals: string[]): Promise<number> {
  try {
    const key = positionals[0];
    const list = await callDaemon(configFile, 'hosts', key ? { key } : {}) as HostView[];
    if (key && list.length === 0) { process.stderr.write(`builderd hosts: no host or MAC "${key}"\n`); return EXIT.FAIL; }
    if (flags['json']) { process.stdout.write(JSON.stringify(list, null, 2) + '\n'); return EXIT.OK; }
    const out: string[] = [];
    for (const h of list) {
      out.push(`${h.name ?? '(not in inventory)'}${h.boot ? `  profile ${h.boot}` : ''}`);
      for (const f of h.interfaces) {
        out.push(`  ${f.fqdn ?? f.mac}  ${f.mac}  ${f.ip ?? '-'}${f.lease ? `  lease ${f.lease.state} until ${iso(f.lease.expires)}` : ''}`);
        for (const e of f.journey) {
          out.push(`    ${iso(e.at)}  ${e.kind.padEnd(14)} ${e.ip ?? ''} ${e.file ?? ''}${e.bytes !== undefined ? ` ${e.bytes} B` : ''}${e.durationMs !== undefined ? ` ${e.durationMs} ms` : ''}`);
        }
      }
    }
    process.stdout.write(out.join('\n') + '\n');
    return EXIT.OK;
  } catch (e) { fail(e); }
}

export async function status(flags: Record<string, string | boolean>, configFile: string): Promise<number> {
  try {
    const s = await callDaemon(configFile, 'status') as { version: string; pid: number; uptime_s: number; authority: { mode: string; epoch: number }; services: Record<string, { ok: boolean; detail?: string; addresses: unknown }> };
    if (flags['json']) { process.stdout.write(JSON.stringify(s, null, 2) + '\n'); return EXIT.OK; }
    const out = [`builderd ${s.version} pid ${s.pid} up ${s.uptime_s}s`, `authority: ${s.authority.mode} (epoch ${s.authority.epoch})`];
    for (const [name, svc] of Object.entries(s.services)) out.push(`  ${name.padEnd(8)} ${svc.ok ? 'ok  ' : 'FAIL'} ${JSON.stringify(svc.addresses)}${svc.detail ? `  ${svc.detail}` : ''}`);
    process.stdout.write(out.join('\n') + '\n');
    return EXIT.OK;
  } catch (e) { fail(e); }
}

export async function backup(_flags: Record<string, string | boolean>, configFile: string, positionals: string[]): Promise<number> {
  const file = positionals[0];
  if (!file) { process.stderr.write(backupHelp + '\n'); return EXIT.USAGE; }
  try {
    await callDaemon(configFile, 'backup', { file: resolve(file) }, 600_000);
    process.stdout.write(`backup written to ${resolve(file)}\n`);
    return EXIT.OK;
  } catch (e) { fail(e); }
}

export async function restore(flags: Record<string, string | boolean>, configFile: string, positionals: string[]): Promise<number> {
  const file = positionals[0];
  if (!file) { process.stderr.write(restoreHelp + '\n'); return EXIT.USAGE; }
  const { config } = loadOrExit(configFile);
  try {
    await restoreSqliteStore(resolve(file), config.paths.state, { force: !!flags['force'] });
    process.stdout.write(`store restored into ${config.paths.state}\n`);
    return EXIT.OK;
  } catch (e) { fail(e); }
}
