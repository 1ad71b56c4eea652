import { after, before, test } from 'node:test';
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend.ts';
import { Gru4Rec } from '../../src/model/gru4rec.ts';
import { archOf, gru4recPreset, headConfigOf, validateGru4RecConfig } from '../../src/model/gru4rec-config.ts';
import { headScores, NORM_EPSILON, sampledItemSide, type HeadParams } from '../../src/model/heads.ts';
import { sampledLoss, targetMask } from '../../src/model/losses.ts';
import { gatherRows } from '../../src/model/ops.ts';
import { expectedShapes, validateWeights, type Gru4RecArch, type Gru4RecWeights } from '../../src/model/weights.ts';
import { loadModel, MANIFEST_JSON, MODEL_JSON, saveModel } from '../../src/registry/model-file.ts';
import { loadConfig } from '../../src/config/config.ts';
import { buildGru4RecRecommender } from '../../src/serving/create-recommender.ts';
import { ConfigError } from '../../src/errors/errors.ts';
import type { RecommendOutcome } from '../../src/serving/recommender.ts';
import { Gru4RecTrainer } from '../../src/train/trainer.ts';
import { runTrain } from '../../src/cli/train.ts';
import { Rng } from '../../src/random/rng.ts';
import { syntheticWeights } from '../support/synthetic-weights.ts';
import { assertServingParity, maxAbsDiff } from '../support/serving-parity.ts';
import { chainHits, chainSessions, lossPerEpoch } from '../support/chain-fit.ts';
import { writeSyntheticSessionTsv } from '../support/sessions.ts';

const root = mkdtempSync(join(tmpdir(), 'streamrec-heads-'));

before(async () => {
  await initBackend('wasm', () => {});
});

after(() => rmSync(root, { recursive: true, force: true }));

const base = { nItems: 29, embeddingDim: 0, hiddenSizes: [6], constrainedEmbedding: false, useBias: true };
const MOT: Gru4RecArch = { ...base, head: 'mixture-of-tastes', tastes: 3 };
const MOT_MAX: Gru4RecArch = { ...MOT, tasteMixing: 'max' };
const MOC: Gru4RecArch = { ...base, head: 'mixture-of-cosines', tastes: 3, temperature: 0.25 };

/**
 * The heads by their definitions, in float64, for one state row h [D] against item rows E [R][D]:
 * Kula's mixture of tastes (softmax or max) and the mixture of cosines as a sum over its K user
 * vectors (not the folded query the implementation uses), so the fold itself is checked.
 */
function referenceScores(arch: Gru4RecArch, w: Gru4RecWeights, h: number[], E: number[][], bias: number[] | null): number[] {
  const K = arch.tastes!;
  const D = h.length;
  const W = w.tensors['head.W'];
  const b = w.tensors['head.b'].data;
  const width = W.shape[1];
  const z = Array.from({ length: width }, (_, c) => b[c] + h.reduce((acc, hv, r) => acc + hv * W.data[r * width + c], 0));
  const vec = (k: number, block: number) => z.slice((block * K + k) * D, (block * K + k + 1) * D);
  const dot = (a: number[], c: number[]) => a.reduce((acc, v, i) => acc + v * c[i], 0);
  const unit = (a: number[]) => {
    const n = Math.sqrt(dot(a, a) + NORM_EPSILON);
    return a.map((v) => v / n);
  };
  return E.map((e, i) => {
    let s: number;
    if (arch.head === 'mixture-of-tastes') {
      const tastes = Array.from({ length: K }, (_, k) => dot(vec(k, 0), e));
      if (arch.tasteMixing === 'max') s = Math.max(...tastes);
      else {
        const logits = Array.from({ length: K }, (_, k) => dot(vec(k, 1), e));
        const m = Math.max(...logits);
        const ex = logits.map((l) => Math.exp(l - m));
        const total = ex.reduce((a, v) => a + v, 0);
        s = tastes.reduce((acc, t, k) => acc + (ex[k] / total) * t, 0);
      }
    } else {
      const P = w.tensors['head.P'];
      const pb = w.tensors['head.pb'].data;
      const logits = Array.from({ length: K }, (_, k) => pb[k] + h.reduce((acc, hv, r) => acc + hv * P.data[r * K + k], 0));
      const m = Math.max(...logits);
      const ex = logits.map((l) => Math.exp(l - m));
      const total = ex.reduce((a, v) => a + v, 0);
      const scale = w.tensors['head.scale'].data[0];
      s = scale * Array.from({ length: K }, (_, k) => (ex[k] / total) * dot(unit(vec(k, 0)), unit(e))).reduce((a, v) => a + v, 0);
    }
    return s + (bias ? bias[i] : 0);
  });
}

