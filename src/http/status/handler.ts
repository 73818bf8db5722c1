import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { renderStatusPage } from './page.js';
import type { HealthReport, StatusSnapshot } from './types.js';

/** What the metrics listener serves: Prometheus metrics, health, and the status page. */
export interface OpsHandlerOptions {
  /** The process registry (src/lib/metrics.ts createMetrics(true).registry). */
  registry: Registry;
  /** Gather the status page's facts (collectStatusSnapshot). */
  snapshot: () => Promise<StatusSnapshot>;
  /** Health of each service; /healthz answers 200 when ok, 503 otherwise. */
  health: () => HealthReport | Promise<HealthReport>;
  /** Called before each /metrics scrape to refresh gauges computed on demand (pool use: setPoolGauges). */
  onScrape?: () => void | Promise<void>;
  /** Called when a request fails inside the handler (main.ts logs it as http.ops.error). */
  onError?: (err: Error, path: string) => void;
}

/** Strict headers for everything served here: no scripts anywhere, no framing, no sniffing. */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
} as const;

function send(req: IncomingMessage, res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
  const buf = Buffer.from(body, 'utf8');
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': String(buf.length), ...extra });
  res.end(req.method === 'HEAD' ? undefined : buf);
}

/**
 * Request handler for the metrics listener: GET /metrics (Prometheus text), /healthz (JSON, 200/503),
 * / and /status (HTML status page), /status.json (the same facts as JSON). HEAD is answered like GET
 * without a body; other methods get 405, unknown paths 404. Never throws.
 */
export function createOpsHandler(opts: OpsHandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const route = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(req, res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { allow: 'GET, HEAD' });
      return;
    }
    switch (path) {
      case '/metrics': {
        await opts.onScrape?.();
        const text = await opts.registry.metrics();
        send(req, res, 200, opts.registry.contentType, text);
        return;
      }
      case '/healthz': {
        const h = await opts.health();
        send(req, res, h.ok ? 200 : 503, 'application/json; charset=utf-8', `${JSON.stringify(h)}\n`);
        return;
      }
      case '/':
      case '/status': {
        const s = await opts.snapshot();
        send(req, res, 200, 'text/html; charset=utf-8', renderStatusPage(s));
        return;
      }
      case '/status.json': {
        const s = await opts.snapshot();
        send(req, res, 200, 'application/json; charset=utf-8', `${JSON.stringify(s)}\n`);
        return;
      }
      default:
        send(req, res, 404, 'text/plain; charset=utf-8', 'not found: try /status, /metrics or /healthz\n');
    }
  };

  return (req, res) => {
    let path = '/';
    try {
      path = new URL(req.url ?? '/', 'http://localhost').pathname;
    } catch {
      path = '';
    }
    route(req, res, path).catch((e: unknown) => {
      const err = e instanceof Error ? e : new Error(String(e));
      opts.onError?.(err, path);
      if (!res.headersSent) send(req, res, 500, 'text/plain; charset=utf-8', 'internal error: see the builderd log (event http.ops.error)\n');
      else res.destroy(err);
    });
  };
}
