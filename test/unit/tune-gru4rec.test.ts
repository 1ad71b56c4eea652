import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYaml } from 'yaml';
import { initBackend } from '../../src/model/backend.ts';
import { validateGru4RecConfig } from '../../src/model/gru4rec-config.ts';
import { Gru4RecTarget, GRU4REC_SPACE } from '../../src/train/tune/gru4rec-target.ts';
import { TpeSearch } from '../../src/train/tune/tpe-search.ts';
import { withDims } from '../../src/train/tune/search-space.ts';
import { tune } from '../../src/train/tune/tuner.ts';
import { formatTrialTable } from '../../src/train/tune/trial-table.ts';
import { tunedConfigYaml } from '../../src/train/tune/tuned-config-file.ts';
import { syntheticSplit } from './tune-fixtures.ts';

test('tune GRU4Rec: from a deliberately bad start (learning rate 1e-5) the tuner finds a config with a clearly higher validation Recall@20', async (t) => {
  await initBackend('wasm', () => {});
  const split = syntheticSplit();
  const start = validateGru4RecConfig({ layers: [32], batchSize: 32, nSample: 64, nEpochs: 3, learningRate: 1e-5 });
  // The full space, with sizes narrowed to what 120 items and 5k events need (a trial ~1 s on 2 cores).
  const space = withDims(GRU4REC_SPACE, {
    hidden: { kind: 'int', lo: 16, hi: 64, log: true },
    batchSize: { kind: 'int', lo: 16, hi: 64, log: true },
    nSample: { kind: 'choice', values: [0, 32, 64] },
    embedding: { kind: 'int', lo: 16, hi: 64, log: true },
  });
  const target = new Gru4RecTarget(split, { base: start, space });
  const result = await tune(target, { sampler: new TpeSearch(space, 3, { startup: 4 }), budgetSeconds: 60, maxTrials: 8, start });
  t.diagnostic(`\n${formatTrialTable(target, result)}`);
  const first = result.trials[0];
  const best = result.best!;
  assert.equal(first.origin, 'start');
  assert.deepEqual(first.config, start);
  assert.ok(first.run!.recall < 0.3, `the bad start already scores ${first.run!.recall}`);
  assert.notEqual(best.n, 0);
  assert.ok(best.run!.recall > first.run!.recall + 0.3, `best Recall@20 ${best.run!.recall} vs start ${first.run!.recall}`);
  assert.ok(best.run!.mrr > first.run!.mrr, `best MRR@20 ${best.run!.mrr} vs start ${first.run!.mrr}`);
  assert.ok(best.config.learningRate > 1e-4);

  // The written file is what `streamrec train --config` reads (YAML of Gru4RecConfig fields), and it
  // reproduces the trial: the same config trains to the same validation score.
  const yaml = tunedConfigYaml('gru4rec', best.config, ['tuned in a test']);
  const reread = validateGru4RecConfig(parseYaml(yaml));
  assert.deepEqual(reread, best.config);
  if (best.run!.stopped === null) {
    const again = await target.run(reread, { signal: new AbortController().signal });
    assert.equal(again.recall, best.run!.recall);
  }
});
