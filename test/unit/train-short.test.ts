import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend.ts';
import { Gru4RecScorer } from '../../src/eval/gru4rec-scorer.ts';
import { loadSessionTsv, sharedDataDir } from '../../src/data/sessions.ts';
import { evaluate } from '../../src/eval/evaluate.ts';
import { PopularityScorer } from '../../src/eval/baselines/popularity.ts';
import { gru4recPreset } from '../../src/model/gru4rec-config.ts';
import { trainGru4Rec } from '../../src/train/trainer.ts';

test('one epoch of GRU4Rec (fast XE preset) on rsc15-100k beats popularity on Recall@20 and MRR@20', async (t) => {
  const dir = `${sharedDataDir()}rsc15-100k/`;
  if (!existsSync(`${dir}train_full.tsv`) || !existsSync(`${dir}test.tsv`)) {
    t.skip(`shared data not found under ${dir}`);
    return;
  }
  await initBackend('wasm', () => {});
  const { data: train, index } = loadSessionTsv(`${dir}train_full.tsv`);
  // The protocol: test items unseen in training are dropped, then sessions shorter than 2.
  const { data: test } = loadSessionTsv(`${dir}test.tsv`, { index, unknownItems: 'drop', minSessionLength: 2 });
  assert.equal(index.size, 2933, 'the test set must not add items');
  // 1 epoch instead of 10 and a smaller sample store keep this under a minute on 2 cores.
  const config = gru4recPreset('rsc15-xe-fast', { nEpochs: 1, sampleCacheSize: 1_000_000 });
  const { model, stats } = await trainGru4Rec(train, index.size, config);
  assert.equal(stats.events, 70278 - 17794);
  assert.ok(stats.lossHistory[0] < Math.log(config.batchSize + config.nSample), `mean loss ${stats.lossHistory[0]} is no better than uniform`);

  const gru = await evaluate(new Gru4RecScorer(model), test, { cutoffs: [20] });
  const pop = await evaluate(new PopularityScorer().fit(train, index.size), test, { cutoffs: [20] });
  t.diagnostic(
    `GRU4Rec recall@20 ${gru.recall[20].toFixed(4)} mrr@20 ${gru.mrr[20].toFixed(4)} | popularity recall@20 ${pop.recall[20].toFixed(4)} mrr@20 ${pop.mrr[20].toFixed(4)} | ${stats.eventsPerSec.toFixed(0)} training events/s on ${stats.backend}`,
  );
  assert.equal(gru.events, pop.events, 'both are ranked on the same targets');
  assert.equal(gru.nanTargets, 0);
  assert.ok(gru.recall[20] > pop.recall[20] + 0.2, `GRU4Rec recall@20 ${gru.recall[20]} vs popularity ${pop.recall[20]}`);
  assert.ok(gru.mrr[20] > pop.mrr[20] + 0.1, `GRU4Rec mrr@20 ${gru.mrr[20]} vs popularity ${pop.mrr[20]}`);
  model.dispose();
  assert.equal(tf.memory().numTensors, 0, 'training and evaluation leave no tensors behind');
});
