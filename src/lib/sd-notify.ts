import { loadNativeAddon } from './native-addon.js';

/*
 * sd_notify(3) from inside the service's main process. Node's dgram has no AF_UNIX datagram
 * sockets, so one datagram is sent by a small N-API addon (native/sdnotify). Sending in-process keeps
 * the sender PID equal to the unit's MainPID, so the unit can say NotifyAccess=main; a helper
 * process (systemd-notify) would need NotifyAccess=all and races with its own exit.
 */

interface SdNotifyAddon {
  send(address: string, state: string): number;
}

type Env = Record<string, string | undefined>;

let addon: SdNotifyAddon | undefined;
let addonError: Error | undefined;
let lastError: Error | undefined;


/** Load the addon once; undefined (with the reason in sdNotifyLastError()) when it is not built. */
function loadAddon(): SdNotifyAddon | undefined {
  if (addon || addonError) return addon;
  try {
    addon = loadNativeAddon<SdNotifyAddon>('sdnotify');
  } catch (e) {
    addonError = e as Error;
  }
  return addon;
}

/** True when the service manager asked for notifications ($NOTIFY_SOCKET is set). */
export function sdNotifyWanted(env: Env = process.env): boolean {
  return Boolean(env['NOTIFY_SOCKET']);
}

/**
 * Send `state` (newline-separated VAR=value assignments, sd_notify(3)) to $NOTIFY_SOCKET.
 * Returns true when the datagram was sent; false when no socket is configured or the send failed
 * (the reason is kept in sdNotifyLastError()). Never throws.
 */
export function sdNotify(state: string, env: Env = process.env): boolean {
  const address = env['NOTIFY_SOCKET'];
  if (!address) return false;
  const a = loadAddon();
  if (!a) {
    lastError = addonError;
    return false;
  }
  try {
    a.send(address, state);
    return true;
  } catch (e) {
    lastError = e as Error;
    return false;
  }
}

/** Why the last sdNotify() returned false after a socket was configured (addon missing, ENOENT...). */
export function sdNotifyLastError(): Error | undefined {
  return lastError;
}

/** CLOCK_MONOTONIC in µs, as systemd expects in MONOTONIC_USEC (Node's hrtime is CLOCK_MONOTONIC). */
export function monotonicUsec(): bigint {
  return process.hrtime.bigint() / 1000n;
}

/** READY=1 (send only once every configured listener is bound), with an optional STATUS= line. */
export function notifyReady(status?: string, env: Env = process.env): boolean {
  return sdNotify(`READY=1${status ? `\nSTATUS=${oneLine(status)}` : ''}`, env);
}

/** STOPPING=1 at the start of shutdown. */
export function notifyStopping(status?: string, env: Env = process.env): boolean {
  return sdNotify(`STOPPING=1${status ? `\nSTATUS=${oneLine(status)}` : ''}`, env);
}

/**
 * RELOADING=1 with MONOTONIC_USEC (systemd ≥ 253 requires the timestamp for Type=notify-reload and
 * accepts it earlier); follow with notifyReady() when the reload is done (or refused).
 */
export function notifyReloading(env: Env = process.env): boolean {
  return sdNotify(`RELOADING=1\nMONOTONIC_USEC=${monotonicUsec()}`, env);
}

/** STATUS=... shown by `systemctl status`. */
export function notifyStatus(status: string, env: Env = process.env): boolean {
  return sdNotify(`STATUS=${oneLine(status)}`, env);
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ');
}

/**
 * The watchdog period in µs when the manager enabled it for this process (sd_watchdog_enabled(3):
 * $WATCHDOG_USEC set and $WATCHDOG_PID unset or equal to our PID), else undefined.
 */
export function watchdogUsec(env: Env = process.env, pid: number = process.pid): number | undefined {
  const usec = Number(env['WATCHDOG_USEC']);
  if (!Number.isFinite(usec) || usec <= 0) return undefined;
  const wpid = env['WATCHDOG_PID'];
  if (wpid !== undefined && wpid !== '' && Number(wpid) !== pid) return undefined;
  return usec;
}

export interface Watchdog {
  /** Ping interval in ms (half of $WATCHDOG_USEC). */
  intervalMs: number;
  /** Pings sent so far. */
  pings(): number;
  stop(): void;
}

/**
 * Ping WATCHDOG=1 every half of $WATCHDOG_USEC from the event loop (a stalled loop stops the pings and
 * systemd restarts the service). Returns undefined when the watchdog is not enabled for this process.
 * The timer is unref'd, so it never keeps the process alive.
 */
export function startWatchdog(opts: { env?: Env; onPing?: (ok: boolean) => void } = {}): Watchdog | undefined {
  const env = opts.env ?? process.env;
  const usec = watchdogUsec(env);
  if (usec === undefined || !sdNotifyWanted(env)) return undefined;
  const intervalMs = Math.max(1, Math.floor(usec / 2000));
  let count = 0;
  const ping = (): void => {
    const ok = sdNotify('WATCHDOG=1', env);
    if (ok) count += 1;
    opts.onPing?.(ok);
  };
  const timer = setInterval(ping, intervalMs);
  timer.unref();
  ping();
  return { intervalMs, pings: () => count, stop: () => clearInterval(timer) };
}
