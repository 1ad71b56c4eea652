import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../src/model/backend.ts';
import { Gru4Rec } from '../../src/model/gru4rec.ts';
import { loadSessionTsv, sharedDataDir } from '../../src/data/sessions.ts';
import { trainGru4Rec } from '../../src/train/trainer.ts';
import { gru4recPreset } from '../../src/model/gru4rec-config.ts';
import { createOrtEngine } from '../../src/engine/ort-engine.ts';
import type { Gru4RecArch } from '../../src/model/weights.ts';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The ONNX graph serving runs must compute what the training model (tfjs) computes: same
 * hidden states and same scores for every item, to 1e-4, over several steps with carried state.
 */
async function assertParity(model: Gru4Rec, steps: number, seed: number): Promise<void> {
  const { nItems } = model.arch;
  const hiddenSizes = model.stateSizes;
  const B = 6;
  const engine = await createOrtEngine(model.toWeights(), { topK: 10, maxBatch: B, outputScores: true, log: () => undefined });
  let rng = seed;
  const next = () => (rng = (rng * 1103515245 + 12345) >>> 0) % nItems;
  let hTf: Float32Array[] = hiddenSizes.map((h) => new Float32Array(B * h));
  const hOrt = hiddenSizes.map((h) => new Float32Array(B * h));
  const out = { topIdx: new Int32Array(B * 10), topScore: new Float32Array(B * 10), scores: new Float32Array(B * nItems) };
  let maxScoreErr = 0;
  let maxHiddenErr = 0;
  for (let s = 0; s < steps; s++) {
    const items = Int32Array.from({ length: B }, next);
    const ref = model.step(hTf, items);
    await engine.step(B, items, hOrt, out);
    for (let i = 0; i < ref.scores.length; i++) maxScoreErr = Math.max(maxScoreErr, Math.abs(ref.scores[i] - out.scores[i]));
    ref.hidden.forEach((h, l) => h.forEach((v, i) => (maxHiddenErr = Math.max(maxHiddenErr, Math.abs(v - hOrt[l][i])))));
    hTf = ref.hidden;
  }
  await engine.dispose();
  assert.ok(maxScoreErr < 1e-4, `max |score_tfjs - score_onnx| = ${maxScoreErr}`);
  assert.ok(maxHiddenErr < 1e-4, `max |h_tfjs - h_onnx| = ${maxHiddenErr}`);
}

test('ONNX export of freshly initialised models matches the tfjs model (GRU, LSTM, mLSTM; one-hot, embedding, constrained; 1-2 layers)', async () => {
  await initBackend('wasm', () => undefined);
  const archs: Gru4RecArch[] = [
    { nItems: 97, embeddingDim: 0, hiddenSizes: [16], constrainedEmbedding: false, useBias: true },
    { nItems: 97, embeddingDim: 12, hiddenSizes: [16, 8], constrainedEmbedding: false, useBias: true },
    { nItems: 97, embeddingDim: 16, hiddenSizes: [16], constrainedEmbedding: true, useBias: false },
    { cell: 'lstm', nItems: 97, embeddingDim: 0, hiddenSizes: [16], constrainedEmbedding: false, useBias: true },
    { cell: 'lstm', nItems: 97, embeddingDim: 12, hiddenSizes: [16, 8], constrainedEmbedding: false, useBias: true },
    { cell: 'mlstm', nItems: 97, embeddingDim: 0, hiddenSizes: [16], constrainedEmbedding: false, useBias: true },
    { cell: 'mlstm', nItems: 97, embeddingDim: 16, hiddenSizes: [12, 16], constrainedEmbedding: true, useBias: false },
  ];
  for (const [i, arch] of archs.entries()) {
    const model = Gru4Rec.init(arch, 100 + i);
    await assertParity(model, 4, i + 1);
    model.dispose();
  }
});

for (const cell of ['gru', 'lstm', 'mlstm'] as const) {
  test(`ONNX export of a ${cell} model trained on rsc15-100k matches the tfjs model to 1e-4`, async (t) => {
    const path = join(sharedDataDir(), 'rsc15-100k', 'train_tr.tsv');
    if (!existsSync(path)) return t.skip(`dataset not found at ${path}`);
    await initBackend('wasm', () => undefined);
    const { data, index } = loadSessionTsv(path);
    const small = { ...data, offsets: data.offsets.subarray(0, 2001) };
    const { model } = await trainGru4Rec(
      { ...small, items: data.items.subarray(0, small.offsets[2000]), times: data.times.subarray(0, small.offsets[2000]), sessionIds: data.sessionIds.slice(0, 2000) },
      index.size,
      gru4recPreset('rsc15-xe-fast', { cell, nEpochs: 1, layers: [32], nSample: 256 }),
    );
    await assertParity(model, 3, 7);
    model.dispose();
  });
}
