import dgram from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { AppError, ErrorCode } from '../lib/errors.js';
import { loadNativeAddon } from '../lib/native-addon.js';

/** One listening DHCP socket: bound to a device (SO_BINDTODEVICE) or a wildcard socket (iface null). */
export interface DhcpSocket {
  /** Interface the socket is bound to; null for the wildcard socket (dhcp.interfaces empty). */
  iface: string | null;
  /** Local address bound (0.0.0.0 unless a test bound one address). */
  address: string;
  port: number;
  socket: dgram.Socket;
}

interface BindToDeviceAddon {
  openUdp4(iface: string, address: string, port: number, rcvbuf?: number): number;
  closeFd(fd: number): void;
}

let addon: BindToDeviceAddon | undefined;
let addonError: Error | undefined;

/**
 * The native SO_BINDTODEVICE addon (native/bindtodevice, built by `npm install`/`npm run build:native`).
 * Loaded lazily: it is needed only when dhcp.interfaces names devices.
 */
export function loadBindToDevice(): BindToDeviceAddon {
  if (addon) return addon;
  if (addonError) throw addonError;
  try {
    addon = loadNativeAddon<BindToDeviceAddon>('bindtodevice');
    return addon;
  } catch (e) {
    addonError = new AppError(ErrorCode.LISTEN_ERR, `SO_BINDTODEVICE addon not loaded (run "npm run build:native"): ${(e as Error).message}`);
    throw addonError;
  }
}

function bindSocket(sock: dgram.Socket, opts: dgram.BindOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    sock.once('error', onError);
    sock.bind(opts, () => {
      sock.off('error', onError);
      resolve();
    });
  });
}

/**
 * Receive buffer asked for: DHCP arrives in bursts (a rack powering on, perfdhcp); the kernel default
 * (~208 KiB) overflowed at 8k DORA/s here. The addon forces it past net.core.rmem_max when root.
 */
export const RECV_BUFFER_BYTES = 8 * 1024 * 1024;

/**
 * Open a UDP socket on `port` bound to device `iface` (SO_BINDTODEVICE and SO_BROADCAST set in the
 * addon before bind(2), so each served interface can have its own 0.0.0.0:port socket), or, with
 * iface null, a plain 0.0.0.0:port socket (no addon needed).
 */
const SEND_BUFFER_BYTES = 4 * 1024 * 1024;

export async function openDhcpSocket(iface: string | null, port: number, address = '0.0.0.0'): Promise<DhcpSocket> {
  // With the addon the buffer is set on the fd (forced); dgram's own option would cap it at rmem_max again.
  const socket = dgram.createSocket(iface === null
    ? { type: 'udp4', reuseAddr: false, recvBufferSize: RECV_BUFFER_BYTES }
    : { type: 'udp4', reuseAddr: false });
  if (iface === null) {
    await bindSocket(socket, { port, address, exclusive: true });
  } else {
    const a = loadBindToDevice();
    let fd: number;
    try {
      fd = a.openUdp4(iface, address, port, RECV_BUFFER_BYTES);
    } catch (e) {
      socket.close();
      throw new AppError(ErrorCode.LISTEN_ERR, `dhcp: cannot listen on ${iface} port ${port}: ${(e as Error).message}`);
    }
    try {
      await bindSocket(socket, { fd });
    } catch (e) {
      a.closeFd(fd);
      throw e;
    }
  }
  socket.setBroadcast(true);
  // Replies to clients whose address needs ARP wait in the send queue; a deep queue keeps one slow
  // destination from holding up the replies behind it (TFTP does the same).
  try { socket.setSendBufferSize(SEND_BUFFER_BYTES); } catch { /* kernel cap (wmem_max): keep the default */ }
  return { iface, address, port: socket.address().port, socket };
}

/** IPv4 addresses of an interface (all non-internal interfaces for null), read from the kernel. */
export function interfaceAddresses(iface: string | null): string[] {
  const all = networkInterfaces();
  const out: string[] = [];
  for (const [name, list] of Object.entries(all)) {
    if (iface !== null && name !== iface) continue;
    for (const a of list ?? []) {
      if (a.family !== 'IPv4') continue;
      if (iface === null && a.internal) continue;
      out.push(a.address);
    }
  }
  return out;
}

/** [iface, IPv4] pairs of one interface, or of every non-internal interface for null. */
export function localAddressesByIface(iface: string | null): [string, string][] {
  const out: [string, string][] = [];
  for (const [name, list] of Object.entries(networkInterfaces())) {
    if (iface !== null && name !== iface) continue;
    for (const a of list ?? []) if (a.family === 'IPv4' && (iface !== null || !a.internal)) out.push([name, a.address]);
  }
  return out;
}

/** Close a socket, resolving when closed (idempotent). */
export function closeDhcpSocket(s: DhcpSocket): Promise<void> {
  return new Promise((resolve) => {
    try {
      s.socket.close(() => resolve());
    } catch {
      resolve();
    }
  });
}
