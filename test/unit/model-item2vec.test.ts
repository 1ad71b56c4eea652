import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadSessionTsv, type SessionData, sharedDataDir } from '../../src/data/sessions.ts';
import { evaluate, itemCounts } from '../../src/eval/evaluate.ts';
import { Item2VecKnnScorer } from '../../src/eval/baselines/item2vec-knn.ts';
import { PopularityScorer } from '../../src/eval/baselines/popularity.ts';
import { normalizedRows, trainItem2Vec } from '../../src/model/item2vec.ts';
import { Rng } from '../../src/random/rng.ts';

/** Sessions drawn inside one of `clusters` disjoint groups of `perCluster` items each. */
function clusteredSessions(clusters: number, perCluster: number, sessions: number, seed: number): SessionData {
  const rng = new Rng(seed);
  const offsets = [0];
  const items: number[] = [];
  for (let s = 0; s < sessions; s++) {
    const c = s % clusters;
    const len = 3 + (rng.nextUint32() % 5);
    for (let k = 0; k < len; k++) items.push(c * perCluster + (rng.nextUint32() % perCluster));
    offsets.push(items.length);
  }
  return { sessionIds: offsets.slice(1).map((_, i) => `s${i}`), offsets: Int32Array.from(offsets), items: Int32Array.from(items), times: Float64Array.from(items, (_, i) => i) };
}

test('item2vec puts items of the same sessions together: every nearest neighbour is in its own cluster', () => {
  const clusters = 4;
  const per = 10;
  const v = trainItem2Vec(clusteredSessions(clusters, per, 800, 1), clusters * per, { dim: 16, epochs: 5, subsample: 0 });
  const unit = normalizedRows(v);
  let sameCluster = 0;
  for (let i = 0; i < v.nItems; i++) {
    let best = -1;
    let bestCos = -Infinity;
    for (let j = 0; j < v.nItems; j++) {
      if (j === i) continue;
      let cos = 0;
      for (let k = 0; k < v.dim; k++) cos += unit[i * v.dim + k] * unit[j * v.dim + k];
      if (cos > bestCos) [best, bestCos] = [j, cos];
    }
    if (Math.floor(best / per) === Math.floor(i / per)) sameCluster++;
  }
  assert.equal(sameCluster, v.nItems, `${sameCluster} of ${v.nItems} nearest neighbours in the item's own cluster`);
});

test('item2vec is deterministic for a seed and differs across seeds', () => {
  const data = clusteredSessions(2, 5, 100, 2);
  const a = trainItem2Vec(data, 10, { dim: 8, epochs: 2, seed: 7 });
  const b = trainItem2Vec(data, 10, { dim: 8, epochs: 2, seed: 7 });
  const c = trainItem2Vec(data, 10, { dim: 8, epochs: 2, seed: 8 });
  assert.deepEqual(a.vectors, b.vectors);
  assert.notDeepEqual(a.vectors, c.vectors);
});

test('item2vec refuses a non-integer or zero size', () => {
  const data = clusteredSessions(1, 3, 4, 3);
  assert.throws(() => trainItem2Vec(data, 3, { dim: 0 }), /dim must be a positive integer/);
  assert.throws(() => trainItem2Vec(data, 3, { window: 1.5 }), /window must be a positive integer/);
  assert.throws(() => new Item2VecKnnScorer({ decay: 2 }), /decay must be in \[0, 1\]/);
});

test('item2vec-kNN scores by cosine to the decayed session vector', () => {
  const scorer = new Item2VecKnnScorer({ decay: 0, item2vec: { dim: 8, epochs: 3 } }).fit(clusteredSessions(2, 5, 200, 4), 10);
  const out = new Float32Array(10);
  scorer.reset(Int32Array.of(0));
  scorer.step(1, Int32Array.of(0), Int32Array.of(3), out);
  // decay 0: the last item alone, whose cosine with itself is the largest possible, 1.
  assert.ok(Math.abs(out[3] - 1) < 1e-5, `self-similarity ${out[3]}`);
  for (const s of out) assert.ok(s <= 1 + 1e-5);
});

test('rsc15-100k: item2vec-kNN beats popularity on Recall@20', async (t) => {
  const dir = join(sharedDataDir(), 'rsc15-100k');
  if (!existsSync(join(dir, 'train_full.tsv'))) {
    t.skip(`shared data not found at ${dir} (set SHARED_DATA_DIR to the folder holding rsc15-100k/)`);
    return;
  }
  const { data: train, index } = loadSessionTsv(join(dir, 'train_full.tsv'));
  const { data: testData } = loadSessionTsv(join(dir, 'test.tsv'), { index, unknownItems: 'drop', minSessionLength: 2 });
  const trainPopularity = itemCounts(train, index.size);
  const pop = await evaluate(new PopularityScorer().fit(train, index.size), testData, { trainPopularity });
  const i2v = await evaluate(new Item2VecKnnScorer().fit(train, index.size), testData, { trainPopularity });
  t.diagnostic(`popularity Recall@20 ${pop.recall[20].toFixed(4)}, item2vec-kNN Recall@20 ${i2v.recall[20].toFixed(4)} MRR@20 ${i2v.mrr[20].toFixed(4)}`);
  assert.ok(i2v.recall[20] > 2 * pop.recall[20], `item2vec-kNN ${i2v.recall[20]} vs popularity ${pop.recall[20]}`);
});
