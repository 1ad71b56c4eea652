import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend.ts';
import { Gru4Rec } from '../../src/model/gru4rec.ts';
import { archOf, gru4recPreset, validateGru4RecConfig } from '../../src/model/gru4rec-config.ts';
import { expectedShapes, inputTableName, stateSizes, type Gru4RecArch } from '../../src/model/weights.ts';
import { loadModel, MANIFEST_JSON, MODEL_JSON, saveModel } from '../../src/registry/model-file.ts';
import { Gru4RecTrainer } from '../../src/train/trainer.ts';
import { loadConfig } from '../../src/config/config.ts';
import { buildGru4RecRecommender } from '../../src/serving/create-recommender.ts';
import type { RecommendOutcome } from '../../src/serving/recommender.ts';
import { referenceStep } from '../support/reference-engine.ts';
import { syntheticWeights } from '../support/synthetic-weights.ts';
import { chainHits, chainSessions, lossPerEpoch } from '../support/chain-fit.ts';

const root = mkdtempSync(join(tmpdir(), 'streamrec-lstm-'));

before(async () => {
  await initBackend('wasm', () => {});
});

after(() => rmSync(root, { recursive: true, force: true }));

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

const ARCHS: Array<[string, Gru4RecArch]> = [];
for (const cell of ['lstm', 'mlstm'] as const) {
  ARCHS.push([`${cell}, one-hot input, 2 layers`, { cell, nItems: 23, embeddingDim: 0, hiddenSizes: [6, 5], constrainedEmbedding: false, useBias: true }]);
  ARCHS.push([`${cell}, separate embedding`, { cell, nItems: 19, embeddingDim: 4, hiddenSizes: [7], constrainedEmbedding: false, useBias: true }]);
  ARCHS.push([`${cell}, constrained embedding, no bias`, { cell, nItems: 17, embeddingDim: 5, hiddenSizes: [5], constrainedEmbedding: true, useBias: false }]);
}

test('the weights contract names and shapes the LSTM and mLSTM tensors, and sizes their state [h | c]', () => {
  const lstm: Gru4RecArch = { cell: 'lstm', nItems: 10, embeddingDim: 0, hiddenSizes: [6, 4], constrainedEmbedding: false, useBias: true };
  assert.deepEqual(expectedShapes(lstm), {
    'lstm0.Wx': [10, 24],
    'lstm0.Wh': [6, 24],
    'lstm0.b': [24],
    'lstm1.Wx': [6, 16],
    'lstm1.Wh': [4, 16],
    'lstm1.b': [16],
    'out.Wy': [10, 4],
    'out.by': [10],
  });
  assert.equal(inputTableName(lstm), 'lstm0.Wx');
  assert.deepEqual(stateSizes(lstm), [12, 8]);
  const mlstm: Gru4RecArch = { ...lstm, cell: 'mlstm', hiddenSizes: [6] };
  assert.deepEqual(expectedShapes(mlstm), { 'mlstm0.Wx': [10, 30], 'mlstm0.Wmh': [6, 6], 'mlstm0.Wh': [6, 24], 'mlstm0.b': [24], 'out.Wy': [10, 6], 'out.by': [10] });
  assert.deepEqual(stateSizes(mlstm), [12]);
  // No cell is a GRU, and a GRU's state is h alone.
  const gru: Gru4RecArch = { nItems: 10, embeddingDim: 0, hiddenSizes: [6, 4], constrainedEmbedding: false, useBias: true };
  assert.deepEqual(stateSizes(gru), [6, 4]);
  assert.deepEqual(Object.keys(expectedShapes(gru)).slice(0, 4), ['gru0.Wx', 'gru0.Wrz', 'gru0.Wh', 'gru0.b']);
});

for (const [label, arch] of ARCHS) {
  test(`tfjs step equals the float64 reference of the contract's cell (${label}), over chained steps`, () => {
    const weights = syntheticWeights(arch, 9);
    const m = Gru4Rec.fromWeights(weights);
    assert.deepEqual(m.stateSizes, stateSizes(arch));
    const n = 4;
    const items = Int32Array.from([0, 5, arch.nItems - 1, 5]);
    let hidden: Float32Array[] = m.stateSizes.map((s) => new Float32Array(n * s));
    for (let t = 0; t < 3; t++) {
      const got = m.step(hidden, items);
      // The reference starts from the model's own float32 state, so float32 drift never accumulates.
      const want = referenceStep(weights, n, items, hidden);
      got.hidden.forEach((h, l) => assert.ok(maxAbsDiff(h, want.hidden[l]) < 1e-5, `step ${t} layer ${l} state differs by ${maxAbsDiff(h, want.hidden[l])}`));
      assert.ok(maxAbsDiff(got.scores, want.scores) < 1e-5, `step ${t} scores differ by ${maxAbsDiff(got.scores, want.scores)}`);
      // The c half moves: it is state, not a copy of h.
      const H = arch.hiddenSizes[0];
      assert.ok(maxAbsDiff(got.hidden[0].subarray(0, H), got.hidden[0].subarray(H, 2 * H)) > 1e-3, 'c differs from h');
      hidden = got.hidden;
      items.reverse();
    }
    m.dispose();
  });
}

