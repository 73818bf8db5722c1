// Replays every crash/hang/property fixture `npm run fuzz` found (test/fixtures/fuzz/<codec>/*.json),
// every captured seed (test/fixtures/fuzz/seeds/), and a short, fixed-seed run of the same mutation
// and fast-check properties, so a regression shows in `npm test` without the long fuzz run.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { targets, loadSeeds, loadFixtures } from '../fuzz/targets.js';
import { properties } from '../fuzz/properties.js';
import { Rng, nextInput } from '../fuzz/mutate.js';

/** A fixture's bytes must pass its codec's check within this time (the fuzzer's slow bound). */
const BOUND_MS = 100;

for (const [codec, t] of Object.entries(targets)) {
  describe(`fuzz fixtures: ${codec}`, () => {
    for (const f of loadFixtures(codec)) {
      it(`${f.kind} ${f.file.split('/').pop()}: ${f.message.split('\n')[0]!.slice(0, 120)}`, f.todo ? { todo: f.todo } : {}, () => {
        const input = Buffer.from(f.hex, 'hex');
        const t0 = performance.now();
        t.check(input);
        const ms = performance.now() - t0;
        assert.ok(ms < BOUND_MS * 5, `took ${ms.toFixed(1)} ms`);
      });
    }

    it(`every captured and built seed passes (${loadSeeds(codec).length} seeds)`, () => {
      const seeds = loadSeeds(codec);
      assert.ok(seeds.length >= 10, 'seed corpus present');
      for (const s of seeds) t.check(s);
    });

    it('5,000 mutated inputs (fixed seed): decode returns or throws its own error, round trips hold', () => {
      const rng = new Rng(0xb1f2);
      const seeds = loadSeeds(codec);
      for (let i = 0; i < 5000; i++) {
        const input = nextInput(rng, seeds, t.max);
        try { t.check(input); } catch (e) { assert.fail(`input ${input.toString('hex')}: ${(e as Error).message}`); }
      }
    });

    for (const p of properties[codec] ?? []) {
      it(`property: ${p.name} (300 runs)`, () => {
        const r = p.run(300, 0xb1f2, 20_000);
        assert.equal(r.failure, undefined, r.failure ? `${r.failure.message}\ninput ${r.failure.input.toString('hex')}` : '');
        assert.equal(r.runs, 300);
      });
    }
  });
}
