/*
 * Child process for test/integration/store-kill.test.ts: opens the SQLite store in argv[2] and writes
 * leases until killed, printing "ip expires" on stdout only AFTER the put() that wrote it resolved, so
 * every printed line is a write the store acknowledged. Several puts are issued per turn (group commit).
 * IPs repeat every 4096 writes with a larger `expires`, so the parent can check the newest acknowledged
 * value of each IP survived. Bounded: stops after 30 s or 2,000,000 writes even if nobody kills it.
 * Usage: node --import tsx test/helpers/store-writer.ts DIR START normal|full
 */
import { openSqliteStore } from '../../src/store/sqlite/index.js';

const [dir, startArg, syncArg] = process.argv.slice(2);
if (!dir || !startArg) {
  process.stderr.write('usage: store-writer DIR START [normal|full]\n');
  process.exit(2);
}
const store = openSqliteStore({ dir, synchronous: syncArg === 'full' ? 'full' : 'normal' });
const deadline = Date.now() + 30_000;
let n = Number(startArg);
const end = n + 2_000_000;

/** The IP written by write number `i`. */
function ipOf(i: number): string {
  const k = i % 4096;
  return `10.77.${k >> 8}.${k & 255}`;
}

process.stdout.write('ready\n');
while (Date.now() < deadline && n < end) {
  const turn: Promise<void>[] = [];
  for (let k = 0; k < 1 + (n % 8); k++) {
    const i = n++;
    const ip = ipOf(i);
    turn.push(store.leases.put([{
      ip, mac: `52:54:00:77:${(i >> 8 & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
      clientId: null, hostname: `h${i}`, state: 'bound', subnet: '10.77.0.0/16', start: i, expires: i, source: 'kill-test',
    }]).then(() => { process.stdout.write(`${ip} ${i}\n`); }));
  }
  await Promise.all(turn);
}
await store.close();
