import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend.ts';
import { Gru4Rec } from '../../src/model/gru4rec.ts';
import { Rng } from '../../src/random/rng.ts';
import type { SessionData } from '../../src/data/sessions.ts';
import { archOf, validateGru4RecConfig, type Gru4RecConfig } from '../../src/model/gru4rec-config.ts';
import { Gru4RecOptimizer } from '../../src/train/optimizer.ts';
import { RowSlice } from '../../src/train/row-slice.ts';
import { SessionParallelIterator } from '../../src/train/session-parallel.ts';
import { Gru4RecTrainer, accidentalHitMask, itemSupport, trainGru4Rec, trainSteps } from '../../src/train/trainer.ts';

before(async () => {
  await initBackend('wasm', () => {});
});

const N_ITEMS = 20;

/** Sessions that walk item i → i+1 (mod N) from a random start: the next item is a function of the current one. */
function chainSessions(nSessions: number, seed: number): SessionData {
  const rng = new Rng(seed);
  const offsets = [0];
  const items: number[] = [];
  for (let s = 0; s < nSessions; s++) {
    let item = Math.floor(rng.next() * N_ITEMS);
    const len = 2 + Math.floor(rng.next() * 6);
    for (let k = 0; k < len; k++) {
      items.push(item);
      item = (item + 1) % N_ITEMS;
    }
    offsets.push(items.length);
  }
  return {
    sessionIds: Array.from({ length: nSessions }, (_, s) => `s${s}`),
    offsets: Int32Array.from(offsets),
    items: Int32Array.from(items),
    times: Float64Array.from(items, (_, e) => e),
  };
}

/** Share of items whose top-scored next item after a fresh session start is item + 1. */
function chainAccuracy(model: Gru4Rec): number {
  const H = model.arch.hiddenSizes;
  const items = Int32Array.from({ length: N_ITEMS }, (_, i) => i);
  const { scores } = model.step(
    H.map((h) => new Float32Array(N_ITEMS * h)),
    items,
  );
  let hits = 0;
  for (let i = 0; i < N_ITEMS; i++) {
    let best = 0;
    for (let j = 1; j < N_ITEMS; j++) if (scores[i * N_ITEMS + j] > scores[i * N_ITEMS + best]) best = j;
    if (best === (i + 1) % N_ITEMS) hits++;
  }
  return hits / N_ITEMS;
}

const base: Partial<Gru4RecConfig> = {
  layers: [24],
  batchSize: 8,
  nSample: 12,
  sampleAlpha: 0.5,
  sampleCacheSize: 10000,
  nEpochs: 4,
  learningRate: 0.1,
  eluParam: 0,
  bpreg: 0,
  seed: 1,
};
const cases: Array<[string, Partial<Gru4RecConfig>]> = [
  ['cross-entropy, constrained embedding, logq, dropout', { loss: 'cross-entropy', logq: 1, dropoutPEmbed: 0.1, dropoutPHidden: 0.1 }],
  ['bpr, one-hot input', { loss: 'bpr', constrainedEmbedding: false, learningRate: 0.2 }],
  ['top1, separate embedding', { loss: 'top1', constrainedEmbedding: false, embedding: 16, learningRate: 0.2 }],
  ['bpr-max, elu 0.5, bpreg, momentum', { loss: 'bpr-max', eluParam: 0.5, bpreg: 0.5, momentum: 0.3 }],
  // 12 uniform samples over 20 items: most rows see their own target among the negatives.
  ['bpr-max, accidental hits removed', { loss: 'bpr-max', eluParam: 0.5, bpreg: 0.5, momentum: 0.1, sampleAlpha: 0, removeAccidentalHits: true }],
  ['cross-entropy, logq, accidental hits removed', { loss: 'cross-entropy', logq: 1, removeAccidentalHits: true }],
  ['top1-max, two layers', { loss: 'top1-max', layers: [24, 16], learningRate: 0.2 }],
  ['cross-entropy, Adam, weight decay, no bias', { loss: 'cross-entropy', optimizer: 'adam', learningRate: 0.02, weightDecay: 1e-4, useBias: false }],
];

