import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend.ts';
import { loadSessionTsv, sharedDataDir, type SessionData } from '../../src/data/sessions.ts';
import { evaluate, type EvalResult } from '../../src/eval/evaluate.ts';
import { PopularityScorer } from '../../src/eval/baselines/popularity.ts';
import { gru4recPreset } from '../../src/model/gru4rec-config.ts';
import type { CellKind } from '../../src/model/weights.ts';
import { createOrtEngine } from '../../src/engine/ort-engine.ts';
import { trainGru4Rec } from '../../src/train/trainer.ts';
import { EngineScorer } from '../support/engine-scorer.ts';

const dir = `${sharedDataDir()}rsc15-100k/`;
const haveData = existsSync(`${dir}train_full.tsv`) && existsSync(`${dir}test.tsv`);
let train: SessionData;
let testSet: SessionData;
let nItems = 0;
let pop: EvalResult;
const BATCH = 512;

before(async () => {
  if (!haveData) return;
  await initBackend('wasm', () => {});
  const loaded = loadSessionTsv(`${dir}train_full.tsv`);
  train = loaded.data;
  nItems = loaded.index.size;
  // The protocol: test items unseen in training are dropped, then sessions shorter than 2.
  testSet = loadSessionTsv(`${dir}test.tsv`, { index: loaded.index, unknownItems: 'drop', minSessionLength: 2 }).data;
  pop = await evaluate(new PopularityScorer().fit(train, nItems), testSet, { cutoffs: [20], batchSize: BATCH });
});

// The same budget for every cell: one epoch of rsc15-xe-fast (100 units, batch 32, 2048 samples), only the cell differs.
for (const cell of ['gru', 'lstm', 'mlstm'] as const satisfies readonly CellKind[]) {
  test(`one epoch of the ${cell} encoder on rsc15-100k, served through the ONNX engine, beats popularity on Recall@20 and MRR@20`, async (t) => {
    if (!haveData) return t.skip(`shared data not found under ${dir}`);
    const config = gru4recPreset('rsc15-xe-fast', { cell, nEpochs: 1, sampleCacheSize: 1_000_000 });
    const { model, stats } = await trainGru4Rec(train, nItems, config);
    assert.equal(model.arch.cell ?? 'gru', cell);
    assert.ok(stats.lossHistory[0] < Math.log(config.batchSize + config.nSample), `mean loss ${stats.lossHistory[0]} is no better than uniform`);
    const engine = await createOrtEngine(model.toWeights(), { topK: 20, maxBatch: BATCH, outputScores: true, providers: ['cpu'], log: () => {} });
    try {
      const r = await evaluate(new EngineScorer(engine, BATCH), testSet, { cutoffs: [20], batchSize: BATCH });
      t.diagnostic(
        `${cell}: recall@20 ${r.recall[20].toFixed(4)} mrr@20 ${r.mrr[20].toFixed(4)} | popularity recall@20 ${pop.recall[20].toFixed(4)} mrr@20 ${pop.mrr[20].toFixed(4)} | ${stats.eventsPerSec.toFixed(0)} training events/s on ${stats.backend}, ${stats.events} events`,
      );
      assert.equal(r.events, pop.events, 'both are ranked on the same targets');
      assert.equal(r.nanTargets, 0);
      assert.ok(r.recall[20] > pop.recall[20] + 0.2, `${cell} recall@20 ${r.recall[20]} vs popularity ${pop.recall[20]}`);
      assert.ok(r.mrr[20] > pop.mrr[20] + 0.1, `${cell} mrr@20 ${r.mrr[20]} vs popularity ${pop.mrr[20]}`);
    } finally {
      await engine.dispose();
      model.dispose();
    }
    assert.equal(tf.memory().numTensors, 0, 'training leaves no tensors behind');
  });
}
