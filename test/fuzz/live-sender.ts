/*
 * The packet side of live fuzzing, run inside the client namespace:
 *   node --import tsx test/fuzz/live-sender.ts '<json LiveJob>'
 * Sends `n` mutated packets of one protocol at the server (DNS also over TCP: framed, torn frames,
 * abrupt closes; TFTP also at the transfer ports the server answers from), probing every `probeEvery`
 * packets that a valid request is still answered. Prints one JSON line per probe and a final result.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { Rng, nextInput } from './mutate.js';
import { loadSeeds } from './targets.js';
import dnsPacket from 'dns-packet';
import { BootOp, MessageType, Opt, decodeDhcp, encodeDhcp, readMessageType } from '../../src/dhcp4/codec/index.js';
import { decode as tftpDecode, encodeAck, encodeRequest, Opcode } from '../../src/tftp/codec.js';

export interface LiveJob {
  proto: 'dns' | 'dhcp' | 'tftp';
  host: string; port: number; n: number; seconds: number; seed: number;
  /** Local addresses: [fuzz source, probe source]. */
  src: [string, string];
  probeEvery: number;
  /** DHCP: the reserved MAC and address the probe expects. */
  probeMac?: string; probeIp?: string;
  /** TFTP: a file the probe fetches and its size. */
  probeFile?: string; probeSize?: number;
}

export interface LiveOut { t: 'probe' | 'result'; sent: number; ok?: boolean; ms?: number; replies?: number; tcp?: number; detail?: string; recent?: string[]; delayed?: string[] }

const job = JSON.parse(process.argv[2]!) as LiveJob;
const out = (o: LiveOut): void => { process.stdout.write(JSON.stringify(o) + '\n'); };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const rng = new Rng(job.seed);
const seeds = loadSeeds(job.proto);
const recent: string[] = [];
const remember = (b: Buffer): void => { recent.push(b.toString('hex')); if (recent.length > 32) recent.shift(); };

function bindUdp(address: string, port = 0): Promise<dgram.Socket> {
  const s = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  s.on('error', () => undefined);
  return new Promise((res) => s.bind({ address, port }, () => { s.setRecvBufferSize(4 << 20); res(s); }));
}

/** Send one datagram and wait for the first reply `ok` accepts. */
async function ask(sock: dgram.Socket, msg: Buffer, host: string, port: number, ok: (m: Buffer) => boolean, ms = 3000): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const t = setTimeout(() => { sock.off('message', on); resolve(undefined); }, ms);
    const on = (m: Buffer): void => { if (ok(m)) { clearTimeout(t); sock.off('message', on); resolve(m); } };
    sock.on('message', on);
    sock.send(msg, port, host);
  });
}

// ------------------------------------------------------------------------------------- probes --
let probeSock: dgram.Socket;
async function probeDns(): Promise<string | undefined> {
  const id = rng.below(0xffff);
  const q = dnsPacket.encode({ id, type: 'query', questions: [{ name: 'hv01.lab.example.net', type: 'A' }] });
  const r = await ask(probeSock, q, job.host, job.port, (m) => m.readUInt16BE(0) === id);
  if (!r) return 'no UDP answer';
  const d = dnsPacket.decode(r) as dnsPacket.DecodedPacket & { rcode?: string };
  if (d.rcode !== 'NOERROR' || !d.answers?.some((a) => a.type === 'A' && a.data === '10.99.0.10')) return `bad UDP answer ${r.toString('hex')}`;
  // And over TCP (a fresh connection must be accepted: the TCP cap was not leaked by the fuzz).
  const tcp = await new Promise<string | undefined>((resolve) => {
    const s = net.connect({ host: job.host, port: job.port, localAddress: job.src[1] });
    const t = setTimeout(() => { s.destroy(); resolve('no TCP answer'); }, 3000);
    let buf = Buffer.alloc(0);
    s.on('error', (e) => { clearTimeout(t); resolve(`TCP error ${e.message}`); });
    s.on('data', (d2) => {
      buf = Buffer.concat([buf, d2]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) { clearTimeout(t); s.destroy(); resolve(buf.readUInt16BE(2) === id ? undefined : 'TCP id mismatch'); }
    });
    s.write(dnsPacket.streamEncode({ id, type: 'query', questions: [{ name: 'hv01.lab.example.net', type: 'A' }] }));
  });
  return tcp;
}

async function probeDhcp(): Promise<string | undefined> {
  const xid = rng.u32();
  const chaddr = Buffer.alloc(16);
  Buffer.from(job.probeMac!.replace(/:/g, ''), 'hex').copy(chaddr);
  const disc = encodeDhcp({
    op: BootOp.REQUEST, htype: 1, hlen: 6, hops: 1, xid, secs: 0, flags: 0, ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0',
    giaddr: job.src[1], chaddr, sname: '', file: '', options: new Map([[Opt.MESSAGE_TYPE, Buffer.from([MessageType.DISCOVER])]]),
  });
  const r = await ask(probeSock, disc, job.host, job.port, (m) => { try { return decodeDhcp(m).xid === xid; } catch { return false; } });
  if (!r) return 'no OFFER';
  const p = decodeDhcp(r);
  if (readMessageType(p.options) !== MessageType.OFFER || p.yiaddr !== job.probeIp) return `unexpected reply type ${readMessageType(p.options)} yiaddr ${p.yiaddr}`;
  return undefined;
}