for (const [label, overrides] of cases) {
  test(`training learns a deterministic sequence (${label})`, async () => {
    const config = validateGru4RecConfig({ ...base, ...overrides });
    const data = chainSessions(400, 3);
    const fresh = Gru4Rec.init(archOf(config, N_ITEMS), config.seed);
    const before = chainAccuracy(fresh);
    fresh.dispose();
    const { model, stats } = await trainGru4Rec(data, N_ITEMS, config);
    const acc = chainAccuracy(model);
    assert.equal(stats.epochs, config.nEpochs);
    assert.equal(stats.events, config.nEpochs * SessionParallelIterator.pairCount(data));
    assert.ok(stats.lossHistory[stats.lossHistory.length - 1] < stats.lossHistory[0], `loss did not fall: ${stats.lossHistory}`);
    assert.ok(acc >= 0.9, `next-item accuracy ${acc} after training (was ${before} before)`);
    assert.ok(stats.eventsPerSec > 0 && stats.timing.steps > 0);
    model.dispose();
  });
}

test('tensor count stays flat over steps, resets, the shrinking tail and epochs', () => {
  const config = validateGru4RecConfig({ ...base, loss: 'bpr-max', eluParam: 0.5, bpreg: 1, dropoutPEmbed: 0.2, dropoutPHidden: 0.2, momentum: 0.2 });
  const data = chainSessions(60, 5);
  const start = tf.memory().numTensors;
  const model = Gru4Rec.init(archOf(config, N_ITEMS), 1);
  const trainer = new Gru4RecTrainer(model, config, itemSupport(data, N_ITEMS));
  const it = new SessionParallelIterator(data, config.batchSize);
  const counts: number[] = [];
  let sawKeep = false;
  for (let epoch = 0; epoch < 3; epoch++) {
    it.restart();
    trainer.resetState();
    for (let b = it.next(); b; b = it.next()) {
      sawKeep ||= b.keep !== null;
      trainer.step(b);
    }
    counts.push(tf.memory().numTensors);
  }
  assert.ok(sawKeep, 'the pass must include the shrinking tail');
  assert.equal(counts[1], counts[0], `tensors grew between epochs: ${counts}`);
  assert.equal(counts[2], counts[0], `tensors grew between epochs: ${counts}`);
  trainer.dispose();
  model.dispose();
  assert.equal(tf.memory().numTensors, start, 'trainer and model dispose everything they made');
});

test('training is reproducible for a seed and differs across seeds', async () => {
  const data = chainSessions(50, 9);
  const run = async (seed: number) => {
    const config = validateGru4RecConfig({ ...base, nEpochs: 1, seed, dropoutPHidden: 0.2 });
    const { model } = await trainGru4Rec(data, N_ITEMS, config);
    const w = model.toWeights();
    model.dispose();
    return w.tensors['out.Wy'].data;
  };
  const a = await run(4);
  assert.deepEqual(await run(4), a);
  assert.notDeepEqual(await run(5), a);
});

test('a step only moves the item rows it touched (inputs, targets, negatives)', () => {
  const config = validateGru4RecConfig({ ...base, nSample: 0, momentum: 0.5 });
  const model = Gru4Rec.init(archOf(config, N_ITEMS), 2);
  const trainer = new Gru4RecTrainer(model, config, new Float64Array(N_ITEMS).fill(1));
  const batch = { n: 3, inputs: Int32Array.from([1, 4, 4]), targets: Int32Array.from([2, 5, 9]), reset: Uint8Array.from([1, 1, 1]), anyReset: true, keep: null };
  const rowsMoved = () => {
    const beforeW = model.toWeights().tensors['out.Wy'].data;
    trainer.step(batch);
    const afterW = model.toWeights().tensors['out.Wy'].data;
    const H = config.layers[0];
    const moved = new Set<number>();
    for (let i = 0; i < N_ITEMS; i++) for (let k = 0; k < H; k++) if (afterW[i * H + k] !== beforeW[i * H + k]) moved.add(i);
    return [...moved].sort((x, y) => x - y);
  };
  assert.deepEqual(rowsMoved(), [1, 2, 4, 5, 9]);
  // Momentum is per touched row too: rows from the last step do not keep drifting.
  batch.inputs.set([7, 7, 7]);
  batch.targets.set([8, 8, 3]);
  batch.reset.fill(0);
  batch.anyReset = false;
  assert.deepEqual(rowsMoved(), [3, 7, 8]);
  trainer.dispose();
  model.dispose();
});

