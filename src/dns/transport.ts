import dgram from 'node:dgram';
import net from 'node:net';
import { FrameReader, frame } from './codec/tcp-framing.js';

/** A datagram's sender. */
export interface Peer { address: string; port: number }

/** Bind a UDP socket and hand each datagram to `onMessage`; it replies through `send`. */
export function bindUdp(host: string, port: number, onMessage: (msg: Buffer, peer: Peer, send: (b: Buffer) => void) => void): Promise<dgram.Socket> {
  const sock = dgram.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4' });
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, host, () => {
      sock.removeListener('error', reject);
      sock.on('error', () => { /* ICMP errors on send: nothing to do */ });
      sock.on('message', (msg, rinfo) => {
        onMessage(msg, rinfo, (b) => sock.send(b, rinfo.port, rinfo.address));
      });
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
