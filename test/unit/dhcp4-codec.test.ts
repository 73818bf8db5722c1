/* DHCPv4 codec: {object, hex} fixtures (RFC 2131/2132/3004/3046/3396/4578), malformed input, random fuzzing. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DhcpDecodeError, Opt, decodeDhcp, encodeDhcp, encodeDhcpEx, readClientArch, readClientFqdnLabel, readClientId,
  readClientNdi, readClientUuid, readMaxMessageSize, readSubOptions, readUserClass, type DhcpPacket,
} from '../../src/dhcp4/codec/index.js';
import { fixtures } from '../fixtures/dhcp4/packets.js';

describe('DHCPv4 codec fixtures', () => {
  for (const f of fixtures) {
    it(`${f.name} (${f.rfc}): decode`, () => {
      assert.deepEqual(decodeDhcp(Buffer.from(f.hex, 'hex')), f.object);
    });
    if (!f.decodeOnly) {
      it(`${f.name} (${f.rfc}): encode`, () => {
        assert.equal(encodeDhcp(f.object).toString('hex'), f.hex);
      });
    }
  }

  it('iPXE capture: typed readers (RFC 4578 §2.1-2.3, RFC 3004 bare form, 175)', () => {
    const p = fixtures[1]!.object;
    assert.deepEqual(readClientArch(p.options), [0]);
    assert.deepEqual(readClientNdi(p.options), { type: 1, major: 2, minor: 1 });
    assert.equal(readClientUuid(p.options), '00000000-0000-0000-0000-000000000000');
    assert.deepEqual(readUserClass(p.options), ['iPXE']);
    assert.deepEqual(readUserClass(fixtures[2]!.object.options), ['iPXE']);
    assert.equal(readMaxMessageSize(p.options), 1472);
    assert.equal(readClientId(p.options), '01525400990010');
    const enc = readSubOptions(p.options.get(Opt.IPXE_ENCAP))!;
    assert.equal(enc.get(16)?.[0], 2);
    assert.equal(enc.get(19)?.[0], 1);
  });

  it('option 97 missing or malformed is tolerated (reads as undefined)', () => {
    assert.equal(readClientUuid(new Map()), undefined);
    assert.equal(readClientUuid(new Map([[97, Buffer.from([0, 1, 2])]])), undefined);
  });

  it('client FQDN (RFC 4702 §2): wire and ASCII forms', () => {
    const wire = Buffer.concat([Buffer.from([0x05, 0, 0]), Buffer.from('\x04host\x07example\x00', 'latin1')]);
    assert.equal(readClientFqdnLabel(new Map([[81, wire]])), 'host');
    const ascii = Buffer.concat([Buffer.from([0x01, 0, 0]), Buffer.from('box.lab', 'latin1')]);
    assert.equal(readClientFqdnLabel(new Map([[81, ascii]])), 'box');
  });

  it('RFC 1542 §2.1: every encoded message is at least 300 bytes', () => {
    const p: DhcpPacket = { ...fixtures[0]!.object, options: new Map([[53, Buffer.from([1])]]) };
    assert.equal(encodeDhcp(p).length, 300);
  });

  it('RFC 2131 §4.1: options beyond the max message size move into file then sname (option 52), and decode back', () => {
    const options = new Map<number, Buffer>([[53, Buffer.from([5])]]);
    for (let c = 200; c < 207; c++) options.set(c, Buffer.alloc(60, c)); // 7 × 62 bytes: 4 in options, 2 in file, 1 in sname
    const p: DhcpPacket = { ...fixtures[0]!.object, op: 2, options };
    const { bytes, dropped } = encodeDhcpEx(p, { maxSize: 548 });
    assert.ok(bytes.length <= 548, `${bytes.length}`);
    assert.deepEqual(dropped, []);
    assert.deepEqual([...bytes.subarray(240, 243)], [Opt.OVERLOAD, 1, 3], 'file and sname both used');
    const back = decodeDhcp(bytes);
    assert.deepEqual([...back.options.keys()].sort(), [...options.keys()].sort());
    for (const [c, v] of options) assert.deepEqual(back.options.get(c), v);
    assert.equal(back.file, '');
  });

  it('what fits nowhere is reported as dropped, never written out of bounds', () => {
    const options = new Map<number, Buffer>([[53, Buffer.from([5])], [43, Buffer.alloc(1000, 1)]]);
    const { bytes, dropped } = encodeDhcpEx({ ...fixtures[0]!.object, op: 2, file: 'boot.efi', options }, { maxSize: 576 });
    assert.deepEqual(dropped, [43]);
    assert.ok(bytes.length <= 576);
  });
});

describe('DHCPv4 codec: malformed input (counted and dropped by the server)', () => {
  const good = Buffer.from(fixtures[0]!.hex, 'hex');
  const reason = (b: Buffer): string => {
    try { decodeDhcp(b); return 'ok'; } catch (e) { assert.ok(e instanceof DhcpDecodeError, String(e)); return e.reason; }
  };
  it('short, bad cookie, bad option length, missing END, bad hlen, bad op', () => {
    assert.equal(reason(good.subarray(0, 239)), 'short');
    const cookie = Buffer.from(good); cookie[236] = 0; assert.equal(reason(cookie), 'cookie');
    const len = Buffer.from(good); len[241] = 250; assert.equal(reason(len), 'option-length');
    const noEnd = Buffer.from(good.subarray(0, 243)); assert.equal(reason(noEnd), 'no-end');
    const hlen = Buffer.from(good); hlen[2] = 17; assert.equal(reason(hlen), 'hlen');
    const op = Buffer.from(good); op[0] = 3; assert.equal(reason(op), 'op');
    const ov = Buffer.from(good.subarray(0, 240)); assert.equal(reason(Buffer.concat([ov, Buffer.from([52, 1, 9, 255])])), 'option-length');
    assert.equal(reason(good), 'ok');
  });

  it('a PAD between options does not desynchronise the walk (RFC 2132 §3.1)', () => {
    const b = Buffer.concat([good.subarray(0, 240), Buffer.from([0, 53, 1, 1, 0, 0, 255])]);
    assert.deepEqual(decodeDhcp(b).options.get(53), Buffer.from([1]));
  });

  it('a maximum-size datagram of repeated one-byte options decodes in linear time (RFC 3396 concatenation)', () => {
    const body = Buffer.alloc(65000 - 241);
    for (let i = 0; i + 3 <= body.length; i += 3) { body[i] = 200; body[i + 1] = 1; body[i + 2] = 7; }
    const b = Buffer.concat([good.subarray(0, 240), body.subarray(0, body.length - (body.length % 3)), Buffer.from([255])]);
    const t0 = process.hrtime.bigint();
    const p = decodeDhcp(b);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.equal(p.options.get(200)?.length, Math.floor(body.length / 3));
    assert.ok(ms < 100, `${ms} ms`);
  });

  it('fuzz: 20,000 random and mutated inputs either decode or throw DhcpDecodeError', () => {
    const seeds = fixtures.map((f) => Buffer.from(f.hex, 'hex'));
    fc.assert(fc.property(
      fc.oneof(
        fc.uint8Array({ minLength: 0, maxLength: 700 }).map((u) => Buffer.from(u)),
        fc.tuple(fc.nat(seeds.length - 1), fc.array(fc.tuple(fc.nat(1500), fc.nat(255)), { maxLength: 12 }), fc.nat(1500)).map(([i, muts, cut]) => {
          const b = Buffer.from(seeds[i]!);
          for (const [at, v] of muts) if (at < b.length) b[at] = v;
          return b.subarray(0, Math.max(cut, 0) % (b.length + 1));
        }),
      ),
      (b) => {
        try {
          const p = decodeDhcp(b);
          encodeDhcp(p); // whatever decodes re-encodes without throwing
        } catch (e) {
          assert.ok(e instanceof DhcpDecodeError, `unexpected ${String(e)}`);
        }
      },
    ), { numRuns: 20_000, seed: 4242 });
  });

  it('round trip: random option maps survive encode → decode', () => {
    fc.assert(fc.property(
      fc.dictionary(fc.integer({ min: 1, max: 254 }).filter((c) => c !== 52 && c !== 82).map(String), fc.uint8Array({ minLength: 0, maxLength: 400 }), { maxKeys: 6 }),
      (dict) => {
        const options = new Map<number, Buffer>(Object.entries(dict).map(([k, v]) => [Number(k), Buffer.from(v)]));
        const p: DhcpPacket = { ...fixtures[0]!.object, options };
        const back = decodeDhcp(encodeDhcp(p, { maxSize: 65535 }));
        assert.deepEqual(back.options, options);
      },
    ), { numRuns: 500, seed: 7 });
  });
});
