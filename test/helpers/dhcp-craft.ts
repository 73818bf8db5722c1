/* Test helper run inside a namespace: reads {bindAddress, bindPort, dest, destPort, packets: hex[], waitMs} on stdin, sends, prints replies. */
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';

const req = JSON.parse(readFileSync(0, 'utf8')) as { bindAddress: string; bindPort: number; dest: string; destPort: number; packets: string[]; waitMs: number };
const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
const replies: { from: string; port: number; hex: string }[] = [];
sock.on('message', (m, r) => replies.push({ from: r.address, port: r.port, hex: m.toString('hex') }));
sock.bind(req.bindPort, req.bindAddress, () => {
  sock.setBroadcast(true);
  for (const p of req.packets) sock.send(Buffer.from(p, 'hex'), req.destPort, req.dest);
  setTimeout(() => { sock.close(); process.stdout.write(JSON.stringify(replies)); }, req.waitMs);
});
