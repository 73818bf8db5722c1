// Bad input never crashes the TFTP server: random and mutated datagrams at the listen port while a
// transfer runs; everything dropped is counted, no descriptor leaks, and the server keeps serving.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTftpServer } from '../../src/tftp/server.js';
import { encodeRequest, Opcode } from '../../src/tftp/codec.js';
import { createMetrics } from '../../src/lib/metrics.js';
import { silentLogger } from '../../src/lib/logger.js';
import { systemClock } from '../../src/lib/clock.js';
import { testConfig, tempDir } from '../helpers/artifacts.js';
import { rawGet } from '../helpers/tftp-client.js';

const tmp = tempDir('btf-robust-');
after(() => tmp.remove());

const fds = () => readdirSync('/proc/self/fd').length;

test('5,000 random/mutated datagrams at the listen port during a transfer: no crash, counted, still serving', async () => {
  const content = randomBytes(3_000_000);
  writeFileSync(join(tmp.dir, 'f.bin'), content);
  const metrics = createMetrics();
  const server = await createTftpServer({ config: testConfig(), root: tmp.dir, logger: silentLogger(), metrics, clock: systemClock });
  await server.listen();
  const port = server.addresses()[0]!.port;
  const fd0 = fds();
  const spray = createSocket('udp4');
  await new Promise<void>((r) => spray.bind(0, '127.0.0.1', () => r()));
  spray.on('message', () => undefined);
  const transfer = rawGet(port, 'f.bin', { options: [['blksize', '1024']], timeoutMs: 10_000 });
  const seed = encodeRequest(Opcode.RRQ, 'missing-file.bin', 'octet', [['blksize', '1468'], ['tsize', '0']]);
  for (let i = 0; i < 5000; i++) {
    let pkt: Buffer;
    if (i % 3 === 0) pkt = randomBytes(1 + (i % 700));
    else if (i % 3 === 1) pkt = Buffer.concat([Buffer.from([0, 1 + (i % 7)]), randomBytes(i % 90)]);
    else { pkt = Buffer.from(seed); for (let k = 0; k < 3; k++) pkt[(i * 7 + k * 13) % pkt.length] = (i * 31 + k) & 255; }
    spray.send(pkt, port, '127.0.0.1');
    if (i % 250 === 0) await new Promise((r) => setImmediate(r));
  }
  const r = await transfer;
  assert.equal(r.error, undefined);
  assert.ok(r.data!.equals(content), 'the concurrent transfer is intact');
  await new Promise((res) => setTimeout(res, 300));
  const again = await rawGet(port, 'f.bin');
  assert.ok(again.data!.equals(content), 'still serving afterwards');
  const dropped = (await metrics.dropped.get()).values.filter((v) => v.labels.proto === 'tftp').reduce((n, v) => n + v.value, 0);
  assert.ok(dropped > 1000, `dropped counted: ${dropped}`);
  spray.close();
  // Transfers started by mutated-but-valid RRQs (if any) finish or time out; none may stay.
  await server.close();
  await new Promise((res) => setTimeout(res, 100));
  assert.ok(fds() <= fd0 + 2, `descriptors: ${fd0} before, ${fds()} after`);
});
