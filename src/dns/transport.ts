import dgram from 'node:dgram';
import net from 'node:net';
import { FrameReader, frame } from './codec/tcp-framing.js';

/** A datagram's sender. */
export interface Peer { address: string; port: number }

/**
 * A lookup for `dgram` that answers at once: we only ever send to the IP address a datagram came from,
 * and the default (dns.lookup) defers every send by a tick and tests the address with a regexp.
 */
function literalLookup(family: 4 | 6) {
  return (address: string, _opts: unknown, cb: (err: Error | null, address: string, family: number) => void): void => cb(null, address, family);
}

/**
 * Give a socket we did not create (a handle received over IPC) the same immediate lookup. This reaches
 * into dgram's internal state, so it checks the shape first and otherwise leaves the socket alone.
 */
export function fastSend(sock: dgram.Socket): void {
  const sym = Object.getOwnPropertySymbols(sock).find((s) => s.description === 'state symbol');
  const state = sym ? (sock as unknown as Record<symbol, { handle?: { lookup?: unknown } } | undefined>)[sym] : undefined;
  if (state?.handle && typeof state.handle.lookup === 'function') {
    state.handle.lookup = (address: string, cb: (err: Error | null, ip: string) => void): void => cb(null, address);
  }
}

/** Bind a UDP socket and hand each datagram to `onMessage`, which replies with `sock.send` itself. */
export function bindUdp(host: string, port: number, onMessage: (msg: Buffer, peer: dgram.RemoteInfo, sock: dgram.Socket) => void): Promise<dgram.Socket> {
  const v6 = host.includes(':');
  const sock = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', lookup: literalLookup(v6 ? 6 : 4) as never });
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, host, () => {
      sock.removeListener('error', reject);
      sock.on('error', () => { /* ICMP errors on send: nothing to do */ });
      sock.on('message', (msg, rinfo) => onMessage(msg, rinfo, sock));
      resolve(sock);
    });
  });
}

/** TCP limits (RFC 7766 §6.2: idle timeout; a cap on connections). */
export interface TcpOptions { idleMs: number; maxConnections: number; onRefused: () => void }

/** A bound TCP listener and a close that also ends open connections. */
export interface TcpListener { server: net.Server; close(): Promise<void> }

/**
 * Bind a TCP listener: frames in (RFC 1035 §4.2.2), each handed to `onMessage` in order; its replies
 * (several for a zone transfer) are written framed. A bad frame closes the connection.
 */
export function bindTcp(host: string, port: number, opts: TcpOptions,
  onMessage: (msg: Buffer, peer: Peer) => Promise<Buffer[] | null>, onBadFrame: () => void): Promise<TcpListener> {
  const server = net.createServer({ noDelay: true });
  const open = new Set<net.Socket>();
  server.maxConnections = opts.maxConnections;
  server.on('drop', () => opts.onRefused());
  server.on('connection', (sock) => {
    const reader = new FrameReader();
    const peer: Peer = { address: sock.remoteAddress ?? '', port: sock.remotePort ?? 0 };
    let chain: Promise<void> = Promise.resolve();
    open.add(sock);
    sock.on('close', () => open.delete(sock));
    sock.setTimeout(opts.idleMs, () => sock.destroy());
    sock.on('error', () => sock.destroy());
    sock.on('data', (chunk) => {
      let msgs: Buffer[];
      try {
        msgs = reader.push(chunk);
        if (reader.buffered > 65537) throw new Error('frame too large');
      } catch {
        onBadFrame();
        sock.destroy();
        return;
      }
      for (const m of msgs) {
        // Answers go out in query order (RFC 7766 §6.2.1.1 allows either; in order is simplest).
        chain = chain.then(async () => {
          if (sock.destroyed) return;
          const out = await onMessage(m, peer);
          if (out && !sock.destroyed) for (const b of out) sock.write(frame(b));
        }).catch(() => { sock.destroy(); });
      }
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      server.removeListener('error', reject);
      resolve({
        server,
        close: () => new Promise<void>((r) => {
          server.close(() => r());
          for (const s of open) s.destroy();
        }),
      });
    });
  });
}
