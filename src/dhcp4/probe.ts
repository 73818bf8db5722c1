import { randomBytes } from 'node:crypto';
import { BootOp, FLAG_BROADCAST, MessageType, Opt, decodeDhcp, encodeDhcp, readIpOption, readMessageType } from './codec/index.js';
import { closeDhcpSocket, openDhcpSocket } from './transport.js';

/** Options of probeDhcp. */
export interface ProbeOptions {
  /** Interface to probe on (SO_BINDTODEVICE); omitted: a wildcard socket. */
  iface?: string;
  /** Client port to listen on (normally serverPort + 1). */
  port: number;
  /** Server port the DISCOVER goes to. */
  serverPort: number;
  timeoutMs: number;
  /** Option 61; default a random locally administered MAC as hardware type 1. */
  clientId?: Buffer;
  /** Where the DISCOVER goes; default 255.255.255.255. */
  target?: string;
}

/** One OFFER seen by probeDhcp. */
export interface ProbeOffer {
  serverId: string;
  yiaddr: string;
  from: string;
}

/**
 * Send one DHCPDISCOVER (broadcast flag set) and collect the OFFERs that arrive within timeoutMs
 * (authority issue: is another DHCP server answering on this segment?). Nothing is requested, so no
 * server commits an address to the probe.
 */
export async function probeDhcp(opts: ProbeOptions): Promise<ProbeOffer[]> {
  const sock = await openDhcpSocket(opts.iface ?? null, opts.port);
  const mac = randomBytes(6);
  mac[0] = (mac[0]! & 0xfe) | 0x02; // locally administered, unicast
  const xid = randomBytes(4).readUInt32BE(0);
  const chaddr = Buffer.alloc(16);
  mac.copy(chaddr);
  const options = new Map<number, Buffer>([
    [Opt.MESSAGE_TYPE, Buffer.from([MessageType.DISCOVER])],
    [Opt.CLIENT_ID, opts.clientId ?? Buffer.concat([Buffer.from([1]), mac])],
    [Opt.PARAM_REQUEST_LIST, Buffer.from([Opt.SUBNET_MASK, Opt.ROUTER, Opt.DNS_SERVERS])],
  ]);
  const bytes = encodeDhcp({
    op: BootOp.REQUEST, htype: 1, hlen: 6, hops: 0, xid, secs: 0, flags: FLAG_BROADCAST,
    ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0', chaddr, sname: '', file: '', options,
  });
  const offers: ProbeOffer[] = [];
  sock.socket.on('message', (buf, rinfo) => {
    try {
      const p = decodeDhcp(buf);
      if (p.op !== BootOp.REPLY || p.xid !== xid || readMessageType(p.options) !== MessageType.OFFER) return;
      offers.push({ serverId: readIpOption(p.options, Opt.SERVER_ID) ?? rinfo.address, yiaddr: p.yiaddr, from: rinfo.address });
    } catch { /* not a DHCP reply: ignore */ }
  });
  try {
    await new Promise<void>((resolve, reject) => {
      sock.socket.send(bytes, opts.serverPort, opts.target ?? '255.255.255.255', (err) => (err ? reject(err) : resolve()));
    });
    await new Promise((r) => setTimeout(r, opts.timeoutMs));
  } finally {
    await closeDhcpSocket(sock);
  }
  return offers;
}