test('Gru4Rec.init follows the GRU conventions for the LSTM cells: uniform per gate block, zero biases', () => {
  for (const cell of ['lstm', 'mlstm'] as const) {
    const arch: Gru4RecArch = { cell, nItems: 50, embeddingDim: 0, hiddenSizes: [8], constrainedEmbedding: false, useBias: true };
    const m = Gru4Rec.init(arch, 3);
    const w = m.toWeights();
    m.dispose();
    const blocks = cell === 'lstm' ? 4 : 5;
    const bound = (name: string, sigma: number) => {
      const d = w.tensors[name].data;
      let max = 0;
      for (const v of d) max = Math.max(max, Math.abs(v));
      assert.ok(max <= sigma && max > 0.8 * sigma, `${cell} ${name}: max |w| ${max}, bound ${sigma}`);
    };
    assert.deepEqual(w.tensors[`${cell}0.Wx`].shape, [50, blocks * 8]);
    bound(`${cell}0.Wx`, Math.sqrt(6 / (50 + 8)));
    bound(`${cell}0.Wh`, Math.sqrt(6 / (8 + 8)));
    if (cell === 'mlstm') bound('mlstm0.Wmh', Math.sqrt(6 / (8 + 8)));
    assert.ok(w.tensors[`${cell}0.b`].data.every((v) => v === 0));
    assert.equal(w.arch.cell, cell);
  }
});

test('config: cell is validated, defaults to gru, reaches the arch, and the LSTM presets select it', () => {
  assert.equal(validateGru4RecConfig({}).cell, 'gru');
  assert.equal('cell' in archOf(validateGru4RecConfig({}), 5), false, 'a GRU arch carries no cell field (model files stay as they were)');
  assert.equal(archOf(validateGru4RecConfig({ cell: 'mlstm', layers: [4] }), 5).cell, 'mlstm');
  assert.throws(() => validateGru4RecConfig({ cell: 'rnn' }), /GRU4Rec config: cell must be one of "gru", "lstm", "mlstm", got "rnn"/);
  assert.equal(gru4recPreset('rsc15-lstm-fast').cell, 'lstm');
  assert.equal(gru4recPreset('rsc15-mlstm-fast').cell, 'mlstm');
  assert.equal(gru4recPreset('rsc15-xe-fast').cell, 'gru');
  const { cell: _l, ...lstmRest } = gru4recPreset('rsc15-lstm-fast');
  const { cell: _g, ...gruRest } = gru4recPreset('rsc15-xe-fast');
  assert.deepEqual(lstmRest, gruRest, 'the LSTM preset differs from rsc15-xe-fast by the cell only');
});

test('an mLSTM model saves and loads exactly; model.json names the cell; a GRU file has no cell and a state layout of its own', async () => {
  const config = validateGru4RecConfig({ cell: 'mlstm', layers: [6, 4], embedding: 3, constrainedEmbedding: false });
  const nItems = 12;
  const itemIds = Array.from({ length: nItems }, (_, i) => `item-${i}`);
  const model = Gru4Rec.init(archOf(config, nItems), 5);
  const weights = model.toWeights();
  const dir = join(root, 'mlstm');
  await saveModel(dir, { weights, itemIds, config });
  const json = JSON.parse(readFileSync(join(dir, MODEL_JSON), 'utf8'));
  assert.equal(json.arch.cell, 'mlstm');
  assert.equal(json.config.cell, 'mlstm');
  const loaded = await loadModel(dir);
  assert.deepEqual(loaded.weights.arch, weights.arch);
  for (const [name, t] of Object.entries(weights.tensors)) assert.deepEqual(loaded.weights.tensors[name].data, t.data, name);
  assert.equal(loaded.stateLayout.cell, 'mlstm');

  // The reloaded model computes exactly what the saved one did.
  const back = Gru4Rec.fromWeights(loaded.weights);
  const items = Int32Array.from([1, 7, 11]);
  const h = model.stateSizes.map((s) => new Float32Array(3 * s).fill(0.25));
  const a = model.step(h, items);
  const b = back.step(h, items);
  assert.deepEqual(b.scores, a.scores);
  a.hidden.forEach((x, l) => assert.deepEqual(b.hidden[l], x));
  back.dispose();
  model.dispose();

  // A GRU whose state buffer has the same width (H = 2·4 for an LSTM of 4) has another layout hash.
  const gruDir = join(root, 'gru');
  const lstmDir = join(root, 'lstm');
  const gruArch: Gru4RecArch = { nItems, embeddingDim: 0, hiddenSizes: [8], constrainedEmbedding: false, useBias: true };
  await saveModel(gruDir, { weights: syntheticWeights(gruArch, 1), itemIds, config: null });
  await saveModel(lstmDir, { weights: syntheticWeights({ ...gruArch, cell: 'lstm', hiddenSizes: [4] }, 1), itemIds, config: null });
  const gruJson = JSON.parse(readFileSync(join(gruDir, MODEL_JSON), 'utf8'));
  assert.equal('cell' in gruJson.arch, false);
  const [g, l] = [await loadModel(gruDir), await loadModel(lstmDir)];
  assert.deepEqual(stateSizes(g.weights.arch), stateSizes(l.weights.arch));
  assert.notEqual(g.stateLayoutHash, l.stateLayoutHash, 'states of another cell are never restored into a model');
  assert.equal(g.weights.arch.cell, undefined);
});

