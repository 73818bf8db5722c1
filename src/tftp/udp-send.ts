/*
 * A window of DATA packets in one sendmmsg(2) (native/udpsend), for RFC 7440 windowsize transfers.
 * Optional: without the addon (not built, not Linux) or with BUILDERD_TFTP_SENDMMSG=0 every packet goes
 * through node:dgram as before.
 */
import type { Socket } from 'node:dgram';
import { loadNativeAddon } from '../lib/native-addon.js';

/** The native addon's surface (native/udpsend/udpsend.c). */
export interface UdpSendAddon {
  /** Datagrams sent from `buf` (back to back, lengths in `lens`), fewer when the socket is full, or -errno. */
  send(fd: number, buf: Buffer, lens: Uint32Array, count: number): number;
}

let addon: UdpSendAddon | null | undefined;

/** The addon, or null when it is not built or disabled. */
export function udpSendAddon(): UdpSendAddon | null {
  if (addon !== undefined) return addon;
  addon = null;
  if (process.env['BUILDERD_TFTP_SENDMMSG'] === '0' || process.platform !== 'linux') return addon;
  try { addon = loadNativeAddon<UdpSendAddon>('udpsend'); } catch { /* not built: the JS path serves */ }
  return addon;
}

/** The OS fd of a bound node:dgram socket (its internal state's handle), or undefined. */
export function dgramFd(sock: Socket): number | undefined {
  const sym = Object.getOwnPropertySymbols(sock).find((s) => s.description === 'state symbol');
  const state = sym ? (sock as unknown as Record<symbol, { handle?: { fd?: unknown } } | undefined>)[sym] : undefined;
  const fd = state?.handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}
