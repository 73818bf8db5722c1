/*
 * Zero-copy response bodies through native/sendfile (sendfile(2) from the artifact's fd to the client's
 * socket, driven by a uv_poll_t on Node's loop). Optional: without the addon (not built, not Linux) or
 * with BUILDERD_HTTP_SENDFILE=0 the server streams the file as before.
 */
import type { Socket } from 'node:net';
import { loadNativeAddon } from '../lib/native-addon.js';

/** The native addon's surface (native/sendfile/sendfile.c). */
interface SendfileAddon {
  /** A number when the transfer already ended (bytes sent, or -errno; cb is then never called), else a job. */
  start(sockFd: number, fileFd: number, offset: number, length: number, cb: (errno: number, sent: number) => void): number | object;
  cancel(job: object): number;
  /** TCP_CORK on or off; false when setsockopt failed. */
  cork?(sockFd: number, on: boolean): boolean;
}

let addon: SendfileAddon | null | undefined;

/** The addon, or null when it is not built or disabled (BUILDERD_HTTP_SENDFILE=0). */
export function sendfileAddon(): SendfileAddon | null {
  if (addon !== undefined) return addon;
  addon = null;
  if (process.env['BUILDERD_HTTP_SENDFILE'] === '0' || process.platform !== 'linux') return addon;
  try { addon = loadNativeAddon<SendfileAddon>('sendfile'); } catch { /* not built: the JS path serves */ }
  return addon;
}

/** The OS fd under a plain TCP socket, or undefined (TLS, pipes, a handle already gone). */
export function socketFd(socket: Socket | null | undefined): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } } | null | undefined)?._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/** A running transfer: `done` fires once (unless cancelled) with errno 0 or the failing errno, and the bytes sent. */
export interface SendfileJob {
  /** Stop now (client gone); returns the bytes sent so far. `done` is not called afterwards. */
  cancel(): number;
}

/**
 * Send `length` bytes of `fileFd` from `offset` to the socket. The socket must have nothing queued in
 * Node (headers already written through): bytes go straight to the kernel behind Node's back.
 */
export function sendfileToSocket(a: SendfileAddon, sockFd: number, fileFd: number, offset: number, length: number, done: (errno: number, sent: number) => void): SendfileJob {
  let finished = false;
  const job = a.start(sockFd, fileFd, offset, length, (errno, sent) => { finished = true; done(errno, sent); });
  if (typeof job === 'number') {
    // Sent (or failed) at once: report it from the next tick, like a transfer that waited.
    finished = true;
    process.nextTick(done, job < 0 ? -job : 0, job < 0 ? 0 : job);
    return { cancel: () => (job < 0 ? 0 : job) };
  }
  return {
    cancel() {
      if (finished) return 0;
      finished = true;
      return a.cancel(job);
    },
  };
}
