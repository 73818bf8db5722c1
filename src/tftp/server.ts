import { createSocket, type Socket, type RemoteInfo } from 'node:dgram';
import { open, type FileHandle } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { isIPv6 } from 'node:net';
import type { Config } from '../config/types.js';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';
import type { Clock } from '../lib/clock.js';
import type { BootEvent } from '../lib/boot-event.js';
import { parseHostPort } from '../lib/net.js';
import { confineLexical, realRoot, resolveUnder } from '../lib/confine.js';
import { decode, encodeError, encodeOack, ErrorCodes, Opcode, toNetascii, TftpDecodeError, type Packet } from './codec.js';
import { abort, onPacket, onTimeout, startSession, type Effect, type Session, type SessionResult } from './session.js';
import { dgramFd, udpSendAddon } from './udp-send.js';

/** Dependencies of the TFTP server; main.ts wires them. */
export interface TftpServerDeps {
  config: Config;
  /** Artifacts root served read-only. */
  root: string;
  /** Per-host boot files (grub.cfg-<mac>, pxelinux.cfg/01-<mac>): content, or undefined to fall through to the root. */
  dynamic?: (path: string, peer: { address: string }) => Promise<Buffer | undefined>;
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
  onBootEvent?: (e: BootEvent) => void;
}

/** A running TFTP server. */
export interface TftpServer {
  listen(): Promise<void>;
  addresses(): { host: string; port: number }[];
  close(): Promise<void>;
  /** Transfers in progress (for the status page and tests). */
  active(): number;
}

/** netascii is converted in memory; refuse to convert anything larger. */
const NETASCII_MAX = 16 * 1024 * 1024;
/** File read granularity: one read serves many blocks. */
const CHUNK = 1024 * 1024;
const udpSend = udpSendAddon();
const SOCKET_BUFFER = 4 * 1024 * 1024;

interface Source {
  size: number;
  /** In-memory content (dynamic files, netascii), or a file read in chunks. */
  buf?: Buffer;
  fh?: FileHandle;
}

/** Path MTU of the interface that owns `address` (Linux sysfs), 1500 when unknown. */
function mtuOf(address: string): number {
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (!addrs?.some((a) => a.address === address)) continue;
    try {
      const n = Number(readFileSync(`/sys/class/net/${name}/mtu`, 'utf8').trim());
      if (Number.isInteger(n) && n >= 68) return n;
    } catch { /* not Linux */ }
  }
  return 1500;
}

/** Expand a wildcard listen address to each local address of that family (we must know the local address of every request). */
function expandListen(host: string): string[] {
  const v6 = isIPv6(host);
  if (host !== '0.0.0.0' && host !== '::') return [host];
  const out: string[] = [];
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if ((a.family === 'IPv6') === v6 && !(v6 && a.scopeid)) out.push(a.address);
    }
  }
  return out;
}