/** Rewrites model.json and records its new checksum in the manifest, as a faulty writer would: the content checks must catch it. */
function writeEdited(dir: string, json: unknown): void {
  const bytes = Buffer.from(JSON.stringify(json));
  writeFileSync(join(dir, MODEL_JSON), bytes);
  const manifestPath = join(dir, MANIFEST_JSON);
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  manifest.files[MODEL_JSON] = { sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
  writeFileSync(manifestPath, JSON.stringify(manifest));
}

test('a model file whose cell does not match its tensors, or whose config names another cell, is refused by name', async () => {
  const nItems = 6;
  const itemIds = Array.from({ length: nItems }, (_, i) => `i${i}`);
  const arch: Gru4RecArch = { cell: 'lstm', nItems, embeddingDim: 0, hiddenSizes: [4], constrainedEmbedding: false, useBias: true };
  const dir = join(root, 'edited');
  await saveModel(dir, { weights: syntheticWeights(arch, 2), itemIds, config: null });
  const path = join(dir, MODEL_JSON);
  const json = JSON.parse(readFileSync(path, 'utf8'));
  json.arch.cell = 'gru';
  writeEdited(dir, json);
  await assert.rejects(loadModel(dir), /model\.json: tensors\[0\]\.name: tensor "lstm0\.Wx" does not belong to this architecture/);
  json.arch.cell = 'rnn';
  writeEdited(dir, json);
  await assert.rejects(loadModel(dir), /arch\.cell: must be one of "gru", "lstm", "mlstm"/);
  const gruConfig = validateGru4RecConfig({ layers: [4], constrainedEmbedding: false });
  await assert.rejects(saveModel(join(root, 'mismatch'), { weights: syntheticWeights(arch, 2), itemIds, config: gruConfig }), /the config describes architecture/);
});

for (const cell of ['lstm', 'mlstm'] as const) {
  test(`the trainer fits a ${cell} with dropout and two layers: loss falls, next-item accuracy rises, no tensor leaks`, () => {
    const nItems = 20;
    const config = validateGru4RecConfig({
      cell,
      layers: [16, 12],
      constrainedEmbedding: false,
      embedding: 8,
      batchSize: 16,
      nSample: 8,
      learningRate: 0.1,
      dropoutPEmbed: 0.1,
      dropoutPHidden: 0.1,
      seed: 3,
    });
    const model = Gru4Rec.init(archOf(config, nItems), 3);
    const numTensors = tf.memory().numTensors;
    const trainer = new Gru4RecTrainer(model, config, new Float64Array(nItems).fill(10));
    const data = chainSessions(120, nItems);
    const lossOfEpoch = lossPerEpoch(trainer, data, 6);
    trainer.dispose();
    assert.ok(lossOfEpoch[5] < 0.6 * lossOfEpoch[0], `loss per epoch ${lossOfEpoch.map((v) => v.toFixed(3))}`);
    // After training, the item after i scores highest from a session that just clicked i-1, i.
    const hits = chainHits(model, nItems);
    assert.ok(hits >= 0.8 * nItems, `${cell}: next item ranked first for ${hits}/${nItems} sessions`);
    model.dispose();
    assert.equal(tf.memory().numTensors, numTensors - Object.keys(expectedShapes(model.arch)).length, 'training leaves only the model variables, now disposed');
  });
}

test('serving an mLSTM through the recommender (session store, ORT engine) ranks exactly as the training-side model steps', async () => {
  const nItems = 40;
  const ids = Array.from({ length: nItems }, (_, i) => `i${i}`);
  const arch: Gru4RecArch = { cell: 'mlstm', nItems, embeddingDim: 0, hiddenSizes: [8, 6], constrainedEmbedding: false, useBias: true };
  const weights = syntheticWeights(arch, 4);
  const c = loadConfig(undefined, {});
  c.serving.topK = 5;
  c.serving.excludeSeen = false;
  c.serving.batch.maxSize = 16;
  const rec = await buildGru4RecRecommender(c, weights, ids, 'v1', () => undefined);
  const model = Gru4Rec.fromWeights(weights);
  // Three interleaved sessions, several events each, served in batches that hold more than one event of a session.
  const events = Array.from({ length: 15 }, (_, e) => ({ session: e % 3, item: (e * 7 + 3) % nItems }));
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
    served.itemIds.forEach((id, j) => assert.ok(Math.abs(served.scores[j] - r.scores[Number(id.slice(1))]) < 1e-4, `event ${k} rank ${j} score`));
  });
  model.dispose();
});