test('the weights contract names and shapes the head tensors; a dot arch has none and reads as before the heads', () => {
  assert.deepEqual(Object.fromEntries(Object.entries(expectedShapes(MOT)).filter(([n]) => n.startsWith('head.'))), { 'head.W': [6, 36], 'head.b': [36] });
  assert.deepEqual(Object.fromEntries(Object.entries(expectedShapes(MOT_MAX)).filter(([n]) => n.startsWith('head.'))), { 'head.W': [6, 18], 'head.b': [18] });
  assert.deepEqual(Object.fromEntries(Object.entries(expectedShapes(MOC)).filter(([n]) => n.startsWith('head.'))), {
    'head.W': [6, 18],
    'head.b': [18],
    'head.P': [6, 3],
    'head.pb': [3],
    'head.scale': [1],
  });
  assert.equal(Object.keys(expectedShapes(base)).filter((n) => n.startsWith('head.')).length, 0);
  const bad = (arch: Gru4RecArch) => () => validateWeights(syntheticWeights(arch, 1));
  assert.throws(bad({ ...MOT, tastes: 0 }), /arch\.tastes must be a positive integer for the mixture-of-tastes head, got 0/);
  assert.throws(bad({ ...base, tastes: 2 }), /belong to the mixture heads, not the dot head/);
  assert.throws(bad({ ...MOC, temperature: undefined }), /arch\.temperature is required by the mixture-of-cosines head/);
  assert.throws(bad({ ...MOT, temperature: 0.1 }), /arch\.temperature is only read by the mixture-of-cosines head/);
  assert.throws(bad({ ...MOC, tasteMixing: 'max' }), /only with the mixture-of-tastes head/);
  assert.throws(bad({ ...base, head: 'attention' as never }), /arch\.head must be one of dot, mixture-of-tastes, mixture-of-cosines/);
});

for (const [label, arch] of [
  ['mixture-of-tastes (softmax)', MOT],
  ['mixture-of-tastes (max)', MOT_MAX],
  ['mixture-of-cosines', MOC],
] as const) {
  test(`${label}: the serving step and the training forward pass both score as the float64 definition`, () => {
    const weights = syntheticWeights(arch, 5);
    const m = Gru4Rec.fromWeights(weights);
    const n = 3;
    const items = Int32Array.from([0, 11, 28]);
    const hidden = m.stateSizes.map((s) => Float32Array.from({ length: n * s }, (_, i) => Math.sin(i + 1) * 0.5));
    const step = m.step(hidden, items);
    // The training side: the sampled forward pass over the whole catalogue as its "sampled" set.
    const train = tf.tidy(() => {
      const ids = tf.tensor2d(items, [n, 1], 'int32');
      const out = Gru4Rec.sampledForward({
        arch: m.arch,
        head: m.headParams(),
        inputRows: gatherRows(m.vars[m.inputTable] as tf.Tensor2D, ids),
        hidden: hidden.map((h, l) => tf.tensor2d(h, [n, m.stateSizes[l]])),
        layers: [m.layerParams(0)],
        outRows: m.vars['out.Wy'] as tf.Tensor2D,
        outBias: m.vars['out.by'] as tf.Tensor1D,
      });
      return out.scores.dataSync() as Float32Array;
    });
    assert.ok(maxAbsDiff(step.scores, train) < 1e-5, `serving step vs training forward: ${maxAbsDiff(step.scores, train)}`);
    const Wy = weights.tensors['out.Wy'];
    const E = Array.from({ length: arch.nItems }, (_, i) => Array.from(Wy.data.subarray(i * 6, (i + 1) * 6)));
    for (let r = 0; r < n; r++) {
      const want = referenceScores(arch, weights, Array.from(step.hidden[0].subarray(r * 6, (r + 1) * 6)), E, Array.from(weights.tensors['out.by'].data));
      const got = step.scores.subarray(r * arch.nItems, (r + 1) * arch.nItems);
      assert.ok(maxAbsDiff(got, want) < 1e-5, `row ${r}: ${maxAbsDiff(got, want)} from the definition`);
    }
    m.dispose();
  });
}

