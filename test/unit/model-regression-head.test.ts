import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend.ts';
import { loadSessionTsv, sharedDataDir } from '../../src/data/sessions.ts';
import { Gru4Rec } from '../../src/model/gru4rec.ts';
import { archOf, gru4recPreset, headConfigOf, item2vecOptionsOf, validateGru4RecConfig } from '../../src/model/gru4rec-config.ts';
import { cosineRegressionLoss, headScores, NORM_EPSILON, sampledItemSide, type HeadParams } from '../../src/model/heads.ts';
import { DEFAULT_ITEM2VEC, regressionItemVectors } from '../../src/model/item2vec.ts';
import { expectedShapes, validateWeights, type Gru4RecArch, type Gru4RecWeights } from '../../src/model/weights.ts';
import { loadModel, MODEL_JSON, saveModel } from '../../src/registry/model-file.ts';
import { createOrtEngine } from '../../src/engine/ort-engine.ts';
import { loadConfig } from '../../src/config/config.ts';
import { buildGru4RecRecommender } from '../../src/serving/create-recommender.ts';
import { ConfigError } from '../../src/errors/errors.ts';
import { evaluate } from '../../src/eval/evaluate.ts';
import { PopularityScorer } from '../../src/eval/baselines/popularity.ts';
import { Gru4RecTrainer, trainGru4Rec } from '../../src/train/trainer.ts';
import { initialModel } from '../../src/train/fit.ts';
import { SessionParallelIterator } from '../../src/train/session-parallel.ts';
import { growCatalogue } from '../../src/train/continuous/catalogue-growth.ts';
import { runTrain } from '../../src/cli/train.ts';
import { Rng } from '../../src/random/rng.ts';
import { syntheticWeights } from '../support/synthetic-weights.ts';
import { assertServingParity, maxAbsDiff } from '../support/serving-parity.ts';
import { EngineScorer } from '../support/engine-scorer.ts';
import { chainHits, chainSessions, lossPerEpoch } from '../support/chain-fit.ts';
import { writeSyntheticSessionTsv } from '../support/sessions.ts';

const root = mkdtempSync(join(tmpdir(), 'streamrec-regression-'));

before(async () => {
  await initBackend('wasm', () => {});
});

after(() => rmSync(root, { recursive: true, force: true }));

const REG: Gru4RecArch = { nItems: 29, embeddingDim: 0, hiddenSizes: [6], constrainedEmbedding: false, useBias: true, head: 'regression', regressionDim: 5 };

/** Weights of a regression arch whose head.items are unit rows with some zero rows (items without a vector), as training writes them. */
function regressionWeights(arch: Gru4RecArch, seed: number, zeroRows: readonly number[] = [3]): Gru4RecWeights {
  const w = syntheticWeights(arch, seed);
  const items = w.tensors['head.items'];
  const E = items.shape[1];
  for (let i = 0; i < arch.nItems; i++) {
    const row = items.data.subarray(i * E, (i + 1) * E);
    const norm = Math.hypot(...row);
    for (let k = 0; k < E; k++) row[k] = zeroRows.includes(i) ? 0 : row[k] / norm;
  }
  return w;
}

/** cos(h·W + b, v_i) for every item i, by the definition in float64 (unit() with NORM_EPSILON, as the implementation). */
function referenceScores(w: Gru4RecWeights, h: number[]): number[] {
  const W = w.tensors['head.W'];
  const E = W.shape[1];
  const p = Array.from({ length: E }, (_, c) => w.tensors['head.b'].data[c] + h.reduce((acc, hv, r) => acc + hv * W.data[r * E + c], 0));
  const unit = (a: number[]) => {
    const n = Math.sqrt(a.reduce((s, v) => s + v * v, 0) + NORM_EPSILON);
    return a.map((v) => v / n);
  };
  const q = unit(p);
  const items = w.tensors['head.items'].data;
  return Array.from({ length: w.arch.nItems }, (_, i) => {
    const v = unit(Array.from(items.subarray(i * E, (i + 1) * E)));
    return q.reduce((s, x, k) => s + x * v[k], 0);
  });
}

