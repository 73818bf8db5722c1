/*
 * Test helper run inside a namespace: reads {bindAddress, bindPort, iface?, dest, destPort, packets: hex[], waitMs}
 * on stdin, sends, prints the replies as JSON. With iface, the socket comes from the SO_BINDTODEVICE addon
 * (a limited broadcast needs a device when the namespace has no default route).
 */
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { openDhcpSocket } from '../../src/dhcp4/transport.js';

const req = JSON.parse(readFileSync(0, 'utf8')) as { bindAddress: string; bindPort: number; iface?: string; dest: string; destPort: number; packets: string[]; waitMs: number };
let sock: dgram.Socket;
if (req.iface) {
  sock = (await openDhcpSocket(req.iface, req.bindPort, req.bindAddress)).socket;
} else {
  sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  await new Promise<void>((r) => sock.bind(req.bindPort, req.bindAddress, () => r()));
  sock.setBroadcast(true);
}
const replies: { from: string; port: number; hex: string }[] = [];
sock.on('message', (m, r) => replies.push({ from: r.address, port: r.port, hex: m.toString('hex') }));
for (const p of req.packets) {
  sock.send(Buffer.from(p, 'hex'), req.destPort, req.dest, (err) => { if (err) { process.stderr.write(String(err)); process.exitCode = 1; } });
}
setTimeout(() => { sock.close(); process.stdout.write(JSON.stringify(replies)); }, req.waitMs);
