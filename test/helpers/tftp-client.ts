import { createSocket } from 'node:dgram';
import { decode, encodeAck, encodeRequest, Opcode } from '../../src/tftp/codec.js';

/** What a raw RRQ got back. */
export interface RawResult {
  error?: { code: number; message: string };
  oack?: Map<string, string>;
  data?: Buffer;
  /** Ports the replies came from (the transfer TID). */
  tids: Set<number>;
  /** Addresses the replies came from. */
  from: Set<string>;
}

/**
 * A minimal lockstep TFTP read client for protocol tests: sends any filename bytes (NUL included),
 * ACKs every block, stops at the first short block, an ERROR, or `timeoutMs` of silence.
 */
export async function rawGet(port: number, filename: string | Buffer, opts: { host?: string; mode?: string; options?: [string, string][]; timeoutMs?: number; opcode?: 1 | 2; onBlock?: (block: number) => void; noAck?: boolean } = {}): Promise<RawResult> {
  const host = opts.host ?? '127.0.0.1';
  const sock = createSocket('udp4');
  const res: RawResult = { tids: new Set(), from: new Set() };
  const chunks: Buffer[] = [];
  let blksize = 512;
  let expect = 1;
  const req = typeof filename === 'string'
    ? encodeRequest(opts.opcode ?? Opcode.RRQ, filename, opts.mode ?? 'octet', opts.options ?? [])
    : Buffer.concat([Buffer.from([0, opts.opcode ?? 1]), filename, Buffer.from(`\0${opts.mode ?? 'octet'}\0`)]);
  await new Promise<void>((resolve) => {
    let timer = setTimeout(done, opts.timeoutMs ?? 3000);
    function done() {
      clearTimeout(timer);
      try { sock.close(); } catch { /* closed */ }
      resolve();
    }
    sock.on('message', (msg, rinfo) => {
      clearTimeout(timer);
      timer = setTimeout(done, opts.timeoutMs ?? 3000);
      res.tids.add(rinfo.port);
      res.from.add(rinfo.address);
      let p;
      try { p = decode(msg); } catch { return; }
      if (p.opcode === Opcode.ERROR) { res.error = { code: p.code, message: p.message }; res.data = Buffer.concat(chunks); return done(); }
      if (p.opcode === Opcode.OACK) {
        res.oack = p.options;
        const b = p.options.get('blksize');
        if (b) blksize = Number(b);
        if (!opts.noAck) sock.send(encodeAck(0), rinfo.port, rinfo.address);
        return;
      }
      if (p.opcode === Opcode.DATA) {
        if (p.block === (expect & 0xffff)) {
          chunks.push(Buffer.from(p.data));
          expect++;
          opts.onBlock?.(expect - 1);
        }
        if (opts.noAck) return;
        sock.send(encodeAck(p.block), rinfo.port, rinfo.address);
        if (p.data.length < blksize && p.block === ((expect - 1) & 0xffff)) { res.data = Buffer.concat(chunks); done(); }
      }
    });
    sock.send(req, port, host);
  });
  return res;
}
