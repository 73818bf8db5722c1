import { isIPv4 } from 'node:net';
import { loadNativeAddon } from '../lib/native-addon.js';

/*
 * Batched UDP for the DNS hot path (native/udpbatch: recvmmsg + one JS call + sendmmsg per batch).
 * Optional: when the addon is not built (or BUILDERD_DNS_BATCH=0), the service uses node:dgram.
 */

interface UdpBatchAddon {
  open(address: string, port: number, rcvbuf?: number): number;
  localPort(fd: number): number;
  sendTo(fd: number, buf: Buffer, sockaddr: Buffer): number;
  start(fd: number, slots: number, inSlot: number, outSlot: number, inBuf: Buffer, outBuf: Buffer, addrs: Buffer, lens: Int32Array,
    cb: (n: number) => void, cache: object | null, maxUdp: number): object;
  stop(handle: object, closeFd: boolean): void;
  closeFd(fd: number): void;
  cacheCreate(): object;
  cachePut(cache: object, key: Buffer, keyLength: number, answer: Buffer): void;
  cacheClear(cache: object): void;
}

/** The addon's answer cache (a mirror of the engine's, for UDP): hits are answered without JavaScript. */
export interface NativeAnswerCache {
  handle: object;
  put(key: Buffer, keyLength: number, answer: Buffer): void;
  clear(): void;
}

/** A native answer cache, or undefined without the addon. */
export function createNativeCache(): NativeAnswerCache | undefined {
  const a = udpBatchAddon();
  if (!a) return undefined;
  const handle = a.cacheCreate();
  return { handle, put: (k, n, r) => a.cachePut(handle, k, n, r), clear: () => a.cacheClear(handle) };
}

let addon: UdpBatchAddon | null | undefined;

/** The addon, or null when it is not built or turned off (BUILDERD_DNS_BATCH=0). */
export function udpBatchAddon(): UdpBatchAddon | null {
  if (addon !== undefined) return addon;
  addon = null;
  if (process.env['BUILDERD_DNS_BATCH'] === '0') return addon;
  try { addon = loadNativeAddon<UdpBatchAddon>('udpbatch'); } catch { /* not built: the JS path serves */ }
  return addon;
}

const ADDR_SLOT = 32;
/** Datagrams per recvmmsg. */
const SLOTS = 64;
/** Queries longer than this are cut by the kernel (MSG_TRUNC) and dropped as `too-long`. */
const IN_SLOT = 4096;

/** A datagram's sender, decoded from its sockaddr only when asked (most answers never need it). */
export class BatchPeer {
  slot = 0;
  private readonly addrs: Buffer;
  constructor(addrs: Buffer) {
    this.addrs = addrs;
  }
  get address(): string {
    return sockaddrAddress(this.addrs, this.slot * ADDR_SLOT);
  }
  get port(): number {
    return this.addrs.readUInt16BE(this.slot * ADDR_SLOT + 2);
  }
}

/** sockaddr_in / sockaddr_in6 (Linux layout: family in host order, port and address in network order) → text. */
export function sockaddrAddress(b: Buffer, o: number): string {
  const family = b.readUInt16LE(o);
  if (family === 2) return `${b[o + 4]}.${b[o + 5]}.${b[o + 6]}.${b[o + 7]}`;
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(b.readUInt16BE(o + 8 + i * 2));
  // IPv4-mapped (::ffff:a.b.c.d), as node:dgram reports it.
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return `::ffff:${b[o + 20]}.${b[o + 21]}.${b[o + 22]}.${b[o + 23]}`;
  // RFC 5952 §4.2.3: the longest run of two or more zero groups becomes "::".
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** A sockaddr for `address:port` (for answers sent outside a batch). */
export function sockaddr(address: string, port: number): Buffer {
  if (isIPv4(address)) {
    const b = Buffer.alloc(16);
    b.writeUInt16LE(2, 0);
    b.writeUInt16BE(port, 2);
    address.split('.').forEach((x, i) => { b[4 + i] = Number(x); });
    return b;
  }
  const b = Buffer.alloc(28);
  b.writeUInt16LE(10, 0);
  b.writeUInt16BE(port, 2);
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (v4) {
    b.writeUInt16BE(0xffff, 18);
    v4[1]!.split('.').forEach((x, i) => { b[20 + i] = Number(x); });
    return b;
  }
  const [head = '', tail = ''] = address.split('::');
  const h = head ? head.split(':') : [];
  const t = address.includes('::') ? (tail ? tail.split(':') : []) : [];
  const groups = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16) || 0, 8 + i * 2));
  return b;
}

