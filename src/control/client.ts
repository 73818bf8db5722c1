import { connect } from 'node:net';
import { AppError, ErrorCode } from '../lib/errors.js';
import type { ControlResponse } from './protocol.js';

/** Send one command to the running daemon and return its result (throws AppError on failure). */
export async function controlCall(socketPath: string, cmd: string, args: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    let buf = '';
    const timer = setTimeout(() => { sock.destroy(); reject(new AppError(ErrorCode.CONTROL_ERR, `no answer from ${socketPath} within ${timeoutMs} ms`)); }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(JSON.stringify({ id: 1, cmd, args }) + '\n'));
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(new AppError(ErrorCode.CONTROL_ERR, `cannot reach builderd at ${socketPath}: ${(e as NodeJS.ErrnoException).code ?? e.message} (is it running?)`));
    });
    sock.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      sock.end();
      const resp = JSON.parse(buf.slice(0, nl)) as ControlResponse;
      if (resp.ok) resolve(resp.result);
      else reject(new AppError(resp.error.code as ErrorCode, resp.error.message, resp.error.details));
    });
  });
}