test('the weights contract: head.W [D, E], head.b [E], head.items [nItems, E]; regressionDim required, mixture fields refused', () => {
  assert.deepEqual(Object.fromEntries(Object.entries(expectedShapes(REG)).filter(([n]) => n.startsWith('head.'))), {
    'head.W': [6, 5],
    'head.b': [5],
    'head.items': [29, 5],
  });
  const bad = (arch: Gru4RecArch) => () => validateWeights(syntheticWeights(arch, 1));
  assert.throws(bad({ ...REG, regressionDim: undefined }), /arch\.regressionDim is required by the regression head/);
  assert.throws(bad({ ...REG, regressionDim: 0 }), /arch\.regressionDim must be a positive integer, got 0/);
  assert.throws(bad({ ...REG, head: undefined }), /arch\.regressionDim is only read by the regression head/);
  assert.throws(bad({ ...REG, tastes: 2 }), /belong to the mixture heads, not the regression head/);
});

test('serving step and tfjs scoring rank by cos(h·W + b, v_i) as the float64 definition; no item bias, a zero item vector scores 0', () => {
  const weights = regressionWeights(REG, 5);
  // A large item bias would change every score if the head read it.
  weights.tensors['out.by'].data.fill(3);
  const m = Gru4Rec.fromWeights(weights);
  const n = 3;
  const items = Int32Array.from([0, 11, 28]);
  const hidden = m.stateSizes.map((s) => Float32Array.from({ length: n * s }, (_, i) => Math.sin(i + 1) * 0.5));
  const step = m.step(hidden, items);
  for (let r = 0; r < n; r++) {
    const want = referenceScores(weights, Array.from(step.hidden[0].subarray(r * 6, (r + 1) * 6)));
    const got = step.scores.subarray(r * REG.nItems, (r + 1) * REG.nItems);
    assert.ok(maxAbsDiff(got, want) < 1e-5, `row ${r}: ${maxAbsDiff(got, want)} from the definition`);
    assert.equal(got[3], 0, 'the item without a vector');
    assert.ok(
      got.every((s) => Math.abs(s) <= 1 + 1e-6),
      'scores are cosines',
    );
  }
  // headScores scores against head.items whatever item side it is handed (out.Wy with its bias here):
  // the uncached path (unit rows built per call) equals the serving step's cached one.
  const direct = tf.tidy(() => {
    const h = tf.tensor2d(step.hidden[0], [n, 6]);
    const side = sampledItemSide(m.vars['out.Wy'] as tf.Tensor2D, m.vars['out.by'] as tf.Tensor1D);
    return headScores(m.arch, m.headParams() as HeadParams, h, side).dataSync() as Float32Array;
  });
  assert.ok(maxAbsDiff(direct, step.scores) < 1e-5, `headScores vs the serving step: ${maxAbsDiff(direct, step.scores)}`);
  m.dispose();
});

/**
 * The loss by its definition in float64: mean over rows of 1 − cos(h_r·W + b, v_r), with unit() as
 * the implementation's (NORM_EPSILON under the root).
 */
function referenceLoss(h: Float64Array, W: Float64Array, b: Float64Array, v: Float64Array, n: number, D: number, E: number): number {
  const unit = (a: number[]) => {
    const norm = Math.sqrt(a.reduce((s, x) => s + x * x, 0) + NORM_EPSILON);
    return a.map((x) => x / norm);
  };
  let sum = 0;
  for (let r = 0; r < n; r++) {
    const p = unit(Array.from({ length: E }, (_, c) => b[c] + Array.from({ length: D }, (_, d) => h[r * D + d] * W[d * E + c]).reduce((s, x) => s + x, 0)));
    const t = unit(Array.from(v.subarray(r * E, (r + 1) * E)));
    sum += 1 - p.reduce((s, x, c) => s + x * t[c], 0);
  }
  return sum / n;
}

