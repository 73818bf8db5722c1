import { pino, type Logger as PinoLogger } from 'pino';

/** Structured logger. Every line carries a stable `event` name (see docs/log-events.md). */
export type Logger = PinoLogger;

export interface LoggerOptions {
  level?: string;
  format?: 'json' | 'pretty';
  destination?: NodeJS.WritableStream | number;
}

/** Create the process logger (pino JSON; `pretty` is a compact human line format for terminals). */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? process.env['BUILDERD_LOG_LEVEL'] ?? 'info';
  if (opts.format === 'pretty') {
    const dest = opts.destination ?? 1;
    return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, prettyStream(dest));
  }
  const dest = typeof opts.destination === 'number' || opts.destination === undefined
    ? pino.destination({ fd: typeof opts.destination === 'number' ? opts.destination : 1, sync: false })
    : opts.destination;
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, dest as pino.DestinationStream);
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

function prettyStream(dest: NodeJS.WritableStream | number): pino.DestinationStream {
  const out = typeof dest === 'number' ? pino.destination({ fd: dest, sync: true }) : dest;
  return {
    write(line: string) {
      try {
        const o = JSON.parse(line) as Record<string, unknown>;
        const { time, level, event, msg, ...rest } = o;
        const extra = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
        out.write(`${String(time)} ${LEVELS[level as number] ?? String(level)} ${String(event ?? '-')} ${msg ? String(msg) + ' ' : ''}${extra}\n`);
      } catch {
        out.write(line);
      }
    },
  };
}

/** A logger that discards everything (tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