test('indexed Adagrad with momentum: repeated rows are summed and match the official update in float64', () => {
  const lr = 0.1;
  const momentum = 0.4;
  const eps = 1e-6;
  const cfg = validateGru4RecConfig({ learningRate: lr, momentum, epsilon: eps });
  const rows = 6;
  const cols = 2;
  const init = Float32Array.from({ length: rows * cols }, (_, i) => 0.1 * i - 0.3);
  const table = tf.variable(tf.tensor2d(init, [rows, cols]));
  const opt = new Gru4RecOptimizer(cfg, { t: table }, new Set(['t']));
  const ref = Float64Array.from(init);
  const acc = new Float64Array(rows * cols);
  const mom = new Float64Array(rows * cols);
  const slice = new RowSlice(rows, 8);
  const steps: Array<{ ids: number[]; grads: number[] }> = [
    { ids: [1, 3, 1, 5, 3, 1], grads: [0.5, -1, 0.2, 0.3, -0.4, 0.1, 1, 1, 0.25, -0.75, 0.6, 0.6] },
    { ids: [0, 3], grads: [0.3, 0.3, -0.2, 0.9] },
  ];
  for (const { ids, grads } of steps) {
    slice.set(Int32Array.from(ids));
    tf.tidy(() => {
      const g = tf.tensor2d(grads, [ids.length, cols]);
      const summed = slice.hasDuplicates ? tf.sparse.sparseSegmentSum(g, tf.tensor1d(slice.order, 'int32'), tf.tensor1d(slice.segments, 'int32')) : g;
      opt.beginStep();
      opt.rows('t', table, tf.tensor2d(slice.unique, [slice.unique.length, 1], 'int32'), summed);
    });
    // IndexedAdagradM on the coalesced sparse gradient.
    const sum = new Map<number, number[]>();
    ids.forEach((r, k) => {
      const s = sum.get(r) ?? new Array(cols).fill(0);
      for (let c = 0; c < cols; c++) s[c] += grads[k * cols + c];
      sum.set(r, s);
    });
    for (const [r, g] of sum)
      for (let c = 0; c < cols; c++) {
        const i = r * cols + c;
        acc[i] += g[c] * g[c];
        mom[i] = momentum * mom[i] - (lr * g[c]) / Math.sqrt(acc[i] + eps);
        ref[i] += mom[i];
      }
  }
  assert.deepEqual(Array.from(slice.unique), [0, 3]);
  const got = table.dataSync();
  for (let i = 0; i < ref.length; i++) assert.ok(Math.abs(got[i] - ref[i]) < 1e-6, `entry ${i}: ${got[i]} vs reference ${ref[i]}`);
  // Rows 2 and 4 were never touched.
  for (const r of [2, 4]) for (let c = 0; c < cols; c++) assert.equal(got[r * cols + c], init[r * cols + c]);
  opt.dispose();
  table.dispose();
});

