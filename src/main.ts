import { mkdirSync } from 'node:fs';
import { hostname as osHostname, networkInterfaces } from 'node:os';
import { loadConfig, ConfigError } from './config/load.js';
import type { Config } from './config/types.js';
import { buildInventory, type Inventory } from './inventory/index.js';
import type { Store, AuthorityState, BootEvent, Lease } from './store/ports.js';
import type { BootEvent as FileEvent } from './lib/boot-event.js';
import { openSqliteStore } from './store/sqlite/index.js';
import { createLogger, type Logger } from './lib/logger.js';
import { createMetrics, type Metrics } from './lib/metrics.js';
import { systemClock, type Clock } from './lib/clock.js';
import type { AuthorityView } from './lib/authority-view.js';
import { startControlServer, type ControlServer } from './control/server.js';
import { createBootResolver, tftpDynamic, httpDynamic, type BootResolver } from './boot/index.js';
import { createTftpServer } from './tftp/server.js';
import { createHttpServer } from './http/server.js';
import { createDnsService, type DnsService } from './dns/service.js';
import { createDhcpService, probeDhcp, type DhcpService } from './dhcp4/index.js';
import { exportRouterConfig, EXPORT_FORMATS, type ExportFormat } from './authority/export/index.js';
import { parseLeaseFile } from './authority/import/index.js';
import { collectStatusSnapshot, createOpsHandler } from './http/status/index.js';
import { createServer as createHttpListener } from 'node:http';
import { parseHostPort } from './lib/net.js';
import { createAuthorityRunner, type AuthorityRunner, type RunnerDeps } from './authority/runner.js';

/*
 * The composition root: config → store → authority → inventory → services → sockets bound → ready.
 * The only module that sees every folder.
 */

export interface DaemonOptions {
  configFile: string;
  logger?: Logger;
  clock?: Clock;
  /** Store to use instead of opening SQLite under paths.state (tests). */
  store?: Store;
  /** The config already loaded from configFile (the CLI validated it first: no second parse). */
  config?: Config;
}

/** A running service as main sees it. */
interface Running {
  name: string;
  close(): Promise<void>;
  addresses(): unknown;
  health(): { ok: boolean; detail?: string };
}

export interface Daemon {
  config(): Config;
  inventory(): Inventory;
  store: Store;
  metrics: Metrics;
  logger: Logger;
  /** Bound addresses by service name (port 0 resolved). */
  addresses(): Record<string, unknown>;
  authority: AuthorityView & { state(): AuthorityState; runner: AuthorityRunner };
  /** Re-read the config; on any error keep the running one and return the issues. */
  reload(): Promise<{ ok: boolean; errors?: string[] }>;
  close(): Promise<void>;
}

