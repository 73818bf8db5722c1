import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { open, type FileHandle } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { constants } from 'node:os';
import type { Config } from '../config/types.js';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';
import type { BootEvent } from '../lib/boot-event.js';
import { parseHostPort } from '../lib/net.js';
import { confineLexical, realRoot, resolveUnder, type RefusedReason } from '../lib/confine.js';
import { createOpenCache, uncached, type OpenFile } from './open-cache.js';
import { sendfileAddon, sendfileToSocket, socketFd, type SendfileJob } from './sendfile.js';
import { contentTypeOf, etagOf, evaluateRange, ifRangeMatches, lastModifiedOf, notModified } from './artifacts.js';

/** Result of the dynamic hook: rendered content, a clear 404 reason, or undefined (serve from the root). */
export type DynamicResult = { body: string | Buffer; type: string } | { notFound: string } | undefined;

/** Dependencies of the HTTP artifact server; main.ts wires them. */
export interface HttpServerDeps {
  config: Config;
  /** Artifacts root served read-only. */
  root: string;
  /** Per-host boot files (/boot/<mac>.ipxe, /ks/<host>.ks). Receives the decoded, confined path without leading "/". */
  dynamic?: (path: string, peer: { address: string }) => Promise<DynamicResult>;
  logger: Logger;
  metrics: Metrics;
  onBootEvent?: (e: BootEvent) => void;
  /** Mounted before the artifact handler; return true when the request was handled (status page, /metrics). */
  extraRoutes?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

/** A running HTTP artifact server. */
export interface HttpServer {
  listen(): Promise<void>;
  addresses(): { host: string; port: number }[];
  close(): Promise<void>;
}

const ERRNO = constants.errno;
const EMPTY = Buffer.alloc(0);
const CORK = process.env['BUILDERD_HTTP_CORK'] !== '0';

/** Stream read size when the sendfile addon is not available: large reads keep syscalls and stream ticks few. */
const HIGH_WATER_MARK = 1024 * 1024;

const REFUSED_STATUS: Record<RefusedReason, number> = {
  'bad-encoding': 400,
  nul: 400,
  'control-char': 400,
  'too-long': 414,
  backslash: 403,
  dotdot: 403,
  'outside-root': 403,
  empty: 404,
};

/** Create the HTTP artifact server (GET/HEAD, Range, validators; no listings, never a redirect). */
export async function createHttpServer(deps: HttpServerDeps): Promise<HttpServer> {
  const { config, logger, metrics } = deps;
  const rootReal = await realRoot(deps.root);
  // Open files are shared between requests only on the sendfile path (positioned reads, no stream
  // owning the fd); the stream fallback opens per request as before.
  const cache = sendfileAddon() ? createOpenCache() : undefined;
  const servers: { server: Server; host: string; port: number }[] = [];

  function event(e: Omit<BootEvent, 'proto'>): void {
    if (!deps.onBootEvent) return;
    try { deps.onBootEvent({ proto: 'http', ...e }); } catch (err) { logger.warn({ event: 'http.boot_event.error', err: String(err) }); }
  }

  function finish(req: IncomingMessage, res: ServerResponse, t0: number, path: string, dynamic: boolean, detail?: string, forced?: BootEvent['result'], bytes = 0): void {
    const code = res.statusCode;
    metrics.httpRequests.inc({ code: String(code), method: req.method ?? '' });
    const result: BootEvent['result'] = forced ?? (code < 400 ? 'ok' : code === 404 ? 'not-found' : code < 500 ? 'refused' : 'error');
    const ms = Date.now() - t0;
    const fields = { event: 'http.request', peer: req.socket.remoteAddress, method: req.method, path, code, ms, detail };
    if (code >= 400 && code !== 404) logger.warn(fields); else logger.info(fields);
    event({ peer: req.socket.remoteAddress ?? '', path, result, bytes, ms, dynamic, ...(detail ? { detail } : {}) });
  }

  function plain(res: ServerResponse, code: number, text: string, head: boolean, extra: Record<string, string> = {}): void {
    const body = Buffer.from(text + '\n');
    res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': body.length, 'Cache-Control': 'no-store', ...extra });
    res.end(head ? undefined : body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = Date.now();
    if (deps.extraRoutes?.(req, res)) return;
    const method = req.method ?? '';
    const head = method === 'HEAD';
    const url = req.url ?? '';
    const rawPath = url.split('?', 1)[0]!.split('#', 1)[0]!;
    if (method !== 'GET' && !head) {
      // Strictly read-only.
      metrics.dropped.inc({ proto: 'http', reason: 'method' });
      plain(res, 405, 'method not allowed', false, { Allow: 'GET, HEAD' });
      return finish(req, res, t0, rawPath, false, 'method');
    }
    if (!url.startsWith('/')) {
      // Absolute-form or asterisk-form targets: nothing of ours.
      metrics.dropped.inc({ proto: 'http', reason: 'target' });
      plain(res, 400, 'bad request target', head);
      return finish(req, res, t0, rawPath, false, 'target');
    }
    const lex = confineLexical(rawPath, { percentDecode: true });
    if (!lex.ok) {
      if (lex.reason !== 'empty') metrics.dropped.inc({ proto: 'http', reason: `path-${lex.reason}` });
      plain(res, REFUSED_STATUS[lex.reason], lex.reason === 'empty' ? 'not found' : 'refused', head);
      return finish(req, res, t0, rawPath, false, lex.reason);
    }
    if (deps.dynamic) {
      const d = await deps.dynamic(lex.rel, { address: req.socket.remoteAddress ?? '' });
      if (d && 'notFound' in d) {
        plain(res, 404, d.notFound, head);
        return finish(req, res, t0, rawPath, true, d.notFound);
      }
      if (d) {
        const body = typeof d.body === 'string' ? Buffer.from(d.body, 'utf8') : d.body;
        // Rendered per request from the inventory: never cached.
        res.writeHead(200, { 'Content-Type': d.type, 'Content-Length': body.length, 'Cache-Control': 'no-store' });
        res.end(head ? undefined : body);
        if (!head) metrics.httpBytes.inc(body.length);
        return finish(req, res, t0, rawPath, true, undefined, undefined, head ? 0 : body.length);
      }
    }
    let file = cache?.take(lex.rel);
    if (!file) {
      const r = await resolveUnder(rootReal, lex.rel);
      if (!r.ok) {
        if (r.reason === 'missing') {
          plain(res, 404, 'not found', head);
          return finish(req, res, t0, rawPath, false, 'missing');
        }
        metrics.dropped.inc({ proto: 'http', reason: `path-${r.reason}` });
        plain(res, REFUSED_STATUS[r.reason], 'refused', head);
        return finish(req, res, t0, rawPath, false, r.reason);
      }
      let fh: FileHandle;
      try {
        fh = await open(r.path, 'r');
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        plain(res, code === 'EACCES' || code === 'EPERM' ? 403 : 404, code === 'EACCES' ? 'refused' : 'not found', head);
        return finish(req, res, t0, rawPath, false, String(code));
      }
      try {
        const st0 = await fh.stat();
        file = cache ? cache.put(lex.rel, fh, st0) : uncached(fh, st0);
      } catch (e) {
        await fh.close().catch(() => undefined);
        throw e;
      }
    }
    const fh = file.fh;
    const st = file;
    let handed = false;
    try {
      if (!st.isFile) {
        // No directory listings, and no redirect to a trailing slash either.
        plain(res, 404, 'not found', head);
        return finish(req, res, t0, rawPath, false, 'not a regular file');
      }
      const meta = { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
      const etag = etagOf(meta);
      const lastModified = lastModifiedOf(meta);
      const base = { ETag: etag, 'Last-Modified': lastModified, 'Accept-Ranges': 'bytes' };
      // RFC 9110 §13.2.2: If-None-Match / If-Modified-Since before Range.
      if (notModified({ ifNoneMatch: req.headers['if-none-match'], ifModifiedSince: req.headers['if-modified-since'] }, etag, st.mtimeMs)) {
        res.writeHead(304, base);
        res.end();
        return finish(req, res, t0, rawPath, false);
      }
      let start = 0;
      let end = st.size - 1;
      let status = 200;
      const headers: Record<string, string | number> = { ...base, 'Content-Type': contentTypeOf(lex.rel) };
      const ifRangeRaw = req.headers['if-range'] as string | string[] | undefined;
      const ifRange = Array.isArray(ifRangeRaw) ? ifRangeRaw[0] : ifRangeRaw;
      if (req.headers.range !== undefined && ifRangeMatches(ifRange, etag, lastModified)) {
        const d = evaluateRange(req.headers.range, st.size);
        if (d.kind === 'unsatisfiable') {
          plain(res, 416, 'range not satisfiable', head, { ...base, 'Content-Range': `bytes */${st.size}` });
          return finish(req, res, t0, rawPath, false, 'range');
        }
        if (d.kind === 'range') {
          status = 206;
          start = d.range.start;
          end = d.range.end;
          headers['Content-Range'] = `bytes ${start}-${end}/${st.size}`;
        }
      }
      const length = end - start + 1;
      headers['Content-Length'] = length;
      res.writeHead(status, headers);
      if (head || length === 0) {
        res.end();
        return finish(req, res, t0, rawPath, false);
      }
      handed = true;
      const sf = sendfileAddon();
      const sockFd = sf ? socketFd(res.socket) : undefined;
      if (sf && sockFd !== undefined) return sendBody(sf, sockFd, file, start, length, req, res, t0, rawPath);
      const stream = fh.createReadStream({ start, end, highWaterMark: HIGH_WATER_MARK, autoClose: false });
      // autoClose off (the handle may be shared through the cache): every way out releases it once.
      const release = () => { file.release(); };
      stream.once('end', release);
      stream.once('error', release);
      stream.once('close', release);
      let sent = 0;
      let accounted = false;
      stream.on('data', (chunk: Buffer | string) => {
        sent += chunk.length;
        if (!res.write(chunk)) {
          stream.pause();
          res.once('drain', () => stream.resume());
        }
      });
      stream.on('end', () => {
        accounted = true;
        endBody(req, res, t0, rawPath, sent, length);
      });
      stream.on('error', (err) => {
        logger.warn({ event: 'http.artifact.read_error', path: rawPath, err: err.message });
        if (!accounted) {
          accounted = true;
          metrics.httpBytes.inc(sent);
          finish(req, res, t0, rawPath, false, `read error: ${err.message}`, 'error');
        }
        res.destroy();
      });
      res.on('close', () => {
        if (accounted) return;
        accounted = true;
        // The client went away mid-body: stop reading, count it once.
        stream.destroy();
        release();
        bodyAborted(req, res, t0, rawPath, sent, length);
      });
    } finally {
      if (!handed) file.release();
    }
  }

  /**
   * A body fully sent by either path (stream or sendfile). The file shrank under us when fewer bytes
   * went out than announced: cut the connection so the client sees a short body, never a
   * complete-looking wrong one. The boot journey records the bytes sent with each file.
   */
  function endBody(req: IncomingMessage, res: ServerResponse, t0: number, rawPath: string, sent: number, length: number): void {
    metrics.httpBytes.inc(sent);
    if (sent < length) {
      logger.warn({ event: 'http.artifact.truncated', path: rawPath, sent, length });
      res.destroy();
      finish(req, res, t0, rawPath, false, 'truncated during transfer', 'error', sent);
      return;
    }
    res.end();
    finish(req, res, t0, rawPath, false, undefined, undefined, sent);
  }

  /** The client went away mid-body (either path): counted once as aborted. */
  function bodyAborted(req: IncomingMessage, res: ServerResponse, t0: number, rawPath: string, sent: number, length: number): void {
    metrics.httpBytes.inc(sent);
    finish(req, res, t0, rawPath, false, `client closed after ${sent} of ${length} bytes`, 'aborted');
  }

  /**
   * The body by sendfile(2): the headers go out through node:http, then the kernel copies the range
   * from the page cache to the socket. Same outcomes as the stream path: a short file cuts the
   * connection, a client gone mid-body is counted once as aborted, the file is closed exactly once.
   */
  function sendBody(sf: NonNullable<ReturnType<typeof sendfileAddon>>, sockFd: number, file: OpenFile, start: number, length: number, req: IncomingMessage, res: ServerResponse, t0: number, rawPath: string): void {
    let accounted = false;
    let job: SendfileJob | undefined;
    const closeFile = () => file.release();
    res.on('close', () => {
      if (accounted) return;
      accounted = true;
      // The client went away mid-body: stop sending, count it once.
      const sent = job ? job.cancel() : 0;
      closeFile();
      bodyAborted(req, res, t0, rawPath, sent, length);
    });
    const done = (errno: number, sent: number): void => {
      if (accounted) return; // the socket (and so its fd number) may be gone: leave it alone
      accounted = true;
      uncork();
      closeFile();
      if (errno === ERRNO.EPIPE || errno === ERRNO.ECONNRESET) {
        res.destroy();
        return bodyAborted(req, res, t0, rawPath, sent, length);
      }
      if (errno !== 0) {
        metrics.httpBytes.inc(sent);
        logger.warn({ event: 'http.artifact.read_error', path: rawPath, err: `errno ${errno}` });
        res.destroy();
        return finish(req, res, t0, rawPath, false, `read error: errno ${errno}`, 'error');
      }
      // Node wrote the headers only; the body went around it, so end() adds nothing to the wire.
      endBody(req, res, t0, rawPath, sent, length);
    };
    const go = () => {
      if (accounted) return;
      try {
        job = sendfileToSocket(sf, sockFd, file.fh.fd, start, length, done);
      } catch (e) {
        logger.warn({ event: 'http.artifact.read_error', path: rawPath, err: String(e) });
        done(ERRNO.EIO, 0);
      }
    };
    // Corked, the headers wait for the body and leave in full segments with it (nginx: tcp_nopush).
    const corked = CORK && sf.cork?.(sockFd, true) === true;
    const uncork = () => { if (corked) sf.cork!(sockFd, false); };
    res.flushHeaders();
    const sock = res.socket!;
    // Bytes may go to the fd directly only once everything Node queued on the socket (the headers)
    // is in the kernel: usually at once; otherwise the empty write's callback says when.
    if (sock.writableLength === 0 && !sock.writableCorked) go();
    else sock.write(EMPTY, (err) => { if (!err) go(); });
  }

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    handle(req, res).catch((err: unknown) => {
      logger.error({ event: 'http.request.error', path: req.url, err: String(err) });
      if (!res.headersSent) plain(res, 500, 'internal error', req.method === 'HEAD');
      else res.destroy();
    });
  }

  return {
    async listen() {
      for (const text of config.http.listen) {
        const hp = parseHostPort(text, 80);
        const server = createServer({ keepAliveTimeout: 5000, headersTimeout: 10000, requestTimeout: 30000 }, onRequest);
        server.on('clientError', (_err, socket) => {
          metrics.dropped.inc({ proto: 'http', reason: 'client-error' });
          if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
          else socket.destroy();
        });
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ host: hp.host, port: hp.port }, () => { server.off('error', reject); resolve(); });
        });
        const port = (server.address() as AddressInfo).port;
        servers.push({ server, host: hp.host, port });
        logger.info({ event: 'http.listen', host: hp.host, port });
      }
    },
    addresses() {
      return servers.map((s) => ({ host: s.host, port: s.port }));
    },
    async close() {
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => {
        s.server.close(() => resolve());
        s.server.closeAllConnections();
      })));
      servers.length = 0;
      cache?.clear();
    },
  };
}
