import { createServer, connect, type Server, type Socket } from 'node:net';
import { chmodSync, mkdirSync, unlinkSync, lstatSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../lib/logger.js';
import { AppError, ErrorCode } from '../lib/errors.js';
import { MAX_LINE, type ControlRequest, type ControlResponse } from './protocol.js';
import { peerUid } from './peer.js';

export type ControlHandler = (args: Record<string, unknown>) => Promise<unknown> | unknown;

export interface ControlServer {
  handle(cmd: string, fn: ControlHandler): void;
  close(): Promise<void>;
  path: string;
}

/**
 * Listen on a Unix socket. The socket file is created mode 0600 (owner only) inside a directory the
 * daemon owns; a stale socket left by a killed daemon is replaced, a live one is refused.
 */
export async function startControlServer(path: string, logger: Logger): Promise<ControlServer> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  await removeStale(path);
  const handlers = new Map<string, ControlHandler>();
  const server: Server = createServer((sock) => serve(sock, handlers, logger));
  const oldMask = process.umask(0o177);
  try {
    await new Promise<void>((res, rej) => {
      server.once('error', rej);
      server.listen(path, () => { server.off('error', rej); res(); });
    });
  } finally {
    process.umask(oldMask);
  }
  chmodSync(path, 0o600);
  return {
    path,
    handle: (cmd, fn) => { handlers.set(cmd, fn); },
    close: () => new Promise<void>((res) => {
      server.close(() => res());
      try { unlinkSync(path); } catch { /* already gone */ }
    }),
  };
}

async function removeStale(path: string): Promise<void> {
  try {
    if (!lstatSync(path).isSocket()) throw new AppError(ErrorCode.CONTROL_ERR, `${path} exists and is not a socket`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  const alive = await new Promise<boolean>((res) => {
    const s = createConnectionSafe(path);
    s.once('connect', () => { s.destroy(); res(true); });
    s.once('error', () => res(false));
  });
  if (alive) throw new AppError(ErrorCode.CONTROL_ERR, `another builderd is listening on ${path}`);
  unlinkSync(path);
}

function createConnectionSafe(path: string): Socket {
  return connect(path);
}

function serve(sock: Socket, handlers: Map<string, ControlHandler>, logger: Logger): void {
  // Only the daemon's own user and root may drive it (the socket's mode says the same; this holds even
  // if the mode or the directory is loosened by mistake).
  const uid = peerUid(sock);
  const me = process.getuid?.();
  if (uid !== undefined && me !== undefined && uid !== me && uid !== 0) {
    logger.warn({ event: 'control.refused', uid }, 'control connection from another user refused');
    sock.end(JSON.stringify({ id: 0, ok: false, error: { code: ErrorCode.CONTROL_ERR, message: `uid ${uid} may not use this control socket` } }) + '\n');
    return;
  }
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('error', () => sock.destroy());
  sock.on('data', (chunk: string) => {
    buf += chunk;
    if (buf.length > MAX_LINE) { sock.destroy(); return; }
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      void answer(line).then((resp) => { if (!sock.destroyed) sock.write(JSON.stringify(resp) + '\n'); });
    }
  });
  const answer = async (line: string): Promise<ControlResponse> => {
    let req: ControlRequest;
    try {
      req = JSON.parse(line) as ControlRequest;
      if (typeof req !== 'object' || req === null || typeof req.cmd !== 'string') throw new Error('bad request');
    } catch {
      return { id: 0, ok: false, error: { code: ErrorCode.CONTROL_ERR, message: 'malformed request' } };
    }
    const fn = handlers.get(req.cmd);
    if (!fn) return { id: req.id, ok: false, error: { code: ErrorCode.CONTROL_ERR, message: `unknown command "${req.cmd}"` } };
    try {
      return { id: req.id, ok: true, result: await fn(req.args ?? {}) };
    } catch (e) {
      const err = e as AppError;
      logger.warn({ event: 'control.error', cmd: req.cmd, err: err.message }, 'control command failed');
      return { id: req.id, ok: false, error: { code: err.code ?? ErrorCode.CONTROL_ERR, message: err.message, details: err.details } };
    }
  };
}
