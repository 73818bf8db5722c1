// Every (state, event) pair of the RRQ state machine: RFC 1350, RFC 2347/2348/2349 negotiation,
// RFC 7440 windowsize, block-number rollover, retransmission with backoff, no Sorcerer's Apprentice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { onPacket, onTimeout, startSession, abort, type Effect } from '../../src/tftp/session.js';
import { Opcode } from '../../src/tftp/codec.js';

const limits = { maxBlksize: 1468, maxWindowsize: 16, defaultTimeoutMs: 1000, maxRetries: 3, maxTimeoutMs: 4000 };
const ack = (block: number) => ({ opcode: Opcode.ACK, block: block & 0xffff }) as const;
const data = (effects: Effect[]) => effects.filter((e) => e.type === 'data').map((e) => (e as { block: number }).block);

test('(start) without options: lockstep DATA 1 and a timer, 512-byte blocks', () => {
  const { session, effects } = startSession(1000, new Map(), limits);
  assert.equal(session.state, 'sending');
  assert.deepEqual(effects, [{ type: 'data', block: 1, offset: 0, length: 512 }, { type: 'timer', ms: 1000 }]);
});

test('(start) with options: OACK with capped blksize, tsize, timeout, capped windowsize; unknown/invalid ignored', () => {
  const opts = new Map([['blksize', '65464'], ['tsize', '0'], ['timeout', '3'], ['windowsize', '64'], ['multicast', ''], ['utimeout', 'x']]);
  const { session, effects } = startSession(5000, opts, limits);
  assert.equal(session.state, 'negotiating');
  assert.deepEqual(effects[0], { type: 'oack', options: [['blksize', '1468'], ['tsize', '5000'], ['timeout', '3'], ['windowsize', '16']] });
  assert.deepEqual(effects[1], { type: 'timer', ms: 3000 });
  const bad = startSession(10, new Map([['blksize', '7'], ['timeout', '0'], ['windowsize', '0']]), limits);
  assert.equal(bad.session.state, 'sending', 'only invalid options: no OACK (RFC 2347 §2)');
});

test('negotiating: ACK n≠0 ignored; ACK 0 starts the first window; timeout resends OACK with backoff', () => {
  const { session } = startSession(10_000, new Map([['blksize', '1000'], ['windowsize', '4']]), limits);
  assert.deepEqual(onPacket(session, ack(3)), []);
  const t = onTimeout(session);
  assert.equal(t[0]!.type, 'oack');
  assert.deepEqual(t[1], { type: 'timer', ms: 2000 });
  const e = onPacket(session, ack(0));
  assert.deepEqual(data(e), [1, 2, 3, 4]);
  assert.equal(session.state, 'sending');
});

test('sending: window of 4, ACK of window end → next window; last block short; ACK of last → done ok', () => {
  const { session } = startSession(10_000, new Map([['blksize', '1000'], ['windowsize', '4']]), limits);
  onPacket(session, ack(0));
  assert.deepEqual(data(onPacket(session, ack(4))), [5, 6, 7, 8]);
  const e = onPacket(session, ack(8));
  assert.deepEqual(data(e), [9, 10, 11]);
  assert.deepEqual(e.find((x) => x.type === 'data' && x.block === 11), { type: 'data', block: 11, offset: 10_000, length: 0 },
    'size multiple of blksize ends with an empty block (RFC 1350 §6)');
  assert.deepEqual(onPacket(session, ack(11)), [{ type: 'done', result: 'ok' }]);
  assert.deepEqual(onPacket(session, ack(11)), [], 'done ignores everything');
});

test('sending: ACK inside the window (RFC 7440 §4 gap) restarts the window after it', () => {
  const { session } = startSession(100_000, new Map([['blksize', '1000'], ['windowsize', '4']]), limits);
  onPacket(session, ack(0));
  assert.deepEqual(data(onPacket(session, ack(2))), [3, 4, 5, 6]);
  assert.equal(session.retransmits, 2);
});

