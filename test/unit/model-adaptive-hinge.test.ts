import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend.ts';
import { Gru4Rec } from '../../src/model/gru4rec.ts';
import { archOf, gru4recPreset, validateGru4RecConfig } from '../../src/model/gru4rec-config.ts';
import { adaptiveHingeLoss, sampledLoss, targetMask } from '../../src/model/losses.ts';
import { Rng } from '../../src/random/rng.ts';
import { Gru4RecTrainer } from '../../src/train/trainer.ts';
import { hingeTries } from '../../src/train/step-inputs.ts';
import { expectedShapes } from '../../src/model/weights.ts';
import { chainHits, chainSessions, lossPerEpoch } from '../support/chain-fit.ts';

before(async () => {
  await initBackend('wasm', () => {});
});

/** The loss by its definition, in float64: row i pays margin − s_ii + s_ij on its first violating try j, 0 when none. */
function referenceHinge(scores: number[][], tries: number[][], margin: number): number {
  let total = 0;
  scores.forEach((row, i) => {
    const target = row[i];
    const j = tries[i].find((c) => c >= 0 && row[c] > target - margin);
    if (j !== undefined) total += margin - target + row[j];
  });
  return total / scores.length;
}

test('hingeTries: samples first (each row from its own offset), then the other rows’ targets; never the row’s own item; −1 pads', () => {
  // Targets 5, 7, 5; samples 1, 2, 5, 9 (columns 3..6).
  const outIds = Int32Array.from([5, 7, 5, 1, 2, 5, 9]);
  assert.deepEqual([...hingeTries(outIds, 3, 3, new Int32Array(9))], [3, 4, 6, 6, 3, 4, 6, 3, 4]);
  // More tries than negatives: after the samples come the in-batch targets (row 0 skips row 2's, its own item), then −1.
  assert.deepEqual([...hingeTries(outIds, 3, 6, new Int32Array(18)).subarray(0, 6)], [3, 4, 6, 1, -1, -1]);
  // No samples at all (nSample 0): the other rows' targets, in order after the row.
  assert.deepEqual([...hingeTries(Int32Array.from([4, 5, 6]), 3, 2, new Int32Array(6))], [1, 2, 2, 0, 0, 1]);
  assert.throws(() => hingeTries(outIds, 3, 3, new Int32Array(8)), /buffer of n·k = 9/);
});

test('the adaptive hinge pays the hinge of the first violating try only, 0 for a row without one, as its definition', () => {
  const margin = 0.5;
  const scores = [
    [1.0, 0.2, 0.9, 0.7, 3.0, 0.0], // tries 3 (0.7 > 0.5: first violator; the later 3.0 is not paid)
    [0.0, 2.0, 1.0, 1.6, 0.1, 0.2], // tries 2, 4, 5: no score above 1.5 → 0
    [0.3, 0.0, 1.0, 0.2, 0.1, 0.9], // tries 3, 5: 0.2 fails, 0.9 > 0.5 violates
    [0.0, 0.0, 0.0, 4.0, 9.0, 0.0], // no try at all → 0
  ];
  const tries = [
    [3, 4, -1],
    [2, 4, 5],
    [3, 5, -1],
    [-1, -1, -1],
  ];
  const want = referenceHinge(scores, tries, margin);
  assert.ok(Math.abs(want - (0.5 - 1.0 + 0.7 + (0.5 - 1.0 + 0.9)) / 4) < 1e-12);
  const got = tf.tidy(() => sampledLoss('adaptive-hinge', tf.tensor2d(scores), { hingeTries: tf.tensor2d(tries, undefined, 'int32'), hingeMargin: margin }).dataSync()[0]);
  assert.ok(Math.abs(got - want) < 1e-6, `loss ${got}, definition ${want}`);
  assert.throws(() => adaptiveHingeLoss(tf.zeros([2, 3]) as tf.Tensor2D), /no hingeTries/);
});

