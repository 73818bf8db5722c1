// The fast config path (src/config/fast-yaml.ts) agrees with the positioned `yaml` parse, or steps aside.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseDocument, stringify } from 'yaml';
import { fastYaml } from '../../src/config/fast-yaml.js';
import { parseConfig, parseConfigFast, parseConfigPositioned } from '../../src/config/load.js';
import { ROOT, EXAMPLE } from '../helpers/daemon.js';

const example = readFileSync(EXAMPLE, 'utf8');

/** The fast reader either declines (undefined) or returns exactly what `yaml` returns for valid text. */
function agrees(text: string): 'fast' | 'declined' {
  const fast = fastYaml(text);
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (fast === undefined) return 'declined';
  assert.equal(doc.errors.length, 0, `fast reader accepted text yaml rejects:\n${text}\n${doc.errors.map((e) => e.message).join('\n')}`);
  assert.deepEqual(fast, doc.toJS(), `fast reader differs from yaml for:\n${text}`);
  return 'fast';
}

/** A site with `n` hosts in the flow style of the scale benchmark, or in block style. */
function generated(n: number, style: 'flow' | 'block'): string {
  const mac = (i: number) => `52:54:01:${[16, 8, 0].map((s) => ((i >> s) & 255).toString(16).padStart(2, '0')).join(':')}`;
  let hosts = '';
  for (let i = 1; i <= n; i++) {
    const ip = `10.100.${(i >> 8) & 255}.${(i & 255) || 1}`;
    const name = `node${String(i).padStart(5, '0')}`;
    const fixed = i % 256 === 0 ? `10.100.${250 + Math.floor(i / 256 / 254)}.${1 + ((i / 256) % 254)}` : ip;
    hosts += style === 'flow'
      ? `  - { name: ${name}, interfaces: [{ mac: "${mac(i)}", ip: ${fixed} }] }\n`
      : `  - name: ${name}    # host ${i}\n    interfaces:\n      - mac: '${mac(i)}'\n        ip: ${fixed}\n`;
  }
  return `site: { name: bench, domain: lab.example, mgmt_domain: mgmt.example }
paths: { state: ./state, artifacts: ./artifacts, templates: ./templates }
authority: { initial: bootstrap, router: { dns: "127.0.0.1:53" } }
dns: { listen: ["127.0.0.1:0"] }
dhcp:
  interfaces: []
  port: 10067
  subnets:
  - { cidr: 10.100.0.0/16 }
  - cidr: 10.104.0.0/14
    pool: 10.104.0.1-10.107.255.254
tftp: { listen: ["127.0.0.1:0"] }
http: { listen: ["127.0.0.1:0"], base_url: "http://127.0.0.1:0" }
control: { socket: ./builderd.sock }
hosts:
${hosts}`;
}