test("sending: duplicate ACKs never trigger DATA (Sorcerer's Apprentice); ACK beyond sent ignored", () => {
  const { session } = startSession(100_000, new Map(), limits);
  onPacket(session, ack(1));
  assert.deepEqual(onPacket(session, ack(1)), []);
  assert.deepEqual(onPacket(session, ack(1)), []);
  assert.deepEqual(onPacket(session, ack(9)), []);
  assert.equal(session.duplicateAcks, 3);
  assert.deepEqual(data(onPacket(session, ack(2))), [3]);
});

test('sending: timeout resends the unacknowledged window with exponential backoff, then gives up', () => {
  const { session } = startSession(100_000, new Map([['blksize', '1000'], ['windowsize', '3']]), limits);
  onPacket(session, ack(0));
  onPacket(session, ack(3));
  let e = onTimeout(session);
  assert.deepEqual(data(e), [4, 5, 6]);
  assert.deepEqual(e.at(-1), { type: 'timer', ms: 2000 });
  e = onTimeout(session);
  assert.deepEqual(e.at(-1), { type: 'timer', ms: 4000 });
  e = onTimeout(session);
  assert.deepEqual(e.at(-1), { type: 'timer', ms: 4000 }, 'capped at maxTimeoutMs');
  e = onTimeout(session);
  assert.equal(e[0]!.type, 'done');
  assert.equal((e[0] as { result: string }).result, 'timeout');
  // A good ACK resets the retry count.
  const s2 = startSession(100_000, new Map(), limits).session;
  onTimeout(s2); onTimeout(s2);
  onPacket(s2, ack(1));
  assert.equal(s2.retries, 0);
});

test('block numbers roll over past 65535 to 0; ACKs map to absolute blocks', () => {
  const size = 512 * 70_000 + 100;
  const { session } = startSession(size, new Map(), limits);
  for (let b = 1; b < 65535; b++) onPacket(session, ack(b));
  assert.deepEqual(data(onPacket(session, ack(65535))), [65536]);
  assert.equal(session.sent & 0xffff, 0, 'wire block 0 after 65535');
  const e = onPacket(session, ack(0));
  assert.deepEqual(e[0], { type: 'data', block: 65537, offset: 65536 * 512, length: 512 });
  for (let b = 65537; b < 70_001; b++) onPacket(session, ack(b));
  assert.equal(session.acked, 70_000);
  const last = onPacket(session, ack(70_001));
  assert.deepEqual(last, [{ type: 'done', result: 'ok' }]);
  assert.equal(session.lastBlock, 70_001);
});

test('any state: ERROR from the client ends the transfer (PXE tsize probe: error 8 after OACK)', () => {
  const { session } = startSession(100, new Map([['tsize', '0']]), limits);
  const e = onPacket(session, { opcode: Opcode.ERROR, code: 8, message: 'probe' });
  assert.deepEqual(e, [{ type: 'done', result: 'client-error', detail: '8 probe' }]);
  const s2 = startSession(100_000, new Map(), limits).session;
  assert.equal((onPacket(s2, { opcode: Opcode.ERROR, code: 0, message: 'bye' })[0] as { result: string }).result, 'client-error');
});

test('any state: DATA or a request on the transfer port is an illegal operation (error 4)', () => {
  for (const p of [{ opcode: Opcode.DATA, block: 1, data: Buffer.alloc(0) }, { opcode: Opcode.RRQ, filename: 'x', mode: 'octet', options: new Map() }] as const) {
    const { session } = startSession(100, new Map(), limits);
    const e = onPacket(session, p);
    assert.deepEqual(e[0], { type: 'error', code: 4, message: 'Illegal TFTP operation' });
    assert.equal(e[1]!.type, 'done');
  }
  const neg = startSession(100, new Map([['tsize', '0']]), limits).session;
  assert.equal(onPacket(neg, { opcode: Opcode.OACK, options: new Map() })[0]!.type, 'error');
});

test('abort: error then done once; nothing after', () => {
  const { session } = startSession(100, new Map(), limits);
  assert.deepEqual(abort(session, 0, 'file changed'), [{ type: 'error', code: 0, message: 'file changed' }, { type: 'done', result: 'error', detail: 'file changed' }]);
  assert.deepEqual(abort(session, 0, 'again'), []);
  assert.deepEqual(onTimeout(session), []);
});
