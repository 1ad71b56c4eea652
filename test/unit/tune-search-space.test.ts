import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/random/rng.ts';
import { DEFAULT_GRU4REC_CONFIG, gru4recPreset, LOSSES } from '../../src/model/gru4rec-config.ts';
import { fromUnit, outsideSpace, sampleUniform, type SearchSpace, toUnit } from '../../src/train/tune/search-space.ts';
import { GRU4REC_SPACE, Gru4RecTarget } from '../../src/train/tune/gru4rec-target.ts';
import { ITEM_KNN_SPACE, ItemKnnTarget, SESSION_KNN_SPACE, SessionKnnTarget } from '../../src/train/tune/knn-target.ts';
import { syntheticSplit } from './tune-fixtures.ts';

test('tune search space: unit mapping keeps ends, rounds integers, and is the inverse of toUnit inside the range', () => {
  const lr = { kind: 'float', lo: 1e-3, hi: 0.3, log: true } as const;
  assert.equal(fromUnit(lr, 0), 1e-3);
  assert.equal(fromUnit(lr, 1), 0.3);
  // Log ranges: the middle of the unit interval is the geometric mean.
  assert.ok(Math.abs(fromUnit(lr, 0.5) - Math.sqrt(1e-3 * 0.3)) < 1e-4);
  for (const v of [0.002, 0.05, 0.2]) assert.ok(Math.abs(fromUnit(lr, toUnit(lr, v)) - v) / v < 1e-3, `round trip of ${v}`);
  // Out-of-range values (a start config below the range) clamp to its end.
  assert.equal(toUnit(lr, 1e-5), 0);
  const hidden = { kind: 'int', lo: 32, hi: 512, log: true } as const;
  for (let u = 0; u <= 1; u += 0.01) {
    const v = fromUnit(hidden, u);
    assert.ok(Number.isInteger(v) && v >= 32 && v <= 512, `hidden ${v} at u=${u}`);
  }
  // Both integer ends get a share of the unit interval, not a single point.
  const depth = { kind: 'int', lo: 1, hi: 2 } as const;
  assert.equal(fromUnit(depth, 0.2), 1);
  assert.equal(fromUnit(depth, 0.8), 2);
});

test('tune search space: uniform samples stay inside every space and reach every choice', () => {
  const rng = new Rng(3);
  for (const space of [GRU4REC_SPACE, SESSION_KNN_SPACE, ITEM_KNN_SPACE] as SearchSpace[]) {
    const seen = new Map<string, Set<unknown>>();
    for (let i = 0; i < 400; i++) {
      const p = sampleUniform(space, rng);
      assert.equal(outsideSpace(space, p), null);
      for (const [k, v] of Object.entries(p)) {
        if (!seen.has(k)) seen.set(k, new Set());
        seen.get(k)!.add(v);
      }
    }
    for (const [k, d] of Object.entries(space)) if (d.kind === 'choice') assert.equal(seen.get(k)!.size, d.values.length, `every value of ${k} drawn`);
  }
  assert.match(outsideSpace(GRU4REC_SPACE, { ...sampleUniform(GRU4REC_SPACE, rng), hidden: 2000 }) ?? '', /hidden = 2000 is outside \[32, 512\]/);
  assert.match(outsideSpace(GRU4REC_SPACE, { ...sampleUniform(GRU4REC_SPACE, rng), loss: 'hinge' }) ?? '', /loss = "hinge" is not one of/);
});

test('tune GRU4Rec space: every sampled point is a valid config that honours the cross-field rules and keeps the fixed fields', () => {
  const split = syntheticSplit({ nSessions: 200 });
  const base = gru4recPreset('rsc15-bprmax-fast', { nEpochs: 3, seed: 9 });
  const target = new Gru4RecTarget(split, { base });
  const rng = new Rng(11);
  const losses = new Set<string>();
  for (let i = 0; i < 300; i++) {
    const p = sampleUniform(target.space, rng);
    const c = target.configOf(p);
    losses.add(c.loss);
    assert.equal(c.nEpochs, 3);
    assert.equal(c.seed, 9);
    assert.equal(c.cell, base.cell);
    assert.equal(c.layers.length, p.depth);
    assert.ok(c.layers.every((h) => h === p.hidden));
    if (c.constrainedEmbedding) assert.equal(c.embedding, 0, 'a shared input table has no separate size');
    else assert.equal(c.embedding, p.input === 'separate' ? p.embedding : 0);
    // Loss-specific fields only follow the point for the loss that reads them; otherwise the base's stay.
    assert.equal(c.logq, c.loss === 'cross-entropy' ? p.logq : base.logq);
    assert.equal(c.bpreg, c.loss === 'bpr-max' ? p.bpreg : base.bpreg);
    // Back to a point: inside the space again, and the same config.
    const back = target.pointOf(c);
    assert.equal(outsideSpace(target.space, back), null);
    assert.deepEqual(target.configOf(back), c);
  }
  assert.deepEqual([...losses].sort(), [...LOSSES].sort());
  // A start config outside the ranges (lr 1e-5) still maps to a point in the space, clamped in unit terms.
  const bad = target.pointOf({ ...DEFAULT_GRU4REC_CONFIG, learningRate: 1e-5 });
  assert.equal(bad.learningRate, 1e-5);
  assert.equal(toUnit(GRU4REC_SPACE.learningRate as never, 1e-5), 0);
});

test('tune kNN spaces: sampled points are valid scorer options', () => {
  const split = syntheticSplit({ nSessions: 200 });
  const rng = new Rng(5);
  const sknn = new SessionKnnTarget(split);
  const iknn = new ItemKnnTarget(split);
  for (let i = 0; i < 100; i++) {
    const s = sknn.configOf(sampleUniform(sknn.space, rng));
    assert.ok(s.k >= 10 && s.k <= 1000 && s.sampleSize >= 100 && s.sampleSize <= 5000);
    const it = iknn.configOf(sampleUniform(iknn.space, rng));
    assert.ok(it.neighbours >= 20 && it.alpha >= 0 && it.alpha <= 1 && it.lambda >= 0);
  }
  assert.throws(() => iknn.configOf({ neighbours: 0, lambda: 1, alpha: 0.5 }));
});
