import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import { OPCODE, QCLASS, QTYPE } from './codec/constants.js';
import { nameWire } from './codec/name.js';
import { MessageWriter } from './codec/writer.js';
import { signRequest, type TsigKey } from './codec/tsig.js';
import type { ZoneData } from './zone/tree.js';
import type { HostPort } from '../lib/net.js';

/** The NOTIFY message for a zone (RFC 1996 §3.7: AA set, SOA question, the new SOA as answer). */
export function notifyMessage(zone: ZoneData, id: number): Buffer {
  const w = new MessageWriter(512);
  const q = Buffer.concat([nameWire(zone.origin), Buffer.from([0, QTYPE.SOA, 0, QCLASS.IN])]);
  w.writeBytes(q);
  w.registerName(zone.origin, 12);
  w.writeRR(1, zone.soa);
  return w.finish(id, (OPCODE.NOTIFY << 11) | 0x0400, 1);
}

/**
 * Sends NOTIFY to the secondaries (RFC 1996 §3.6): retried at 0.5, 1, 2, 4 s until a response with
 * the same ID, opcode and question arrives; a newer NOTIFY for the same zone and target replaces it.
 */
export class Notifier {
  private readonly socks = new Map<string, dgram.Socket>();
  private readonly inflight = new Map<string, { id: number; timer: NodeJS.Timeout | null; done: () => void }>();
  private readonly onResult: (zone: string, target: string, ok: boolean) => void;
  private readonly key: TsigKey | undefined;
  private readonly nowSec: () => number;

  constructor(opts: { key?: TsigKey; nowSec: () => number; onResult: (zone: string, target: string, ok: boolean) => void }) {
    this.key = opts.key;
    this.nowSec = opts.nowSec;
    this.onResult = opts.onResult;
  }

  private sock(family: 'udp4' | 'udp6'): dgram.Socket {
    let s = this.socks.get(family);
    if (!s) {
      s = dgram.createSocket(family);
      s.on('error', () => { /* ICMP unreachable: retried */ });
      s.on('message', (msg) => {
        if (msg.length < 12 || !(msg[2]! & 0x80) || ((msg[2]! >> 3) & 0xf) !== OPCODE.NOTIFY) return;
        const id = msg.readUInt16BE(0);
        for (const [k, f] of this.inflight) if (f.id === id) { f.done(); this.inflight.delete(k); }
      });
      s.unref();
      this.socks.set(family, s);
    }
    return s;
  }

  /** Notify every target of a change of `zone`. */
  notify(zone: ZoneData, targets: readonly HostPort[]): void {
    for (const t of targets) {
      const k = `${zone.origin.key}|${t.host}|${t.port}`;
      const prev = this.inflight.get(k);
      if (prev?.timer) clearTimeout(prev.timer);
      const id = randomInt(0, 65536);
      let msg = notifyMessage(zone, id);
      if (this.key) msg = signRequest(msg, this.key, this.nowSec()).msg;
      const sock = this.sock(t.host.includes(':') ? 'udp6' : 'udp4');
      const delays = [500, 1000, 2000, 4000];
      const entry = { id, timer: null as NodeJS.Timeout | null, done: () => { if (entry.timer) clearTimeout(entry.timer); this.onResult(zone.origin.key, `${t.host}:${t.port}`, true); } };
      this.inflight.set(k, entry);
      const send = (attempt: number): void => {
        sock.send(msg, t.port, t.host);
        const d = delays[attempt];
        entry.timer = d === undefined ? null : setTimeout(() => {
          if (attempt + 1 >= delays.length) {
            this.inflight.delete(k);
            this.onResult(zone.origin.key, `${t.host}:${t.port}`, false);
          } else send(attempt + 1);
        }, d);
      };
      send(0);
    }
  }

  /** Stop retrying and close the sockets. */
  close(): void {
    for (const f of this.inflight.values()) if (f.timer) clearTimeout(f.timer);
    this.inflight.clear();
    for (const s of this.socks.values()) s.close();
    this.socks.clear();
  }
}
