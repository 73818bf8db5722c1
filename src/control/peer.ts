import type { Socket } from 'node:net';
import { loadNativeAddon } from '../lib/native-addon.js';

interface PeerCredAddon { get(fd: number): { pid: number; uid: number; gid: number } }
let addon: PeerCredAddon | null | undefined;

function load(): PeerCredAddon | null {
  if (addon !== undefined) return addon;
  try { addon = loadNativeAddon<PeerCredAddon>('peercred'); } catch { addon = null; }
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