async function probeTftp(): Promise<string | undefined> {
  const s = await bindUdp(job.src[1]);
  try {
    return await new Promise<string | undefined>((resolve) => {
      let size = 0;
      let want = 1;
      let timer = setTimeout(() => resolve(`no DATA ${want}`), 3000);
      s.on('message', (m, ri) => {
        let p;
        try { p = tftpDecode(m); } catch { return; }
        if (p.opcode === Opcode.ERROR) { clearTimeout(timer); resolve(`ERROR ${p.code} ${p.message}`); return; }
        if (p.opcode !== Opcode.DATA || p.block !== (want & 0xffff)) return;
        size += p.data.length;
        s.send(encodeAck(p.block), ri.port, ri.address);
        clearTimeout(timer);
        if (p.data.length < 512) { resolve(size === job.probeSize ? undefined : `fetched ${size} bytes, expected ${job.probeSize}`); return; }
        want++;
        timer = setTimeout(() => resolve(`no DATA ${want}`), 3000);
      });
      s.send(encodeRequest(Opcode.RRQ, job.probeFile!, 'octet'), job.port, job.host);
    });
  } finally {
    s.close();
  }
}

// -------------------------------------------------------------------------------------- fuzzing --
async function main(): Promise<void> {
  probeSock = await bindUdp(job.src[1], job.proto === 'dhcp' ? job.port : 0);
  const probe = job.proto === 'dns' ? probeDns : job.proto === 'dhcp' ? probeDhcp : probeTftp;
  const first = await probe();
  if (first) { out({ t: 'result', sent: 0, ok: false, detail: `probe failed before fuzzing: ${first}` }); return; }
  // Several source sockets (ports); DHCP replies to a relay go to the server port, so one socket binds it.
  const socks: dgram.Socket[] = [];
  for (let i = 0; i < 4; i++) socks.push(await bindUdp(job.src[0], job.proto === 'dhcp' && i === 0 ? job.port : 0));
  let replies = 0;
  const tids = new Set<number>();
  for (const s of socks) s.on('message', (_m, ri) => { replies++; if (job.proto === 'tftp' && ri.port !== job.port && tids.size < 256) tids.add(ri.port); });
  // DNS over TCP: a few connections fed framed inputs, torn frames and resets.
  const conns: net.Socket[] = [];
  let tcpSent = 0;
  const conn = (): net.Socket => {
    const s = net.connect({ host: job.host, port: job.port, localAddress: job.src[0] });
    s.on('error', () => undefined);
    s.on('data', () => { replies++; });
    s.on('close', () => { const i = conns.indexOf(s); if (i >= 0) conns.splice(i, 1); });
    conns.push(s);
    return s;
  };
  const t0 = performance.now();
  const delayed: string[] = [];
  let sent = 0;
  const deadline = t0 + job.seconds * 1000;
  while (sent < job.n && performance.now() < deadline) {
    // A batch, then yield: ~10-20k packets/s, kernel buffers permitting.
    for (let k = 0; k < 200 && sent < job.n; k++, sent++) {
      const input = nextInput(rng, seeds, 1400);
      remember(input);
      if (job.proto === 'dns' && rng.chance(0.1)) {
        const s = conns.length < 6 || rng.chance(0.02) ? conn() : rng.pick(conns);
        const r = rng.below(100);
        if (r < 3) s.destroy();
        else if (r < 6) s.write(rng.bytes(1 + rng.below(8)));
        else { const len = Buffer.alloc(2); len.writeUInt16BE(input.length); s.write(r < 10 ? Buffer.concat([len, input]).subarray(0, 1 + rng.below(input.length + 1)) : Buffer.concat([len, input])); }
        tcpSent++;
        continue;
      }
      const sock = rng.pick(socks);
      if (job.proto === 'tftp' && tids.size > 0 && rng.chance(0.3)) {
        sock.send(input, rng.pick([...tids]), job.host);
      } else sock.send(input, job.port, job.host);
    }
    await sleep(job.proto === 'dhcp' ? 20 : 10);
    if (sent % job.probeEvery < 200) {
      const p0 = performance.now();
      let bad = await probe();
      // A failed probe is retried for 10 s: a server that recovers was overloaded, one that does not is stuck.
      for (let k = 0; bad && k < 5; k++) {
        await sleep(2000);
        const again = await probe();
        if (!again) { delayed.push(`${bad}: answered after ${((performance.now() - p0) / 1000).toFixed(1)} s`); bad = undefined; } else bad = again;
      }
      out({ t: 'probe', sent, ok: !bad, ms: Math.round(performance.now() - p0), ...(bad ? { detail: bad, recent } : {}) });
      if (bad) { out({ t: 'result', sent, ok: false, replies, tcp: tcpSent, detail: bad, recent }); finish(socks, conns); return; }
    }
  }
  await sleep(1500);
  const bad = await probe();
  out({ t: 'result', sent, ok: !bad, ms: Math.round(performance.now() - t0), replies, tcp: tcpSent, delayed, ...(bad ? { detail: bad, recent } : {}) });
  finish(socks, conns);
}

function finish(socks: dgram.Socket[], conns: net.Socket[]): void {
  for (const s of socks) s.close();
  for (const c of conns) c.destroy();
  probeSock.close();
  setTimeout(() => process.exit(0), 100).unref();
}

await main();
