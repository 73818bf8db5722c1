/** Minimal pcap reader (libpcap format, Ethernet or Linux cooked v1): UDP payloads of IPv4 packets. */
export interface UdpDatagram { src: string; sport: number; dst: string; dport: number; payload: Buffer }

/** Every IPv4/UDP datagram in a pcap file's bytes. */
export function udpFromPcap(file: Buffer): UdpDatagram[] {
  if (file.length < 24) return [];
  const magic = file.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const u32 = (o: number): number => (le ? file.readUInt32LE(o) : file.readUInt32BE(o));
  const linktype = u32(20);
  const out: UdpDatagram[] = [];
  let o = 24;
  while (o + 16 <= file.length) {
    const incl = u32(o + 8);
    const pkt = file.subarray(o + 16, o + 16 + incl);
    o += 16 + incl;
    let ipAt: number;
    if (linktype === 1) { if (pkt.length < 14 || pkt.readUInt16BE(12) !== 0x0800) continue; ipAt = 14; }
    else if (linktype === 113) { if (pkt.length < 16 || pkt.readUInt16BE(14) !== 0x0800) continue; ipAt = 16; }
    else continue;
    const ip = pkt.subarray(ipAt);
    if (ip.length < 20 || ip[0]! >> 4 !== 4 || ip[9] !== 17) continue;
    const ihl = (ip[0]! & 0xf) * 4;
    const udp = ip.subarray(ihl);
    if (udp.length < 8) continue;
    const ipStr = (b: Buffer, at: number): string => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
    out.push({ src: ipStr(ip, 12), dst: ipStr(ip, 16), sport: udp.readUInt16BE(0), dport: udp.readUInt16BE(2), payload: Buffer.from(udp.subarray(8, udp.readUInt16BE(4))) });
  }
  return out;
}
