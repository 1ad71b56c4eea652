import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { runEval } from '../../src/cli/eval.ts';
import { saveModel } from '../../src/registry/model-file.ts';
import { syntheticWeights } from '../support/synthetic-weights.ts';

function tsv(rows: Array<[number, string, number]>): string {
  return 'SessionId\tItemId\tTime\n' + rows.map((r) => r.join('\t')).join('\n') + '\n';
}

test('streamrec eval: baselines and a saved model through one evaluator, JSON and PNG written', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamrec-eval-'));
  const train: Array<[number, string, number]> = [];
  for (let s = 0; s < 30; s++) for (let e = 0; e < 4; e++) train.push([s, `i${(s + e) % 12}`, s * 10 + e]);
  writeFileSync(join(dir, 'train.tsv'), tsv(train));
  writeFileSync(
    join(dir, 'test.tsv'),
    tsv([
      [100, 'i1', 1000],
      [100, 'i2', 1001],
      [100, 'unknown', 1002],
      [100, 'i3', 1003],
      [101, 'i5', 1004],
    ]),
  );
  const itemIds = Array.from({ length: 12 }, (_, i) => `i${(i * 7) % 12}`);
  const weights = syntheticWeights({ nItems: 12, embeddingDim: 0, hiddenSizes: [8], constrainedEmbedding: false, useBias: true }, 3);
  await saveModel(join(dir, 'model'), { weights, itemIds, config: null, version: 'v-test' });
  const out = join(dir, 'r.json');
  const png = join(dir, 'r.png');
  const results = await runEval({ train: join(dir, 'train.tsv'), test: join(dir, 'test.tsv'), models: [join(dir, 'model')], baselines: ['pop', 'iknn'], out, png });
  assert.deepEqual(results.map((r) => r.model).slice(2), ['v-test']);
  // Session 100 keeps i1 i2 i3 (the unknown item is dropped): 2 targets; session 101 has one event and is dropped.
  for (const r of results) assert.equal(r.events, 2, `${r.model} evaluated ${r.events} targets`);
  // item-kNN: in training i(k) is always followed by i(k+1), so the next item is the top neighbour.
  assert.equal(results[1].recall[1], 1);
  const json = JSON.parse(readFileSync(out, 'utf8'));
  assert.ok(JSON.stringify(json).includes('v-test'));
  assert.ok(existsSync(png) && readFileSync(png).subarray(1, 4).toString() === 'PNG');
});

test('streamrec eval refuses an unknown baseline and missing inputs', async () => {
  await assert.rejects(runEval({ models: [], baselines: ['nope'] }), /unknown baseline "nope"/);
  await assert.rejects(runEval({ models: [], baselines: ['pop'] }), /--train and --test/);
});