test('gradient of the cosine regression loss w.r.t. h, head.W and head.b matches central differences of the float64 definition; so does its value', () => {
  const rng = new Rng(23);
  const n = 3;
  const D = 4;
  const E = 3;
  const shapes = [[n, D], [D, E], [E]];
  const values = shapes.map((shape, k) => Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.uniform(-1, 1) * (k === 2 ? 0.5 : 1)));
  const targetValues = Float32Array.from({ length: n * E }, () => rng.uniform(-1, 1));
  const xs = values.map((v, k) => tf.tensor(v, shapes[k]));
  const targets = tf.tensor2d(targetValues, [n, E]);
  const f = (...v: tf.Tensor[]) => cosineRegressionLoss(v[0] as tf.Tensor2D, { W: v[1] as tf.Tensor2D, b: v[2] as tf.Tensor1D }, targets);
  const grads = tf.grads(f)(xs);
  const analytic = grads.map((g) => g.dataSync() as Float32Array);
  tf.dispose(grads);
  const ref = (vs: Float64Array[]) => referenceLoss(vs[0], vs[1], vs[2], Float64Array.from(targetValues), n, D, E);
  const at = values.map((v) => Float64Array.from(v));
  // float64 differences: a small step, no float32 rounding in the quotient.
  const eps = 1e-5;
  let compared = 0;
  at.forEach((x, k) => {
    for (let i = 0; i < x.length; i++) {
      const shifted = (delta: number) => ref(at.map((y, j) => (j === k ? Float64Array.from(y, (v, m) => (m === i ? v + delta : v)) : y)));
      const numeric = (shifted(eps) - shifted(-eps)) / (2 * eps);
      const a = analytic[k][i];
      assert.ok(Math.abs(a - numeric) <= 1e-5 + 1e-3 * Math.abs(numeric), `input ${k} entry ${i}: analytic ${a} vs numeric ${numeric}`);
      compared++;
    }
  });
  assert.equal(compared, n * D + D * E + E);
  const got = tf.tidy(() => f(...xs).dataSync()[0]);
  assert.ok(Math.abs(got - ref(at)) < 1e-6, `loss ${got} vs ${ref(at)}`);
  tf.dispose([...xs, targets]);
});

test('Gru4Rec.init: head.W uniform in ±sqrt(6/(D+E)), zero bias, head.items exactly the given vectors; refused without them or for another head', () => {
  const arch: Gru4RecArch = { ...REG, nItems: 50, hiddenSizes: [8], regressionDim: 12 };
  const vectors = Float32Array.from({ length: 50 * 12 }, (_, i) => Math.cos(i));
  const m = Gru4Rec.init(arch, 3, vectors);
  const w = m.toWeights();
  m.dispose();
  const sigma = Math.sqrt(6 / (8 + 12));
  const max = w.tensors['head.W'].data.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
  assert.ok(max <= sigma && max > 0.8 * sigma, `max |W| ${max}, bound ${sigma}`);
  assert.ok(w.tensors['head.b'].data.every((v) => v === 0));
  assert.deepEqual(w.tensors['head.items'].data, vectors);
  assert.throws(() => Gru4Rec.init(arch, 3), /the regression head needs its item vectors/);
  assert.throws(() => Gru4Rec.init({ ...arch, head: undefined, regressionDim: undefined }, 3, vectors), /only read by the regression head, not the dot head/);
  assert.throws(() => Gru4Rec.init(arch, 3, vectors.subarray(1)), /head\.items needs 50×12 values, got 599/);
});

