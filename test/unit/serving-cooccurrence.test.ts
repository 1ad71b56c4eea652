import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CooccurrenceRecommender } from '../../src/serving/cooccurrence-recommender.ts';
import type { RecommendOutcome } from '../../src/serving/recommender.ts';

const ev = (sessionId: string, itemId: string) => ({ sessionId, itemId, partition: 0, timestamp: 0 });

test('learns next-item transitions from the stream and ranks successors first', async () => {
  const m = new CooccurrenceRecommender(3);
  const out: RecommendOutcome[] = [];
  // a→b twice, a→c once; then a new session at a should get b, c first.
  await m.recommendBatch([ev('s1', 'a'), ev('s1', 'b'), ev('s2', 'a'), ev('s2', 'b'), ev('s3', 'a'), ev('s3', 'c'), ev('s4', 'a')], out);
  const last = out[6];
  assert.ok(last.ok);
  if (last.ok) {
    assert.deepEqual(last.itemIds.slice(0, 2), ['b', 'c']);
    assert.deepEqual(last.scores.slice(0, 2), [2, 1]);
    assert.equal(last.itemIds.length, 3, 'backfilled with popular items up to topK');
    assert.ok(last.scores[2] < 1, 'popularity backfill ranks below any observed transition');
  }
});

test('prequential: an event is answered before it is learned', async () => {
  const m = new CooccurrenceRecommender(5);
  const out: RecommendOutcome[] = [];
  await m.recommendBatch([ev('s1', 'x'), ev('s1', 'y')], out);
  assert.ok(out[1].ok && !out[1].itemIds.includes('z'));
  if (out[0].ok) assert.ok(!out[0].itemIds.some((id, i) => i === 0 && id === 'y'), 'y was not known when x was answered');
});

test('the session table is bounded: the least recently touched session is forgotten', async () => {
  const m = new CooccurrenceRecommender(2, 2);
  const out: RecommendOutcome[] = [];
  await m.recommendBatch([ev('s1', 'a'), ev('s2', 'b'), ev('s3', 'c'), ev('s1', 'd')], out);
  // s1 was evicted when s3 arrived, so a→d was not learned: a new session at a gets no transition from it.
  await m.recommendBatch([ev('s9', 'a')], out);
  assert.ok(out[0].ok && out[0].scores[0] < 1);
});
