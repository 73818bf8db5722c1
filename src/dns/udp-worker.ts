// A UDP worker process (dns.workers): started by workers.ts with child_process.fork, it receives the
// primary's bound UDP sockets over IPC and reads them too (the kernel hands each datagram to one
// reader), answering from zone data the primary ships. It exits when the IPC channel closes, so it
// never outlives the primary.
import type dgram from 'node:dgram';
import { RCODE } from './codec/constants.js';
import { makeAcl } from '../lib/net.js';
import { createAnswerEngine, minimalView, type AnswerEngine } from './engine.js';
import { writeError } from './handler.js';
import { fastSend } from './transport.js';
import { createNativeCache, serveBatch, type BatchSocket } from './udp-batch.js';
import type { FromWorker, ToWorker, WorkerInit } from './worker-protocol.js';
import { decodeZone } from './zone/zone-wire.js';
import { makeZoneSet, type ZoneData } from './zone/tree.js';

if (!process.send) {
  process.stderr.write('udp-worker: must be started by the DNS service (no IPC channel)\n');
  process.exit(2);
}

const send = (m: FromWorker): void => {
  if (process.connected) process.send!(m);
};

let engine: AnswerEngine | undefined;
const nativeCache = createNativeCache();
let init: WorkerInit | undefined;
let site = true;
const zones = new Map<string, ZoneData>();
const drops = new Map<string, number>();
let errors = 0;
const sockets: dgram.Socket[] = [];
const batches: BatchSocket[] = [];

function onQuery(sock: dgram.Socket, i: number, msg: Buffer, rinfo: dgram.RemoteInfo): void {
  let out: Buffer | null | undefined;
  try {
    out = engine!.answer(msg, rinfo, false);
  } catch {
    // The one place a throw becomes SERVFAIL (or a drop), as in the primary's safeHandle.
    errors++;
    out = msg.length < 12 || (msg[2]! & 0x80) ? null : writeError(msg, minimalView(msg), RCODE.SERVFAIL, init!.ourUdp);
  }
  if (out === undefined) send({ t: 'relay', i, m: msg.toString('base64'), a: rinfo.address, p: rinfo.port });
  else if (out) sock.send(out, rinfo.port, rinfo.address);
}

function report(): void {
  if (!engine) return;
  const q = [...engine.drain()];
  if (q.length === 0 && drops.size === 0 && errors === 0) return;
  send({ t: 'counts', q, d: [...drops], e: errors });
  drops.clear();
  errors = 0;
}

process.on('message', (m: ToWorker, handle: unknown) => {
  switch (m.t) {
    case 'init': {
      init = m;
      const forwardAllowed = makeAcl(m.forwardClients);
      engine = createAnswerEngine({
        nativeCache,
        ourUdp: m.ourUdp, rrl: m.rrl, forwarders: m.forwarders,
        forwardable: (a) => m.forwarders && forwardAllowed(a),
        siteAuthoritative: () => site,
        mono: () => performance.now(),
        onDrop: (reason) => { drops.set(reason, (drops.get(reason) ?? 0) + 1); },
      });
      break;
    }
    case 'socket': {
      const i = m.i;
      if (m.fd !== undefined) {
        let bs: BatchSocket | undefined = undefined;
        bs = serveBatch(m.fd, 0, init!.ourUdp, {
          onError: () => { errors++; }, onTooLong: () => { drops.set('too-long', (drops.get('too-long') ?? 0) + 1); },
          onHit: (rcode, qtype) => engine!.count(rcode, qtype, false), revalidate: () => engine!.revalidate(),
        }, (buf, base, len, peer, out, off) => {
          const msg = (): Buffer => buf.subarray(base, base + len);
          let w: number;
          try {
            w = engine!.answerInto(buf, base, len, peer, out, off);
          } catch {
            errors++;
            if (len < 12 || (buf[base + 2]! & 0x80)) return 0;
            const e = writeError(msg(), minimalView(msg()), RCODE.SERVFAIL, init!.ourUdp);
            out.set(e, off);
            return e.length;
          }
          if (w < 0) send({ t: 'relay', i, m: msg().toString('base64'), a: peer.address, p: peer.port });
          return Math.max(w, 0);
        }, { cache: nativeCache, maxUdp: init!.ourUdp });
        batches[i] = bs;
        if (init && batches.filter(Boolean).length + sockets.filter(Boolean).length === init.sockets) send({ t: 'ready' });
        break;
      }
      const sock = handle as dgram.Socket;
      fastSend(sock);
      sock.on('error', () => { /* ICMP errors on send: nothing to do */ });
      sock.on('message', (msg, rinfo) => onQuery(sock, i, msg, rinfo));
      sockets[i] = sock;
      if (init && batches.filter(Boolean).length + sockets.filter(Boolean).length === init.sockets) send({ t: 'ready' });
      break;
    }
    case 'zones': {
      // Decode everything first, then swap in one step: a query sees the old index or the new one.
      for (const p of m.zones) zones.set(p.origin, decodeZone(p));
      const live = new Set([...m.keep, ...m.zones.map((z) => z.origin)]);
      for (const o of [...zones.keys()]) if (!live.has(o)) zones.delete(o);
      site = m.site;
      engine?.setIndex(makeZoneSet([...zones.values()]));
      send({ t: 'ack', gen: m.gen });
      break;
    }
    case 'auth':
      site = m.site;
      send({ t: 'ack', gen: m.gen });
      break;
    case 'flush':
      report();
      break;
  }
});

setInterval(report, 500).unref();
// No orphans: when the primary goes (exit, crash, SIGKILL), the IPC channel closes and so do we.
process.on('disconnect', () => process.exit(0));
