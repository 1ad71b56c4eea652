import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend.ts';
import { validateGru4RecConfig } from '../../src/model/gru4rec-config.ts';
import { Gru4RecTarget, GRU4REC_SPACE } from '../../src/train/tune/gru4rec-target.ts';
import { SessionKnnTarget } from '../../src/train/tune/knn-target.ts';
import { RandomSearch } from '../../src/train/tune/random-search.ts';
import { withDims } from '../../src/train/tune/search-space.ts';
import { tune } from '../../src/train/tune/tuner.ts';
import { syntheticSplit } from './tune-fixtures.ts';

test('tune budget: GRU4Rec trials that would train for minutes stop at their time limit, and the search ends with the budget', async () => {
  await initBackend('wasm', () => {});
  const split = syntheticSplit();
  // 200 epochs take minutes; each trial may train 1.5 s, the whole search 5 s.
  const base = validateGru4RecConfig({ layers: [32], batchSize: 32, nSample: 64, nEpochs: 200 });
  const space = withDims(GRU4REC_SPACE, { hidden: { kind: 'int', lo: 16, hi: 48 }, nSample: { kind: 'choice', values: [0, 32, 64] } });
  const target = new Gru4RecTarget(split, { base, space, progressEvery: 5 });
  const budgetSeconds = 5;
  const t0 = performance.now();
  const result = await tune(target, { sampler: new RandomSearch(space, 1), budgetSeconds, trialSeconds: 1.5, minTrainSeconds: 0.5, start: base });
  const wall = (performance.now() - t0) / 1000;
  const longestScore = Math.max(...result.trials.map((t) => t.run?.scoreSeconds ?? 0));
  const table = result.trials.map(
    (t) => `${t.n}: ${t.seconds.toFixed(2)} s, fit ${t.run?.fitSeconds.toFixed(2)} s, ${t.run?.epochs?.toFixed(2)} epochs, ${t.run?.stopped ?? t.error}`,
  );
  assert.equal(result.endedBy, 'budget');
  assert.ok(result.trials.length >= 3, `only ${result.trials.length} trials in ${budgetSeconds} s:\n${table.join('\n')}`);
  // Ends within the budget plus one validation pass (and the granularity of a progress step).
  assert.ok(wall <= budgetSeconds + longestScore + 0.5, `search took ${wall.toFixed(2)} s for a ${budgetSeconds} s budget:\n${table.join('\n')}`);
  for (const t of result.trials) {
    assert.ok(t.run, `trial ${t.n} failed: ${t.error}`);
    assert.ok(t.run.stopped === 'time' || t.run.stopped === 'diverged', `trial ${t.n} ran all its epochs`);
    assert.ok(t.run.epochs! < 200);
    if (t.run.stopped === 'time') assert.ok(t.run.fitSeconds <= 1.5 + 0.5, `trial ${t.n} trained ${t.run.fitSeconds.toFixed(2)} s past its 1.5 s limit`);
  }
  assert.equal(tf.memory().numTensors, 0, 'every trial disposes its model');
});

test('tune budget: a kNN search (trials that cannot stop half-way) starts no trial that would overrun the budget', async () => {
  const split = syntheticSplit({ nSessions: 800 });
  const target = new SessionKnnTarget(split);
  const budgetSeconds = 1;
  const t0 = performance.now();
  const result = await tune(target, { sampler: new RandomSearch(target.space, 2), budgetSeconds });
  const wall = (performance.now() - t0) / 1000;
  const longest = Math.max(...result.trials.map((t) => t.seconds));
  assert.equal(result.endedBy, 'budget');
  assert.ok(result.trials.length >= 2, `${result.trials.length} trials`);
  assert.ok(wall <= budgetSeconds + longest, `search took ${wall.toFixed(2)} s for a ${budgetSeconds} s budget, longest trial ${longest.toFixed(2)} s`);
});
