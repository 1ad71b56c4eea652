import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/random/rng.ts';
import { GRU4REC_REGRESSION_SPACE, GRU4REC_SPACE, Gru4RecTarget } from '../../src/train/tune/gru4rec-target.ts';
import { sampleUniform } from '../../src/train/tune/search-space.ts';
import {
  ZOO_CELLS,
  ZOO_HEADS,
  type ZooDatasetReport,
  finalEpochsOf,
  formatZooTable,
  parseList,
  settingsText,
  supportedHeads,
  zooModelName,
  zooStartConfig,
} from '../../bench/quality-zoo.ts';
import { syntheticSplit } from './tune-fixtures.ts';

test('zoo start configs: rsc15-xe-fast with only the cell and the head (mixtures K = 4) changed', () => {
  const base = zooStartConfig('gru', 'dot');
  for (const cell of ZOO_CELLS) {
    for (const head of supportedHeads()) {
      const c = zooStartConfig(cell, head);
      assert.equal(c.cell, cell);
      assert.equal(c.head, head);
      assert.deepEqual(c.layers, base.layers);
      assert.equal(c.learningRate, base.learningRate);
      assert.equal(c.batchSize, base.batchSize);
      if (head === 'mixture-of-tastes' || head === 'mixture-of-cosines') assert.equal(c.tastes, 4);
    }
  }
  assert.equal(zooModelName('mlstm', 'mixture-of-cosines'), 'mLSTM MoC K=4');
});

test('the tuner keeps the start config’s cell and head in every proposed config, regression included', () => {
  const split = syntheticSplit({ nItems: 30, nSessions: 20 });
  const rng = new Rng(7);
  for (const cell of ZOO_CELLS) {
    for (const head of supportedHeads()) {
      const target = new Gru4RecTarget(split, { base: zooStartConfig(cell, head) });
      assert.equal(target.space, head === 'regression' ? GRU4REC_REGRESSION_SPACE : GRU4REC_SPACE);
      for (let i = 0; i < 20; i++) {
        const config = target.configOf(sampleUniform(target.space, rng));
        assert.equal(config.cell, cell);
        assert.equal(config.head, head);
        if (head !== 'dot' && head !== 'regression') assert.equal(config.tastes, 4);
      }
    }
  }
});

test('zoo helpers: list parsing names the flag, settings drop empty cells, final epochs default to the tuned nEpochs', () => {
  assert.deepEqual(parseList('--heads', 'dot, mixture-of-cosines', ZOO_HEADS), ['dot', 'mixture-of-cosines']);
  assert.throws(() => parseList('--cells', 'gru,rnn', ZOO_CELLS), /--cells: unknown "rnn"/);
  assert.equal(settingsText({ cell: 'gru', loss: 'bpr-max', layers: '100', logq: '-' }), 'loss bpr-max, layers 100');
  const c = zooStartConfig('gru', 'dot');
  assert.equal(finalEpochsOf(c, undefined), c.nEpochs);
  assert.equal(finalEpochsOf(c, 2), 2);
});

test('the zoo table has one row per model with the README columns', () => {
  const report: ZooDatasetReport = {
    dataset: 'toy',
    protocol: 'p',
    validation: 'v',
    nItems: 3,
    trainEvents: 10,
    rows: [
      {
        model: 'popularity',
        kind: 'popularity',
        recall20: 0.1,
        mrr20: 0.05,
        trials: 0,
        tuneSeconds: 0,
        trainSeconds: 0,
        evalSeconds: 1,
        settings: '-',
        loadAvgBefore: [1],
        loadAvgAfter: [1],
      },
      {
        model: 'GRU dot',
        kind: 'sequence',
        recall20: 0.61234,
        mrr20: 0.3,
        trials: 4,
        tuneSeconds: 45,
        trainSeconds: 9,
        trainEventsPerSec: 4321.6,
        evalSeconds: 1,
        settings: 'lr 0.1',
        loadAvgBefore: [1],
        loadAvgAfter: [1],
      },
    ],
  };
  const lines = formatZooTable(report).split('\n');
  assert.equal(lines.length, 5);
  assert.equal(lines[1], '| model | Recall@20 | MRR@20 | trials | train events/s | tuned settings |');
  assert.equal(lines[3], '| popularity | 0.1000 | 0.0500 | - | - | - |');
  assert.equal(lines[4], '| GRU dot | 0.6123 | 0.3000 | 4 | 4,322 | lr 0.1 |');
});
