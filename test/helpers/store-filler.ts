/*
 * Child process for test/integration/store-kill.test.ts, run under `prlimit --fsize=N`: the kernel refuses
 * to grow any file past N bytes (EFBIG), which is what a full disk looks like to SQLite. SIGXFSZ is
 * ignored so the failing write returns an error instead of killing the process. Writes turns of 3 puts
 * until a turn fails, then prints one JSON line: how many puts were acknowledged, what each put of the
 * failed turn got, and how many leases a read then returns. Bounded to 20,000 puts.
 * Usage: prlimit --fsize=N -- node --import tsx test/helpers/store-filler.ts DIR
 */
import { AppError } from '../../src/lib/errors.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';

process.on('SIGXFSZ', () => { /* the write fails with EFBIG instead of the default core dump */ });
const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: store-filler DIR\n');
  process.exit(2);
}
const store = openSqliteStore({ dir });
const hostname = 'x'.repeat(1500);
let n = 0;
let acked = 0;
let failed: Array<{ code: string; cause: string | undefined }> = [];
while (n < 20_000) {
  const turn = [0, 1, 2].map(() => {
    const i = n++;
    return store.leases.put([{ ip: `10.66.${(i >> 8) & 255}.${i & 255}`, mac: 'aa:bb:cc:dd:ee:ff', clientId: null, hostname, state: 'bound', subnet: '10.66.0.0/16', start: i, expires: i }]);
  });
  const results = await Promise.allSettled(turn);
  if (results.every((r) => r.status === 'fulfilled')) {
    acked += results.length;
    continue;
  }
  failed = results.map((r) => r.status === 'fulfilled'
    ? { code: 'fulfilled', cause: undefined }
    : { code: r.reason instanceof AppError ? r.reason.code : String(r.reason), cause: (r.reason as AppError).details ? ((r.reason as AppError).details as { cause?: string }).cause : undefined });
  break;
}
const visible = (await store.leases.all()).length;
await store.close().catch(() => { /* closing may fail to checkpoint while the disk is full */ });
process.stdout.write(`${JSON.stringify({ acked, failed, visible })}\n`);
