import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/config.ts';
import type { StepOutput } from '../../src/engine/engine.ts';
import { createOrtEngine } from '../../src/engine/ort-engine.ts';
import { prepareModel } from '../../src/serving/create-recommender.ts';
import { seededRandom, syntheticWeights } from '../support/synthetic-weights.ts';

const quiet = (): void => {};
const arch = { nItems: 5000, embeddingDim: 0, hiddenSizes: [32], constrainedEmbedding: true, useBias: true };
const K = 20;

test('serving.scoring: ann serves through the index: the same states as exact, scores exact for every returned item, recall@20 ≥ 0.95 against exact', async () => {
  const weights = syntheticWeights(arch, 5);
  const config = loadConfig(undefined, {});
  config.serving.topK = K;
  config.serving.batch.maxSize = 64;
  config.serving.scoring = 'ann';
  config.serving.ann = { expansionSearch: 128 };
  const ann = await prepareModel(
    config,
    weights,
    Array.from({ length: arch.nItems }, (_, i) => `i${i}`),
    'v1',
    quiet,
  );
  const exact = await createOrtEngine(weights, { topK: K, maxBatch: 64, providers: ['cpu'], log: quiet });
  try {
    assert.match(ann.engine.name, /\+usearch$/);
    const rand = seededRandom(3);
    const n = 64;
    let hits = 0;
    let states = [new Float32Array(n * 32)];
    let statesExact = [new Float32Array(n * 32)];
    for (let t = 0; t < 3; t++) {
      const items = Int32Array.from({ length: n }, () => Math.floor(rand() * arch.nItems));
      const a: StepOutput = { topIdx: new Int32Array(n * K), topScore: new Float32Array(n * K) };
      const e: StepOutput = { topIdx: new Int32Array(n * K), topScore: new Float32Array(n * K) };
      await ann.engine.step(n, items, states, a);
      await exact.step(n, items, statesExact, e);
      assert.deepEqual(states[0], statesExact[0], 'encode() in the ANN engine advances states exactly as the exact step');
      for (let b = 0; b < n; b++) {
        const exactScore = new Map<number, number>();
        for (let j = b * K; j < (b + 1) * K; j++) exactScore.set(e.topIdx[j], e.topScore[j]);
        for (let j = b * K; j < (b + 1) * K; j++) {
          if (exactScore.has(a.topIdx[j])) {
            hits++;
            assert.ok(Math.abs(a.topScore[j] - exactScore.get(a.topIdx[j])!) < 1e-3, `a returned item carries its exact score: ${a.topScore[j]} vs ${exactScore.get(a.topIdx[j])}`);
          }
        }
      }
      states = states.map((s) => Float32Array.from(s));
      statesExact = statesExact.map((s) => Float32Array.from(s));
    }
    const recall = hits / (3 * n * K);
    assert.ok(recall >= 0.95, `recall@20 against exact ${recall.toFixed(3)}`);
  } finally {
    await ann.engine.dispose();
    await exact.dispose();
  }
});

test('serving.scoring defaults to exact, and the ann section is checked field by field', () => {
  const config = loadConfig(undefined, {});
  assert.equal(config.serving.scoring, 'exact');
  assert.throws(() => loadConfig(undefined, { STREAMREC_SERVING__ANN__EXPANSION_SEARCH: '0' }), /serving\.ann\.expansionSearch: expected an integer in \[1, 65536\]/);
});