/** Create the TFTP server (RFC 1350 reads only, RFC 2347/2348/2349/7440 options). Call listen() to bind. */
export async function createTftpServer(deps: TftpServerDeps): Promise<TftpServer> {
  const { config, logger, metrics, clock } = deps;
  const rootReal = await realRoot(deps.root);
  const listeners: { sock: Socket; host: string; port: number; maxBlksize: number }[] = [];
  const transfers = new Set<Transfer>();
  const byTid = new Map<string, Transfer | null>();
  const perClient = new Map<string, number>();
  let closing = false;

  const dropped = (reason: string) => metrics.dropped.inc({ proto: 'tftp', reason });

  function event(e: Omit<BootEvent, 'proto'>): void {
    if (!deps.onBootEvent) return;
    try { deps.onBootEvent({ proto: 'tftp', ...e }); } catch (err) { logger.warn({ event: 'tftp.boot_event.error', err: String(err) }); }
  }

  function release(key: string, address: string): void {
    byTid.delete(key);
    const n = (perClient.get(address) ?? 1) - 1;
    if (n <= 0) perClient.delete(address); else perClient.set(address, n);
  }

  /** One transfer: its own socket (a new TID, RFC 1350 §4), its session and its source. */
  class Transfer {
    readonly key: string;
    readonly peer: RemoteInfo;
    readonly path: string;
    readonly sock: Socket;
    readonly src: Source;
    readonly started: number;
    readonly dynamic: boolean;
    session!: Session;
    timer: NodeJS.Timeout | undefined;
    timerMs = 0;
    busy = false;
    backlog: (Packet | 'timeout')[] = [];
    chunkStart = 0;
    chunk: Buffer | undefined;
    chunkLen = 0;
    bytes = 0;
    finished = false;
    /** The socket's fd when windows go out by sendmmsg (native/udpsend); undefined: node:dgram only. */
    fd: number | undefined;
    batch: Buffer | undefined;
    lens = new Uint32Array(16);

    constructor(key: string, peer: RemoteInfo, path: string, sock: Socket, src: Source, dynamic: boolean) {
      this.key = key;
      this.peer = peer;
      this.path = path;
      this.sock = sock;
      this.src = src;
      this.dynamic = dynamic;
      this.started = clock.mono();
      this.fd = udpSend ? dgramFd(sock) : undefined;
      sock.on('message', (msg) => this.onMessage(msg));
      sock.on('error', (err) => {
        logger.warn({ event: 'tftp.transfer.socket_error', peer: peer.address, err: err.message });
        this.apply(abort(this.session, ErrorCodes.notDefined, 'socket error'));
      });
    }

    start(options: ReadonlyMap<string, string>, maxBlksize: number): void {
      const { session, effects } = startSession(this.src.size, options, {
        maxBlksize,
        maxWindowsize: config.tftp.max_windowsize,
      });
      this.session = session;
      this.apply(effects);
    }

    onMessage(msg: Buffer): void {
      let p: Packet;
      try {
        p = decode(msg);
      } catch (e) {
        dropped(e instanceof TftpDecodeError ? `decode-${e.reason}` : 'decode');
        return;
      }
      if (this.busy) { this.backlog.push(p); return; }
      this.apply(onPacket(this.session, p));
    }

    onTimer(): void {
      if (this.busy) { this.backlog.push('timeout'); return; }
      this.apply(onTimeout(this.session));
    }

    /** Run effects; when DATA needs bytes not in the chunk, read first, then continue in order. */
    apply(effects: Effect[]): void {
      if (this.src.fh) {
        let lo = Infinity;
        let hi = 0;
        for (const e of effects) {
          if (e.type === 'data' && e.length > 0) {
            if (e.offset < lo) lo = e.offset;
            if (e.offset + e.length > hi) hi = e.offset + e.length;
          }
        }
        if (hi > 0 && !(this.chunk && lo >= this.chunkStart && hi <= this.chunkStart + this.chunkLen)) {
          this.busy = true;
          void this.fill(lo, hi).then((ok) => {
            this.busy = false;
            if (!ok) { this.exec(abort(this.session, ErrorCodes.notDefined, 'file changed during transfer')); return; }
            this.exec(effects);
            this.drain();
          }, (err: unknown) => {
            this.busy = false;
            logger.warn({ event: 'tftp.transfer.read_error', path: this.path, err: String(err) });
            this.exec(abort(this.session, ErrorCodes.notDefined, 'read error'));
          });
          return;
        }
      }
      this.exec(effects);
    }

    drain(): void {
      while (!this.busy && this.backlog.length && !this.finished) {
        const item = this.backlog.shift()!;
        this.apply(item === 'timeout' ? onTimeout(this.session) : onPacket(this.session, item));
      }
    }

    /** Read [lo, hi) plus read-ahead into the chunk. False when the file came up short (truncated under us). */
    async fill(lo: number, hi: number): Promise<boolean> {
      const bs = this.session.blksize;
      const want = Math.min(Math.max(hi - lo, Math.floor(CHUNK / bs) * bs || bs), this.src.size - lo);
      if (!this.chunk || this.chunk.length < want) this.chunk = Buffer.allocUnsafe(Math.max(want, this.chunk?.length ?? 0));
      let got = 0;
      while (got < want) {
        const { bytesRead } = await this.src.fh!.read(this.chunk, got, want - got, lo + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      this.chunkStart = lo;
      this.chunkLen = got;
      return lo + got >= hi;
    }

    payload(offset: number, length: number): Buffer {
      if (this.src.buf) return this.src.buf.subarray(offset, offset + length);
      const at = offset - this.chunkStart;
      return this.chunk!.subarray(at, at + length);
    }

    /**
     * Send a run of DATA effects (a window) in one sendmmsg when the addon is there and node:dgram has
     * nothing queued on this socket (order kept); what the kernel does not take goes through dgram.
     */
    sendWindow(run: Extract<Effect, { type: 'data' }>[]): void {
      let total = 0;
      for (const e of run) total += 4 + e.length;
      if (!this.batch || this.batch.length < total) this.batch = Buffer.allocUnsafe(total);
      const lens = this.lens.length >= run.length ? this.lens : (this.lens = new Uint32Array(run.length));
      let at = 0;
      for (let i = 0; i < run.length; i++) {
        const e = run[i]!;
        this.batch.writeUInt16BE(Opcode.DATA, at);
        this.batch.writeUInt16BE(e.block & 0xffff, at + 2);
        if (e.length > 0) this.payload(e.offset, e.length).copy(this.batch, at + 4);
        lens[i] = 4 + e.length;
        at += 4 + e.length;
        this.bytes += e.length;
      }
      let n = udpSend!.send(this.fd!, this.batch, lens, run.length);
      if (n < 0) n = 0; // a socket error: dgram sends them and reports it on 'error'
      for (let i = 0, off = 0; i < run.length; off += lens[i]!, i++) {
        // dgram may queue, so the rest are copied out of the reused batch buffer.
        if (i >= n) this.sock.send(Buffer.from(this.batch.subarray(off, off + lens[i]!)));
      }
    }

    exec(effects: Effect[]): void {
      for (let i = 0; i < effects.length; i++) {
        const e = effects[i]!;
        if (this.finished) return;
        if (e.type === 'data' && this.fd !== undefined && effects[i + 1]?.type === 'data' && this.sock.getSendQueueCount() === 0) {
          let j = i + 1;
          while (j < effects.length && effects[j]!.type === 'data') j++;
          this.sendWindow(effects.slice(i, j) as Extract<Effect, { type: 'data' }>[]);
          i = j - 1;
          continue;
        }
        switch (e.type) {
          case 'data': {
            const pkt = Buffer.allocUnsafe(4 + e.length);
            pkt.writeUInt16BE(Opcode.DATA, 0);
            pkt.writeUInt16BE(e.block & 0xffff, 2);
            if (e.length > 0) this.payload(e.offset, e.length).copy(pkt, 4);
            this.sock.send(pkt);
            this.bytes += e.length;
            break;
          }
          case 'oack':
            this.sock.send(encodeOack(e.options));
            break;
          case 'error':
            this.sock.send(encodeError(e.code, e.message));
            break;
          case 'timer':
            if (this.timer && this.timerMs === e.ms) this.timer.refresh();
            else {
              if (this.timer) clearTimeout(this.timer);
              this.timerMs = e.ms;
              this.timer = setTimeout(() => this.onTimer(), e.ms);
            }
            break;
          case 'done':
            this.finish(e.result, e.detail);
            break;
        }
      }
    }

    finish(result: SessionResult, detail?: string): void {
      if (this.finished) return;
      this.finished = true;
      if (this.timer) clearTimeout(this.timer);
      transfers.delete(this);
      release(this.key, this.peer.address);
      // Give queued sends (a final ERROR) a moment to leave before the port closes.
      setImmediate(() => { try { this.sock.close(); } catch { /* already closed */ } });
      void this.src.fh?.close().catch(() => undefined);
      const ms = clock.mono() - this.started;
      const s = this.session;
      metrics.tftpTransfers.inc({ result });
      metrics.tftpBytes.inc(this.bytes);
      const fields = {
        event: 'tftp.transfer.done', peer: this.peer.address, path: this.path, result, size: s.size, blksize: s.blksize,
        windowsize: s.windowsize, ms, retransmits: s.retransmits, duplicate_acks: s.duplicateAcks, detail,
      };
      // A client that aborts after the OACK (PXE ROMs probing tsize, RFC 2349) is routine: debug.
      if (result === 'ok') logger.info(fields);
      else if (result === 'client-error') logger.debug(fields);
      else logger.warn(fields);
      event({
        peer: this.peer.address, path: this.path, result: result === 'ok' ? 'ok' : result === 'client-error' ? 'aborted' : 'error',
        bytes: result === 'ok' ? s.size : this.bytes, ms, dynamic: this.dynamic, ...(detail ? { detail } : {}),
      });
    }
  }

  function replyError(sock: Socket, rinfo: RemoteInfo, code: number, message: string): void {
    sock.send(encodeError(code, message), rinfo.port, rinfo.address);
  }

  async function openTransferSocket(local: string, peer: RemoteInfo): Promise<Socket> {
    const sock = createSocket({ type: isIPv6(local) ? 'udp6' : 'udp4' });
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      // RFC 1350 §4: a fresh TID per transfer, from the address the request arrived on.
      sock.bind({ address: local, port: 0, exclusive: true }, () => {
        sock.connect(peer.port, peer.address, () => { sock.off('error', reject); resolve(); });
      });
    });
    try { sock.setSendBufferSize(SOCKET_BUFFER); } catch { /* capped by the kernel */ }
    return sock;
  }

  async function onRequest(l: (typeof listeners)[number], msg: Buffer, rinfo: RemoteInfo): Promise<void> {
    let p: Packet;
    try {
      p = decode(msg);
    } catch (e) {
      dropped(e instanceof TftpDecodeError ? `decode-${e.reason}` : 'decode');
      return;
    }
    if (p.opcode === Opcode.WRQ) {
      // Strictly read-only: RFC 1350 error 2.
      dropped('wrq');
      logger.info({ event: 'tftp.wrq.refused', peer: rinfo.address, path: p.filename });
      replyError(l.sock, rinfo, ErrorCodes.accessViolation, 'Write requests are refused: read-only server');
      event({ peer: rinfo.address, path: p.filename, result: 'refused', bytes: 0, ms: 0, dynamic: false, detail: 'write request' });
      return;
    }
    if (p.opcode !== Opcode.RRQ) { dropped('unexpected-opcode'); return; }
    const key = `${rinfo.address}:${rinfo.port}`;
    // A retransmitted RRQ while its transfer runs: the transfer's own retransmissions cover it.
    if (byTid.has(key)) { dropped('duplicate-rrq'); return; }
    if (closing) return;
    const t0 = clock.mono();
    const path = p.filename;
    const refuse = (code: number, message: string, result: BootEvent['result'], detail: string) => {
      replyError(l.sock, rinfo, code, message);
      event({ peer: rinfo.address, path, result, bytes: 0, ms: clock.mono() - t0, dynamic: false, detail });
    };
    if (byTid.size >= config.tftp.max_transfers) {
      dropped('max-transfers');
      logger.warn({ event: 'tftp.refused.max_transfers', peer: rinfo.address, path, max: config.tftp.max_transfers });
      refuse(ErrorCodes.notDefined, 'Server busy: too many transfers', 'refused', 'max_transfers');
      return;
    }
    const mine = perClient.get(rinfo.address) ?? 0;
    if (mine >= config.tftp.max_per_client) {
      dropped('max-per-client');
      logger.warn({ event: 'tftp.refused.max_per_client', peer: rinfo.address, path, max: config.tftp.max_per_client });
      refuse(ErrorCodes.notDefined, 'Server busy: too many transfers from this client', 'refused', 'max_per_client');
      return;
    }
    if (p.mode !== 'octet' && p.mode !== 'netascii') {
      dropped('mode');
      refuse(ErrorCodes.illegalOperation, `Unsupported mode "${p.mode}"`, 'refused', 'mode');
      return;
    }
    // Reserve the slot before any await, so caps hold under bursts.
    byTid.set(key, null);
    perClient.set(rinfo.address, mine + 1);
    let reserved = true;
    const unreserve = () => { if (reserved) { reserved = false; release(key, rinfo.address); } };
    try {
      const lex = confineLexical(path);
      if (!lex.ok) {
        dropped(`path-${lex.reason}`);
        logger.warn({ event: 'tftp.path.refused', peer: rinfo.address, path, reason: lex.reason });
        unreserve();
        refuse(ErrorCodes.accessViolation, 'Access violation', 'refused', lex.reason);
        return;
      }
      let src: Source | undefined;
      let dynamic = false;
      if (deps.dynamic) {
        const buf = await deps.dynamic(lex.rel, { address: rinfo.address });
        if (buf) { src = { size: buf.length, buf }; dynamic = true; }
      }
      if (!src) {
        const r = await resolveUnder(rootReal, lex.rel);
        if (!r.ok) {
          unreserve();
          if (r.reason === 'missing') {
            // iPXE probes autoexec.ipxe on every boot; its absence is normal.
            const probe = /(^|\/)autoexec\.ipxe$/.test(lex.rel);
            logger[probe ? 'debug' : 'info']({ event: probe ? 'tftp.probe.missing' : 'tftp.file.missing', peer: rinfo.address, path });
            refuse(ErrorCodes.fileNotFound, 'File not found', 'not-found', 'missing');
          } else {
            dropped(`path-${r.reason}`);
            logger.warn({ event: 'tftp.path.refused', peer: rinfo.address, path, reason: r.reason });
            refuse(ErrorCodes.accessViolation, 'Access violation', 'refused', r.reason);
          }
          return;
        }
        let fh: FileHandle;
        try {
          fh = await open(r.path, 'r');
        } catch (e) {
          unreserve();
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'EACCES' || code === 'EPERM') refuse(ErrorCodes.accessViolation, 'Access violation', 'refused', String(code));
          else refuse(ErrorCodes.fileNotFound, 'File not found', 'not-found', String(code));
          return;
        }
        const st = await fh.stat();
        if (!st.isFile()) {
          await fh.close();
          unreserve();
          refuse(ErrorCodes.fileNotFound, 'File not found', 'not-found', 'not a regular file');
          return;
        }
        src = { size: st.size, fh };
      }
      if (p.mode === 'netascii') {
        if (src.fh) {
          if (src.size > NETASCII_MAX) {
            await src.fh.close();
            unreserve();
            refuse(ErrorCodes.notDefined, 'File too large for netascii; use octet', 'refused', 'netascii-size');
            return;
          }
          const raw = await src.fh.readFile();
          await src.fh.close();
          src = { size: 0, buf: raw };
        }
        const conv = toNetascii(src.buf!);
        src = { size: conv.length, buf: conv };
      }
      let sock: Socket;
      try {
        sock = await openTransferSocket(l.host, rinfo);
      } catch (e) {
        await src.fh?.close().catch(() => undefined);
        unreserve();
        logger.error({ event: 'tftp.transfer.socket_error', peer: rinfo.address, err: String(e) });
        refuse(ErrorCodes.notDefined, 'Server error', 'error', 'socket');
        return;
      }
      const t = new Transfer(key, rinfo, path, sock, src, dynamic);
      byTid.set(key, t);
      reserved = false;
      transfers.add(t);
      logger.debug({ event: 'tftp.rrq', peer: rinfo.address, path, mode: p.mode, options: Object.fromEntries(p.options) });
      t.start(p.options, l.maxBlksize);
    } catch (e) {
      unreserve();
      logger.error({ event: 'tftp.request.error', peer: rinfo.address, path, err: String(e) });
      metrics.errors.inc({ code: 'TFTP_ERR_DECODE' });
      refuse(ErrorCodes.notDefined, 'Server error', 'error', 'exception');
    }
  }

  return {
    async listen() {
      for (const text of config.tftp.listen) {
        const hp = parseHostPort(text, 69);
        for (const host of expandListen(hp.host)) {
          const sock = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4' });
          await new Promise<void>((resolve, reject) => {
            sock.once('error', reject);
            sock.bind({ address: host, port: hp.port, exclusive: true }, () => { sock.off('error', reject); resolve(); });
          });
          try { sock.setRecvBufferSize(SOCKET_BUFFER); } catch { /* capped */ }
          const port = sock.address().port;
          // RFC 2348: blksize limited so a DATA packet fits the path MTU (IP + UDP + 4-byte TFTP header).
          const overhead = isIPv6(host) ? 40 + 8 + 4 : 20 + 8 + 4;
          const maxBlksize = Math.max(8, Math.min(config.tftp.max_blksize, mtuOf(host) - overhead));
          const l = { sock, host, port, maxBlksize };
          sock.on('message', (msg, rinfo) => { void onRequest(l, msg, rinfo); });
          sock.on('error', (err) => logger.warn({ event: 'tftp.socket.error', host, err: err.message }));
          listeners.push(l);
          logger.info({ event: 'tftp.listen', host, port, max_blksize: maxBlksize });
        }
      }
    },
    addresses() {
      return listeners.map((l) => ({ host: l.host, port: l.port }));
    },
    active() {
      return transfers.size;
    },
    async close() {
      closing = true;
      for (const l of listeners) try { l.sock.close(); } catch { /* closed */ }
      listeners.length = 0;
      for (const t of [...transfers]) t.exec(abort(t.session, ErrorCodes.notDefined, 'Server shutting down'));
      await new Promise((r) => setImmediate(r));
    },
  };
}
