/* Build client packets for tests with the codec (the codec's own fixtures check it against raw bytes). */
import { BootOp, MessageType, Opt, decodeDhcp, encodeDhcp, type DhcpPacket } from '../../src/dhcp4/codec/index.js';

export function macBytes(mac: string): Buffer {
  const b = Buffer.alloc(16);
  Buffer.from(mac.replace(/:/g, ''), 'hex').copy(b);
  return b;
}

/** A client message with the given options (53 first). */
export function clientPacket(o: { type: number; mac: string; xid?: number; flags?: number; ciaddr?: string; giaddr?: string; hops?: number; options?: [number, Buffer][] }): DhcpPacket {
  return {
    op: BootOp.REQUEST, htype: 1, hlen: 6, hops: o.hops ?? 0, xid: o.xid ?? 0x1234abcd, secs: 0, flags: o.flags ?? 0,
    ciaddr: o.ciaddr ?? '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: o.giaddr ?? '0.0.0.0',
    chaddr: macBytes(o.mac), sname: '', file: '',
    options: new Map<number, Buffer>([[Opt.MESSAGE_TYPE, Buffer.from([o.type])], ...(o.options ?? [])]),
  };
}

export function hex(p: DhcpPacket): string {
  return encodeDhcp(p).toString('hex');
}

export function decodeHex(h: string): DhcpPacket {
  return decodeDhcp(Buffer.from(h, 'hex'));
}

/** A PXE DISCOVER: option 93 arch, 60 vendor class, optional user class 77 (bare or RFC 3004). */
export function pxeDiscover(o: { mac: string; arch: number; vendor?: string; ipxe?: 'bare' | 'rfc3004'; xid?: number }): DhcpPacket {
  const arch = Buffer.alloc(2); arch.writeUInt16BE(o.arch);
  const vendor = o.vendor ?? `PXEClient:Arch:${String(o.arch).padStart(5, '0')}:UNDI:003010`;
  const opts: [number, Buffer][] = [
    [Opt.MAX_MESSAGE_SIZE, Buffer.from([0x05, 0xc0])],
    [Opt.CLIENT_ARCH, arch],
    [Opt.CLIENT_NDI, Buffer.from([1, 3, 10])],
    [Opt.VENDOR_CLASS, Buffer.from(vendor)],
    [Opt.PARAM_REQUEST_LIST, Buffer.from([1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, 128, 175])],
  ];
  if (o.ipxe === 'bare') opts.push([Opt.USER_CLASS, Buffer.from('iPXE')]);
  if (o.ipxe === 'rfc3004') opts.push([Opt.USER_CLASS, Buffer.concat([Buffer.from([4]), Buffer.from('iPXE')])]);
  return clientPacket({ type: MessageType.DISCOVER, mac: o.mac, xid: o.xid ?? 0x5eed0000 + o.arch, options: opts });
}