describe('fast config reader', () => {
  test('config/example.yaml: same document, same Config as the positioned parse', () => {
    assert.equal(agrees(example), 'fast');
    const fast = parseConfigFast(example, EXAMPLE);
    assert.ok(fast, 'the example takes the fast path');
    assert.deepEqual(fast, parseConfigPositioned(example, EXAMPLE));
  });

  for (const style of ['flow', 'block'] as const) {
    test(`a generated 1,000-host config (${style} style): same Config both ways`, () => {
      const text = generated(1000, style);
      assert.equal(agrees(text), 'fast');
      const file = join(ROOT, 'generated.yaml');
      const fast = parseConfigFast(text, file);
      assert.ok(fast, 'valid config takes the fast path');
      assert.equal(fast.config.hosts.length, 1000);
      assert.deepEqual(fast, parseConfigPositioned(text, file));
    });
  }

  test('an invalid config or one with warnings falls back to the positioned parse (file:line:col)', () => {
    const bad = example.replace('ttl: 300', 'ttll: 300');
    assert.equal(parseConfigFast(bad, EXAMPLE), undefined);
    assert.throws(() => parseConfig(bad, EXAMPLE), /example\.yaml:\d+:\d+: dns\.ttll: unknown key/);
    const warned = example.replace('"52:54:00:aa:00:01"', '"52:54:00:AA:00:01"');
    assert.notEqual(warned, example);
    assert.equal(parseConfigFast(warned, EXAMPLE), undefined);
    assert.equal(parseConfig(warned, EXAMPLE).warnings.length, 1);
  });

  test('text outside the subset is declined, never misread', () => {
    const declined = [
      'a: &x 1\nb: *x\n', 'a: !!str 1\n', 'a: |\n  text\n', 'a: >\n  text\n', 'a: one\n  two\n',
      'a: [1,\n  2]\n', 'a: 1\na: 2\n', '"a": 1\n', 'a:\tb\n', '---\na: 1\n', 'a: "x\\ty"\n', 'a: 0x10\n',
      'a: 1.5\n', 'a: .inf\n', 'a: 12345678901234567\n', '? a\n: b\n', 'a: b: c\n', '- a\n', 'a: [1, 2, ]\n',
      'a: { b }\n', 'a: {b:1}\n', 'true: 1\n', 'a:\n- x\n  y\n', 'a: "x" y\n', '%YAML 1.2\n---\na: 1\n',
    ];
    for (const t of declined) assert.equal(fastYaml(t), undefined, JSON.stringify(t));
    const read: [string, unknown][] = [
      ['a: 1\nb: -2\nc: +3\nd: 007\n', { a: 1, b: -2, c: 3, d: 7 }],
      ['a: ~\nb:\nc: null\nd: True\ne: false\n', { a: null, b: null, c: null, d: true, e: false }],
      ["a: 'it''s'   # c\nb: \"x # y\"\nc: http://h:80/p#f\n", { a: "it's", b: 'x # y', c: 'http://h:80/p#f' }],
      ['a:\n  - x\n  -\n    k: v\n  - - n\n', { a: ['x', { k: 'v' }, ['n']] }],
      ['a: { b: [1, "2", c d], e: {} , f: [] }\n', { a: { b: [1, '2', 'c d'], e: {}, f: [] } }],
      ['a: 10.1.2.3\nb: 52:54:00:aa:00:01\nc: 1h\n', { a: '10.1.2.3', b: '52:54:00:aa:00:01', c: '1h' }],
      ['', null],
    ];
    for (const [t, v] of read) {
      assert.deepEqual(fastYaml(t), v, JSON.stringify(t));
      assert.equal(agrees(t), t === '' ? 'fast' : 'fast');
    }
  });

  test('property: any document yaml can write, in block or flow style, is read the same or declined', () => {
    const key = fc.stringMatching(/^[a-z_][a-z0-9_.\-]{0,8}$/);
    const leaf = fc.oneof(
      fc.string({ maxLength: 12 }), fc.integer(), fc.boolean(), fc.constant(null), fc.double({ noNaN: true }),
      fc.constantFrom('1h', '10.0.0.1', '10.0.0.0/8', '52:54:00:aa:00:01', 'a#b', 'x # y', "it's", 'null', '~', '-', '- a', '0x1f', 'yes'),
    );
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, leaf, tie('arr'), tie('obj')),
      arr: fc.array(tie('value'), { maxLength: 4 }),
      obj: fc.dictionary(key, tie('value'), { maxKeys: 4 }),
    }));
    let fast = 0;
    fc.assert(fc.property(fc.dictionary(key, value, { minKeys: 1, maxKeys: 5 }), fc.constantFrom(false, true), fc.integer({ min: 2, max: 4 }), (doc, flow, indent) => {
      const text = stringify(doc, { indent, ...(flow ? { collectionStyle: 'flow' as const } : {}) });
      if (agrees(text) === 'fast') fast++;
    }), { numRuns: 400 });
    assert.ok(fast > 40, `the fast reader should take a fair share (random strings and floats are declined) (took ${fast} of 400)`);
  });

  test('property: mutations of the example are read the same or declined', () => {
    const chars = [' ', '\n', ':', '-', '#', '"', "'", '[', ']', '{', '}', ',', 'a', '1', '&', '*', '|', '>', '?'];
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(example.length), fc.nat(3), fc.constantFrom(...chars)), { minLength: 1, maxLength: 3 }), (edits) => {
      let t = example;
      for (const [at, del, ch] of edits) t = t.slice(0, at) + ch + t.slice(at + del);
      agrees(t);
    }), { numRuns: 500 });
  });
});