/** Start builderd from a config file. Resolves once every configured listener is bound. */
export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const t0 = performance.now();
  const logger = opts.logger ?? createLogger();
  const clock = opts.clock ?? systemClock;
  let config = opts.config ?? loadConfig(opts.configFile).config;
  let inventory = buildInventory(config);
  const metrics = createMetrics(true);

  mkdirSync(config.paths.state, { recursive: true, mode: 0o750 });
  // The control socket first: a second daemon on the same config stops here, before it opens the store.
  const control: ControlServer = await startControlServer(config.control.socket, logger);
  let store: Store;
  try {
    store = opts.store ?? openSqliteStore({ dir: config.paths.state, synchronous: config.store.synchronous });
  } catch (e) {
    await control.close();
    throw e;
  }

  // Authority: a fresh store starts in authority.initial at epoch 1; afterwards the store decides.
  let auth = await store.authority.get();
  if (!auth) {
    const init: AuthorityState = { mode: config.authority.initial, epoch: 1, since: clock.now(), by: operator(), pending: null };
    await store.authority.set(undefined, init, {
      at: init.since, kind: 'authority.init', operator: init.by, host: osHostname(), detail: { mode: init.mode },
    });
    auth = init;
  }
  let authState: AuthorityState = auth;
  const setAuthMetrics = () => {
    metrics.authorityMode.reset();
    metrics.authorityMode.set({ mode: authState.mode }, 1);
    metrics.authorityEpoch.set(authState.epoch);
  };
  // Late-bound effects the services provide once they exist (DHCP probe, lease adoption).
  const effects: Pick<RunnerDeps, 'probeDhcp' | 'ourServerIds' | 'adoptLeases'> = {};
  // DNS workers learn of an authority change at once (they also poll every 100 ms).
  let dnsRef: DnsService | undefined;
  const runner = createAuthorityRunner({
    store, logger, clock,
    config: () => config,
    inventory: () => inventory,
    onChange: (s) => { authState = s; setAuthMetrics(); void dnsRef?.authorityChanged(); },
    probeDhcp: (ms) => effects.probeDhcp ? effects.probeDhcp(ms) : Promise.resolve([]),
    ourServerIds: () => effects.ourServerIds?.() ?? [],
    parseLeases: (text, now) => parseLeaseFile(text, { subnets: config.dhcp.subnets, now, reservations: inventory.reservations }),
    adoptLeases: (l) => effects.adoptLeases?.(l),
  });
  const authority: Daemon['authority'] = {
    dhcpAuthoritative: () => authState.mode === 'bootstrap',
    siteDnsAuthoritative: () => authState.mode === 'bootstrap',
    mode: () => authState.mode,
    epoch: () => authState.epoch,
    leaseTimeCap: () => authState.planned?.leaseTime,
    state: () => authState,
    runner,
  };
  setAuthMetrics();
  // A transition a crash interrupted after its flip is finished before anything answers.
  authState = (await runner.recoverOnStart()).state;
  setAuthMetrics();

  const running: Running[] = [];
  let reservedMacs = new Set(inventory.reservations.map((r) => r.mac));
  let reservedMacByIp = new Map(inventory.reservations.map((r) => [r.ip, r.mac]));
  const recordBootEvent = (e: BootEvent) => {
    store.bootEvents.record([e]).catch((err: Error) => logger.warn({ event: 'store.boot_event.failed', err: err.message }, 'boot event not recorded'));
  };
  // File events (TFTP/HTTP) carry the client address; the boot journey is keyed by MAC.
  const macOfIp = (ip: string): string | undefined => reservedMacByIp.get(ip) ?? leaseMacOfIp?.(ip);
  let leaseMacOfIp: ((ip: string) => string | undefined) | undefined;
  const recordFileEvent = (e: FileEvent) => {
    const peer = e.peer.replace(/^::ffff:/, '');
    const mac = macOfIp(peer);
    if (!mac) return;
    recordBootEvent({
      at: clock.now(), mac, kind: `${e.proto}.${e.result === 'ok' ? 'file' : e.result}`, ip: peer, file: e.path, bytes: e.bytes, durationMs: e.ms,
      ...(e.detail ? { detail: e.detail } : {}),
    });
  };

  // Boot files: one resolver, rebuilt on reload, reached by TFTP and HTTP through late-bound closures.
  const makeResolver = () => createBootResolver({ config, reservations: inventory.reservations, boot: inventory.boot, logger });
  let resolver: BootResolver = makeResolver();
  const liveResolver: BootResolver = { render: (kind, key, ip) => resolver.render(kind, key, ip) };

  let dns: DnsService | undefined;
  let dhcpLeases: (() => Lease[]) | undefined;
  let dhcpService: DhcpService | undefined;
  try {
    if (config.dns.listen.length) {
      dns = await createDnsService({ config, zones: inventory.zones, store: store.zones, authority, logger, metrics, clock });
      dnsRef = dns;
      await dns.listen();
      const d = dns;
      running.push({ name: 'dns', close: () => d.close(), addresses: () => d.addresses(), health: () => ({ ok: true, detail: inventory.zones.map((z) => `${z.origin}@${d.serial(z.origin) ?? '?'}`).join(' ') }) });
    }
    if (config.dhcp.subnets.length) {
      const dhcp: DhcpService = await createDhcpService({
        config, reservations: inventory.reservations, leases: store.leases, zones: store.zones, authority, logger, metrics, clock,
        onDnsChange: () => { dns?.refreshDynamic().catch((e: Error) => logger.error({ event: 'dns.refresh.failed', err: e.message }, 'dynamic records not refreshed')); },
        // The boot journey is for machines that boot: inventory hosts and clients given a boot file.
        // A plain DHCP client's lease is in the lease table already; recording its every OFFER and ACK
        // would double the store writes of a lease storm.
        onBootEvent: (e) => { if (e.file || reservedMacs.has(e.mac)) recordBootEvent(e); },
      });
      await dhcp.listen();
      dhcpService = dhcp;
      dhcpLeases = () => dhcp.leases();
      leaseMacOfIp = (ip) => { const l = dhcp.leaseAt(ip); return l?.state === 'bound' ? l.mac : undefined; };
      // Any offer whose server identifier is one of this host's addresses is ours.
      effects.ourServerIds = () => Object.values(networkInterfaces()).flatMap((l) => (l ?? []).map((a) => a.address));
      effects.adoptLeases = (l) => dhcp.adopt(l);
      effects.probeDhcp = async (ms) => {
        const ifaces = config.dhcp.interfaces.length ? config.dhcp.interfaces : [undefined];
        const all = await Promise.all(ifaces.map((iface) => probeDhcp({
          ...(iface ? { iface } : {}), port: config.dhcp.port + 1, serverPort: config.dhcp.port, timeoutMs: ms,
        }).then((offers) => offers.map((o) => ({ ...o, ...(iface ? { iface } : {}) })))));
        return all.flat();
      };
      running.push({ name: 'dhcp', close: () => dhcp.close(), addresses: () => dhcp.addresses(), health: () => ({ ok: true, detail: `${dhcp.leases().filter((l) => l.state === 'bound').length} bound leases` }) });
    }
    if (config.tftp.listen.length) {
      const tftp = await createTftpServer({
        config, root: config.paths.artifacts, dynamic: tftpDynamic(liveResolver), logger, metrics, clock, onBootEvent: recordFileEvent,
      });
      await tftp.listen();
      running.push({ name: 'tftp', close: () => tftp.close(), addresses: () => tftp.addresses(), health: () => ({ ok: true, detail: `${tftp.active()} transfers` }) });
    }
    if (config.http.listen.length) {
      const http = await createHttpServer({
        config, root: config.paths.artifacts, dynamic: httpDynamic(liveResolver), logger, metrics, onBootEvent: recordFileEvent,
      });
      await http.listen();
      running.push({ name: 'http', close: () => http.close(), addresses: () => http.addresses(), health: () => ({ ok: true }) });
    }
    if (config.metrics.listen) {
      const snapshot = () => collectStatusSnapshot({
        version: VERSION, clock, authority: () => authState, subnets: () => config.dhcp.subnets, inventory: () => inventory, store,
        services: () => running.map((r) => ({ name: r.name, ...r.health(), addresses: addressList(r.addresses()) })),
      });
      const health = () => {
        const services = running.map((r) => ({ name: r.name, ...r.health() }));
        return { ok: services.every((x) => x.ok), services };
      };
      const ops = createHttpListener(createOpsHandler({
        registry: metrics.registry, snapshot, health,
        onError: (err, path) => logger.error({ event: 'http.ops.error', path, err: err.message }, 'status request failed'),
      }));
      const { host, port } = parseHostPort(config.metrics.listen);
      await new Promise<void>((res, rej) => { ops.once('error', rej); ops.listen(port, host, () => { ops.off('error', rej); res(); }); });
      const a = ops.address() as { address: string; port: number };
      logger.info({ event: 'http.ops.listen', host: a.address, port: a.port }, 'metrics and status page listening');
      running.push({
        name: 'metrics', addresses: () => [{ host: a.address, port: a.port }], health: () => ({ ok: true }),
        close: () => new Promise<void>((res) => { ops.close(() => res()); ops.closeAllConnections(); }),
      });
    }
  } catch (e) {
    for (const r of running.reverse()) await r.close().catch(() => undefined);
    await store.close();
    await control.close();
    throw e;
  }


  /** Inventory hosts with their interfaces, current lease and last boot journey. */
  async function hostsView(key?: string) {
    const k = key?.toLowerCase().replace(/-/g, ':');
    const hosts = config.hosts.filter((h) => !k || h.name === key || h.interfaces.some((f) => f.mac === k));
    const leases = dhcpLeases ? dhcpLeases() : await store.leases.all();
    const out = [];
    for (const h of hosts) {
      const ifaces = [];
      for (const f of h.interfaces) {
        const r = inventory.reservations.find((x) => x.mac === f.mac);
        const lease = leases.find((l) => l.mac === f.mac && (l.state === 'bound' || l.state === 'offered'));
        ifaces.push({ name: f.name ?? null, mac: f.mac, ip: f.ip, fqdn: r?.fqdn, profile: inventory.boot.find((b) => b.mac === f.mac)?.profile ?? null, lease: lease ?? null, journey: await store.bootEvents.forMac(f.mac, 200) });
      }
      out.push({ name: h.name, mgmt: h.mgmt, boot: h.boot ?? null, interfaces: ifaces });
    }
    if (key && out.length === 0) {
      // Not an inventory host: a MAC seen by DHCP still has a journey.
      const journey = k ? await store.bootEvents.forMac(k, 200) : [];
      if (journey.length) return [{ name: null, mgmt: false, boot: null, interfaces: [{ name: null, mac: k, ip: leases.find((l) => l.mac === k)?.ip ?? null, lease: leases.find((l) => l.mac === k) ?? null, journey }] }];
    }
    return out;
  }

  const daemon: Daemon = {
    config: () => config,
    inventory: () => inventory,
    store, metrics, logger, authority,
    addresses: () => Object.fromEntries(running.map((r) => [r.name, r.addresses()])),
    async reload() {
      try {
        const next = loadConfig(config.file);
        config = next.config;
        inventory = buildInventory(config);
        resolver = makeResolver();
        reservedMacs = new Set(inventory.reservations.map((r) => r.mac));
        reservedMacByIp = new Map(inventory.reservations.map((r) => [r.ip, r.mac]));
        await dns?.setZones(inventory.zones);
        dhcpService?.setInventory(config, inventory.reservations);
        logger.info({ event: 'config.reload', file: config.file, warnings: next.warnings }, 'configuration reloaded');
        return { ok: true };
      } catch (e) {
        const errors = e instanceof ConfigError ? e.issues.map((i) => `${i.file}:${i.line}:${i.col}: ${i.path}: ${i.message}`) : [(e as Error).message];
        logger.error({ event: 'config.reload.failed', errors }, 'reload refused; the running configuration is kept');
        return { ok: false, errors };
      }
    },
    async close() {
      logger.info({ event: 'daemon.stopping' }, 'shutting down');
      await control.close();
      for (const r of running.reverse()) await r.close().catch(() => undefined);
      await store.close();
    },
  };

  const exportFiles = (format: ExportFormat) => exportFromStore(format, config, store, clock.now());
  control.handle('status', () => ({
    version: VERSION,
    pid: process.pid,
    config: config.file,
    uptime_s: Math.round(process.uptime()),
    authority: authState,
    services: Object.fromEntries(running.map((r) => [r.name, { ...r.health(), addresses: r.addresses() }])),
  }));
  control.handle('reload', () => daemon.reload());
  control.handle('authority.status', async () => ({ ...(await runner.status()), journal: await store.journal.list(5) }));
  control.handle('authority.promote', (a) => runner.promote(transitionArgs(a)));
  control.handle('authority.revert', (a) => runner.revert(transitionArgs(a)));
  control.handle('authority.plan', (a) => runner.plan(a['cancel'] ? null : (a['direction'] === 'revert' ? 'revert' : 'promote'), String(a['operator'] ?? 'unknown')));
  control.handle('dns.serials', () => Object.fromEntries(inventory.zones.map((z) => [z.origin, dns?.serial(z.origin) ?? null])));
  control.handle('leases', async () => (dhcpLeases ? dhcpLeases() : await store.leases.all()));
  control.handle('hosts', async (a) => hostsView(typeof a['key'] === 'string' ? a['key'] : undefined));
  control.handle('backup', async (a) => {
    if (typeof a['file'] !== 'string' || !a['file'].startsWith('/')) throw new Error('backup needs an absolute file path');
    await store.backup(a['file']);
    logger.info({ event: 'store.backup', file: a['file'] }, 'store backed up');
    return { file: a['file'] };
  });
  control.handle('export', async (a) => {
    const format = String(a['format']) as ExportFormat;
    if (!EXPORT_FORMATS.includes(format)) throw new Error(`unknown export format "${format}" (${EXPORT_FORMATS.join(', ')})`);
    return exportFiles(format);
  });
  control.handle('authority.log', (a) => store.journal.list(typeof a['limit'] === 'number' ? a['limit'] : 100));

  const ms = Math.round(performance.now() - t0);
  logger.info({ event: 'daemon.ready', ms, config: config.file, mode: authState.mode, epoch: authState.epoch, addresses: daemon.addresses() }, 'builderd ready');
  return daemon;
}

