/* A relay-agent style DHCP client for tests (prefix bfz-): packets from the client namespace with giaddr set, replies read back. */
import { MessageType, Opt, decodeDhcp, readMessageType, type DhcpPacket } from '../../src/dhcp4/codec/index.js';
import { execFileSync } from 'node:child_process';
import { clientPacket, hex } from './dhcp-packets.js';

export interface RelayReply { type: number | undefined; p: DhcpPacket }

// Plain JavaScript run by `node -e` inside the namespace (no TypeScript loader: starts in ~50 ms).
const SENDER = `
const dgram = require('node:dgram');
const req = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
const s = dgram.createSocket({ type: 'udp4', reuseAddr: true });
const out = [];
s.on('message', (m, r) => { out.push({ from: r.address, port: r.port, hex: m.toString('hex') }); if (req.want && out.length >= req.want) done(); });
let finished = false;
function done() { if (finished) return; finished = true; s.close(); process.stdout.write(JSON.stringify(out)); }
s.bind(req.port, req.bind, () => { for (const h of req.packets) s.send(Buffer.from(h, 'hex'), req.port, req.dest); setTimeout(done, req.waitMs); });
`;

/** Send packets as a relay at `giaddr` (bound to giaddr:port, like dhcrelay) and collect the decoded replies (until `want` arrived or waitMs). */
export function relaySend(ns: string, giaddr: string, server: string, port: number, packets: DhcpPacket[], waitMs = 800, want = 0): RelayReply[] {
  const input = JSON.stringify({ bind: giaddr, port, dest: server, packets: packets.map(hex), waitMs, want });
  const r = JSON.parse(execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e', SENDER], { input, encoding: 'utf8', timeout: waitMs + 10_000 })) as { hex: string }[];
  return r.map((x) => { const p = decodeDhcp(Buffer.from(x.hex, 'hex')); return { type: readMessageType(p.options), p }; });
}

const ipBytes = (ip: string): Buffer => Buffer.from(ip.split('.').map(Number));

/** DISCOVER for `mac` through the relay; the OFFER or undefined. */
export function relayDiscover(ns: string, giaddr: string, server: string, port: number, mac: string, xid: number): DhcpPacket | undefined {
  const r = relaySend(ns, giaddr, server, port, [clientPacket({ type: MessageType.DISCOVER, mac, giaddr, hops: 1, xid })], 800, 1);
  return r.find((x) => x.type === MessageType.OFFER && x.p.xid === xid)?.p;
}

/** REQUEST (SELECTING) of `ip` from `serverId`; the reply types seen (ACK 5, NAK 6), empty when none. */
export function relayRequest(ns: string, giaddr: string, server: string, port: number, mac: string, xid: number, ip: string, serverId: string, waitMs = 800): RelayReply[] {
  const req = clientPacket({ type: MessageType.REQUEST, mac, giaddr, hops: 1, xid, options: [[Opt.REQUESTED_IP, ipBytes(ip)], [Opt.SERVER_ID, ipBytes(serverId)]] });
  return relaySend(ns, giaddr, server, port, [req], waitMs, 1).filter((x) => x.p.xid === xid);
}

/** The server identifier (option 54) of a reply. */
export function serverIdOf(p: DhcpPacket): string {
  const v = p.options.get(Opt.SERVER_ID)!;
  return `${v[0]}.${v[1]}.${v[2]}.${v[3]}`;
}