test('dense Adam matches its float64 reference over three steps', () => {
  const cfg = validateGru4RecConfig({ optimizer: 'adam', learningRate: 0.01, adamBeta1: 0.9, adamBeta2: 0.99, epsilon: 1e-8, weightDecay: 0.01 });
  const p = tf.variable(tf.tensor1d([0.5, -0.2, 1.0]));
  const opt = new Gru4RecOptimizer(cfg, { p }, new Set());
  const ref = [0.5, -0.2, 1.0];
  const m = [0, 0, 0];
  const v = [0, 0, 0];
  const grads = [
    [0.1, -0.3, 0.2],
    [0.05, 0.1, -0.4],
    [-0.2, 0.2, 0.0],
  ];
  grads.forEach((g, t) => {
    tf.tidy(() => {
      opt.beginStep();
      opt.dense('p', p, tf.tensor1d(g));
    });
    for (let i = 0; i < 3; i++) {
      m[i] = 0.9 * m[i] + 0.1 * g[i];
      v[i] = 0.99 * v[i] + 0.01 * g[i] * g[i];
      const mHat = m[i] / (1 - 0.9 ** (t + 1));
      const vHat = v[i] / (1 - 0.99 ** (t + 1));
      ref[i] -= 0.01 * (mHat / (Math.sqrt(vHat) + 1e-8) + 0.01 * ref[i]);
    }
  });
  const got = p.dataSync();
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(got[i] - ref[i]) < 1e-6, `entry ${i}: ${got[i]} vs ${ref[i]}`);
  opt.dispose();
  p.dispose();
});

test('trainSteps feeds externally built batches; an aborted signal stops trainGru4Rec early', async () => {
  const config = validateGru4RecConfig({ ...base, nEpochs: 3 });
  const data = chainSessions(200, 12);
  const model = Gru4Rec.init(archOf(config, N_ITEMS), 3);
  const trainer = new Gru4RecTrainer(model, config, itemSupport(data, N_ITEMS));
  const it = new SessionParallelIterator(data, config.batchSize);
  const batches = {
    *[Symbol.iterator]() {
      for (let b = it.next(); b; b = it.next()) yield b;
    },
  };
  const r = trainSteps(trainer, batches);
  assert.equal(r.events, SessionParallelIterator.pairCount(data));
  assert.ok(Number.isFinite(r.meanLoss) && r.meanLoss > 0);
  trainer.dispose();

  const controller = new AbortController();
  const { model: partial, stats } = await trainGru4Rec(data, N_ITEMS, config, {
    model,
    progressEvery: 5,
    onProgress: () => controller.abort(),
    signal: controller.signal,
  });
  assert.equal(partial, model, 'continues the given model');
  assert.equal(stats.aborted, true);
  assert.ok(stats.events < SessionParallelIterator.pairCount(data), `aborted run still did ${stats.events} events`);
  model.dispose();
});

test('a trainer refuses a model whose architecture does not match its config', () => {
  const config = validateGru4RecConfig({ ...base });
  const model = Gru4Rec.init(archOf({ ...config, layers: [8] }, N_ITEMS), 1);
  assert.throws(() => new Gru4RecTrainer(model, config, new Float64Array(N_ITEMS)), /does not match the config/);
  assert.throws(() => new Gru4RecTrainer(Gru4Rec.init(archOf(config, N_ITEMS), 1), config, new Float64Array(3)), /support has 3 entries/);
  model.dispose();
});

test("accidentalHitMask marks every other column holding a row's target item", () => {
  // Targets of 3 rows (items 5, 7, 5), then 4 shared samples (7, 2, 5, 9).
  const outIds = Int32Array.from([5, 7, 5, 7, 2, 5, 9]);
  const R = outIds.length;
  const buf = new Float32Array(3 * R + 4).fill(9);
  const m = accidentalHitMask(outIds, 3, buf);
  assert.ok(m);
  const rows = Array.from({ length: 3 }, (_, i) => Array.from(m.subarray(i * R, (i + 1) * R)));
  assert.deepEqual(rows, [
    [0, 0, 1, 0, 0, 1, 0], // item 5: row 2's target and the sample in column 5
    [0, 0, 0, 1, 0, 0, 0], // item 7: the sample in column 3
    [1, 0, 0, 0, 0, 1, 0], // item 5: row 0's target and column 5
  ]);
  // No hit: null, whatever the buffer held before.
  assert.equal(accidentalHitMask(Int32Array.from([1, 2, 3, 4]), 2, buf), null);
  assert.throws(() => accidentalHitMask(outIds, 3, new Float32Array(5)), /buffer/);
});
