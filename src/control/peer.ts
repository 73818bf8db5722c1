import { createRequire } from 'node:module';
import type { Socket } from 'node:net';

interface PeerCredAddon { get(fd: number): { pid: number; uid: number; gid: number } }
let addon: PeerCredAddon | null | undefined;

function load(): PeerCredAddon | null {
  if (addon !== undefined) return addon;
  const require = createRequire(import.meta.url);
  for (const c of ['../../native/peercred/build/Release/peercred.node', '../../../native/peercred/build/Release/peercred.node']) {
    try { addon = require(new URL(c, import.meta.url).pathname) as PeerCredAddon; return addon; } catch { /* next */ }
  }
  addon = null;
  return addon;
}

/**
 * The uid of the process at the other end of an accepted control connection (SO_PEERCRED), or
 * undefined when it cannot be read (addon not built): the socket's 0600 mode is then the only check.
 */
export function peerUid(sock: Socket): number | undefined {
  const a = load();
  const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (!a || typeof fd !== 'number' || fd < 0) return undefined;
  try { return a.get(fd).uid; } catch { return undefined; }
}
