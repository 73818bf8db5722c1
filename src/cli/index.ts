#!/usr/bin/env node
import { parseArgs, UsageError } from './args.js';
import { DEFAULT_CONFIG, EXIT, fail } from './common.js';
import { VERSION } from '../main.js';

interface Command {
  help: string;
  run(flags: Record<string, string | boolean>, configFile: string, positionals: string[]): number | Promise<number>;
  bool?: string[];
  value?: string[];
}

const commands: Record<string, () => Promise<Command>> = {
  serve: async () => ({ ...(await import('./serve.js')), value: ['log-format', 'log-level'] }),
  check: async () => ({ ...(await import('./check.js')), bool: ['json'] }),
  inventory: async () => ({ ...(await import('./inventory.js')), bool: ['json'] }),
  schema: async () => ({ ...(await import('./schema.js')) }),
  leases: async () => { const m = await import('./ops.js'); return { help: m.leasesHelp, run: m.leases, bool: ['json', 'all'] }; },
  hosts: async () => { const m = await import('./ops.js'); return { help: m.hostsHelp, run: m.hosts, bool: ['json'] }; },
  status: async () => { const m = await import('./ops.js'); return { help: m.statusHelp, run: m.status, bool: ['json'] }; },
  backup: async () => { const m = await import('./ops.js'); return { help: m.backupHelp, run: m.backup }; },
  restore: async () => { const m = await import('./ops.js'); return { help: m.restoreHelp, run: m.restore, bool: ['force'] }; },
  export: async () => ({ ...(await import('./export.js')), value: ['format', 'out'] }),
  authority: async () => ({ ...(await import('./authority.js')), bool: ['json', 'dry-run', 'force'], value: ['import-leases', 'limit'] }),
};

const USAGE = `builderd ${VERSION} — DNS, DHCPv4+PXE, TFTP and HTTP for building a bare-metal site

usage: builderd <command> [--config FILE] [options]

commands:
  serve        run the daemon
  check        validate a configuration and summarise it
  inventory    records, reservations and boot assignments the config yields
  schema       print the JSON Schema of the configuration format
  status       the running daemon: mode, epoch, services
  leases       leases the daemon holds
  hosts        inventory hosts with lease and boot journey
  backup       consistent online copy of the store
  restore      put a backup in place (daemon stopped)
  export       the router's configuration (kea, unbound, bind, dnsmasq, json)
  authority    status | promote | revert | plan | log — the builder/router authority transition

  builderd <command> --help   for a command's options
  --config defaults to $BUILDERD_CONFIG or ${DEFAULT_CONFIG}
`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V') { process.stdout.write(`builderd ${VERSION}\n`); return EXIT.OK; }
  if (!name || name === '--help' || name === '-h' || name === 'help') { process.stdout.write(USAGE); return name ? EXIT.OK : EXIT.USAGE; }
  const load = commands[name];
  if (!load) { process.stderr.write(`builderd: unknown command "${name}"\n\n${USAGE}`); return EXIT.USAGE; }
  const cmd = await load();
  let parsed;
  try {
    parsed = parseArgs(rest, { bool: cmd.bool ?? [], value: ['config', ...(cmd.value ?? [])] });
  } catch (e) {
    if (e instanceof UsageError) { process.stderr.write(`builderd ${name}: ${e.message}\n\n${cmd.help}\n`); return EXIT.USAGE; }
    throw e;
  }
  if (parsed.flags['help'] || parsed.flags['h']) { process.stdout.write(cmd.help + '\n'); return EXIT.OK; }
  const configFile = typeof parsed.flags['config'] === 'string' ? parsed.flags['config'] : DEFAULT_CONFIG;
  return cmd.run(parsed.flags, configFile, parsed.positionals);
}

// `builderd inventory | head`: a closed pipe ends the output, not the process with a stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(0); throw e; });

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, fail);