test('item2vec targets: unit rows for the items of the data, zero rows for items it never holds', () => {
  const data = chainSessions(80, 12);
  const v = regressionItemVectors(data, 14, { dim: 6, epochs: 2 });
  assert.equal(v.length, 14 * 6);
  for (let i = 0; i < 14; i++) {
    const norm = Math.hypot(...v.subarray(i * 6, (i + 1) * 6));
    if (i < 12) assert.ok(Math.abs(norm - 1) < 1e-5, `item ${i}: norm ${norm}`);
    else assert.equal(norm, 0, `item ${i} has no event`);
  }
});

test('config: head regression with loss cosine, its fields reach the arch; other combinations are refused with one line; the preset', () => {
  const c = validateGru4RecConfig({ head: 'regression', loss: 'cosine', layers: [4], regressionDim: 7 });
  assert.deepEqual(archOf(c, 5), { ...archOf(validateGru4RecConfig({ layers: [4] }), 5), head: 'regression', regressionDim: 7 });
  assert.equal(validateGru4RecConfig({}).regressionDim, DEFAULT_ITEM2VEC.dim);
  assert.deepEqual(item2vecOptionsOf(validateGru4RecConfig({ seed: 9 })), { ...DEFAULT_ITEM2VEC, seed: 9 });
  assert.equal(item2vecOptionsOf(validateGru4RecConfig({ head: 'regression', loss: 'cosine', item2vecWindow: 3, regressionDim: 16 })).window, 3);
  assert.equal('regressionDim' in archOf(validateGru4RecConfig({}), 5), false, 'a dot arch has no regressionDim');
  assert.throws(
    () => validateGru4RecConfig({ head: 'regression' }),
    /^Error: GRU4Rec config: loss must be "cosine" with head "regression" \(its only loss\), got "cross-entropy"$/,
  );
  assert.throws(() => validateGru4RecConfig({ head: 'regression', loss: 'bpr-max' }), /loss must be "cosine" with head "regression"/);
  assert.throws(() => validateGru4RecConfig({ loss: 'cosine' }), /^Error: GRU4Rec config: loss "cosine" is the regression head's loss only, and head is "dot"$/);
  assert.throws(() => validateGru4RecConfig({ head: 'mixture-of-cosines', loss: 'cosine' }), /and head is "mixture-of-cosines"/);
  assert.throws(() => validateGru4RecConfig({ head: 'regression', loss: 'cosine', regressionDim: 0 }), /regressionDim must be an integer >= 1, got 0/);
  assert.throws(() => validateGru4RecConfig({ item2vecLearningRate: 0 }), /item2vecLearningRate must be a positive number, got 0/);
  // headConfigOf inverts archOf's head part (the continuous trainer derives its config from the model that way).
  const arch = archOf(c, 7);
  assert.deepEqual(archOf(validateGru4RecConfig({ layers: [4], ...headConfigOf(arch) }), 7), arch);
  const preset = gru4recPreset('rsc15-regression-fast');
  assert.equal(preset.head, 'regression');
  assert.equal(preset.loss, 'cosine');
  const { head: _a, loss: _b, regressionDim: _c, nSample: _d, ...rest } = preset;
  const { head: _e, loss: _f, regressionDim: _g, nSample: _h, ...xe } = gru4recPreset('rsc15-xe-fast');
  assert.deepEqual(rest, xe, 'rsc15-regression-fast differs from rsc15-xe-fast by the head, its loss and dim, and nSample only');
  assert.equal(preset.nSample, 0);
});

test('the trainer fits the regression head without touching head.items: loss falls, the optimizer holds no state for them, next items rank first', () => {
  const nItems = 16;
  const config = validateGru4RecConfig({ head: 'regression', loss: 'cosine', regressionDim: 8, layers: [16], batchSize: 16, nSample: 0, learningRate: 0.2, seed: 3 });
  // Orthogonal-ish target vectors (one axis per item pair would be ambiguous): random unit rows.
  const rng = new Rng(5);
  const vectors = Float32Array.from({ length: nItems * 8 }, () => rng.uniform(-1, 1));
  for (let i = 0; i < nItems; i++) {
    const row = vectors.subarray(i * 8, (i + 1) * 8);
    const norm = Math.hypot(...row);
    for (let k = 0; k < 8; k++) row[k] /= norm;
  }
  const model = Gru4Rec.init(archOf(config, nItems), 3, vectors);
  const W0 = Float32Array.from(model.vars['head.W'].dataSync());
  const trainer = new Gru4RecTrainer(model, config, new Float64Array(nItems).fill(10));
  const data = chainSessions(120, nItems);
  const lossOfEpoch = lossPerEpoch(trainer, data, 6);
  assert.equal('head.items' in trainer.optimizerState().slots, false, 'no optimizer slots for the fixed vectors');
  trainer.dispose();
  assert.ok(lossOfEpoch[5] < 0.5 * lossOfEpoch[0], `loss per epoch ${lossOfEpoch.map((v) => v.toFixed(3))}`);
  assert.deepEqual(model.vars['head.items'].dataSync(), vectors, 'head.items never changes');
  assert.notDeepEqual(model.vars['head.W'].dataSync(), W0, 'head.W is trained');
  const hits = chainHits(model, nItems);
  assert.ok(hits >= 0.8 * nItems, `next item ranked first for ${hits}/${nItems} sessions`);
  model.dispose();
});

test('a regression model saves and loads exactly; model.json names the head and its dim', async () => {
  const arch: Gru4RecArch = { ...REG, constrainedEmbedding: true, embeddingDim: 6, useBias: false };
  const weights = regressionWeights(arch, 6);
  const itemIds = Array.from({ length: arch.nItems }, (_, i) => `item-${i}`);
  const dir = join(root, 'save');
  const config = validateGru4RecConfig({ head: 'regression', loss: 'cosine', regressionDim: 5, layers: [6], useBias: false });
  await saveModel(dir, { weights, itemIds, config });
  const json = JSON.parse(readFileSync(join(dir, MODEL_JSON), 'utf8'));
  assert.equal(json.arch.head, 'regression');
  assert.equal(json.arch.regressionDim, 5);
  assert.equal('tastes' in json.arch, false);
  const loaded = await loadModel(dir);
  assert.deepEqual(loaded.weights.arch, weights.arch);
  for (const [name, t] of Object.entries(weights.tensors)) assert.deepEqual(loaded.weights.tensors[name].data, t.data, name);
  assert.equal(loaded.config?.loss, 'cosine');
  const [a, b] = [Gru4Rec.fromWeights(weights), Gru4Rec.fromWeights(loaded.weights)];
  const h = a.stateSizes.map((s) => new Float32Array(2 * s).fill(0.3));
  assert.deepEqual(b.step(h, Int32Array.of(1, 4)).scores, a.step(h, Int32Array.of(1, 4)).scores);
  a.dispose();
  b.dispose();
});

const PARITY: Array<[string, Gru4RecArch]> = [
  ['GRU, one-hot input', { ...REG, nItems: 61, hiddenSizes: [8], regressionDim: 9 }],
  ['GRU 2 layers, constrained, no bias', { ...REG, nItems: 61, hiddenSizes: [7, 8], constrainedEmbedding: true, embeddingDim: 8, useBias: false }],
  ['LSTM, separate embedding', { ...REG, cell: 'lstm', nItems: 61, embeddingDim: 5, hiddenSizes: [8] }],
  ['mLSTM, one-hot input', { ...REG, cell: 'mlstm', nItems: 61, hiddenSizes: [8], regressionDim: 4 }],
];
for (const [i, [label, arch]] of PARITY.entries()) {
  test(`ONNX export and tfjs engine score the regression head as the training-side model (${label})`, () =>
    assertServingParity(regressionWeights(arch, 30 + i, [2, 40]), (engine, scores) => assert.equal(scores[2], 0, `${engine}: an item without a vector scores 0`)));
}

test('scoring: ann is refused at start-up for the regression head, with one line naming the setting', async () => {
  const c = loadConfig(undefined, {});
  c.serving.scoring = 'ann';
  const ids = Array.from({ length: REG.nItems }, (_, i) => `i${i}`);
  await assert.rejects(
    buildGru4RecRecommender(c, regressionWeights(REG, 1), ids, 'v1', () => undefined),
    (e: unknown) =>
      e instanceof ConfigError && /serving\.scoring: "ann" ranks by dot product only, and this model has a regression head: use scoring: exact/.test((e as Error).message),
  );
});

test('catalogue growth gives new and recycled items a zero vector (cosine 0), keeps the others, and the grown model trains', () => {
  const config = validateGru4RecConfig({ head: 'regression', loss: 'cosine', regressionDim: 5, layers: [6], batchSize: 8, nSample: 0, useBias: true, constrainedEmbedding: false });
  const arch = archOf(config, 29);
  const weights = regressionWeights(arch, 7, []);
  const model = Gru4Rec.fromWeights(weights);
  const trainer = new Gru4RecTrainer(model, config, new Float64Array(29).fill(1));
  const grown = growCatalogue(model.toWeights(), trainer.optimizerState(), 33, [4], 1);
  trainer.dispose();
  model.dispose();
  const items = grown.weights.tensors['head.items'];
  assert.deepEqual(items.shape, [33, 5]);
  for (let i = 0; i < 33; i++) {
    const row = items.data.subarray(i * 5, (i + 1) * 5);
    if (i === 4 || i >= 29)
      assert.ok(
        row.every((v) => v === 0),
        `item ${i} has no vector yet`,
      );
    else assert.deepEqual(row, weights.tensors['head.items'].data.subarray(i * 5, (i + 1) * 5), `item ${i} keeps its vector`);
  }
  assert.equal('head.items' in grown.state.slots, false);
  const next = Gru4Rec.fromWeights(grown.weights);
  const t2 = new Gru4RecTrainer(next, config, new Float64Array(33).fill(1), { optimizerState: grown.state });
  const data = chainSessions(30, 33);
  const it = new SessionParallelIterator(data, config.batchSize);
  let steps = 0;
  for (let b = it.next(); b; b = it.next()) if (t2.step(b) !== null) steps++;
  assert.ok(steps > 0);
  t2.dispose();
  const h = next.stateSizes.map((s) => new Float32Array(s).fill(0.2));
  const scores = next.step(h, Int32Array.of(31)).scores;
  assert.equal(scores[31], 0);
  assert.equal(scores[4], 0);
  next.dispose();
});

test('catalogue growth grows every per-item table, a one-hot LSTM layer 0 included (its lstm0.Wx)', () => {
  const arch: Gru4RecArch = { ...REG, cell: 'lstm', regressionDim: 3 };
  const grown = growCatalogue(regressionWeights(arch, 8, []), { steps: 0, slots: {} }, 31, [], 2);
  assert.deepEqual(grown.weights.tensors['lstm0.Wx'].shape, [31, 24]);
  assert.doesNotThrow(() => validateWeights(grown.weights));
});

test('streamrec train --head regression trains item2vec and the GRU end to end; a config with a sampled loss names the rule', async () => {
  const data = join(root, 'train.tsv');
  writeSyntheticSessionTsv(data);
  const cfg = join(root, 'small.yaml');
  writeFileSync(cfg, 'layers: [8]\nbatchSize: 8\nnSample: 8\nitem2vecEpochs: 2\n');
  const out = join(root, 'cli-model');
  await runTrain({ data, out, preset: 'rsc15-xe-fast', config: cfg, epochs: 1, cell: 'lstm', head: 'regression', regressionDim: 6 });
  const saved = await loadModel(out);
  assert.equal(saved.weights.arch.head, 'regression');
  assert.equal(saved.weights.arch.regressionDim, 6);
  assert.equal(saved.config?.loss, 'cosine', '--head regression brings its loss');
  const items = saved.weights.tensors['head.items'];
  const norms = Array.from({ length: items.shape[0] }, (_, i) => Math.hypot(...items.data.subarray(i * 6, (i + 1) * 6)));
  assert.ok(
    norms.every((n) => Math.abs(n - 1) < 1e-5),
    'every item of the data has a unit item2vec vector',
  );
  const bad = join(root, 'bad.yaml');
  writeFileSync(bad, 'head: regression\nloss: bpr-max\n');
  await assert.rejects(
    runTrain({ data, out: join(root, 'bad'), config: bad }),
    (e: unknown) => e instanceof ConfigError && /--config: GRU4Rec config: loss must be "cosine" with head "regression"/.test((e as Error).message),
  );
  await assert.rejects(
    runTrain({ data, out: join(root, 'bad'), head: 'regression', regressionDim: 0 }),
    (e: unknown) => e instanceof ConfigError && /--regression-dim: GRU4Rec config: regressionDim must be an integer >= 1/.test((e as Error).message),
  );
});

const dir = `${sharedDataDir()}rsc15-100k/`;
const haveData = existsSync(`${dir}train_full.tsv`) && existsSync(`${dir}test.tsv`);

test('one epoch of rsc15-regression-fast on rsc15-100k train_full, served through the ONNX engine, beats popularity on Recall@20', async (t) => {
  if (!haveData) return t.skip(`shared data not found under ${dir}`);
  const BATCH = 512;
  const tensorsBefore = tf.memory().numTensors;
  const loaded = loadSessionTsv(`${dir}train_full.tsv`);
  const train = loaded.data;
  const nItems = loaded.index.size;
  const testSet = loadSessionTsv(`${dir}test.tsv`, { index: loaded.index, unknownItems: 'drop', minSessionLength: 2 }).data;
  const pop = await evaluate(new PopularityScorer().fit(train, nItems), testSet, { cutoffs: [20], batchSize: BATCH });
  const config = gru4recPreset('rsc15-regression-fast', { nEpochs: 1 });
  const start = performance.now();
  const fresh = initialModel(train, nItems, config);
  const item2vecSeconds = (performance.now() - start) / 1000;
  const { model, stats } = await trainGru4Rec(train, nItems, config, { model: fresh });
  const loss = stats.lossHistory[0];
  // 1 − cos lies in [0, 2]; a prediction that ignored the data would sit near 1.
  assert.ok(loss > 0 && loss < 0.5, `mean loss ${loss}`);
  const engine = await createOrtEngine(model.toWeights(), { topK: 20, maxBatch: BATCH, outputScores: true, providers: ['cpu'], log: () => {} });
  try {
    const r = await evaluate(new EngineScorer(engine, BATCH), testSet, { cutoffs: [20], batchSize: BATCH });
    t.diagnostic(
      `rsc15-regression-fast, 1 epoch: recall@20 ${r.recall[20].toFixed(4)} mrr@20 ${r.mrr[20].toFixed(4)} | popularity recall@20 ${pop.recall[20].toFixed(4)} mrr@20 ${pop.mrr[20].toFixed(4)} | item2vec ${item2vecSeconds.toFixed(1)} s, GRU ${stats.seconds.toFixed(1)} s (${stats.eventsPerSec.toFixed(0)} events/s on ${stats.backend})`,
    );
    assert.equal(r.events, pop.events, 'both are ranked on the same targets');
    assert.equal(r.nanTargets, 0);
    assert.ok(r.recall[20] > pop.recall[20] + 0.2, `recall@20 ${r.recall[20]} vs popularity ${pop.recall[20]}`);
    assert.ok(r.mrr[20] > pop.mrr[20] + 0.05, `mrr@20 ${r.mrr[20]} vs popularity ${pop.mrr[20]}`);
  } finally {
    await engine.dispose();
    model.dispose();
  }
  assert.equal(tf.memory().numTensors, tensorsBefore, 'training leaves no tensors behind');
});
