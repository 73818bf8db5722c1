// RFC 1350 §5 packet layouts, RFC 2347 §2 options/OACK; netascii per RFC 1350 appendix (RFC 764).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decode, encode, encodeAck, encodeData, encodeError, encodeOack, encodeRequest, encodingLength, Opcode, TftpDecodeError, toNetascii,
} from '../../src/tftp/codec.js';

test('RFC 1350 §5: RRQ bytes decode to filename, mode, and RFC 2347 options (names case-insensitive)', () => {
  const bytes = Buffer.from('\x00\x01pxelinux.0\x00OcTeT\x00BLKSIZE\x001468\x00TSize\x000\x00windowSize\x008\x00', 'latin1');
  const p = decode(bytes);
  assert.equal(p.opcode, Opcode.RRQ);
  if (p.opcode !== Opcode.RRQ) return;
  assert.equal(p.filename, 'pxelinux.0');
  assert.equal(p.mode, 'octet');
  assert.deepEqual([...p.options], [['blksize', '1468'], ['tsize', '0'], ['windowsize', '8']]);
});

test('RFC 1350 §5: DATA, ACK, ERROR fixed layouts', () => {
  assert.deepEqual(encodeAck(65536 + 7), Buffer.from([0, 4, 0, 7]));
  assert.deepEqual(encodeData(1, Buffer.from('hi')), Buffer.from([0, 3, 0, 1, 0x68, 0x69]));
  assert.deepEqual(encodeError(1, 'File not found'), Buffer.from('\x00\x05\x00\x01File not found\x00', 'latin1'));
  assert.deepEqual(encodeOack([['blksize', '1468']]), Buffer.from('\x00\x06blksize\x001468\x00', 'latin1'));
  const e = decode(Buffer.from('\x00\x05\x00\x08tsize probe\x00', 'latin1'));
  assert.deepEqual(e, { opcode: Opcode.ERROR, code: 8, message: 'tsize probe' });
});

test('round trip and encodingLength for every packet type', () => {
  const packets = [
    decode(encodeRequest(Opcode.RRQ, 'a/b.efi', 'octet', [['blksize', '512']])),
    decode(encodeRequest(Opcode.WRQ, 'x', 'netascii')),
    decode(encodeData(65535, Buffer.alloc(512, 1))),
    decode(encodeAck(0)),
    decode(encodeError(2, 'Access violation')),
    decode(encodeOack([['tsize', '123'], ['timeout', '3']])),
  ];
  for (const p of packets) {
    const b = encode(p);
    assert.equal(b.length, encodingLength(p));
    assert.deepEqual(decode(b), p);
  }
});

test('malformed datagrams throw TftpDecodeError with a reason', () => {
  for (const hex of ['', '00', '0001', '000161', '00016100', '0001610062006f00', '0003', '0004ff', '0009', 'ffff0000']) {
    assert.throws(() => decode(Buffer.from(hex, 'hex')), (e: unknown) => e instanceof TftpDecodeError && typeof e.reason === 'string', hex);
  }
});

test('fuzz: decode of random bytes returns a packet or throws TftpDecodeError, nothing else', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
    try {
      const p = decode(Buffer.from(bytes));
      assert.ok(p.opcode >= 1 && p.opcode <= 6);
    } catch (e) {
      if (!(e instanceof TftpDecodeError)) throw e;
    }
  }), { numRuns: 20000 });
  // Bias towards valid opcodes so the request parser is exercised.
  fc.assert(fc.property(fc.integer({ min: 1, max: 6 }), fc.uint8Array({ maxLength: 100 }), (op, rest) => {
    try { decode(Buffer.concat([Buffer.from([0, op]), Buffer.from(rest)])); } catch (e) { if (!(e instanceof TftpDecodeError)) throw e; }
  }), { numRuns: 20000 });
});

test('RFC 1350 netascii: LF → CR LF, CR → CR NUL', () => {
  assert.deepEqual(toNetascii(Buffer.from('a\nb\rc')), Buffer.from('a\r\nb\r\x00c', 'latin1'));
  const plain = Buffer.from('no newlines');
  assert.equal(toNetascii(plain), plain);
});