/*
 * Analytic gradients of cross-entropy over a head's scores against central differences, w.r.t.
 * every input the trainer differentiates: the state h, the head's parameters, the output rows and
 * their biases (eps and tolerances as model-gradients.test.ts).
 */
const EPS = 1e-2;
function checkGradients(label: string, f: (...xs: tf.Tensor[]) => tf.Scalar, xs: tf.Tensor[]): number {
  const analytic = tf
    .grads(f)(xs)
    .map((g) => g.dataSync() as Float32Array);
  let compared = 0;
  xs.forEach((x, k) => {
    const start = x.dataSync() as Float32Array;
    for (let i = 0; i < start.length; i++) {
      const at = (delta: number): number =>
        tf.tidy(() => {
          const d = Float32Array.from(start);
          d[i] += delta;
          return f(...xs.map((y, j) => (j === k ? tf.tensor(d, x.shape) : y))).dataSync()[0];
        });
      const numeric = (at(EPS) - at(-EPS)) / (2 * EPS);
      const a = analytic[k][i];
      assert.ok(Math.abs(a - numeric) <= 2e-4 + 2e-2 * Math.max(Math.abs(a), Math.abs(numeric)), `${label}: input ${k} entry ${i}: analytic ${a} vs numeric ${numeric}`);
      compared++;
    }
  });
  return compared;
}

for (const [label, arch] of [
  ['mixture-of-tastes (softmax)', MOT],
  ['mixture-of-tastes (max)', MOT_MAX],
  ['mixture-of-cosines', MOC],
] as const) {
  test(`gradient of cross-entropy through the ${label} head matches central differences (h, head parameters, output rows, biases)`, () => {
    const small: Gru4RecArch = { ...arch, hiddenSizes: [3], tastes: 2 };
    const rng = new Rng(17);
    const rand = (shape: number[], scale = 1) =>
      tf.tensor(
        Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.uniform(-scale, scale)),
        shape,
      );
    const names = Object.entries(expectedShapes(small)).filter(([n]) => n.startsWith('head.'));
    const n = 2;
    const R = 5;
    const xs = [rand([n, 3]), rand([R, 3]), rand([R], 0.5), ...names.map(([name, shape]) => (name === 'head.scale' ? tf.tensor1d([2.5]) : rand(shape, 0.8)))];
    const mask = targetMask(n, R);
    const f = (...v: tf.Tensor[]) => {
      const p = Object.fromEntries(names.map(([name], k) => [name.slice('head.'.length), v[3 + k]])) as unknown as HeadParams;
      const s = headScores(small, p, v[0] as tf.Tensor2D, sampledItemSide(v[1] as tf.Tensor2D, v[2] as tf.Tensor1D));
      return sampledLoss('cross-entropy', s, { targetMask: mask });
    };
    const compared = checkGradients(label, f, xs);
    assert.equal(
      compared,
      xs.reduce((a, x) => a + x.size, 0),
    );
    tf.dispose([...xs, mask]);
  });
}

test('Gru4Rec.init: head matrices uniform per [D, D] block, zero biases, the cosine scale at 1/τ', () => {
  for (const arch of [MOT, MOC]) {
    const m = Gru4Rec.init({ ...arch, nItems: 50, hiddenSizes: [8] }, 3);
    const w = m.toWeights();
    m.dispose();
    let max = 0;
    for (const v of w.tensors['head.W'].data) max = Math.max(max, Math.abs(v));
    const sigma = Math.sqrt(6 / (8 + 8));
    assert.ok(max <= sigma && max > 0.8 * sigma, `${arch.head}: max |W| ${max}, bound ${sigma}`);
    assert.ok(w.tensors['head.b'].data.every((v) => v === 0));
    if (arch.head === 'mixture-of-cosines') assert.equal(w.tensors['head.scale'].data[0], Math.fround(1 / 0.25));
  }
});