function transitionArgs(a: Record<string, unknown>) {
  const lf = a['leaseFile'] as { name?: unknown; text?: unknown } | undefined;
  return {
    dryRun: a['dryRun'] === true,
    force: a['force'] === true,
    operator: typeof a['operator'] === 'string' ? a['operator'] : 'unknown',
    ...(lf && typeof lf.text === 'string' ? { leaseFile: { name: String(lf.name ?? 'lease file'), text: lf.text } } : {}),
  };
}

/** The router's configuration from the same inventory and the live leases and serials of a store. */
export async function exportFromStore(format: ExportFormat, config: Config, store: Store, now: number) {
  const inventory = buildInventory(config);
  const serials: Record<string, number> = {};
  for (const z of inventory.zones) {
    const s = await store.zones.getSerial(z.origin);
    if (s) serials[z.origin] = s.serial;
  }
  const primary = config.dns.listen[0];
  return exportRouterConfig(format, {
    config, inventory, now, serials,
    leases: await store.leases.all(),
    dynamic: await store.zones.dynamicRecords(),
    ...(primary ? { dnsPrimary: primary } : {}),
  });
}

/** "host:port" strings of whatever shape a service reports its addresses in. */
function addressList(a: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if ('port' in o && ('host' in o || 'address' in o)) out.push(`${String(o['iface'] && o['iface'] !== '*' ? `${String(o['iface'])}/` : '')}${String(o['host'] ?? o['address'])}:${String(o['port'])}`);
      else Object.values(o).forEach(walk);
    }
  };
  walk(a);
  return out;
}

/** Who is acting: the sudo caller when there is one. */
export function operator(): string {
  return process.env['SUDO_USER'] || process.env['USER'] || process.env['LOGNAME'] || `uid:${process.getuid?.() ?? '?'}`;
}

export const VERSION = '0.1.0';