test('gradient of the adaptive hinge matches central differences on every score, on a fixed draw of tries', () => {
  const EPS = 1e-2;
  const B = 5;
  const R = 11;
  const k = 4;
  const margin = 0.5;
  const rng = new Rng(11);
  const values = Array.from({ length: B }, () => Array.from({ length: R }, () => rng.uniform(-1.5, 1.5)));
  const tries = Array.from({ length: B }, (_, i) => Array.from({ length: k }, (_, t) => B + ((i * k + t) % (R - B))));
  tries[B - 1][k - 1] = -1;
  // A difference that moves a score across its row's margin would change which try is paid: keep every try away from it.
  values.forEach((row, i) => tries[i].forEach((c) => c >= 0 && assert.ok(Math.abs(row[c] - (row[i] - margin)) > 3 * EPS, `row ${i} try ${c} sits on the margin`)));
  const triesT = tf.tensor2d(tries, undefined, 'int32');
  const mask = targetMask(B, R);
  const f = (s: tf.Tensor) => sampledLoss('adaptive-hinge', s as tf.Tensor2D, { targetMask: mask, hingeTries: triesT, hingeMargin: margin });
  const x = tf.tensor2d(values);
  const analytic = tf.grad(f)(x).dataSync() as Float32Array;
  const base = x.dataSync() as Float32Array;
  let nonZero = 0;
  for (let i = 0; i < base.length; i++) {
    const at = (delta: number) =>
      tf.tidy(() => {
        const d = Float32Array.from(base);
        d[i] += delta;
        return f(tf.tensor2d(d, [B, R])).dataSync()[0];
      });
    const numeric = (at(EPS) - at(-EPS)) / (2 * EPS);
    assert.ok(Math.abs(analytic[i] - numeric) <= 2e-4 + 2e-2 * Math.abs(numeric), `entry ${i}: analytic ${analytic[i]} vs numeric ${numeric}`);
    if (analytic[i] !== 0) nonZero++;
  }
  // A paying row moves exactly two entries (its target and its first violator).
  const value = f(x).dataSync()[0];
  assert.ok(value > 0 && Math.abs(value - referenceHinge(values, tries, margin)) < 1e-5);
  assert.ok(nonZero >= 2 && nonZero % 2 === 0, `${nonZero} non-zero gradient entries`);
});

for (const nSample of [8, 0]) {
  test(`the trainer fits a GRU with the adaptive hinge (${nSample ? `${nSample} samples` : 'in-batch negatives only'}): loss falls, next items rank first, no tensor leaks`, () => {
    const nItems = 20;
    const config = validateGru4RecConfig({
      loss: 'adaptive-hinge',
      adaptiveHingeMargin: 1,
      adaptiveHingeTries: 5,
      layers: [16],
      batchSize: 16,
      nSample,
      learningRate: 0.1,
      seed: 3,
    });
    const model = Gru4Rec.init(archOf(config, nItems), 3);
    const numTensors = tf.memory().numTensors;
    const trainer = new Gru4RecTrainer(model, config, new Float64Array(nItems).fill(10));
    const data = chainSessions(120, nItems);
    const lossOfEpoch = lossPerEpoch(trainer, data, 6);
    trainer.dispose();
    assert.ok(lossOfEpoch[5] < 0.1 * lossOfEpoch[0], `loss per epoch ${lossOfEpoch.map((v) => v.toFixed(3))}`);
    const hits = chainHits(model, nItems);
    assert.ok(hits >= 0.8 * nItems, `next item ranked first for ${hits}/${nItems} sessions`);
    model.dispose();
    assert.equal(tf.memory().numTensors, numTensors - Object.keys(expectedShapes(model.arch)).length, 'training leaves only the model variables, now disposed');
  });
}

test('config: the adaptive hinge sits beside the GRU4Rec losses with an explicit margin and number of tries', () => {
  const c = validateGru4RecConfig({ loss: 'adaptive-hinge' });
  assert.equal(c.adaptiveHingeMargin, 1);
  assert.equal(c.adaptiveHingeTries, 10);
  assert.throws(() => validateGru4RecConfig({ adaptiveHingeTries: 0 }), /adaptiveHingeTries must be an integer >= 1, got 0/);
  assert.throws(() => validateGru4RecConfig({ adaptiveHingeMargin: 0 }), /adaptiveHingeMargin must be a positive number, got 0/);
  const p = gru4recPreset('rsc15-hinge-fast');
  assert.equal(p.loss, 'adaptive-hinge');
  assert.equal(p.adaptiveHingeTries, 200);
  // The sizes of the BPR-max preset it compares with; the learning rate and sampling are its own (see the preset).
  const b = gru4recPreset('rsc15-bprmax-fast');
  for (const k of ['layers', 'batchSize', 'nSample', 'momentum', 'constrainedEmbedding', 'nEpochs'] as const) assert.deepEqual(p[k], b[k], k);
});
