import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadSessionTsv, sharedDataDir } from '../../src/data/sessions.ts';
import { evaluate, itemCounts } from '../../src/eval/evaluate.ts';
import { PopularityScorer } from '../../src/eval/baselines/popularity.ts';
import { ItemKnnScorer } from '../../src/eval/baselines/item-knn.ts';
import { SessionKnnScorer } from '../../src/eval/baselines/session-knn.ts';

const dir = join(sharedDataDir(), 'rsc15-100k');

test('rsc15-100k: item-kNN and session-kNN beat popularity on Recall@20', async (t) => {
  if (!existsSync(join(dir, 'train_full.tsv'))) {
    t.skip(`shared data not found at ${dir} (set SHARED_DATA_DIR to the folder holding rsc15-100k/)`);
    return;
  }
  const { data: train, index } = loadSessionTsv(join(dir, 'train_full.tsv'));
  const { data: testData } = loadSessionTsv(join(dir, 'test.tsv'), { index, unknownItems: 'drop', minSessionLength: 2 });
  const nItems = index.size;
  const trainPopularity = itemCounts(train, nItems);
  const pop = await evaluate(new PopularityScorer().fit(train, nItems), testData, { trainPopularity });
  const iknn = await evaluate(new ItemKnnScorer().fit(train, nItems), testData, { trainPopularity });
  const sknn = await evaluate(new SessionKnnScorer().fit(train, nItems), testData, { trainPopularity });
  const line = (r: typeof pop): string => `${r.model}: Recall@20 ${r.recall[20].toFixed(4)} MRR@20 ${r.mrr[20].toFixed(4)} coverage ${r.coverage.toFixed(3)}`;
  t.diagnostic(line(pop));
  t.diagnostic(line(iknn));
  t.diagnostic(line(sknn));
  // The protocol's event count: every test event but the first of each session.
  const nSessions = testData.offsets.length - 1;
  assert.equal(pop.events, testData.items.length - nSessions);
  assert.ok(iknn.recall[20] > pop.recall[20], line(iknn));
  assert.ok(sknn.recall[20] > pop.recall[20], line(sknn));
  // Popularity recommends one list for everyone: coverage is 20 items.
  assert.equal(pop.coverage, 20 / nItems);
  assert.ok(pop.popularityBias! > iknn.popularityBias! && pop.popularityBias! > sknn.popularityBias!);
});
