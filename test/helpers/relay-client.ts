/* A relay-agent style DHCP client for tests (prefix bfz-): packets from the client namespace with giaddr set, replies read back. */
import { MessageType, Opt, decodeDhcp, readMessageType, type DhcpPacket } from '../../src/dhcp4/codec/index.js';
import { craftExchange } from './dhcp-netns.js';
import { clientPacket, hex } from './dhcp-packets.js';

export interface RelayReply { type: number | undefined; p: DhcpPacket }

/** Send packets as a relay at `giaddr` (bound to giaddr:port, like dhcrelay) and collect the decoded replies. */
export function relaySend(ns: string, giaddr: string, server: string, port: number, packets: DhcpPacket[], waitMs = 800): RelayReply[] {
  const r = craftExchange(ns, { bindAddress: giaddr, bindPort: port, dest: server, destPort: port, packets: packets.map(hex), waitMs });
  return r.map((x) => { const p = decodeDhcp(Buffer.from(x.hex, 'hex')); return { type: readMessageType(p.options), p }; });
}

const ipBytes = (ip: string): Buffer => Buffer.from(ip.split('.').map(Number));

/** DISCOVER for `mac` through the relay; the OFFER or undefined. */
export function relayDiscover(ns: string, giaddr: string, server: string, port: number, mac: string, xid: number): DhcpPacket | undefined {
  const r = relaySend(ns, giaddr, server, port, [clientPacket({ type: MessageType.DISCOVER, mac, giaddr, hops: 1, xid })]);
  return r.find((x) => x.type === MessageType.OFFER && x.p.xid === xid)?.p;
}

/** REQUEST (SELECTING) of `ip` from `serverId`; the reply types seen (ACK 5, NAK 6), empty when none. */
export function relayRequest(ns: string, giaddr: string, server: string, port: number, mac: string, xid: number, ip: string, serverId: string, waitMs = 800): RelayReply[] {
  const req = clientPacket({ type: MessageType.REQUEST, mac, giaddr, hops: 1, xid, options: [[Opt.REQUESTED_IP, ipBytes(ip)], [Opt.SERVER_ID, ipBytes(serverId)]] });
  return relaySend(ns, giaddr, server, port, [req], waitMs).filter((x) => x.p.xid === xid);
}

/** The server identifier (option 54) of a reply. */
export function serverIdOf(p: DhcpPacket): string {
  const v = p.options.get(Opt.SERVER_ID)!;
  return `${v[0]}.${v[1]}.${v[2]}.${v[3]}`;
}