test('config: head, tastes, mixing and temperature are validated, reach the arch, and the head presets select them', () => {
  const d = validateGru4RecConfig({});
  assert.equal(d.head, 'dot');
  for (const key of ['head', 'tastes', 'tasteMixing', 'temperature']) assert.equal(key in archOf(d, 5), false, `a dot arch has no ${key}`);
  assert.deepEqual(archOf(validateGru4RecConfig({ head: 'mixture-of-tastes', tastes: 2, layers: [4] }), 5), {
    ...archOf(validateGru4RecConfig({ layers: [4] }), 5),
    head: 'mixture-of-tastes',
    tastes: 2,
  });
  assert.equal(archOf(validateGru4RecConfig({ head: 'mixture-of-tastes', tasteMixing: 'max' }), 5).tasteMixing, 'max');
  assert.equal(archOf(validateGru4RecConfig({ head: 'mixture-of-cosines', cosineTemperature: 0.05 }), 5).temperature, 0.05);
  assert.throws(() => validateGru4RecConfig({ head: 'mot' }), /GRU4Rec config: head must be one of "dot", "mixture-of-tastes", "mixture-of-cosines", "regression", got "mot"/);
  assert.throws(() => validateGru4RecConfig({ tastes: 0 }), /tastes must be an integer >= 1, got 0/);
  assert.throws(() => validateGru4RecConfig({ cosineTemperature: 0 }), /cosineTemperature must be a positive number, got 0/);
  const { head: _a, tastes: _b, tasteMixing: _c, ...mot } = gru4recPreset('rsc15-mot-fast');
  const { head: _d, tastes: _e, cosineTemperature: _f, learnTemperature: _g, ...moc } = gru4recPreset('rsc15-moc-fast');
  const { head: _h, tastes: _i, tasteMixing: _j, ...xe } = gru4recPreset('rsc15-xe-fast');
  assert.equal(gru4recPreset('rsc15-mot-fast').head, 'mixture-of-tastes');
  assert.equal(gru4recPreset('rsc15-moc-fast').head, 'mixture-of-cosines');
  assert.deepEqual(mot, xe, 'the head presets differ from rsc15-xe-fast by the head only');
  const { cosineTemperature: _k, learnTemperature: _l, ...xe2 } = xe;
  const { tasteMixing: _m, ...moc2 } = moc;
  assert.deepEqual(moc2, xe2);
  // headConfigOf inverts archOf's head part, so a config derived from a model file trains that model.
  for (const c of [{ head: 'mixture-of-tastes', tastes: 3, tasteMixing: 'max' }, { head: 'mixture-of-cosines', tastes: 2, cosineTemperature: 0.3 }, {}] as const) {
    const arch = archOf(validateGru4RecConfig(c), 7);
    assert.deepEqual(archOf(validateGru4RecConfig(headConfigOf(arch)), 7), arch);
  }
});