/**
 * Handles one datagram (`len` bytes at `base` in `buf`, valid only during the call): write the answer
 * into `out` at `off` and return its length; 0 sends nothing (dropped, or answered later through `sendTo`).
 */
export type BatchHandler = (buf: Buffer, base: number, len: number, peer: BatchPeer, out: Buffer, off: number) => number;

/** What serveBatch calls besides the handler. */
export interface BatchHooks {
  onError(e: unknown): void;
  onTooLong(): void;
  /** A datagram the native cache answered (for the counters). */
  onHit(rcode: number, qtype: number): void;
  /** Called once per batch: true when the native answers must be thrown away (the caches were cleared). */
  revalidate(): boolean;
}

/** A UDP socket served in batches. */
export interface BatchSocket {
  fd: number;
  port: number;
  /** Send one datagram now (an answer made outside a batch). */
  sendTo(buf: Buffer, address: string, port: number): void;
  close(): void;
}

/** Open and bind a UDP socket with the addon (port 0 allowed); not yet read. */
export function openBatchFd(address: string, port: number): { fd: number; port: number } {
  const a = udpBatchAddon();
  if (!a) throw new Error('udpbatch addon not available');
  // A burst of queries (dnsperf keeps 100 in flight per client) overflows the default receive buffer.
  const fd = a.open(address, port, 4 * 1024 * 1024);
  return { fd, port: a.localPort(fd) };
}

/** Close a fd opened by openBatchFd that was never served. */
export function closeBatchFd(fd: number): void {
  udpBatchAddon()?.closeFd(fd);
}

/**
 * Serve `fd` in batches: each batch of up to 64 datagrams is one call into JavaScript and one sendmmsg;
 * with `cache`, datagrams it holds the answer for are answered in C first. `ownsFd` (default true):
 * close the fd on close(). `maxUdp`: our EDNS size (dns.udp_size), part of the cache key.
 */
export function serveBatch(fd: number, port: number, outSlot: number, hooks: BatchHooks, handler: BatchHandler,
  opts: { ownsFd?: boolean; cache?: NativeAnswerCache | undefined; maxUdp?: number } = {}): BatchSocket {
  const ownsFd = opts.ownsFd ?? true;
  const a = udpBatchAddon();
  if (!a) throw new Error('udpbatch addon not available');
  const slot = Math.max(512, outSlot);
  const inBuf = Buffer.alloc(SLOTS * IN_SLOT);
  const outBuf = Buffer.alloc(SLOTS * slot);
  const addrs = Buffer.alloc(SLOTS * ADDR_SLOT);
  const lens = new Int32Array(SLOTS * 3);
  const peer = new BatchPeer(addrs);
  const onBatch = (n: number): void => {
    // An authority flip seen now also voids what the native cache answered in this batch.
    const redo = hooks.revalidate();
    for (let i = 0; i < n; i++) {
      const len = lens[3 * i]!;
      if (len < 0) { lens[3 * i + 1] = 0; hooks.onTooLong(); continue; }
      const hit = lens[3 * i + 2]!;
      if (hit > 0 && !redo) { hooks.onHit(outBuf[i * slot + 3]! & 0xf, hit - 1); continue; }
      peer.slot = i;
      let w = 0;
      try {
        w = handler(inBuf, i * IN_SLOT, len, peer, outBuf, i * slot);
      } catch (e) {
        hooks.onError(e);
      }
      lens[3 * i + 1] = w > 0 && w <= slot ? w : 0;
    }
  };
  const h = a.start(fd, SLOTS, IN_SLOT, slot, inBuf, outBuf, addrs, lens, onBatch, opts.cache?.handle ?? null, opts.maxUdp ?? slot);
  let closed = false;
  return {
    fd, port,
    sendTo(buf, address, p) {
      if (!closed) a.sendTo(fd, buf, sockaddr(address, p));
    },
    close() {
      if (closed) return;
      closed = true;
      a.stop(h, ownsFd);
    },
  };
}
