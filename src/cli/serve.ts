import { startDaemon } from '../main.js';
import { createLogger } from '../lib/logger.js';
import { loadOrExit, EXIT } from './common.js';
import { notifyReady, notifyStopping, notifyReloading, startWatchdog, sdNotifyLastError } from '../lib/sd-notify.js';

export const help = `builderd serve --config FILE [--log-format json|pretty] [--log-level LEVEL]
  Run the daemon: DNS, DHCP, TFTP, HTTP, metrics and the control socket as configured.
  SIGTERM/SIGINT shut down cleanly; SIGHUP reloads after validating (the old config stays on error).`;

export async function run(flags: Record<string, string | boolean>, configFile: string): Promise<number> {
  const { config } = loadOrExit(configFile); // exit 2 with every issue before anything starts
  const format = flags['log-format'] === 'pretty' ? 'pretty' : 'json';
  const logger = createLogger({ format, ...(typeof flags['log-level'] === 'string' ? { level: flags['log-level'] } : {}) });
  let daemon: Awaited<ReturnType<typeof startDaemon>>;
  try {
    daemon = await startDaemon({ configFile, logger, config });
  } catch (e) {
    logger.fatal({ event: 'daemon.start.failed', err: (e as Error).message, code: (e as { code?: string }).code }, 'builderd could not start');
    logger.flush?.();
    setTimeout(() => process.exit(EXIT.FAIL), 20);
    return EXIT.FAIL;
  }
  // systemd (Type=notify): READY only now that every listener is bound; watchdog pings from the event loop.
  if (process.env['NOTIFY_SOCKET']) {
    if (!notifyReady(`serving; authority ${daemon.authority.mode()} epoch ${daemon.authority.epoch()}`)) {
      logger.warn({ event: 'daemon.notify.failed', err: sdNotifyLastError()?.message }, 'sd_notify READY failed');
    }
  }
  const watchdog = startWatchdog({ onPing: (ok) => { if (!ok) logger.warn({ event: 'daemon.watchdog', ok }, 'watchdog ping failed'); } });
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    notifyStopping();
    watchdog?.stop();
    logger.info({ event: 'daemon.signal', signal: sig }, 'stopping');
    daemon.close().then(() => { logger.info({ event: 'daemon.stopped' }, 'stopped'); logger.flush?.(); setTimeout(() => process.exit(0), 20); },
      (e: Error) => { logger.error({ event: 'daemon.stop.failed', err: e.message }, 'stop failed'); process.exit(1); });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    notifyReloading();
    void daemon.reload().finally(() => notifyReady());
  });
  process.on('uncaughtException', (e) => { logger.fatal({ event: 'daemon.crash', err: e.stack }, 'uncaught exception'); logger.flush?.(); process.exit(70); });
  return new Promise<number>(() => { /* runs until a signal */ });
}