for (const arch of [MOT_MAX, { ...MOC, constrainedEmbedding: true, embeddingDim: 6, useBias: false }]) {
  test(`a ${arch.head}${arch.tasteMixing ? ` (${arch.tasteMixing})` : ''} model saves and loads exactly; model.json names the head; a dot file has no head field`, async () => {
    const nItems = arch.nItems;
    const itemIds = Array.from({ length: nItems }, (_, i) => `item-${i}`);
    const weights = syntheticWeights(arch, 6);
    const dir = join(root, `save-${arch.head}`);
    await saveModel(dir, { weights, itemIds, config: null });
    const json = JSON.parse(readFileSync(join(dir, MODEL_JSON), 'utf8'));
    assert.equal(json.arch.head, arch.head);
    assert.equal(json.arch.tastes, 3);
    const loaded = await loadModel(dir);
    assert.deepEqual(loaded.weights.arch, weights.arch);
    for (const [name, t] of Object.entries(weights.tensors)) assert.deepEqual(loaded.weights.tensors[name].data, t.data, name);
    const [a, b] = [Gru4Rec.fromWeights(weights), Gru4Rec.fromWeights(loaded.weights)];
    const h = a.stateSizes.map((s) => new Float32Array(2 * s).fill(0.3));
    assert.deepEqual(b.step(h, Int32Array.of(1, 4)).scores, a.step(h, Int32Array.of(1, 4)).scores);
    a.dispose();
    b.dispose();
    const dotDir = join(root, `dot-${arch.head}`);
    await saveModel(dotDir, { weights: syntheticWeights(base, 1), itemIds: itemIds.slice(0, base.nItems), config: null });
    assert.equal('head' in JSON.parse(readFileSync(join(dotDir, MODEL_JSON), 'utf8')).arch, false);
    // A head field that does not fit the tensors is refused by name (model.json edited, its checksum kept right).
    json.arch.head = 'mixture-of-tastes';
    json.arch.tastes = 2;
    delete json.arch.temperature;
    delete json.arch.tasteMixing;
    const bytes = Buffer.from(JSON.stringify(json));
    writeFileSync(join(dir, MODEL_JSON), bytes);
    const manifest = JSON.parse(readFileSync(join(dir, MANIFEST_JSON), 'utf8'));
    manifest.files[MODEL_JSON] = { sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
    writeFileSync(join(dir, MANIFEST_JSON), JSON.stringify(manifest));
    await assert.rejects(loadModel(dir), /model\.json: tensors\[\d+\]\.(name: tensor "head\.\w+" does not belong to this architecture|shape: tensor "head\.W" has shape)/);
  });
}

const PARITY: Array<[string, Gru4RecArch]> = [
  ['GRU, mixture-of-tastes softmax, one-hot input', { ...MOT, nItems: 61, hiddenSizes: [8] }],
  ['GRU, mixture-of-tastes max, constrained, no bias', { ...MOT_MAX, nItems: 61, hiddenSizes: [8], constrainedEmbedding: true, embeddingDim: 8, useBias: false }],
  ['GRU 2 layers, mixture-of-cosines, separate embedding', { ...MOC, nItems: 61, embeddingDim: 5, hiddenSizes: [7, 8] }],
  ['GRU, mixture-of-cosines, constrained, no bias', { ...MOC, nItems: 61, hiddenSizes: [8], constrainedEmbedding: true, embeddingDim: 8, useBias: false }],
  ['LSTM, mixture-of-tastes softmax', { ...MOT, cell: 'lstm', nItems: 61, hiddenSizes: [8] }],
  ['mLSTM, mixture-of-cosines', { ...MOC, cell: 'mlstm', nItems: 61, hiddenSizes: [8] }],
];
for (const [i, [label, arch]] of PARITY.entries()) {
  test(`ONNX export and tfjs engine score as the training-side model (${label})`, () => assertServingParity(syntheticWeights(arch, 20 + i)));
}

test('serving a mixture-of-tastes LSTM through the recommender (session store, ORT engine) ranks exactly as the training-side model steps', async () => {
  const arch: Gru4RecArch = { ...MOT, cell: 'lstm', nItems: 40, hiddenSizes: [8] };
  const ids = Array.from({ length: arch.nItems }, (_, i) => `i${i}`);
  const weights = syntheticWeights(arch, 4);
  const c = loadConfig(undefined, {});
  c.serving.topK = 5;
  c.serving.excludeSeen = false;
  c.serving.batch.maxSize = 16;
  const rec = await buildGru4RecRecommender(c, weights, ids, 'v1', () => undefined);
  const model = Gru4Rec.fromWeights(weights);
  // Three interleaved sessions, served in batches that hold more than one event of a session.
  const events = Array.from({ length: 12 }, (_, e) => ({ session: e % 3, item: (e * 7 + 3) % arch.nItems }));
  const state: Float32Array[][] = [0, 1, 2].map(() => model.stateSizes.map((s) => new Float32Array(s)));
  const out: RecommendOutcome[] = [];
  for (let i = 0; i < events.length; i += 6) {
    const part: RecommendOutcome[] = [];
    await rec.recommendBatch(
      events.slice(i, i + 6).map((e) => ({ sessionId: `s${e.session}`, itemId: ids[e.item], partition: 0, timestamp: 0 })),
      part,
    );
    out.push(...part);
  }
  events.forEach((e, k) => {
    const r = model.step(state[e.session], Int32Array.of(e.item));
    state[e.session] = r.hidden;
    const served = out[k];
    assert.ok(served.ok, `event ${k}`);
    if (!served.ok) return;
    const best = Array.from(r.scores.keys())
      .sort((a, b) => r.scores[b] - r.scores[a])
      .slice(0, 5);
    assert.deepEqual(
      served.itemIds,
      best.map((j) => ids[j]),
      `event ${k}: served top-5`,
    );
  });
  model.dispose();
});

test('scoring: ann is refused at start-up for a mixture head, with one line naming the setting', async () => {
  const c = loadConfig(undefined, {});
  c.serving.scoring = 'ann';
  const ids = Array.from({ length: MOT.nItems }, (_, i) => `i${i}`);
  await assert.rejects(
    buildGru4RecRecommender(c, syntheticWeights(MOT, 1), ids, 'v1', () => undefined),
    (e: unknown) =>
      e instanceof ConfigError && /serving\.scoring: "ann" ranks by dot product only, and this model has a mixture-of-tastes head: use scoring: exact/.test((e as Error).message),
  );
});

for (const [head, extra] of [
  ['mixture-of-tastes', {}],
  ['mixture-of-cosines', { learnTemperature: true }],
  ['mixture-of-cosines', { learnTemperature: false }],
] as const) {
  test(`the trainer fits a GRU with the ${head} head${'learnTemperature' in extra ? ` (temperature ${extra.learnTemperature ? 'learnt' : 'fixed'})` : ''}: loss falls, next items rank first`, () => {
    const nItems = 20;
    // Accidental hits removed: with 20 items most columns would hold the target again, a floor under the loss.
    const config = validateGru4RecConfig({ head, tastes: 2, ...extra, layers: [16], batchSize: 16, nSample: 8, learningRate: 0.1, removeAccidentalHits: true, seed: 3 });
    const model = Gru4Rec.init(archOf(config, nItems), 3);
    const scale0 = head === 'mixture-of-cosines' ? model.vars['head.scale'].dataSync()[0] : 0;
    const trainer = new Gru4RecTrainer(model, config, new Float64Array(nItems).fill(10));
    const data = chainSessions(120, nItems);
    const lossOfEpoch = lossPerEpoch(trainer, data, 5);
    trainer.dispose();
    assert.ok(lossOfEpoch[4] < 0.6 * lossOfEpoch[0], `loss per epoch ${lossOfEpoch.map((v) => v.toFixed(3))}`);
    if (head === 'mixture-of-cosines') {
      const scale = model.vars['head.scale'].dataSync()[0];
      if (config.learnTemperature) assert.notEqual(scale, scale0, 'a learnt temperature moves');
      else assert.equal(scale, scale0, 'a fixed temperature stays at 1/cosineTemperature');
    }
    const hits = chainHits(model, nItems);
    assert.ok(hits >= 0.8 * nItems, `${head}: next item ranked first for ${hits}/${nItems} sessions`);
    model.dispose();
  });
}

test('streamrec train --head --tastes --cell map onto the config; a bad value names its flag', async () => {
  const data = join(root, 'train.tsv');
  writeSyntheticSessionTsv(data);
  const cfg = join(root, 'small.yaml');
  writeFileSync(cfg, 'layers: [8]\nbatchSize: 8\nnSample: 8\n');
  const out = join(root, 'cli-model');
  await runTrain({ data, out, config: cfg, epochs: 1, cell: 'lstm', head: 'mixture-of-cosines', tastes: 2 });
  const saved = await loadModel(out);
  assert.equal(saved.weights.arch.cell, 'lstm');
  assert.equal(saved.weights.arch.head, 'mixture-of-cosines');
  assert.equal(saved.weights.arch.tastes, 2);
  assert.equal(saved.config?.head, 'mixture-of-cosines');
  await assert.rejects(
    runTrain({ data, out: join(root, 'bad'), config: cfg, head: 'mot' }),
    (e: unknown) => e instanceof ConfigError && /--head: GRU4Rec config: head must be one of/.test((e as Error).message),
  );
});
